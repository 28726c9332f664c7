#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-proxy.h"
#include "journal.h"
#include "net-policy.h"
#include "proxy.h"

/* How long a client may take to say where it goes, and a server to answer a connect or a
 * handshake; a tunnel itself may stay quiet for as long as it likes (streamed answers). */
#define HEAD_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 15000
#define COPY_BUFFER 65536
#define CONNECTIONS_MAX 512
#define THREAD_STACK (256 * 1024)

struct proxy {
        const run_record *rec;
        proxy_secret *secrets;
        size_t n_secrets;
        tls_ca *ca;
        SSL_CTX *upstream; /* verifies servers against the host's trust store */
        atomic_int connections;
        /* the last TLS session with each grant host: a resumed handshake skips the
         * certificate's verification, which a first one with that host did */
        pthread_mutex_t sessions_lock;
        struct upstream_session {
                char *host;
                SSL_SESSION *session;
        } sessions[16];
};

static int proxy_index = -1; /* SSL ex_data: the proxy of an upstream SSL */

/* OpenSSL's word of a new session with a server (TLS 1.3 sends them after the handshake). */
static int remember_session(SSL *ssl, SSL_SESSION *session) {
        proxy *p = SSL_get_ex_data(ssl, proxy_index);
        const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        struct upstream_session *slot = NULL;

        if (!p || !host)
                return 0;
        pthread_mutex_lock(&p->sessions_lock);
        for (size_t i = 0; i < ELEMENTSOF(p->sessions) && !slot; i++)
                if (!p->sessions[i].host || strcmp(p->sessions[i].host, host) == 0)
                        slot = &p->sessions[i];
        if (slot && (slot->host || (slot->host = strdup(host)))) {
                SSL_SESSION_free(slot->session);
                slot->session = session;
        } else
                slot = NULL;
        pthread_mutex_unlock(&p->sessions_lock);
        return slot ? 1 : 0; /* 1: the session is ours now */
}

static void resume_session(proxy *p, SSL *ssl, const char *host) {
        pthread_mutex_lock(&p->sessions_lock);
        for (size_t i = 0; i < ELEMENTSOF(p->sessions) && p->sessions[i].host; i++)
                if (strcmp(p->sessions[i].host, host) == 0 && p->sessions[i].session)
                        (void) SSL_set_session(ssl, p->sessions[i].session);
        pthread_mutex_unlock(&p->sessions_lock);
}

