#include "config.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>

#include "spawn-helper.h"

extern char **environ;

pid_t spawn_program(char *const *argv, const int *fds, size_t n_fds) {
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r;

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawn_file_actions_init(&actions);
        for (size_t i = 0; i < n_fds; i++)
                posix_spawn_file_actions_adddup2(&actions, fds[i], 3 + (int) i);
        r = posix_spawn(&pid, argv[0], &actions, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (r != 0) {
                fprintf(stderr, "%s: cannot start %s: %s\n", program_invocation_short_name, argv[0], strerror(r));
                return -r;
        }
        return pid;
}
