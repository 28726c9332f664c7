#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "git-cli.h"
#include "git-run.h"
#include "macro.h"
#include "spawn-helper.h"
#include "strv.h"

#define GIT_OUT_MAX (64u << 20)
#define GIT_ERR_MAX (16u << 10)

extern char **environ;

/* The environment git gets: the caller's without any GIT_* variable, then EXTRA. */
static char **git_environment(char *const *extra) {
        char **env = calloc(1, sizeof(char *));

        if (!env)
                return NULL;
        for (char **e = environ; e && *e; e++)
                if (strncmp(*e, "GIT_", 4) != 0 && strv_push(&env, strdup(*e)) < 0)
                        goto fail;
        for (char *const *e = extra; e && *e; e++)
                if (strv_push(&env, strdup(*e)) < 0)
                        goto fail;
        return env;
fail:
        strv_free(env);
        return NULL;
}

typedef struct sink {
        char *data;
        size_t len, cap, max;
        bool truncated;
} sink;

static int sink_read(int fd, sink *s) {
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n <= 0)
                return n < 0 && errno == EINTR ? 1 : 0;
        if (s->len + (size_t) n > s->max) {
                s->truncated = true;
                n = (ssize_t) (s->max - s->len);
        }
        if (s->len + (size_t) n + 1 > s->cap) {
                size_t cap = (s->len + (size_t) n + 1) * 2;
                char *more = realloc(s->data, cap);

                if (!more)
                        return -ENOMEM;
                s->data = more;
                s->cap = cap;
        }
        memcpy(s->data + s->len, buf, (size_t) n);
        s->len += (size_t) n;
        s->data[s->len] = '\0';
        return 1;
}

/* The last non-empty line of git's stderr, without "fatal: " or "error: ". */
static const char *last_line(char *text) {
        char *line = NULL;

        if (!text)
                return NULL;
        for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
                if (*p)
                        line = p;
        if (line && strncmp(line, "fatal: ", 7) == 0)
                line += 7;
        else if (line && strncmp(line, "error: ", 7) == 0)
                line += 7;
        return line;
}

int git_run(const char *cwd, char *const *argv, char *const *env, const char *what, char **ret_out, size_t *ret_len,
            moat_error *err) {
        _cleanup_(strv_freep) char **genv = git_environment(env), **full = NULL;
        _cleanup_close_ int out_r = -1, err_r = -1;
        posix_spawn_file_actions_t actions;
        sink out = { .max = GIT_OUT_MAX }, errs = { .max = GIT_ERR_MAX };
        int out_p[2], err_p[2], status, r = 0;
        bool out_open = true, err_open = true;
        pid_t pid;

        if (!genv || strv_push(&full, strdup("git")) < 0 ||
            (cwd && (strv_push(&full, strdup("-C")) < 0 || strv_push(&full, strdup(cwd)) < 0)))
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (char *const *a = argv; *a; a++)
                if (strv_push(&full, strdup(*a)) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        if (pipe2(out_p, O_CLOEXEC) < 0)
                return moat_error_set(err, -errno, "%s: %s", what, strerror(errno));
        if (pipe2(err_p, O_CLOEXEC) < 0) {
                r = -errno;
                close(out_p[0]);
                close(out_p[1]);
                return moat_error_set(err, r, "%s: %s", what, strerror(-r));
        }
        out_r = out_p[0];
        err_r = err_p[0];
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, out_p[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err_p[1], STDERR_FILENO);
        r = spawn_clean(&pid, git_cli_path(), &actions, full, genv);
        posix_spawn_file_actions_destroy(&actions);
        close(out_p[1]);
        close(err_p[1]);
        if (r < 0)
                return moat_error_set(err, r, "%s: cannot start git: %s", what, strerror(-r));
        while (out_open || err_open) {
                struct pollfd p[2] = { { .fd = out_open ? out_r : -1, .events = POLLIN },
                                       { .fd = err_open ? err_r : -1, .events = POLLIN } };
                int k;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (out_open && p[0].revents) {
                        k = sink_read(out_r, &out);
                        if (k < 0)
                                r = k;
                        if (k <= 0)
                                out_open = false;
                }
                if (err_open && p[1].revents) {
                        k = sink_read(err_r, &errs);
                        if (k < 0)
                                r = k;
                        if (k <= 0)
                                err_open = false;
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        status = -1;
                        break;
                }
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                const char *line = last_line(errs.data);

                r = moat_error_set(err, -EIO, "%s: %s", what, line ?: "git failed");
        } else if (r >= 0 && out.truncated)
                r = moat_error_set(err, -EFBIG, "%s: git's output is too large", what);
        else if (r < 0)
                r = moat_error_set(err, r, "%s: %s", what, strerror(-r));
        free(errs.data);
        if (r < 0) {
                free(out.data);
                return r;
        }
        if (ret_len)
                *ret_len = out.len;
        if (ret_out) {
                *ret_out = out.data ?: strdup("");
                if (!*ret_out)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        } else
                free(out.data);
        return 0;
}
