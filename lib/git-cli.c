#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "git-cli.h"
#include "macro.h"
#include "spawn-helper.h"

/* What git must not take from the repository it looks at, whoever wrote its config. */
static const char *const safety[] = {
        "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*",
        "-c", "core.pager=cat",       "-c", "protocol.ext.allow=never",
};

const char *git_cli_path(void) {
        static const char *const places[] = { "/usr/bin/git", "/usr/local/bin/git", "/bin/git" };

        for (size_t i = 0; i < ELEMENTSOF(places); i++)
                if (access(places[i], X_OK) == 0)
                        return places[i];
        return places[0];
}

int git_capture(const char *dir, const char *const *args, char **ret, size_t *ret_len) {
        static const char *const env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "GIT_TERMINAL_PROMPT=0",
                                     "GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent", NULL };
        _cleanup_free_ char **argv = NULL;
        _cleanup_free_ char *out = NULL;
        posix_spawn_file_actions_t actions;
        size_t n_args = 0, n = 0, len = 0, cap = 0;
        int pipefd[2], status, r;
        pid_t pid;

        while (args[n_args])
                n_args++;
        argv = calloc(3 + ELEMENTSOF(safety) + n_args + 1, sizeof(*argv));
        if (!argv)
                return -ENOMEM;
        argv[n++] = (char *) "git";
        argv[n++] = (char *) "-C";
        argv[n++] = (char *) dir;
        for (size_t i = 0; i < ELEMENTSOF(safety); i++)
                argv[n++] = (char *) safety[i];
        for (size_t i = 0; i < n_args; i++)
                argv[n++] = (char *) args[i];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        /* git from the system's own places, not from whatever PATH the caller has, with our own
         * environment: no GIT_DIR or GIT_CONFIG_* of the caller's applies */
        r = spawn_clean(&pid, git_cli_path(), &actions, argv, (char *const *) env);
        posix_spawn_file_actions_destroy(&actions);
        close(pipefd[1]);
        if (r < 0) {
                close(pipefd[0]);
                return r;
        }
        for (;;) {
                ssize_t k;

                if (cap - len < 4096) {
                        char *more;

                        cap = cap ? cap * 2 : 8192;
                        more = realloc(out, cap + 1);
                        if (!more) {
                                r = -ENOMEM;
                                break;
                        }
                        out = more;
                }
                k = read(pipefd[0], out + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
                if (len > GIT_OUTPUT_MAX) {
                        r = -E2BIG;
                        break;
                }
        }
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r;
        if (!WIFEXITED(status))
                return -ECHILD;
        if (!out && !(out = malloc(1)))
                return -ENOMEM;
        out[len] = '\0';
        *ret = TAKE_PTR(out);
        if (ret_len)
                *ret_len = len;
        return WEXITSTATUS(status);
}
