/* The front and the TLS worker of the egress proxy over their socket pair: a connection goes
 * over whole (its socket and its head) or not at all, and what is not one is refused with
 * every descriptor in it closed. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy-handoff.h"
#include "tap.h"

static int open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        while (d && readdir(d))
                n++;
        if (d)
                closedir(d);
        return n;
}

static void pair(int sv[2]) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                abort();
}

static void test_connection(void) {
        static const char head[] = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n";
        char buf[PROXY_HANDOFF_MAX], got[8] = "";
        int sv[2], p[2], fd = -1;
        size_t len = 0;

        pair(sv);
        if (pipe(p) < 0)
                abort();
        is_int(proxy_handoff_recv(sv[1], buf, sizeof(buf), &fd, &len), -EAGAIN, "nothing yet: -EAGAIN");
        is_int(proxy_handoff_send(sv[0], p[1], head, strlen(head)), 0, "a connection is sent");
        close(p[1]);
        is_int(proxy_handoff_recv(sv[1], buf, sizeof(buf), &fd, &len), 1, "and taken");
        ok(len == strlen(head) && memcmp(buf, head, len) == 0, "its head whole");
        ok(fd >= 0 && write(fd, "hi", 2) == 2 && read(p[0], got, sizeof(got)) == 2 && memcmp(got, "hi", 2) == 0,
           "its socket, the same one");
        ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "close-on-exec");
        close(fd);
        close(p[0]);
        is_int(proxy_handoff_send(sv[0], 0, head, 0), -EINVAL, "a head is never empty");
        is_int(proxy_handoff_send(sv[0], 0, buf, PROXY_HANDOFF_MAX + 1), -EINVAL, "nor longer than a head can be");
        close(sv[0]);
        is_int(proxy_handoff_recv(sv[1], buf, sizeof(buf), &fd, &len), 0, "the front's close: 0");
        close(sv[1]);
}

static void test_refused(void) {
        char buf[64], big[128];
        int sv[2], p[2], fd = -1, before;
        size_t len = 0;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = big, .iov_len = 10 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

        memset(big, 'x', sizeof(big));
        pair(sv);
        if (pipe(p) < 0)
                abort();
        before = open_fds();
        ok(send(sv[0], "GET / HTTP/1.1\r\n\r\n", 18, 0) == 18, "a head without a socket");
        is_int(proxy_handoff_recv(sv[1], buf, sizeof(buf), &fd, &len), -EBADMSG, "is refused");

        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(2 * sizeof(int));
        memcpy(CMSG_DATA(cmsg), p, 2 * sizeof(int));
        ok(sendmsg(sv[0], &msg, 0) == 10, "a head with two sockets");
        is_int(proxy_handoff_recv(sv[1], buf, sizeof(buf), &fd, &len), -EBADMSG, "is refused");
        is_int(open_fds(), before, "and what it carried is closed");

        is_int(proxy_handoff_send(sv[0], p[0], big, sizeof(big)), 0, "a head longer than the buffer");
        is_int(proxy_handoff_recv(sv[1], buf, sizeof(buf), &fd, &len), -EBADMSG, "is refused, not cut");
        is_int(open_fds(), before, "its socket closed");
        close(p[0]);
        close(p[1]);
        close(sv[0]);
        close(sv[1]);
}

static void test_ended(void) {
        uint32_t n = 0;
        int sv[2];

        pair(sv);
        is_int(proxy_handoff_recv_ended(sv[0], &n), -EAGAIN, "no word yet");
        is_int(proxy_handoff_send_ended(sv[1], 3), 0, "3 ended");
        is_int(proxy_handoff_recv_ended(sv[0], &n), 1, "heard");
        is_int(n, 3, "the count");
        ok(send(sv[1], "xyzzy", 5, 0) == 5, "a message of another size");
        is_int(proxy_handoff_recv_ended(sv[0], &n), -EBADMSG, "is refused");
        ok(send(sv[1], "xy", 2, 0) == 2, "a short one");
        is_int(proxy_handoff_recv_ended(sv[0], &n), -EBADMSG, "too");
        /* a worker that does not read: the front's sends wait, they never block */
        for (int i = 0; i < 100000 && proxy_handoff_send_ended(sv[0], 1) == 0; i++)
                ;
        is_int(proxy_handoff_send_ended(sv[0], 1), -EAGAIN, "a full socket: -EAGAIN");
        close(sv[1]);
        n = (uint32_t) -proxy_handoff_send_ended(sv[0], 1);
        ok(n == EPIPE || n == ECONNRESET, "the other end gone: an error, no signal");
        close(sv[0]);
}

int main(void) {
        test_connection();
        test_refused();
        test_ended();
        return tap_done();
}
