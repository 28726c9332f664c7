/* relay_hand_over() against a notify socket that this test holds in systemd's place: the
 * messages it sends, the barrier it waits on, which process goes on, and a stop that reaches
 * the first process before the hand-over is confirmed.  As a subreaper, the test becomes the
 * parent of the orphaned heir, as the manager is for a unit. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay.h"
#include "tap.h"

/* What the process that goes on reports: its role and whether a stop is pending for it. */
#define HEIR_EXIT 7

static int notify_fd = -1;
static char notify_path[108];

/* One datagram: its text, and the fd that came with it (a barrier's) or -1. */
static int receive(char *text, size_t size, int *ret_fd) {
        char control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { .iov_base = text, .iov_len = size - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
        struct cmsghdr *cmsg;
        ssize_t n;

        *ret_fd = -1;
        n = recvmsg(notify_fd, &mh, 0);
        if (n < 0)
                return -errno;
        text[n] = '\0';
        for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
                        memcpy(ret_fd, CMSG_DATA(cmsg), sizeof(int));
        return 0;
}

/* Starts the first process: signals blocked as moat-monitor leaves them, then the hand-over;
 * the process that returns from it writes "<pid> <stop pending>" to REPORT and exits 7. */
static pid_t start_first(int report[2]) {
        pid_t pid = fork();

        if (pid == 0) {
                sigset_t set, pending;
                char line[64];
                int n;

                close(report[0]);
                sigemptyset(&set);
                sigaddset(&set, SIGTERM);
                sigaddset(&set, SIGINT);
                sigprocmask(SIG_BLOCK, &set, NULL);
                relay_hand_over();
                sigpending(&pending);
                n = snprintf(line, sizeof(line), "%d %d", (int) getpid(), sigismember(&pending, SIGTERM));
                (void) !write(report[1], line, (size_t) n);
                _exit(HEIR_EXIT);
        }
        close(report[1]);
        return pid;
}

/* Reaps every child (first, middle and heir); returns the exit status of WHO, or -1. */
static int reap_all(pid_t who) {
        int status, result = -1;
        pid_t pid;

        while ((pid = waitpid(-1, &status, 0)) > 0)
                if (pid == who)
                        result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return result;
}

/* The next notification is MAINPID=; returns its PID, or -1. */
static pid_t expect_main_pid(const char *what) {
        char text[256];
        int fd, pid = -1;

        if (!ok(receive(text, sizeof(text), &fd) == 0 && sscanf(text, "MAINPID=%d", &pid) == 1 && fd < 0,
                "%s: MAINPID= (%s)", what, text))
                return -1;
        return pid;
}

/* The next notification is a barrier; the fd it carries is returned, still open (the sender
 * waits until it is closed). */
static int expect_barrier(const char *what) {
        char text[256];
        int fd;

        if (receive(text, sizeof(text), &fd) < 0)
                text[0] = '\0';
        is_str(text, "BARRIER=1", "%s: a barrier", what);
        ok(fd >= 0, "%s: the barrier carries its fd", what);
        return fd;
}

/* The report of the process that went on: PID, and whether a stop is pending for it. */
static void expect_report(int fd, pid_t pid, int pending, const char *what) {
        char report[64] = "", want[64];
        ssize_t n;

        n = read(fd, report, sizeof(report) - 1);
        report[n > 0 ? n : 0] = '\0';
        snprintf(want, sizeof(want), "%d %d", (int) pid, pending);
        is_str(report, want, "%s", what);
}

/* The first process's side of a hand-over, up to the barrier it then waits on, whose fd is
 * returned. */
static int begin_hand_over(int pipefd[2], pid_t *first, pid_t *heir, const char *what) {
        if (pipe(pipefd) < 0)
                abort();
        *first = start_first(pipefd);
        *heir = expect_main_pid(what);
        ok(*heir > 0 && *heir != *first, "%s: MAINPID= names another process than the first", what);
        return expect_barrier(what);
}

static void test_hand_over(void) {
        int pipefd[2], fd;
        pid_t first, heir;

        fd = begin_hand_over(pipefd, &first, &heir, "hand-over");
        close(fd); /* the manager has read everything before it */
        expect_report(pipefd[0], heir, 0, "hand-over: the process that goes on is the heir, with no stop pending");
        is_int(reap_all(heir), HEIR_EXIT, "hand-over: the heir is a child of the subreaper and goes on");
        close(pipefd[0]);
}

static void test_stop_overtakes(void) {
        int pipefd[2], fd;
        pid_t first, heir;

        fd = begin_hand_over(pipefd, &first, &heir, "stop first");
        /* a manager that was stopping the unit ignored MAINPID= and signalled the first */
        kill(first, SIGTERM);
        close(fd);
        is_int(expect_main_pid("stop first, taken back"), first, "stop first: the first process takes the main PID back");
        fd = expect_barrier("stop first, taken back");
        close(fd);
        expect_report(pipefd[0], first, 1, "stop first: the first process goes on, its stop still pending");
        is_int(reap_all(first), HEIR_EXIT, "stop first: only the first returned; the heir left without a word");
        close(pipefd[0]);
}

static void test_no_manager(void) {
        int pipefd[2];
        pid_t first;

        unsetenv("NOTIFY_SOCKET");
        if (pipe(pipefd) < 0)
                abort();
        first = start_first(pipefd);
        expect_report(pipefd[0], first, 0, "without NOTIFY_SOCKET the first process goes on");
        is_int(reap_all(first), HEIR_EXIT, "without NOTIFY_SOCKET nothing is forked");
        close(pipefd[0]);
}

int main(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/test-hand-over.XXXXXX";

        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || !mkdtemp(dir))
                return 99;
        snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return 99;
        /* a notification that never comes fails the check instead of hanging the suite */
        if (setsockopt(notify_fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval) { .tv_sec = 10 }, sizeof(struct timeval)) < 0)
                return 99;
        setenv("NOTIFY_SOCKET", notify_path, 1);

        test_hand_over();
        test_stop_overtakes();
        test_no_manager();

        close(notify_fd);
        unlink(notify_path);
        rmdir(dir);
        return tap_done();
}
