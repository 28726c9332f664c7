#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec-session.h"
#include "macro.h"

#define POLL_USEC 20000
/* how long a guard waits for a session whose start was still on its way when moat went */
#define GUARD_START_USEC (2 * UINT64_C(1000000))

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

bool conmon_cmdline_is_session(const char *cmdline, size_t len, const char *exec_id) {
        const char *end = cmdline + len, *arg, *base;
        bool after_u = false;

        if (!cmdline || len == 0 || !exec_id || !*exec_id || cmdline[len - 1] != '\0')
                return false;
        base = strrchr(cmdline, '/');
        base = base ? base + 1 : cmdline;
        if (strcmp(base, "conmon") != 0)
                return false;
        for (arg = cmdline + strlen(cmdline) + 1; arg < end; arg += strlen(arg) + 1) {
                if (after_u && strcmp(arg, exec_id) == 0)
                        return true;
                after_u = strcmp(arg, "-u") == 0 || strcmp(arg, "--cuuid") == 0;
        }
        return false;
}

int proc_stat_parent(const char *stat, size_t len, pid_t *ret_ppid) {
        const char *p = NULL;
        char state, *end;
        long ppid;

        /* "PID (COMM) STATE PPID ...": COMM may hold anything, ')' included, so the last one */
        for (size_t i = 0; i < len; i++)
                if (stat[i] == ')')
                        p = stat + i;
        if (!p || (size_t) (p - stat) + 5 > len || p[1] != ' ')
                return -EINVAL;
        state = p[2];
        if (state == ' ' || state == '\0' || p[3] != ' ' || p[4] < '0' || p[4] > '9')
                return -EINVAL;
        /* within LEN: the text need not be NUL-terminated, so no strtol */
        ppid = 0;
        for (end = (char *) p + 4; end < stat + len && *end >= '0' && *end <= '9'; end++) {
                ppid = ppid * 10 + (*end - '0');
                if (ppid > INT_MAX)
                        return -EINVAL;
        }
        if (end < stat + len && *end != ' ')
                return -EINVAL;
        *ret_ppid = (pid_t) ppid;
        return 0;
}

/* LEN bytes of /proc/PID/NAME at most, NUL-terminated; -errno when unreadable (the process
 * may have gone meanwhile). */
