#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy-handoff.h"

int proxy_handoff_send(int sock, int fd, const char *head, size_t len) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) head, .iov_len = len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

        if (len == 0 || len > PROXY_HANDOFF_MAX)
                return -EINVAL;
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        for (;;) {
                if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

/* Closes the descriptors MSG carried. */
static void close_passed(struct msghdr *msg) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                close(fd);
                        }
}

int proxy_handoff_recv(int sock, char *buf, size_t size, int *ret_fd, size_t *ret_len) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cmsg;
        ssize_t n;

        do
                n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        cmsg = CMSG_FIRSTHDR(&msg);
        if (n == 0 && !cmsg)
                return 0;
        if (n == 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !cmsg || cmsg->cmsg_level != SOL_SOCKET ||
            cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) {
                close_passed(&msg);
                return -EBADMSG;
        }
        memcpy(ret_fd, CMSG_DATA(cmsg), sizeof(int));
        *ret_len = (size_t) n;
        return 1;
}

int proxy_handoff_send_ended(int sock, uint32_t n) {
        for (;;) {
                if (send(sock, &n, sizeof(n), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int proxy_handoff_recv_ended(int sock, uint32_t *ret) {
        uint32_t n;
        ssize_t r;

        do
                r = recv(sock, &n, sizeof(n), MSG_DONTWAIT | MSG_TRUNC);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (r == 0)
                return 0;
        if (r != (ssize_t) sizeof(n))
                return -EBADMSG;
        *ret = n;
        return 1;
}
