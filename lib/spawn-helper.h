/* Starting moat's own helper programs from a process that blocks its signals (the monitor,
 * the relay): the child starts with an empty signal mask and default handlers. */
#pragma once

#include <spawn.h>
#include <sys/types.h>

/* posix_spawn() of PATH with an empty signal mask and default handlers: 0 or a negative errno. */
int spawn_clean(pid_t *ret_pid, const char *path, const posix_spawn_file_actions_t *actions, char *const *argv,
                char *const *envp);

/* Starts ARGV[0] (an absolute path) with ARGV.  The child gets FDS[i] as its descriptor 3 + i
 * (other descriptors follow their close-on-exec flag).  Returns the child's PID, or a
 * negative errno after saying why on stderr. */
pid_t spawn_program(char *const *argv, const int *fds, size_t n_fds);

/* A helper that lives until the unit's main process goes (the run's proxy): it exits when its
 * lifeline, a pipe whose write end that process holds, closes. */
typedef struct helper_lifeline {
        int fd;    /* the pipe's write end; -1 when there is no such helper */
        int pidfd; /* the helper's, to see it gone; -1 when the kernel has none */
} helper_lifeline;

#define HELPER_LIFELINE_NONE ((helper_lifeline) { .fd = -1, .pidfd = -1 })

/* A pidfd of PID (not closed on exec), or -1. */
int helper_pidfd(pid_t pid);

/* Closes the lifeline and waits up to TIMEOUT_MS for the helper to have exited, so that it is
 * gone before the unit's main process: with KillMode=mixed systemd SIGKILLs whatever is left
 * in the unit the moment the main process exits, and says so in the run's journal. */
void helper_lifeline_end(helper_lifeline *l, int timeout_ms);
