/* moat's own calls of the git command line, on repositories the container could write: git is
 * told not to run anything those repositories name (core.fsmonitor, core.hooksPath, a pager),
 * to accept a repository another user owns (moat, as root, looks at the caller's), and never
 * to prompt.  Machine formats only (-z). */
#pragma once

#include <stddef.h>

/* Runs `git -C DIR [those options] ARGS...` through git_run() (git-run.h), stdout into *RET
 * (NUL-terminated, *RET_LEN bytes).  0, or a negative errno: -EIO when git failed. */
int git_capture(const char *dir, const char *const *args, char **ret, size_t *ret_len);

/* The system's git: /usr/bin, /usr/local/bin or /bin, never the caller's PATH. */
const char *git_cli_path(void);
