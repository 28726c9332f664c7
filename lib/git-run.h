/* Running the system's git (git_cli_path(), git-cli.h) for moat's work on the user's own
 * repository and on a run's checkout: the command line with its machine formats, never a
 * shell, the caller's environment without any GIT_* variable (GIT_DIR and friends would
 * redirect it) but with its HOME (the user's global config: identity, settings), and git's
 * error as the message.  Unlike git_capture(), it adds no overrides of its own: the caller
 * says what to disarm (run-branch.c does, for the config of a checkout the agent wrote). */
#pragma once

#include <stddef.h>

#include "error.h"

/* Runs `git [-C CWD] ARGV...` (ARGV without "git", NULL-terminated; CWD NULL: the current
 * directory) with ENV (NULL-terminated KEY=VALUE, may be NULL) added to the
 * environment.  stdin is /dev/null; stdout is returned in *ret_out (NUL-terminated, may be
 * NULL to discard it), at most 64 MiB; stderr's last line makes the error when git fails:
 * -EIO, with WHAT ("cannot fetch ...") before it. */
int git_run(const char *cwd, char *const *argv, char *const *env, const char *what, char **ret_out, size_t *ret_len,
            moat_error *err);