int proxy_new(const run_record *rec, proxy_secret *secrets, size_t n_secrets, tls_ca *ca, proxy **ret,
              moat_error *err) {
        static const unsigned char alpn[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
        proxy *p = calloc(1, sizeof(*p));

        if (!p)
                return moat_error_set(err, -ENOMEM, "out of memory");
        p->rec = rec;
        p->secrets = secrets;
        p->n_secrets = n_secrets;
        p->ca = ca;
        p->upstream = SSL_CTX_new(TLS_client_method());
        if (!p->upstream || !SSL_CTX_set_min_proto_version(p->upstream, TLS1_2_VERSION) ||
            SSL_CTX_set_default_verify_paths(p->upstream) != 1 ||
            SSL_CTX_set_alpn_protos(p->upstream, alpn, sizeof(alpn)) != 0) {
                proxy_free(p);
                return moat_error_set(err, -EIO, "cannot set up TLS to servers: %s",
                                      ERR_reason_error_string(ERR_get_error()));
        }
        SSL_CTX_set_verify(p->upstream, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_session_cache_mode(p->upstream, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(p->upstream, remember_session);
        pthread_mutex_init(&p->sessions_lock, NULL);
        if (proxy_index < 0)
                proxy_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        *ret = p;
        return 0;
}

void proxy_free(proxy *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_secrets; i++) {
                if (p->secrets[i].value)
                        OPENSSL_cleanse(p->secrets[i].value, p->secrets[i].len);
                free(p->secrets[i].value);
                free(p->secrets[i].grant);
        }
        free(p->secrets);
        tls_ca_free(p->ca);
        SSL_CTX_free(p->upstream);
        for (size_t i = 0; i < ELEMENTSOF(p->sessions); i++) {
                free(p->sessions[i].host);
                SSL_SESSION_free(p->sessions[i].session);
        }
        free(p);
}

static const proxy_secret *secret_of(const proxy *p, const char *grant) {
        for (size_t i = 0; i < p->n_secrets; i++)
                if (strcmp(p->secrets[i].grant, grant) == 0)
                        return &p->secrets[i];
        return NULL;
}

/* A relay of small messages (a request head, a TLS record) must not wait for the peer's
 * delayed ACK: Nagle's algorithm would hold each one back by up to 40 ms. */
static void no_delay(int fd) {
        int one = 1;

        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Plain bytes out, whole, on a non-blocking socket. */
static int fd_write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };

                        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                                return -errno;
                        continue;
                }
                if (n < 0)
                        return -errno;
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Waits for what OpenSSL asked for after returning R on SSL; false when it was no wait. */
static bool ssl_wait(SSL *ssl, int fd, int r, int timeout_ms) {
        int e = SSL_get_error(ssl, r);
        struct pollfd pfd = { .fd = fd };

        if (e == SSL_ERROR_WANT_READ)
                pfd.events = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
                pfd.events = POLLOUT;
        else
                return false;
        return poll(&pfd, 1, timeout_ms) > 0;
}

static int ssl_write_all(SSL *ssl, int fd, const char *data, size_t len) {
        while (len > 0) {
                int n = SSL_write(ssl, data, len > INT32_MAX ? INT32_MAX : (int) len);

                if (n <= 0) {
                        if (ssl_wait(ssl, fd, n, -1))
                                continue;
                        return -EPIPE;
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

static int ssl_handshake(SSL *ssl, int fd, bool accept) {
        for (;;) {
                int r = accept ? SSL_accept(ssl) : SSL_connect(ssl);

                if (r == 1)
                        return 0;
                if (!ssl_wait(ssl, fd, r, CONNECT_TIMEOUT_MS))
                        return -EPROTO;
        }
}

static void respond(int fd, int status, const char *reason, const char *body) {
        char head[256];

        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 status, reason, strlen(body));
        if (fd_write_all(fd, head, strlen(head)) >= 0)
                (void) fd_write_all(fd, body, strlen(body));
}

/* Whether the proxy may dial A: not the host itself (proxy_address_refused()), unless the
 * user allowed HOST by its exact name.  The host's addresses are read at each connection:
 * podman adds and removes some as containers come and go. */
static bool address_dialable(const proxy *p, const char *host, const struct addrinfo *a, struct ifaddrs *own) {
        const struct sockaddr *list[64];
        size_t n = 0;

        if (proxy_local_allowed(p->rec, host))
                return true;
        for (struct ifaddrs *i = own; i && n < ELEMENTSOF(list); i = i->ifa_next)
                if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
                        list[n++] = i->ifa_addr;
        return !proxy_address_refused(a->ai_addr, list, n);
}

/* A TCP connection to HOST:PORT (the first address that answers, of those the proxy may
 * dial: the addresses checked are the ones dialled, so a name cannot resolve to another
 * between the two); err says why not, -EACCES when HOST is only the host itself. */
static int connect_upstream(const proxy *p, const char *host, uint16_t port, int *ret_fd, moat_error *err) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *list = NULL;
        struct ifaddrs *own = NULL;
        char service[8];
        int r, last = -EACCES;

        snprintf(service, sizeof(service), "%u", (unsigned) port);
        r = getaddrinfo(host, service, &hints, &list);
        if (r != 0)
                return moat_error_set(err, -EHOSTUNREACH, "cannot resolve %s: %s", host, gai_strerror(r));
        if (getifaddrs(&own) < 0) {
                freeaddrinfo(list);
                return moat_error_set(err, -errno, "cannot read the host's addresses: %m");
        }
        for (struct addrinfo *a = list; a; a = a->ai_next) {
                struct pollfd pfd = { .events = POLLOUT };
                socklen_t len = sizeof(last);
                int fd, so_error = 0;

                if (!address_dialable(p, host, a, own))
                        continue;
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                if (fd < 0)
                        continue;
                pfd.fd = fd;
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
                    (errno == EINPROGRESS && poll(&pfd, 1, CONNECT_TIMEOUT_MS) > 0 &&
                     getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0)) {
                        freeaddrinfo(list);
                        freeifaddrs(own);
                        no_delay(fd);
                        *ret_fd = fd;
                        return 0;
                }
                last = so_error ? -so_error : -ETIMEDOUT;
                close(fd);
        }
        freeaddrinfo(list);
        freeifaddrs(own);
        if (last == -EACCES)
                return moat_error_set(err, -EACCES, "%s is this host itself", host);
        return moat_error_set(err, last, "cannot connect to %s port %u: %s", host, (unsigned) port, strerror(-last));
}

/* Both ways until both sides are done; a side that ends its sending ends the other's. */
static void copy_both_ways(int a, int b) {
        _cleanup_free_ char *buf = malloc(COPY_BUFFER);
        bool open[2] = { true, true }; /* a->b, b->a */

        if (!buf)
                return;
        while (open[0] || open[1]) {
                struct pollfd p[2] = { { .fd = open[0] ? a : -1, .events = POLLIN },
                                       { .fd = open[1] ? b : -1, .events = POLLIN } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                for (int i = 0; i < 2; i++) {
                        int from = i == 0 ? a : b, to = i == 0 ? b : a;
                        ssize_t n;

                        if (!p[i].revents)
                                continue;
                        n = recv(from, buf, COPY_BUFFER, 0);
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (n <= 0) {
                                open[i] = false;
                                (void) shutdown(to, SHUT_WR);
                                if (n < 0)
                                        return;
                                continue;
                        }
                        if (fd_write_all(to, buf, (size_t) n) < 0)
                                return;
                }
        }
}

typedef struct connection {
        proxy *p;
        int fd;
        char head[HTTP_HEAD_MAX];
        size_t len;
} connection;

/* Reads the request the client makes of the proxy. */
static int read_request(connection *c, proxy_request *req) {
        moat_error err = {};

        for (;;) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
                ssize_t n;
                int r;

                r = proxy_request_parse(c->head, c->len, req, &err);
                if (r != -EAGAIN) {
                        if (r < 0) {
                                _cleanup_free_ char *body = NULL;

                                if (asprintf(&body, "moat: %s\n", moat_error_message(&err)) >= 0)
                                        respond(c->fd, 400, "Bad Request", body);
                        }
                        moat_error_clear(&err);
                        return r;
                }
                if (poll(&pfd, 1, HEAD_TIMEOUT_MS) <= 0)
                        return -ETIMEDOUT;
                n = recv(c->fd, c->head + c->len, sizeof(c->head) - c->len, 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0)
                        return -ECONNRESET;
                c->len += (size_t) n;
        }
}

static void deny(connection *c, const char *host) {
        _cleanup_free_ char *body = NULL;

        if (proxy_denial_text(c->p->rec, host, &body) >= 0)
                respond(c->fd, 403, "Forbidden", body);
        (void) journal_write_network_denied(c->p->rec, proxy_host_printable(host) ? host : "?");
}

/* No server for HOST: 403 and a record when it is the host itself, else 502. */
static void upstream_failed(connection *c, const char *host, int r, const moat_error *err) {
        _cleanup_free_ char *body = NULL;

        if (r == -EACCES) {
                if (proxy_local_denial_text(host, &body) >= 0)
                        respond(c->fd, 403, "Forbidden", body);
                (void) journal_write_network_denied(c->p->rec, proxy_host_printable(host) ? host : "?");
        } else if (asprintf(&body, "moat: %s\n", moat_error_message(err)) >= 0)
                respond(c->fd, 502, "Bad Gateway", body);
}

static void tunnel(connection *c, const proxy_request *req, const proxy_route *route) {
        static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        _cleanup_close_ int up = -1;
        moat_error err = {};
        int r = connect_upstream(c->p, route->host, req->port, &up, &err);

        if (r < 0) {
                upstream_failed(c, route->host, r, &err);
                moat_error_clear(&err);
                return;
        }
        if (fd_write_all(c->fd, established, sizeof(established) - 1) < 0 ||
            fd_write_all(up, c->head + req->head_len, c->len - req->head_len) < 0)
                return;
        copy_both_ways(c->fd, up);
}

typedef struct tls_pair {
        SSL *ssl;
        int fd;
} tls_pair;

static int to_upstream(const char *data, size_t len, void *userdata) {
        tls_pair *up = userdata;

        return ssl_write_all(up->ssl, up->fd, data, len);
}

/* Reads what SSL has now into BUF: > 0 bytes, 0 nothing yet, < 0 the end. */
static int ssl_read_some(SSL *ssl, char *buf, size_t size) {
        int n = SSL_read(ssl, buf, (int) size);

        if (n > 0)
                return n;
        switch (SSL_get_error(ssl, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
                return 0;
        default:
                return -1;
        }
}

/* The server for a grant's host, over TLS it verified; err says why not. */
static int connect_verified(connection *c, const char *host, uint16_t port, tls_pair *ret, moat_error *err) {
        long verify;
        int r;

        r = connect_upstream(c->p, host, port, &ret->fd, err);
        if (r < 0)
                return r;
        ret->ssl = SSL_new(c->p->upstream);
        if (!ret->ssl || !SSL_set_fd(ret->ssl, ret->fd) || !SSL_set_tlsext_host_name(ret->ssl, host) ||
            !SSL_set1_host(ret->ssl, host) || !SSL_set_ex_data(ret->ssl, proxy_index, c->p))
                return moat_error_set(err, -ENOMEM, "cannot set up TLS to %s", host);
        resume_session(c->p, ret->ssl, host);
        if (ssl_handshake(ret->ssl, ret->fd, false) < 0) {
                verify = SSL_get_verify_result(ret->ssl);
                return moat_error_set(err, -EPROTO, "TLS with %s failed: %s", host,
                                      verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                                          : "the handshake did not complete");
        }
        return 0;
}

static void tls_pair_close(tls_pair *t) {
        if (t->ssl) {
                (void) SSL_shutdown(t->ssl);
                SSL_free(t->ssl);
        }
        if (t->fd >= 0)
                close(t->fd);
        *t = (tls_pair) { .fd = -1 };
}

typedef struct upstream_job {
        connection *c;
        const char *host;
        uint16_t port;
        tls_pair up;
        moat_error err;
        int r;
} upstream_job;

static void *upstream_main(void *userdata) {
        upstream_job *job = userdata;

        job->r = connect_verified(job->c, job->host, job->port, &job->up, &job->err);
        return NULL;
}

/* An answer of the proxy's own inside an intercepted connection, which it then closes. */
static void respond_in_tunnel(tls_pair *down, int status, const char *reason, const char *body) {
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, reason, strlen(body), body) >= 0)
                (void) ssl_write_all(down->ssl, down->fd, msg, strlen(msg));
}

