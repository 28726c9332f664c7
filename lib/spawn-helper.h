/* Starting moat's own helper programs from a process that blocks its signals (the monitor,
 * the relay): the child starts with an empty signal mask and default handlers. */
#pragma once

#include <sys/types.h>

/* Starts ARGV[0] (an absolute path) with ARGV.  The child gets FDS[i] as its descriptor 3 + i
 * (other descriptors follow their close-on-exec flag).  Returns the child's PID, or a
 * negative errno after saying why on stderr. */
pid_t spawn_program(char *const *argv, const int *fds, size_t n_fds);
