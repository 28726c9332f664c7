/* Ending a `moat exec` session without leaving anything behind.
 *
 * Podman's REST API creates every exec session with an exit command,
 * `podman container cleanup --rm --exec SESSION CONTAINER`, that conmon runs
 * exit_command_delay (300 s by default) after the command ends: meanwhile the session stays in
 * the container's ExecIDs and two conmon processes wait, the session's monitor and the child it
 * forked to sleep before the cleanup.  Podman 4.3 has no endpoint to remove a session (4.8 added
 * POST /libpod/exec/ID/remove, and even that leaves the conmons sleeping).  SIGTERM to the
 * sleeping child cuts its sleep short, so podman's own cleanup runs at once: the session is
 * removed and both conmons exit.  That child, and the monitor that passes SIGINT, SIGTERM and
 * SIGQUIT on to the command, are found through /proc by the session ID in their arguments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* True when CMDLINE (LEN bytes of NUL-separated arguments, as /proc/PID/cmdline has them) is
 * a conmon's whose session (-u) is EXEC_ID. */
bool conmon_cmdline_is_session(const char *cmdline, size_t len, const char *exec_id);

/* The parent PID in /proc/PID/stat's text (LEN bytes); -EINVAL when it is malformed. */
int proc_stat_parent(const char *stat, size_t len, pid_t *ret_ppid);

typedef struct exec_processes {
        pid_t monitor; /* the conmon that watches the command; 0 when none */
        pid_t waiter;  /* its child that sleeps before podman's cleanup: the command has ended */
        pid_t command; /* the command itself, a child of the monitor; 0 when it has ended */
} exec_processes;

/* EXEC_ID's processes under PROC (normally "/proc"). */
int exec_processes_find(const char *proc, const char *exec_id, exec_processes *ret);

/* Sends SIG (SIGINT, SIGTERM or SIGQUIT) to EXEC_ID's command through its conmon.  -ESRCH when
 * the session has no monitor here (it has ended, or podman runs in another PID namespace). */
int exec_session_signal(const char *proc, const char *exec_id, int sig);

/* Makes podman remove ended session EXEC_ID now rather than after exit_command_delay: waits up
 * to TIMEOUT_USEC for conmon's sleeping child and wakes it.  1 when it was woken, 0 when the
 * session has no conmon left here. */
int exec_session_release(const char *proc, const char *exec_id, uint64_t timeout_usec);

/* A guard for session EXEC_ID: a process in its own session that outlives the caller and, if
 * the caller ends before exec_guard_done() (killed, even by SIGKILL), stops the command
 * (SIGTERM through conmon, SIGKILL after GRACE_USEC) and releases the session.  *ret_fd is the
 * caller's end of the guard's pipe. */
int exec_guard_start(const char *exec_id, uint64_t grace_usec, int *ret_fd, moat_error *err);

/* The caller has seen the session to its end: the guard goes without doing anything. */
void exec_guard_done(int fd);
