/* The proxy's cache of the host's own addresses sees every change made before it is asked:
 * in a network namespace of the test's own, addresses are set on its loopback link. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-addrs.h"
#include "tap.h"

/* Brings lo up (when ADDRESS is NULL), or sets the address of its alias lo:1, replacing the
 * alias's last one; the kernel announces each as a change. */
static int set_lo_address(const char *v4) {
        struct ifreq ifr = {};
        struct sockaddr_in *sin = (struct sockaddr_in *) &ifr.ifr_addr;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (fd < 0)
                return -errno;
        strcpy(ifr.ifr_name, v4 ? "lo:1" : "lo");
        if (v4) {
                sin->sin_family = AF_INET;
                inet_pton(AF_INET, v4, &sin->sin_addr);
                if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
                        r = -errno;
        } else {
                ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        close(fd);
        return r;
}

static bool has(const struct sockaddr *const *list, size_t n, const char *v4) {
        struct in_addr want;

        inet_pton(AF_INET, v4, &want);
        for (size_t i = 0; i < n; i++)
                if (list[i]->sa_family == AF_INET &&
                    ((const struct sockaddr_in *) list[i])->sin_addr.s_addr == want.s_addr)
                        return true;
        return false;
}

int main(void) {
        _cleanup_(host_addrs_freep) host_addrs *h = NULL;
        const struct sockaddr *const *list, *const *again;
        size_t n = 0, n_again = 0;

        if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
                ok(1, "# SKIP no network namespace of our own: %s", strerror(errno));
                return tap_done();
        }
        is_int(host_addrs_new(&h), 0, "the cache is made");
        is_int(host_addrs_get(h, &list, &n), 0, "a new namespace's addresses are read");
        is_int(n, 0, "a link that is down has none");
        is_int(set_lo_address(NULL), 0, "lo is up");
        is_int(host_addrs_get(h, &list, &n), 0, "read with lo up");
        is_int(n, 0, "its loopback addresses are not listed: the range refuses those");

        is_int(set_lo_address("192.0.2.7"), 0, "an address is set");
        is_int(host_addrs_get(h, &list, &n), 0, "read again");
        ok(has(list, n, "192.0.2.7"), "the address set before the call is in the list");

        is_int(host_addrs_get(h, &again, &n_again), 0, "asked again with no change");
        ok(again == list && n_again == n, "the list is not read again when nothing changed");

        is_int(set_lo_address("192.0.2.8"), 0, "the alias's address is replaced");
        is_int(host_addrs_get(h, &list, &n), 0, "read after the change");
        ok(has(list, n, "192.0.2.8") && !has(list, n, "192.0.2.7") && n == 1, "the new address is in, the old one out");
        return tap_done();
}
