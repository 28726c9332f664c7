#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns-listen.h"

/* In the child: joins the namespaces and makes the socket; the errno of a failure goes back
 * instead of a descriptor. */
_noreturn_ static void child(int sock, int userns, int netns, const char *address, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct stat ours, theirs;
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control = {};
        int e = 0, fd = -1, one = 1;
        struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

        /* a rootless container's namespace belongs to podman's user namespace: join it first
         * (its owner, this user, has every capability there); root is already in the right one */
        if (stat("/proc/self/ns/user", &ours) < 0 || fstat(userns, &theirs) < 0)
                e = errno;
        else if (ours.st_ino != theirs.st_ino && setns(userns, CLONE_NEWUSER) < 0)
                e = errno;
        if (!e && setns(netns, CLONE_NEWNET) < 0)
                e = errno;
        if (!e && inet_pton(AF_INET, address, &sa.sin_addr) != 1)
                e = EINVAL;
        if (!e && (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
                e = errno;
        if (!e && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                   bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0))
                e = errno;
        if (!e) {
                struct cmsghdr *cm;

                msg.msg_control = control.buf;
                msg.msg_controllen = sizeof(control.buf);
                cm = CMSG_FIRSTHDR(&msg);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        }
        _exit(sendmsg(sock, &msg, 0) < 0 ? 2 : e ? 1 : 0);
}

int netns_listen(pid_t pid, const char *address, uint16_t port, int *ret_fd, moat_error *err) {
        _cleanup_close_ int userns = -1, netns = -1, mine = -1, theirs = -1;
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control = {};
        char path[64];
        int sp[2], e = 0, fd = -1;
        struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cm;
        pid_t c;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
        userns = open(path, O_RDONLY | O_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
        netns = open(path, O_RDONLY | O_CLOEXEC);
        if (userns < 0 || netns < 0)
                return moat_error_set(err, -errno, "cannot open the namespaces of the container's process %d: %m",
                                      (int) pid);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return moat_error_set(err, -errno, "socketpair: %m");
        mine = sp[0];
        theirs = sp[1];
        c = fork();
        if (c < 0)
                return moat_error_set(err, -errno, "fork: %m");
        if (c == 0)
                child(theirs, userns, netns, address, port);
        theirs = safe_close(theirs);
        do
                n = recvmsg(mine, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
                ;
        cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        if (fd < 0)
                return moat_error_set(err, -(e ?: EIO), "cannot listen on %s:%u in the container's network: %s",
                                      address, (unsigned) port, strerror(e ?: EIO));
        *ret_fd = fd;
        return 0;
}
