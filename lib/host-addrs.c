#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "host-addrs.h"
#include "proxy-route.h"

struct host_addrs {
        int fd;     /* rtnetlink, subscribed to address changes; -1: read at every use */
        bool stale; /* the kernel said something changed since the list was read */
        struct ifaddrs *read;
        const struct sockaddr **list;
        size_t n;
};

int host_addrs_new(host_addrs **ret) {
        host_addrs *h = calloc(1, sizeof(*h));
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };

        if (!h)
                return -ENOMEM;
        h->stale = true;
        h->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (h->fd >= 0 && bind(h->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(h->fd);
                h->fd = -1;
        }
        *ret = h;
        return 0;
}

void host_addrs_free(host_addrs *h) {
        if (!h)
                return;
        if (h->fd >= 0)
                close(h->fd);
        freeifaddrs(h->read);
        free(h->list);
        free(h);
}

/* Empties the subscription's queue; any message, or one lost to a full queue (ENOBUFS), means
 * the list must be read again.  Messages are not parsed: an address change is rare, and the
 * dump after it is the one truth. */
static void drain(host_addrs *h) {
        char buf[4096];

        if (h->fd < 0) {
                h->stale = true;
                return;
        }
        for (;;) {
                ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (n >= 0 || errno == ENOBUFS) {
                        h->stale = true;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN) {
                        /* the subscription broke: from now on, read at every use */
                        close(h->fd);
                        h->fd = -1;
                        h->stale = true;
                }
                return;
        }
}

static int reread(host_addrs *h) {
        struct ifaddrs *read;
        const struct sockaddr **list;
        size_t n = 0;

        if (getifaddrs(&read) < 0)
                return -errno;
        for (struct ifaddrs *i = read; i; i = i->ifa_next)
                n++;
        list = calloc(n ?: 1, sizeof(*list));
        if (!list) {
                freeifaddrs(read);
                return -ENOMEM;
        }
        n = 0;
        for (struct ifaddrs *i = read; i; i = i->ifa_next)
                if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6) &&
                    !proxy_address_refused(i->ifa_addr, NULL, 0))
                        list[n++] = i->ifa_addr;
        freeifaddrs(h->read);
        free(h->list);
        h->read = read;
        h->list = list;
        h->n = n;
        h->stale = false;
        return 0;
}

int host_addrs_get(host_addrs *h, const struct sockaddr *const **ret, size_t *ret_n) {
        drain(h);
        if (h->stale) {
                int r = reread(h);

                if (r < 0)
                        return r;
        }
        *ret = h->list;
        *ret_n = h->n;
        return 0;
}
