#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn-helper.h"

extern char **environ;

int spawn_clean(pid_t *ret_pid, const char *path, const posix_spawn_file_actions_t *actions, char *const *argv,
                char *const *envp) {
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        r = posix_spawn(ret_pid, path, actions, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        return -r;
}

pid_t spawn_program(char *const *argv, const int *fds, size_t n_fds) {
        posix_spawn_file_actions_t actions;
        pid_t pid;
        int r;

        posix_spawn_file_actions_init(&actions);
        for (size_t i = 0; i < n_fds; i++)
                posix_spawn_file_actions_adddup2(&actions, fds[i], 3 + (int) i);
        r = spawn_clean(&pid, argv[0], &actions, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        if (r < 0) {
                fprintf(stderr, "%s: cannot start %s: %s\n", program_invocation_short_name, argv[0], strerror(-r));
                return r;
        }
        return pid;
}

int helper_pidfd(pid_t pid) {
        long fd = syscall(SYS_pidfd_open, pid, 0);

        if (fd < 0)
                return -1;
        (void) fcntl((int) fd, F_SETFD, 0); /* pidfd_open() sets close-on-exec */
        return (int) fd;
}

void helper_lifeline_end(helper_lifeline *l, int timeout_ms) {
        if (l->fd >= 0)
                close(l->fd);
        if (l->pidfd >= 0) {
                struct pollfd p = { .fd = l->pidfd, .events = POLLIN };

                /* a pidfd turns readable when its process has exited */
                while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
                        ;
                close(l->pidfd);
        }
        *l = HELPER_LIFELINE_NONE;
}
