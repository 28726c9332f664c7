/* Running the host's git for moat: the command line with its machine formats, never a shell,
 * never the caller's GIT_* environment (GIT_DIR and friends would redirect it).  Whatever the
 * repository's own config says runs nothing that moat did not ask for only when the caller
 * adds the overrides (run-branch.h does, for a run's checkout). */
#pragma once

#include <stddef.h>

#include "error.h"

/* Runs `git ARGV...` (ARGV without "git", NULL-terminated) in the working directory CWD
 * (NULL: the current one) with ENV (NULL-terminated KEY=VALUE, may be NULL) added to the
 * environment.  stdin is /dev/null; stdout is returned in *ret_out (NUL-terminated, may be
 * NULL to discard it), at most 64 MiB; stderr's last line makes the error when git fails:
 * -EIO, with WHAT ("cannot fetch ...") before it. */
int git_run(const char *cwd, char *const *argv, char *const *env, const char *what, char **ret_out, size_t *ret_len,
            moat_error *err);
