/* A listening TCP socket made inside another process's network namespace, for a run's proxy:
 * a socket keeps the namespace it was made in, so the proxy accepts the container's
 * connections on the container's own loopback while it reaches servers from the host's
 * network. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Listens on ADDRESS:PORT (IPv4) in the network namespace of PID.  A forked child joins the
 * namespace (and, for a rootless container, its user namespace first, which the caller owns)
 * and hands the socket back; the caller never leaves its own namespaces. */
int netns_listen(pid_t pid, const char *address, uint16_t port, int *ret_fd, moat_error *err);
