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
        size_t len = 0;
        int p[2], status = 0, r;
        pid_t pid;

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
        r = fd_read_all(p[0], CHILD_REPLY_MAX, &buf, &len);
        close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && (len == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = -EIO;
        if (r < 0) {
                if (buf)
                        explicit_bzero(buf, len);
                return moat_error_set(err, r, "the proxy's TLS child failed: %s", strerror(-r));
        }
        if (buf[0] == '1')
                return moat_error_set(err, -EIO, "%s", buf + 1);
        /* the bytes after the '0', and the NUL after them: no second copy of a secret */
        memmove(buf, buf + 1, len);
        *ret = TAKE_PTR(buf);
        *ret_len = len - 1;
        return 0;
}
