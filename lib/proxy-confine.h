/* What a run's proxy gives up once it holds what needed privilege (its listening socket in
 * the container's network namespace, the grants' values, the run's CA written to the run
 * store): it parses what the agent sends, so it keeps no capability, no way to gain one, no
 * root (in system runs it becomes nobody), no word to the unit's notify socket and, through a
 * seccomp filter, none of the system calls that reach beyond its sockets (exec, ptrace,
 * namespaces, mounts, modules, keys, BPF). */
#pragma once

#include <sys/types.h>

#include "error.h"

/* The user a root proxy becomes: nobody's uid (65534 where there is no nobody). */
uid_t proxy_confined_uid(void);

/* Applies all of it to the calling process, which must have no other thread yet.  Fails
 * (err says why) rather than go on with less. */
int proxy_confine(moat_error *err);
