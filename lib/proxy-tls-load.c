/* Loading the egress proxy's TLS module (lib/proxy-tls.h), and running it in a child so that
 * the process asking never maps OpenSSL. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file-util.h"
#include "macro.h"
#include "proxy-tls.h"

/* What a child sends back at most. */
#define CHILD_REPLY_MAX (1 << 20)

const proxy_tls_ops *proxy_tls_load(moat_error *err) {
        void *module = dlopen(PROXY_TLS_MODULE, RTLD_NOW | RTLD_LOCAL);
        const proxy_tls_ops *ops;

        if (!module) {
                moat_error_set(err, -ENOENT, "cannot load the proxy's TLS module: %s; reinstall moat", dlerror());
                return NULL;
        }
        ops = dlsym(module, PROXY_TLS_OPS_SYMBOL);
        if (!ops)
                moat_error_set(err, -ENOENT, "%s is not moat's TLS module: %s", PROXY_TLS_MODULE, dlerror());
        return ops;
}

/* The child: FN's bytes after a '0', or its error's message after a '1'. */
static int child(proxy_tls_child_fn fn, void *userdata, int fd) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *out = NULL;
        const proxy_tls_ops *ops = proxy_tls_load(&err);
        size_t len = 0;
        int r = ops ? fn(ops, userdata, &out, &len, &err) : err.code;

        if (r < 0) {
                const char *msg = moat_error_message(&err);

                return fd_write_all(fd, "1", 1) < 0 || fd_write_all(fd, msg, strlen(msg)) < 0 ? 1 : 0;
        }
        r = fd_write_all(fd, "0", 1) >= 0 && fd_write_all(fd, out ?: "", len) >= 0;
        if (out)
                explicit_bzero(out, len);
        return r ? 0 : 1;
}

int proxy_tls_in_child(proxy_tls_child_fn fn, void *userdata, char **ret, size_t *ret_len, moat_error *err) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 4096;
        int p[2], status = 0, r = 0;
        pid_t pid;

        buf = malloc(cap);
        if (!buf)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if (pipe2(p, O_CLOEXEC) < 0)
                return moat_error_set(err, -errno, "cannot make a pipe: %m");
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(p[0]);
                close(p[1]);
                return moat_error_set(err, r, "cannot fork: %s", strerror(-r));
        }
        if (pid == 0) {
                close(p[0]);
                _exit(child(fn, userdata, p[1]));
        }
        close(p[1]);
        for (;;) {
                ssize_t n;

                if (len == cap) {
                        char *b;

                        if (cap >= CHILD_REPLY_MAX) {
                                r = -E2BIG;
                                break;
                        }
                        b = realloc(buf, cap * 2);
                        if (!b) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = b;
                        cap *= 2;
                }
                n = read(p[0], buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : 0;
                        break;
                }
                len += (size_t) n;
        }
        close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && (len == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = -EIO;
        if (r >= 0 && buf[0] == '1') {
                buf[len < cap ? len : cap - 1] = '\0';
                r = moat_error_set(err, -EIO, "%s", buf + 1);
        } else if (r < 0)
                moat_error_set(err, r, "the proxy's TLS child failed: %s", strerror(-r));
        if (r >= 0) {
                char *out = malloc(len);

                if (!out)
                        r = moat_error_set(err, -ENOMEM, "out of memory");
                else {
                        memcpy(out, buf + 1, len - 1);
                        out[len - 1] = '\0';
                        *ret = out;
                        *ret_len = len - 1;
                }
        }
        explicit_bzero(buf, cap);
        return r;
}