/* The answer to the first request when the server could not be reached or verified, or is the
 * host itself: the container sees the proxy's error, and nothing from that server. */
static void refuse_in_tunnel(connection *c, tls_pair *down, const char *host, int r, const moat_error *err) {
        _cleanup_free_ char *body = NULL;
        char buf[4096];
        int n;

        while ((n = ssl_read_some(down->ssl, buf, sizeof(buf))) == 0) {
                struct pollfd pfd = { .fd = down->fd, .events = POLLIN };

                if (poll(&pfd, 1, HEAD_TIMEOUT_MS) <= 0)
                        return;
        }
        if (r == -EACCES) {
                if (proxy_local_denial_text(host, &body) >= 0)
                        respond_in_tunnel(down, 403, "Forbidden", body);
                (void) journal_write_network_denied(c->p->rec, host);
        } else if (asprintf(&body, "moat: %s\n", moat_error_message(err)) >= 0)
                respond_in_tunnel(down, 502, "Bad Gateway", body);
}

/* A request that named another host than the connection's: 421, and a record of it. */
static void misdirected(connection *c, tls_pair *down, const http_rewriter *rw, const char *host) {
        _cleanup_free_ char *body = NULL;
        const char *named = NULL, *why = http_rewriter_refusal(rw, &named);

        if (proxy_misdirected_text(host, why ?: "it named another host", &body) >= 0)
                respond_in_tunnel(down, 421, "Misdirected Request", body);
        (void) journal_write_network_denied(c->p->rec, named && proxy_host_printable(named) ? named : "?");
}

