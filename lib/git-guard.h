/* The host's git stays the host's.  What git runs implicitly lives in the repository's
 * .git/hooks and in its config files (core.hooksPath, core.fsmonitor, core.sshCommand,
 * filters, aliases...): a container that could write them would get its code run by the
 * user's next `git status` or `git commit` on the host.  So the container gets a workspace
 * whose .git is a mount point of its own (it cannot be renamed away and replaced), with
 * .git/hooks, .git/config and .git/config.worktree read-only on top: git inside still
 * commits (objects, refs, index and logs stay writable).  A .git that is a file (a linked
 * worktree or a submodule, whose git directory is outside the workspace and not mounted) is
 * read-only itself, so that it cannot be pointed at a directory the container wrote.  There
 * is no escape hatch: change hooks or config on the host.
 *
 * .git/modules (every submodule's git directory) and, when there is one, .git/worktrees are
 * read-only too: git inside cannot change a submodule or a linked worktree, nor add one there.
 *
 * .git itself stays writable (git writes its lock files there), so the container can make
 * .git/commondir, which sends git to another directory's config and hooks: a run never starts
 * with one, and one made during the run is moved aside when it ends (git_guard_sweep), before
 * the user's git can read it.  The container can also make a repository of its own inside the
 * workspace and register it in the index (a gitlink), and the host's `git status` looks into
 * every populated submodule with that repository's config and hooks: when the run ends, each
 * submodule's git directory the run could write (inside the workspace, not under .git/modules)
 * keeps its config only when it holds plain keys (what git needs to read it and where it came
 * from) and its hooks only when they are git's samples; the rest is moved aside
 * (git_guard_sweep_submodules). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct git_guard_mount {
        char *path; /* relative to the workspace, e.g. ".git/hooks" */
        bool read_only;
} git_guard_mount;

/* The mounts that protect WORKSPACE's git, in mount order (parents first); none when it has
 * no .git.  Makes a missing .git/hooks (and, where the config reads it, config.worktree), so
 * that there is something to mount read-only.  -ELOOP, with a clear error, when one of them
 * is a symbolic link: it could not be protected. */
int git_guard_plan(const char *workspace, git_guard_mount **ret, size_t *ret_n, moat_error *err);

void git_guard_mounts_free(git_guard_mount *m, size_t n);

/* After a run in WORKSPACE: a .git/commondir the container made is moved aside.  1 with a
 * message in *MESSAGES saying so (or that it could not be moved), 0 when there was none. */
int git_guard_sweep(const char *workspace, char ***messages);

/* After a run in WORKSPACE: what the run left in its submodules' git directories for the
 * host's git to run is moved aside (above), one message each in *MESSAGES.  1 when something
 * was found, 0 when nothing.  Uses the git command line (git-cli.h); without git, nothing. */
int git_guard_sweep_submodules(const char *workspace, char ***messages);

/* Whether the NUL-separated config key NAMES (git config --name-only -z) are all plain. */
bool git_config_keys_plain(const char *names, size_t len);
