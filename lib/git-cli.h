/* moat's own calls of the git command line, on repositories the container could write: git is
 * told not to run anything those repositories name (core.fsmonitor, core.hooksPath, a pager),
 * to accept a repository another user owns (moat, as root, looks at the caller's), and never
 * to prompt.  Machine formats only (-z). */
#pragma once

#include <stddef.h>

/* Runs `git -C DIR [safety options] ARGS...` (git from /usr/bin, /usr/local/bin or /bin) with stdin from /dev/null and stderr discarded,
 * capturing up to GIT_OUTPUT_MAX bytes of stdout into *RET (NUL-terminated, *RET_LEN bytes).
 * Returns git's exit status (0..255), or a negative errno when it could not be run (-ENOENT:
 * no git) or said more than GIT_OUTPUT_MAX (-E2BIG). */
int git_capture(const char *dir, const char *const *args, char **ret, size_t *ret_len);

#define GIT_OUTPUT_MAX (16u << 20)

/* The system's git: /usr/bin, /usr/local/bin or /bin, never the caller's PATH. */
const char *git_cli_path(void);
