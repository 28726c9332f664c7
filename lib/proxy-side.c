#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy-side.h"
#include "proxy-tls.h"

int proxy_side_read(proxy_side *s, char *buf, size_t size) {
        ssize_t n;

        if (s->tls)
                return s->tls_ops->side_read(s, buf, size);
        do
                n = recv(s->fd, buf, size, 0);
        while (n < 0 && errno == EINTR);
        if (n > 0)
                return (int) n;
        if (n == 0) {
                s->eof = true;
                return 0;
        }
        if (errno == EAGAIN) {
                s->readable = false;
                return -EAGAIN;
        }
        return -errno;
}

int proxy_side_queue(proxy_side *s, const char *data, size_t len) {
        if (len == 0)
                return 0;
        if (s->out_start > 0 && s->out_start + s->out_len + len > s->out_cap) {
                /* OpenSSL may be retrying a write of these bytes: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                 * lets them move, as long as they stay the same */
                memmove(s->out, s->out + s->out_start, s->out_len);
                s->out_start = 0;
        }
        if (s->out_len + len > s->out_cap) {
                size_t cap = s->out_cap ? s->out_cap : 4096;
                char *p;

                while (cap < s->out_len + len)
                        cap *= 2;
                p = realloc(s->out, cap);
                if (!p)
                        return -ENOMEM;
                s->out = p;
                s->out_cap = cap;
        }
        memcpy(s->out + s->out_start + s->out_len, data, len);
        s->out_len += len;
        return 0;
}

/* Writes from DATA what the socket takes now: bytes written, -EAGAIN, or an error. */
static ssize_t side_write(proxy_side *s, const char *data, size_t len) {
        ssize_t n;

        if (s->tls)
                return s->tls_ops->side_write(s, data, len);
        do
                n = send(s->fd, data, len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n >= 0)
                return n;
        if (errno == EAGAIN) {
                s->writable = false;
                return -EAGAIN;
        }
        return -errno;
}

/* Sends what waits in the pipe: 0 all gone, -EAGAIN some left, < 0 an error. */
static int flush_pipe(proxy_side *s) {
        while (s->piped > 0) {
                ssize_t n = splice(s->pipe_r, NULL, s->fd, NULL, s->piped, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        s->writable = false;
                        return -EAGAIN;
                }
                if (n <= 0)
                        return n < 0 ? -errno : -EPIPE;
                s->piped -= (size_t) n;
        }
        return 0;
}

int proxy_side_splice(proxy_side *to, proxy_side *from) {
        ssize_t n;

        if (to->tls || from->tls || to->out_len > 0 || to->piped > 0)
                return -EOPNOTSUPP;
        if (to->pipe_r < 0) {
                int p[2];

                if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                        return errno == EMFILE || errno == ENFILE ? -EOPNOTSUPP : -errno;
                to->pipe_r = p[0];
                to->pipe_w = p[1];
                /* fewer, larger moves; where the user's pipe budget is spent, the default */
                (void) fcntl(p[1], F_SETPIPE_SZ, PROXY_SIDE_PIPE_SIZE);
        }
        do
                n = splice(from->fd, NULL, to->pipe_w, NULL, PROXY_SIDE_PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        while (n < 0 && errno == EINTR);
        if (n > 0) {
                to->piped = (size_t) n;
                return n > INT_MAX ? INT_MAX : (int) n;
        }
        if (n == 0) {
                from->eof = true;
                return 0;
        }
        if (errno == EAGAIN) {
                from->readable = false; /* the pipe was empty: it is the socket that had nothing */
                return -EAGAIN;
        }
        return errno == EINVAL ? -EOPNOTSUPP : -errno;
}

int proxy_side_flush(proxy_side *s) {
        int r = flush_pipe(s);

        if (r < 0)
                return r;
        while (s->out_len > 0) {
                ssize_t n = side_write(s, s->out + s->out_start, s->out_len);

                if (n < 0)
                        return (int) n;
                s->out_start += (size_t) n;
                s->out_len -= (size_t) n;
        }
        /* an empty queue holds no memory: a thousand quiet connections cost little */
        free(s->out);
        s->out = NULL;
        s->out_start = s->out_cap = 0;
        return 0;
}

int proxy_side_send(proxy_side *s, const char *data, size_t len) {
        int r;

        if (!proxy_side_pending(s) && s->writable && !s->write_wants_read) {
                /* the usual case, nothing queued: straight from the caller's buffer */
                while (len > 0) {
                        ssize_t n = side_write(s, data, len);

                        if (n == -EAGAIN)
                                break;
                        if (n < 0)
                                return (int) n;
                        data += n;
                        len -= (size_t) n;
                }
        }
        r = proxy_side_queue(s, data, len);
        if (r < 0)
                return r;
        r = proxy_side_flush(s);
        return r == -EAGAIN ? 0 : r;
}

int proxy_side_handshake(proxy_side *s, bool server) {
        return s->tls ? s->tls_ops->side_handshake(s, server) : -EPROTO;
}

void proxy_side_shutdown(proxy_side *s) {
        if (s->shut || s->fd < 0)
                return;
        s->shut = true;
        if (s->tls && !s->handshaking)
                s->tls_ops->side_shutdown(s);
        (void) shutdown(s->fd, SHUT_WR);
}

uint32_t proxy_side_events(const proxy_side *s, bool wants_input) {
        uint32_t e = 0;

        if (s->fd < 0)
                return 0;
        if (s->handshaking)
                return (s->readable ? 0 : EPOLLIN) | (s->writable ? 0 : EPOLLOUT);
        /* asked for whenever wanted, whatever was last seen: the interest is level-triggered,
         * so a socket already readable reports at once instead of waiting forever on a flag */
        if ((wants_input && !s->eof) || s->write_wants_read)
                e |= EPOLLIN;
        if (proxy_side_pending(s) || s->read_wants_write)
                e |= EPOLLOUT;
        return e;
}

void proxy_side_ready(proxy_side *s, uint32_t revents) {
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                s->readable = true;
        if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                s->writable = true;
}

void proxy_side_close(proxy_side *s) {
        if (s->tls)
                s->tls_ops->side_free(s);
        if (s->fd >= 0)
                close(s->fd);
        if (s->pipe_r >= 0)
                close(s->pipe_r);
        if (s->pipe_w >= 0)
                close(s->pipe_w);
        free(s->out);
        *s = (proxy_side) PROXY_SIDE_INIT;
}