static int proc_read(const char *proc, const char *pid, const char *name, char *buf, size_t size, size_t *ret_len) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        size_t len = 0;

        if (snprintf(path, sizeof path, "%s/%s/%s", proc, pid, name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (len < size - 1) {
                ssize_t n = read(fd, buf + len, size - 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret_len = len;
        return 0;
}

typedef struct proc_entry {
        pid_t pid, ppid;
        bool conmon; /* a conmon of this session */
} proc_entry;

int exec_processes_find(const char *proc, const char *exec_id, exec_processes *ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ proc_entry *all = NULL;
        size_t n = 0, allocated = 0;
        exec_processes found = {};
        struct dirent *de;

        d = opendir(proc);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char cmdline[16384], stat[1024];
                size_t len;
                pid_t ppid;

                if (de->d_name[0] < '1' || de->d_name[0] > '9' || strspn(de->d_name, "0123456789") != strlen(de->d_name))
                        continue;
                if (proc_read(proc, de->d_name, "stat", stat, sizeof stat, &len) < 0 ||
                    proc_stat_parent(stat, len, &ppid) < 0)
                        continue;
                if (n == allocated) {
                        proc_entry *grown = reallocarray(all, allocated ? allocated * 2 : 256, sizeof *all);

                        if (!grown)
                                return -ENOMEM;
                        all = grown;
                        allocated = allocated ? allocated * 2 : 256;
                }
                all[n] = (proc_entry) { .pid = atoi(de->d_name), .ppid = ppid };
                all[n].conmon = proc_read(proc, de->d_name, "cmdline", cmdline, sizeof cmdline, &len) == 0 &&
                                conmon_cmdline_is_session(cmdline, len + 1, exec_id);
                n++;
        }
        /* conmon forks its waiter without exec: of two conmons of the session, the child waits */
        for (size_t i = 0; i < n; i++)
                if (all[i].conmon) {
                        bool child = false;

                        for (size_t j = 0; j < n; j++)
                                if (all[j].conmon && all[j].pid == all[i].ppid)
                                        child = true;
                        if (child)
                                found.waiter = all[i].pid;
                        else
                                found.monitor = all[i].pid;
                }
        for (size_t i = 0; found.monitor && i < n; i++)
                if (all[i].ppid == found.monitor && !all[i].conmon)
                        found.command = all[i].pid;
        *ret = found;
        return 0;
}

int exec_session_signal(const char *proc, const char *exec_id, int sig) {
        exec_processes p;
        int r;

        r = exec_processes_find(proc, exec_id, &p);
        if (r < 0)
                return r;
        if (!p.monitor || !p.command)
                return -ESRCH;
        return kill(p.monitor, sig) < 0 ? -errno : 0;
}

int exec_session_release(const char *proc, const char *exec_id, uint64_t timeout_usec) {
        uint64_t deadline = monotonic_usec() + timeout_usec;
        pid_t woken = 0;

        for (;;) {
                exec_processes p;
                int r;

                r = exec_processes_find(proc, exec_id, &p);
                if (r < 0)
                        return r;
                if (!p.waiter && !p.monitor)
                        return woken ? 1 : 0; /* the waiter has become podman's cleanup, or none is here */
                /* again until it has exec'd: a signal that came before its sleep began is lost */
                if (p.waiter && kill(p.waiter, SIGTERM) == 0)
                        woken = p.waiter;
                if (monotonic_usec() >= deadline)
                        return -ETIMEDOUT;
                usleep(POLL_USEC);
        }
}

/* The guard's life: wait for the caller; if it went without saying the session ended, stop
 * the command and release the session. */
static void guard_main(int fd, const char *exec_id, uint64_t grace_usec) {
        uint64_t start, term_sent = 0;
        ssize_t n;
        char c;

        do
                n = read(fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n == 1)
                return;
        start = monotonic_usec();
        for (;;) {
                uint64_t now = monotonic_usec();
                exec_processes p;

                if (exec_processes_find("/proc", exec_id, &p) < 0)
                        return;
                if (p.waiter) {
                        (void) exec_session_release("/proc", exec_id, GUARD_START_USEC);
                        return;
                }
                if (!p.monitor && now - start > GUARD_START_USEC)
                        return; /* never started, or gone with its container */
                if (p.command && !term_sent) {
                        (void) kill(p.monitor, SIGTERM); /* conmon passes it on */
                        term_sent = now;
                } else if (p.command && now - term_sent > grace_usec)
                        (void) kill(p.command, SIGKILL);
                usleep(POLL_USEC);
        }
}

int exec_guard_start(const char *exec_id, uint64_t grace_usec, int *ret_fd, moat_error *err) {
        _cleanup_close_ int rfd = -1, wfd = -1;
        int p[2], status;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return moat_error_set(err, -errno, "cannot start the exec session's guard: %m");
        rfd = p[0];
        wfd = p[1];
        pid = fork();
        if (pid < 0)
                return moat_error_set(err, -errno, "cannot start the exec session's guard: %m");
        if (pid == 0) {
                sigset_t none;
                int null;

                /* a grandchild, nobody's to reap, in a session of its own: the terminal's
                 * Ctrl-C and hangup are moat's, not the guard's */
                if (fork() != 0)
                        _exit(0);
                (void) setsid();
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                /* nothing of the caller's stays open: a reader of moat's output sees its end */
                null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(rfd, 3) < 0)
                        _exit(1);
                (void) close_range(4, UINT_MAX, 0);
                guard_main(3, exec_id, grace_usec);
                _exit(0);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        *ret_fd = TAKE_FD(wfd);
        return 0;
}

void exec_guard_done(int fd) {
        if (fd < 0)
                return;
        while (write(fd, "d", 1) < 0 && errno == EINTR)
                ;
        close(fd);
}