/* CONNECT to a grant's host: both TLS connections end here; requests go on with the header.
 * The server's connection is made while the container's TLS handshake goes on, so that the
 * two handshakes cost one's time. */
static void inject(connection *c, const proxy_request *req, const proxy_route *route) {
        static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        _cleanup_free_ char *value = NULL;
        const proxy_secret *secret = secret_of(c->p, route->grant->name);
        upstream_job job = { .c = c, .host = route->host, .port = req->port, .up = { .fd = -1 } };
        tls_pair *up = &job.up, down = { .fd = c->fd };
        bool joined = false;
        pthread_t t;
        SSL_CTX *ctx = NULL;
        moat_error err = {};
        char buf[16384];
        http_rewrite_options o = { .inject_name = route->rule->header, .authority_host = route->host,
                                   .authority_port = req->port };
        bool refused = false;

        if (c->len != req->head_len) {
                respond(c->fd, 400, "Bad Request", "moat: wait for the proxy's answer to CONNECT before TLS\n");
                return;
        }
        if (!secret || grant_header_value(route->rule, secret->value, secret->len, &value) < 0) {
                respond(c->fd, 500, "Internal Server Error", "moat: the proxy holds no value for this grant\n");
                return;
        }
        o.inject_value = value;
        if (tls_ca_server_ctx(c->p->ca, route->host, &ctx, &err) < 0 ||
            http_rewriter_new(&o, to_upstream, up, &rw) < 0) {
                respond(c->fd, 500, "Internal Server Error", "moat: the proxy cannot make a certificate\n");
                goto out;
        }
        if (pthread_create(&t, NULL, upstream_main, &job) != 0) {
                upstream_main(&job);
                joined = true;
        }
        if (fd_write_all(c->fd, established, sizeof(established) - 1) >= 0 && (down.ssl = SSL_new(ctx)) &&
            SSL_set_fd(down.ssl, c->fd))
                (void) ssl_handshake(down.ssl, c->fd, true);
        if (!joined)
                pthread_join(t, NULL);
        if (job.r < 0) {
                fprintf(stderr, "moat-proxy: %s\n", moat_error_message(&job.err));
                if (down.ssl && SSL_is_init_finished(down.ssl))
                        refuse_in_tunnel(c, &down, route->host, job.r, &job.err);
                goto out;
        }
        if (!down.ssl || !SSL_is_init_finished(down.ssl))
                goto out;

        for (;;) {
                /* the client is not read while an upgrade awaits its answer, nor after a request
                 * that named another host: the answers to what went before it come first */
                bool read_down = !refused && !http_rewriter_waiting(rw);
                struct pollfd p[2] = { { .fd = read_down ? down.fd : -1, .events = POLLIN },
                                       { .fd = up->fd, .events = POLLIN } };
                int n, r;

                if (refused && http_rewriter_outstanding(rw) == 0) {
                        misdirected(c, &down, rw, route->host);
                        break;
                }
                /* what OpenSSL holds already is no news to poll */
                if ((!read_down || SSL_pending(down.ssl) == 0) && SSL_pending(up->ssl) == 0 && poll(p, 2, -1) < 0 &&
                    errno != EINTR)
                        break;
                while (read_down && (n = ssl_read_some(down.ssl, buf, sizeof(buf))) > 0) {
                        r = http_rewriter_feed(rw, buf, (size_t) n);
                        if (r == -EPERM) {
                                refused = true;
                                break;
                        }
                        if (r < 0)
                                goto out; /* not HTTP, or the server went: the connection ends */
                        read_down = !http_rewriter_waiting(rw);
                }
                if (read_down && n < 0)
                        break;
                while ((n = ssl_read_some(up->ssl, buf, sizeof(buf))) > 0) {
                        if (ssl_write_all(down.ssl, down.fd, buf, (size_t) n) < 0)
                                goto out;
                        r = http_rewriter_response(rw, buf, (size_t) n);
                        if (r == -EPERM)
                                refused = true;
                        else if (r < 0)
                                goto out;
                }
                if (n < 0)
                        break;
        }
out:
        OPENSSL_cleanse(buf, sizeof(buf));
        if (value)
                OPENSSL_cleanse(value, strlen(value));
        moat_error_clear(&err);
        moat_error_clear(&job.err);
        tls_pair_close(up);
        if (down.ssl) {
                (void) SSL_shutdown(down.ssl);
                SSL_free(down.ssl);
        }
        SSL_CTX_free(ctx);
}

