/* The host's own addresses, which the egress proxy must not dial, kept between connections.
 * Reading them (getifaddrs(): a netlink dump of every link with its statistics, then one of
 * every address) costs more than the rest of a dial on a host with many containers, and
 * podman adds and removes links as they come and go.  A netlink socket subscribed to address
 * changes says when to read them again; it is drained before every use, so a change the
 * kernel made before a dial is always seen by that dial. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

#include "macro.h"

typedef struct host_addrs host_addrs;

/* Where the subscription cannot be had, every host_addrs_get() reads the addresses afresh. */
int host_addrs_new(host_addrs **ret);
void host_addrs_free(host_addrs *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(host_addrs *, host_addrs_free);

/* The host's IPv4 and IPv6 addresses, less those proxy_address_refused() refuses by their
 * range anyway (loopback, link-local): *RET holds *RET_N of them, valid until the next call.
 * A negative errno when they cannot be read. */
int host_addrs_get(host_addrs *h, const struct sockaddr *const **ret, size_t *ret_n);
