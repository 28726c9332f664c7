/* A run on a branch of its own (moat run --branch NAME): the run works in a checkout of the
 * workspace's git repository that moat makes and keeps under MOAT_HOME, on branch moat/NAME,
 * and the branch comes back to the user's repository when the run ends.
 *
 *   $MOAT_HOME/checkouts/KEY/repo            the user's repository (its top), for listings
 *   $MOAT_HOME/checkouts/KEY/bases/NAME      the commit the branch was made from
 *   $MOAT_HOME/checkouts/KEY/worktrees/NAME  the checkout: a `git clone --shared`
 *
 * KEY names the repository as agent-state.h names a workspace.  The checkout is a repository
 * of its own (refs, config, hooks, index), never the user's .git; it borrows the user's objects
 * through objects/info/alternates, which the container reads through a read-only mount of the
 * user's objects directory at the same path.  The agent writes every file of its checkout,
 * .git/config and .git/hooks included, so every git moat runs there (status, rev-list, the
 * upload-pack of the fetch back) gets overrides that disarm the config's commands (filters,
 * fsmonitor, hooks, diff drivers...), an explicit git directory (so that a planted commondir or
 * core.worktree leads nowhere) and never a path through a link the agent made. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "run.h"

#define RUN_BRANCH_DIR "checkouts"
#define RUN_BRANCH_PREFIX "moat/"

/* NAME of moat/NAME: 1-100 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or a digit,
 * without "..", not ending in '.' or ".lock" (so moat/NAME is a valid branch name and NAME a
 * plain directory name). */
bool run_branch_name_valid(const char *name);

/* The number of entries of `git status --porcelain=v1 -z` output DATA (a rename or copy
 * entry's second path is part of it).  -EBADMSG when malformed. */
int git_status_count(const char *data, size_t len, size_t *ret);

/* From `git config -z --list` output DATA ("KEY\nVALUE\0" entries): the "-c" arguments that
 * disarm every key there that makes git run a command or read another file (filters, diff and
 * merge drivers, fsmonitor, hooks, pager, editor, ssh, credential helpers, includes...), to be
 * put before a git command that reads that config; appended to *ARGS.  -EBADMSG when malformed. */
int git_config_disarm(const char *data, size_t len, char ***args);

typedef struct run_branch {
        char *name;     /* NAME */
        char *repo;     /* the user's repository: its top, resolved */
        char *objects;  /* its objects directory, resolved: what the checkout borrows */
        char *key_dir;  /* $MOAT_HOME/checkouts/KEY */
        char *checkout; /* KEY_DIR/worktrees/NAME */
        char *base;     /* the commit the branch was made from, once known */
        bool base_written; /* by run_branch_prepare, for a new branch */
} run_branch;

void run_branch_done(run_branch *b);

/* Checks that WORKSPACE is in a git repository and NAME is valid, and fills *RET with where
 * things are.  Nothing is made. */
int run_branch_plan(const char *moat_home, const char *workspace, const char *name, run_branch *ret,
                    moat_error *err);

/* Makes the checkout on moat/NAME when there is none: from moat/NAME of the user's
 * repository when it has one (a branch whose checkout was removed), else from FROM (NULL:
 * HEAD).  An existing checkout is reused (FROM must then be NULL) after its alternates are
 * set again.  *ret_created says whether this call made it (run_branch_discard undoes that). */
int run_branch_prepare(run_branch *b, const char *from, bool *ret_created, moat_error *err);

/* Removes the checkout this run made, with the base it wrote, and KEY's directory when
 * nothing else is in it. */
void run_branch_discard(const run_branch *b);

/* Brings moat/NAME from CHECKOUT into REPO (forced: the branch is the run's), running none of
 * the checkout's commands. */
int run_branch_fetch(const char *repo, const char *checkout, const char *name, moat_error *err);

/* Commits of moat/NAME in REPO that BASE lacks; -ENOENT when REPO has no moat/NAME. */
int run_branch_ahead(const char *repo, const char *name, const char *base, long *ret, moat_error *err);

/* The files `git status` shows in CHECKOUT (uncommitted changes, untracked files included),
 * with its config disarmed.  Only for a checkout no run uses: a running agent could change
 * the config between moat's look at it and git's. */
int run_branch_dirty(const char *checkout, size_t *ret, moat_error *err);

typedef struct run_branch_entry {
        char *name;
        char *repo;
        char *checkout;
        char *base; /* NULL when unknown */
} run_branch_entry;

void run_branch_entries_free(run_branch_entry *e, size_t n);

/* Every checkout under MOAT_HOME, sorted by repository, then name. */
int run_branch_list(const char *moat_home, run_branch_entry **ret, size_t *ret_n, moat_error *err);

/* Removes E's checkout; with DELETE_BRANCH, its base and moat/NAME in the user's repository
 * too (git refuses when the user has it checked out). */
int run_branch_remove(const run_branch_entry *e, bool delete_branch, moat_error *err);

/* Whether moat/NAME is merged into the user repository's HEAD. */
int run_branch_merged(const char *repo, const char *name, moat_error *err);

/* git diff of moat/NAME against its BASE, in the user's repository (after a fetch), with no
 * external diff and no textconv: the text, NUL-terminated. */
int run_branch_diff(const char *repo, const char *name, const char *base, char **ret, moat_error *err);

/* The newest run of E's branch in STORE (any state), or NULL in *RET. */
int run_branch_last_run(run_store *store, const run_branch_entry *e, run_record **ret, moat_error *err);

/* The checkout named NAME among ENTRIES: the one of the repository CWD is in when there is
 * one, else the only one of that name.  -ENOENT or -EEXIST (several repositories have one)
 * with an error that says so. */
int run_branch_find(run_branch_entry *entries, size_t n, const char *cwd, const char *name,
                    run_branch_entry **ret, moat_error *err);

/* moat clean's part: removes the checkouts whose branch is merged into its repository's HEAD,
 * whose runs have ended and which hold no uncommitted work (the branch stays).  *ret_n counts
 * them. */
int run_branch_clean(run_store *store, unsigned *ret_n, moat_error *err);