static int to_fd(const char *data, size_t len, void *userdata) {
        return fd_write_all(*(int *) userdata, data, len);
}

/* A plain http:// request: one, in origin form, then the server's answer to its end.  No
 * grant goes over plain HTTP. */
static void forward_plain(connection *c, const proxy_request *req, const proxy_route *route) {
        static const http_rewrite_options o = { .origin_form = true, .one_request = true };
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        _cleanup_close_ int up = -1;
        moat_error err = {};
        char buf[16384];
        int r = connect_upstream(c->p, route->host, req->port, &up, &err);

        if (r < 0) {
                upstream_failed(c, route->host, r, &err);
                moat_error_clear(&err);
                return;
        }
        if (http_rewriter_new(&o, to_fd, &up, &rw) < 0 || http_rewriter_feed(rw, c->head, c->len) < 0)
                return;
        for (;;) {
                struct pollfd p[2] = { { .fd = http_rewriter_done(rw) ? -1 : c->fd, .events = POLLIN },
                                       { .fd = up, .events = POLLIN } };
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[0].revents) {
                        n = recv(c->fd, buf, sizeof(buf), 0);
                        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
                                return;
                        if (n > 0 && http_rewriter_feed(rw, buf, (size_t) n) < 0)
                                return;
                }
                if (p[1].revents) {
                        n = recv(up, buf, sizeof(buf), 0);
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (n <= 0 || fd_write_all(c->fd, buf, (size_t) n) < 0)
                                return;
                }
        }
}

static void *connection_main(void *userdata) {
        connection *c = userdata;
        proxy_request req = {};
        proxy_route route = {};

        if (read_request(c, &req) < 0)
                goto out;
        if (proxy_route_host(c->p->rec, req.host, &route) < 0) {
                respond(c->fd, 500, "Internal Server Error", "moat: out of memory\n");
                goto out;
        }
        if (route.verdict == PROXY_DENY)
                deny(c, req.host);
        else if (!req.is_connect)
                forward_plain(c, &req, &route);
        else if (route.verdict == PROXY_INJECT)
                inject(c, &req, &route);
        else
                tunnel(c, &req, &route);
out:
        proxy_route_done(&route);
        proxy_request_done(&req);
        close(c->fd);
        atomic_fetch_sub(&c->p->connections, 1);
        free(c);
        ERR_clear_error();
        return NULL;
}

int proxy_serve(proxy *p, int listen_fd, moat_error *err) {
        pthread_attr_t attr;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, THREAD_STACK);
        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                connection *c;
                pthread_t t;

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                                continue;
                        pthread_attr_destroy(&attr);
                        return moat_error_set(err, -errno, "cannot accept connections: %m");
                }
                if (atomic_load(&p->connections) >= CONNECTIONS_MAX || !(c = calloc(1, sizeof(*c)))) {
                        close(fd);
                        continue;
                }
                no_delay(fd);
                *c = (connection) { .p = p, .fd = fd };
                atomic_fetch_add(&p->connections, 1);
                if (pthread_create(&t, &attr, connection_main, c) != 0) {
                        atomic_fetch_sub(&p->connections, 1);
                        close(fd);
                        free(c);
                }
        }
}
