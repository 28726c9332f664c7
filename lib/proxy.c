#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "host-addrs.h"
#include "http-proxy.h"
#include "journal.h"
#include "proxy-internal.h"
#include "resolver.h"

/* Connections served at once; above it a client gets 503, and the run's journal a record. */
#define CONNECTIONS_MAX 512
/* Connections that got their 503 and wait for their clients to close first (a close with
 * unread bytes would reset them); above it they are closed at once. */
#define REFUSING_MAX 2048
#define ACCEPT_BATCH 64
/* After accept() ran out of file descriptors: when to try again, short of a close. */
#define ACCEPT_RETRY_USEC (100 * 1000)
#define BUSY_RECORD_USEC (1000 * 1000)
/* How long the proxy is without a connection before its free memory goes back to the system:
 * an agent's requests come in bursts, seconds apart. */
#define TRIM_AFTER_USEC (1000 * 1000)

/* Where the loop reads into: one thread, one buffer.  A TLS record's worth and more. */
static char scratch[32 * 1024];

int proxy_new(const run_record *rec, proxy_secret *secrets, size_t n_secrets, char *ca_blob, size_t ca_blob_len,
              proxy **ret, moat_error *err) {
        proxy *p = calloc(1, sizeof(*p));

        if (!p)
                return moat_error_set(err, -ENOMEM, "out of memory");
        p->rec = rec;
        p->secrets = secrets;
        p->n_secrets = n_secrets;
        p->ca_blob = ca_blob;
        p->ca_blob_len = ca_blob_len;
        p->listen_fd = p->lifeline_fd = p->worker_fd = p->front_fd = -1;
        proxy_timeouts_default(&p->timeouts);
        if (host_addrs_new(&p->own) < 0) {
                proxy_free(p);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = p;
        return 0;
}

void proxy_set_timeouts(proxy *p, const proxy_timeouts *t) {
        p->timeouts = *t;
}

void proxy_set_title(proxy *p, char *title, size_t len) {
        p->title = title;
        p->title_len = len;
}

void proxy_free(proxy *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_secrets; i++) {
                if (p->secrets[i].value)
                        explicit_bzero(p->secrets[i].value, p->secrets[i].len);
                free(p->secrets[i].value);
                free(p->secrets[i].grant);
        }
        free(p->secrets);
        if (p->ca_blob)
                explicit_bzero(p->ca_blob, p->ca_blob_len);
        free(p->ca_blob);
        if (p->tls)
                p->tls->free(p->tls_state);
        host_addrs_free(p->own);
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

/* Whether the proxy may dial A: not the host itself (proxy_address_refused(), OWN its N_OWN
 * addresses), unless the user allowed HOST by its exact name. */
static bool address_dialable(const proxy *p, const char *host, const struct addrinfo *a,
                             const struct sockaddr *const *own, size_t n_own) {
        return proxy_local_allowed(p->rec, host) || !proxy_address_refused(a->ai_addr, own, n_own);
}

void proxy_timer_arm(sd_event_source *s, uint64_t at) {
        (void) sd_event_source_set_time(s, at);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

uint64_t proxy_now(const proxy *p) {
        uint64_t t = 0;

        (void) sd_event_now(p->event, CLOCK_MONOTONIC, &t);
        return t;
}

/* The connection moves on; PROXY_PHASE_CLOSED is freed by connection_run(), its caller's last
 * step, so that nothing below it frees what its callers still use. */
void connection_enter(connection *c, proxy_event event) {
        proxy_phase next = proxy_phase_next(c->phase, event);

        if (next != c->phase) {
                c->phase = next;
                c->since = proxy_now(c->p);
        }
}

/* The proxy's own answer, then the close: over the client's TLS when it has one. */
void connection_answer(connection *c, int status, const char *reason, const char *body) {
        _cleanup_free_ char *msg = NULL;
        int n;

        if (c->down.tls && !c->down_ready) {
                connection_enter(c, PROXY_EVENT_ABORT);
                return;
        }
        n = asprintf(&msg,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, reason, strlen(body), body);
        if (n < 0 || proxy_side_send(&c->down, msg, (size_t) n) < 0)
                connection_enter(c, PROXY_EVENT_ABORT);
        else
                connection_enter(c, PROXY_EVENT_ANSWER);
}

static void connection_answer_error(connection *c, int status, const char *reason, const moat_error *err) {
        _cleanup_free_ char *body = NULL;

        if (asprintf(&body, "moat: %s\n", moat_error_message(err)) < 0)
                connection_enter(c, PROXY_EVENT_ABORT);
        else
                connection_answer(c, status, reason, body);
}

static void deny(connection *c, const char *host) {
        _cleanup_free_ char *body = NULL;

        if (proxy_denial_text(c->p->rec, host, &body) >= 0)
                connection_answer(c, 403, "Forbidden", body);
        else
                connection_enter(c, PROXY_EVENT_ABORT);
        (void) journal_write_network_denied(c->p->rec, proxy_host_printable(host) ? host : "?", NET_REFUSED_POLICY);
}

/* No server for the route's host: 403 and a record when it is the host itself, else 502. */
static void answer_upstream_failed(connection *c, int r, const moat_error *err) {
        const char *host = c->route.host;
        _cleanup_free_ char *body = NULL;

        if (r == -EACCES) {
                if (proxy_local_denial_text(host, &body) >= 0)
                        connection_answer(c, 403, "Forbidden", body);
                else
                        connection_enter(c, PROXY_EVENT_ABORT);
                (void) journal_write_network_denied(c->p->rec, proxy_host_printable(host) ? host : "?",
                                                    NET_REFUSED_HOST_ITSELF);
        } else
                connection_answer_error(c, r == -ETIMEDOUT ? 504 : 502,
                                        r == -ETIMEDOUT ? "Gateway Timeout" : "Bad Gateway", err);
}

/* The server could not be had (R, ERR says why).  A plain client hears it now; an intercepted
 * one in answer to its first request, once its TLS is up (the 200 to its CONNECT is gone). */
static void upstream_failed(connection *c, int r, moat_error *err) {
        if (c->kind != KIND_INJECT) {
                answer_upstream_failed(c, r, err);
                moat_error_clear(err);
                return;
        }
        fprintf(stderr, "moat-proxy: %s\n", moat_error_message(err));
        c->failed = r;
        moat_error_clear(&c->failure);
        c->failure = *err;
        *err = (moat_error) {};
        c->up_io = sd_event_source_disable_unref(c->up_io);
        proxy_side_close(&c->up);
        c->connecting = false;
}

/* A request that named another host than the connection's: 421, and a record of it. */
static void answer_misdirected(connection *c) {
        _cleanup_free_ char *body = NULL;
        const char *named = NULL, *why = http_rewriter_refusal(c->rw, &named);

        (void) journal_write_network_denied(c->p->rec, named && proxy_host_printable(named) ? named : "?",
                                            NET_REFUSED_MISDIRECTED);
        if (proxy_misdirected_text(c->route.host, why ?: "it named another host", &body) >= 0)
                connection_answer(c, 421, "Misdirected Request", body);
        else
                connection_enter(c, PROXY_EVENT_ABORT);
}

static void lookup_done(int error, struct addrinfo *result, void *userdata);

static int lookup_start(connection *c) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
        char service[8];

        snprintf(service, sizeof(service), "%u", (unsigned) c->req.port);
        return resolver_lookup(c->p->resolver, c->route.host, service, &hints, lookup_done, c, &c->lookup);
}

/* Tries the next address of the lookup's that the proxy may dial; the addresses checked are
 * the ones dialled, so that a name cannot resolve to another in between. */
static void dial_next(connection *c) {
        _cleanup_(moat_error_clear) moat_error err = {};
        const struct sockaddr *const *own;
        size_t n_own;
        int r;

        r = host_addrs_get(c->p->own, &own, &n_own);
        if (r < 0) {
                moat_error_set(&err, r, "cannot read the host's addresses: %s", strerror(-r));
                upstream_failed(c, err.code, &err);
                return;
        }
        while (c->next_addr) {
                struct addrinfo *a = c->next_addr;
                int fd;

                c->next_addr = a->ai_next;
                if (!address_dialable(c->p, c->route.host, a, own, n_own))
                        continue;
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                if (fd < 0) {
                        c->dial_error = -errno;
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        c->dial_error = -errno;
                        close(fd);
                        continue;
                }
                if (sd_event_add_io(c->p->event, &c->up_io, fd, EPOLLOUT, proxy_on_upstream_io, c) < 0) {
                        c->dial_error = -ENOMEM;
                        close(fd);
                        continue;
                }
                c->up = (proxy_side) PROXY_SIDE_INIT;
                c->up.fd = fd;
                c->up.writable = false; /* writable once connected */
                c->connecting = true;
                return;
        }
        if (c->dial_error == -EACCES)
                moat_error_set(&err, -EACCES, "%s is this host itself", c->route.host);
        else
                moat_error_set(&err, c->dial_error, "cannot connect to %s port %u: %s", c->route.host,
                               (unsigned) c->req.port, strerror(-c->dial_error));
        upstream_failed(c, err.code, &err);
}

static uint64_t connection_clock(void *userdata) {
        connection *c = userdata;

        return proxy_now(c->p);
}

/* The request log: one record per request of an intercepted or plain connection. */
static void log_exchange(const http_exchange *x, void *userdata) {
        connection *c = userdata;
        journal_request q = {
                .host = c->route.host,
                .port = c->req.port,
                .method = x->method,
                .path = x->path,
                .status = x->status,
                .bytes_up = x->bytes_up,
                .bytes_down = x->bytes_down,
                .duration_usec = x->ended > x->started ? x->ended - x->started : 0,
                /* an answer that is not a success used no tokens to count */
                .api = x->usage && x->status / 100 == 2 ? usage_api_to_string(x->api) : NULL,
                .usage = x->usage,
        };

        (void) journal_write_request(c->p->rec, &q);
}

static int to_upstream(const char *data, size_t len, void *userdata) {
        connection *c = userdata;

        return proxy_side_queue(&c->up, data, len);
}

/* The server's socket is connected: what the kind of connection does with it. */
static void upstream_connected(connection *c) {
        static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        const http_rewrite_options plain = { .origin_form = true, .one_request = true, .exchange = log_exchange,
                                             .clock = connection_clock };
        _cleanup_(moat_error_clear) moat_error err = {};
        const char *host = c->route.host;
        size_t rest = c->head_len - c->req.head_len;

        c->connecting = false;
        no_delay(c->up.fd);
        freeaddrinfo(c->addrs);
        c->addrs = c->next_addr = NULL;
        switch (c->kind) {
        case KIND_TUNNEL:
                if (proxy_side_send(&c->down, established, sizeof(established) - 1) < 0 ||
                    proxy_side_queue(&c->up, c->head + c->req.head_len, rest) < 0)
                        connection_enter(c, PROXY_EVENT_ABORT);
                else {
                        c->relayed = true;
                        c->tunnel_up += rest;
                        connection_enter(c, PROXY_EVENT_READY);
                }
                break;
        case KIND_PLAIN:
                if (http_rewriter_new(&plain, to_upstream, c, &c->rw) < 0 ||
                    http_rewriter_feed(c->rw, c->head, c->head_len) < 0)
                        connection_enter(c, PROXY_EVENT_ABORT);
                else
                        connection_enter(c, PROXY_EVENT_READY);
                break;
        case KIND_INJECT:
                if (c->p->tls->side_dial(c->p->tls_state, &c->up, host, &err) < 0)
                        upstream_failed(c, err.code, &err);
                break;
        default:
                connection_enter(c, PROXY_EVENT_ABORT);
        }
        c->head = mfree(c->head);
        c->head_len = c->head_cap = 0;
}

static void upstream_connect_done(connection *c) {
        socklen_t len = sizeof(int);
        int so_error = 0;

        if (getsockopt(c->up.fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
                so_error = errno;
        if (so_error == 0) {
                upstream_connected(c);
                return;
        }
        c->dial_error = -so_error;
        c->up_io = sd_event_source_disable_unref(c->up_io);
        proxy_side_close(&c->up);
        c->connecting = false;
        dial_next(c);
}

static void lookup_done(int error, struct addrinfo *result, void *userdata) {
        _cleanup_(moat_error_clear) moat_error err = {};
        connection *c = userdata;

        c->lookup = NULL;
        if (error != 0) {
                moat_error_set(&err, -EHOSTUNREACH, "cannot resolve %s: %s", c->route.host, gai_strerror(error));
                upstream_failed(c, err.code, &err);
        } else {
                c->addrs = c->next_addr = result;
                c->dial_error = -EACCES;
                dial_next(c);
        }
        connection_run(c);
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata);

static void trim(proxy *p) {
        (void) malloc_trim(0);
        p->peak = 0;
        if (p->trim_timer)
                (void) sd_event_source_set_enabled(p->trim_timer, SD_EVENT_OFF);
}

void connection_free(connection *c) {
        proxy *p = c->p;

        if (c->lookup)
                resolver_cancel(p->resolver, c->lookup);
        /* the request log: what is still open ends with the connection */
        if (c->rw)
                http_rewriter_end(c->rw);
        if (c->kind == KIND_TUNNEL && c->relayed)
                (void) journal_write_tunnel(p->rec, c->route.host, c->req.port, c->tunnel_up, c->tunnel_down,
                                            proxy_now(p) - c->since_open);
        c->down_io = sd_event_source_disable_unref(c->down_io);
        c->up_io = sd_event_source_disable_unref(c->up_io);
        c->timer = sd_event_source_disable_unref(c->timer);
        proxy_side_close(&c->down);
        proxy_side_close(&c->up);
        if (c->addrs)
                freeaddrinfo(c->addrs);
        http_rewriter_free(c->rw);
        if (c->inject_value) {
                explicit_bzero(c->inject_value, strlen(c->inject_value));
                free(c->inject_value);
        }
        free(c->head);
        proxy_request_done(&c->req);
        proxy_route_done(&c->route);
        moat_error_clear(&c->failure);
        if (c->prev)
                c->prev->next = c->next;
        else
                p->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (c->refusing)
                p->n_refusing--;
        else
                p->n_serving--;
        if (c->handing)
                p->n_handing--;
        if (c->handed)
                proxy_worker_report_end(p);
        free(c);
        /* a descriptor is free again: accept() may have waited for one */
        if (p->accept_retry && sd_event_source_get_enabled(p->accept_retry, NULL) > 0)
                (void) on_accept_retry(p->accept_retry, 0, p);
        /* the last one gone: what they took goes back to the system, not only to malloc; at
         * once after a burst, else when no other came for a while (the next request of an
         * agent's few wants it) */
        if (!p->connections && p->peak >= 32)
                trim(p);
        else if (!p->connections && p->trim_timer) {
                proxy_timer_arm(p->trim_timer, proxy_now(p) + TRIM_AFTER_USEC);
        }
}

static int on_trim(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        proxy *p = userdata;

        if (!p->connections)
                trim(p);
        return 0;
}

/* INJECT: after the head, the client's TLS begins while the server is looked up. */
static void inject_begin(connection *c) {
        static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        _cleanup_(moat_error_clear) moat_error err = {};
        const proxy_secret *secret = secret_of(c->p, c->route.grant->name);
        http_rewrite_options o = { .inject_name = c->route.rule->header, .authority_host = c->route.host,
                                   .authority_port = c->req.port, .exchange = log_exchange,
                                   .clock = connection_clock, .usage = true };

        if (c->head_len != c->req.head_len) {
                connection_answer(c, 400, "Bad Request", "moat: wait for the proxy's answer to CONNECT before TLS\n");
                return;
        }
        if (!secret || grant_header_value(c->route.rule, secret->value, secret->len, &c->inject_value) < 0) {
                connection_answer(c, 500, "Internal Server Error", "moat: the proxy holds no value for this grant\n");
                return;
        }
        o.inject_value = c->inject_value;
        if (http_rewriter_new(&o, to_upstream, c, &c->rw) < 0) {
                connection_answer(c, 500, "Internal Server Error", "moat: out of memory\n");
                return;
        }
        /* on a fresh connection whose client waits for this answer, the socket takes it whole */
        if (send(c->down.fd, established, sizeof(established) - 1, MSG_NOSIGNAL) != sizeof(established) - 1) {
                connection_enter(c, PROXY_EVENT_ABORT);
                return;
        }
        if (c->p->tls->side_serve(c->p->tls_state, &c->down, c->route.host, &err) < 0) {
                fprintf(stderr, "moat-proxy: %s\n", moat_error_message(&err));
                connection_enter(c, PROXY_EVENT_ABORT);
        }
}

/* The head is whole: where it goes. */
static void route_request(connection *c) {
        int r;

        if (proxy_route_host(c->p->rec, c->req.host, &c->route) < 0) {
                connection_answer(c, 500, "Internal Server Error", "moat: out of memory\n");
                return;
        }
        if (c->route.verdict == PROXY_DENY) {
                deny(c, c->req.host);
                return;
        }
        c->kind = !c->req.is_connect ? KIND_PLAIN : c->route.verdict == PROXY_INJECT ? KIND_INJECT : KIND_TUNNEL;
        if (c->kind == KIND_INJECT && !c->p->tls) {
                proxy_hand_to_worker(c);
                return;
        }
        if (c->kind == KIND_INJECT) {
                inject_begin(c);
                if (c->phase != PROXY_PHASE_HEAD)
                        return;
                if (proxy_pool_take(c)) {
                        c->head = mfree(c->head);
                        c->head_len = c->head_cap = 0;
                        connection_enter(c, PROXY_EVENT_HEAD);
                        return;
                }
        }
        r = lookup_start(c);
        if (r < 0) {
                connection_answer(c, 502, "Bad Gateway", "moat: the proxy cannot look names up now\n");
                return;
        }
        connection_enter(c, PROXY_EVENT_HEAD);
}

/* The head read so far: routed once it is whole. */
void proxy_head_parse(connection *c) {
        _cleanup_(moat_error_clear) moat_error err = {};
        int r = proxy_request_parse(c->head, c->head_len, &c->req, &err);

        if (r == -EAGAIN)
                return;
        if (r < 0)
                connection_answer_error(c, 400, "Bad Request", &err);
        else
                route_request(c);
}

/* HEAD: the client's request of the proxy, read whole before the deadline of its first byte. */
static void run_head(connection *c) {
        if (c->failed) {
                /* an intercepted client whose server failed: its first request hears why */
                int n = proxy_side_read(&c->down, scratch, sizeof(scratch));

                if (n == -EAGAIN)
                        return;
                explicit_bzero(scratch, sizeof(scratch));
                if (n <= 0)
                        connection_enter(c, PROXY_EVENT_ABORT);
                else
                        answer_upstream_failed(c, c->failed, &c->failure);
                return;
        }
        while (c->phase == PROXY_PHASE_HEAD && c->down.readable && !c->handing) {
                int n;

                if (c->head_len == c->head_cap) {
                        size_t cap = c->head_cap ? c->head_cap * 2 : 1024;
                        char *h;

                        if (cap > HTTP_HEAD_MAX)
                                cap = HTTP_HEAD_MAX;
                        if (cap == c->head_cap || !(h = realloc(c->head, cap))) {
                                connection_enter(c, PROXY_EVENT_ABORT);
                                return;
                        }
                        c->head = h;
                        c->head_cap = cap;
                }
                n = proxy_side_read(&c->down, c->head + c->head_len, c->head_cap - c->head_len);
                if (n == -EAGAIN)
                        return;
                if (n <= 0) {
                        connection_enter(c, PROXY_EVENT_ABORT);
                        return;
                }
                c->head_len += (size_t) n;
                proxy_head_parse(c);
        }
}

/* SETUP: the server's connection, and for INJECT both handshakes, the client's meanwhile. */
static void run_setup(connection *c) {
        int r;

        if (c->kind != KIND_INJECT)
                return; /* the lookup and connect() call back */
        if (!c->down_ready) {
                r = proxy_side_handshake(&c->down, true);
                if (r < 0 && r != -EAGAIN) {
                        connection_enter(c, PROXY_EVENT_ABORT);
                        return;
                }
                c->down_ready = r == 1;
        }
        if (c->up.tls && !c->up_ready && !c->failed) {
                r = proxy_side_handshake(&c->up, false);
                if (r == 1)
                        c->up_ready = true;
                else if (r != -EAGAIN) {
                        _cleanup_(moat_error_clear) moat_error err = {};

                        moat_error_set(&err, -EPROTO, "TLS with %s failed: %s", c->route.host,
                                       c->p->tls->side_dial_error(&c->up));
                        upstream_failed(c, err.code, &err);
                }
        }
        if (c->down_ready && c->failed)
                connection_enter(c, PROXY_EVENT_FAILED);
        else if (c->down_ready && c->up_ready)
                connection_enter(c, PROXY_EVENT_READY);
}

/* Whether the client is read now: not while the server's side is full, not once a plain
 * request went whole, not while an upgrade awaits its answer, nor after a request that named
 * another host (the answers to what went before it come first). */
static bool client_wanted(const connection *c) {
        if (c->handing)
                return false;
        if (c->phase == PROXY_PHASE_HEAD || c->phase == PROXY_PHASE_CLOSING)
                return true;
        if (c->phase != PROXY_PHASE_RELAY || !proxy_side_has_room(&c->up))
                return false;
        if (c->kind == KIND_PLAIN)
                return !http_rewriter_done(c->rw);
        if (c->kind == KIND_INJECT)
                return !c->misdirected && !http_rewriter_waiting(c->rw);
        return true;
}

static bool server_wanted(const connection *c) {
        return c->phase == PROXY_PHASE_RELAY && proxy_side_has_room(&c->down);
}

/* One step of a bulk tunnel (*COUNT bytes so far from FROM to TO) without copying its bytes
 * through the proxy (splice(2)), sent on at once: 1 some moved (added to *COUNT, *MOVED set),
 * 0 nothing more now (or the end), -EOPNOTSUPP read and send them instead, another < 0 the
 * connection cannot go on. */
static int splice_step(connection *c, proxy_side *to, proxy_side *from, uint64_t *count, bool *moved) {
        int n, r;

        if (c->kind != KIND_TUNNEL || c->no_splice || *count < PROXY_SIDE_SPLICE_AFTER)
                return -EOPNOTSUPP;
        n = proxy_side_splice(to, from);
        if (n == -EOPNOTSUPP && !to->out_len)
                c->no_splice = true; /* not for bytes queued first: this kernel or socket cannot */
        if (n == -EAGAIN || n == 0)
                return 0;
        if (n < 0)
                return n;
        *count += (uint64_t) n;
        *moved = true;
        r = proxy_side_flush(to);
        return r < 0 && r != -EAGAIN ? r : 1;
}

/* Client to server: false when the connection cannot go on. */
static bool relay_up(connection *c, bool *moved) {
        while (c->down.readable && client_wanted(c) && !c->down.eof) {
                int n = splice_step(c, &c->up, &c->down, &c->tunnel_up, moved), r;

                if (n > 0)
                        continue;
                if (n == 0)
                        break;
                if (n != -EOPNOTSUPP)
                        return false;
                n = proxy_side_read(&c->down, scratch, sizeof(scratch));

                if (n == -EAGAIN || n == 0)
                        break;
                if (n < 0)
                        return false;
                *moved = true;
                if (c->kind == KIND_TUNNEL) {
                        c->tunnel_up += (uint64_t) n;
                        r = proxy_side_send(&c->up, scratch, (size_t) n);
                } else {
                        r = http_rewriter_feed(c->rw, scratch, (size_t) n);
                        if (r == -EPERM) {
                                c->misdirected = true;
                                r = 0;
                        }
                }
                if (c->kind == KIND_INJECT)
                        explicit_bzero(scratch, (size_t) n);
                if (r < 0)
                        return false; /* not HTTP, or the server went */
        }
        return true;
}

/* Server to client. */
static bool relay_down(connection *c, bool *moved) {
        while (c->up.readable && server_wanted(c) && !c->up.eof) {
                int n = splice_step(c, &c->down, &c->up, &c->tunnel_down, moved), r;

                if (n > 0)
                        continue;
                if (n == 0)
                        break;
                if (n != -EOPNOTSUPP)
                        return false;
                n = proxy_side_read(&c->up, scratch, sizeof(scratch));

                if (n == -EAGAIN || n == 0)
                        break;
                if (n < 0)
                        return false;
                *moved = true;
                r = proxy_side_send(&c->down, scratch, (size_t) n);
                if (r >= 0 && c->kind == KIND_INJECT) {
                        r = http_rewriter_response(c->rw, scratch, (size_t) n);
                        if (r == -EPERM) {
                                c->misdirected = true;
                                r = 0;
                        }
                } else if (r >= 0 && c->kind == KIND_PLAIN)
                        (void) http_rewriter_response(c->rw, scratch, (size_t) n); /* for the log only */
                else if (c->kind == KIND_TUNNEL)
                        c->tunnel_down += (uint64_t) n;
                if (r < 0)
                        return false;
        }
        return true;
}

/* RELAY: both ways, as far as each side takes, then what each end means. */
static void run_relay(connection *c) {
        bool moved = true;

        while (moved && c->phase == PROXY_PHASE_RELAY) {
                int r;

                size_t pending;

                moved = false;
                if (!relay_up(c, &moved) || !relay_down(c, &moved)) {
                        connection_enter(c, PROXY_EVENT_ABORT);
                        return;
                }
                pending = c->up.out_len + c->up.piped + c->down.out_len + c->down.piped;
                r = proxy_side_flush(&c->up);
                if (r >= 0 || r == -EAGAIN)
                        r = proxy_side_flush(&c->down);
                if (r < 0 && r != -EAGAIN) {
                        connection_enter(c, PROXY_EVENT_ABORT);
                        return;
                }
                /* what went out made room: the side that was paused for it is read again */
                if (c->up.out_len + c->up.piped + c->down.out_len + c->down.piped < pending)
                        moved = true;
                if (moved)
                        c->active = proxy_now(c->p);
        }
        if (c->kind == KIND_INJECT && c->misdirected && http_rewriter_outstanding(c->rw) == 0) {
                answer_misdirected(c);
                return;
        }
        /* a tunnel passes each side's end on, once what it sent went out; an intercepted
         * connection ends with either side, a plain one with the server */
        if (c->kind == KIND_INJECT ? c->down.eof || c->up.eof : c->kind == KIND_PLAIN && c->up.eof) {
                connection_enter(c, PROXY_EVENT_END);
                return;
        }
        if (c->down.eof && !proxy_side_pending(&c->up))
                proxy_side_shutdown(&c->up);
        if (c->up.eof && !proxy_side_pending(&c->down))
                proxy_side_shutdown(&c->down);
        if (c->down.eof && c->up.eof && !proxy_side_pending(&c->up) && !proxy_side_pending(&c->down))
                connection_enter(c, PROXY_EVENT_END);
}

/* CLOSING: the last bytes out, the proxy's end, then the client's: a close with the client's
 * bytes unread would reset the connection, and the client could lose the answer. */
static void run_closing(connection *c) {
        int r;

        if (c->up.fd >= 0 && !proxy_pool_park(c)) {
                c->up_io = sd_event_source_disable_unref(c->up_io);
                proxy_side_close(&c->up);
        }
        r = proxy_side_flush(&c->down);
        if (r == -EAGAIN)
                return;
        if (r < 0) {
                connection_enter(c, PROXY_EVENT_ABORT);
                return;
        }
        proxy_side_shutdown(&c->down);
        while (c->down.readable && !c->down.eof) {
                int n = proxy_side_read(&c->down, scratch, sizeof(scratch));

                if (n == -EAGAIN)
                        return;
                if (n < 0)
                        break;
        }
        connection_enter(c, PROXY_EVENT_END);
}

/* What the phase's events ask for, and its deadline. */
static void connection_update(connection *c) {
        uint32_t down = proxy_side_events(&c->down, client_wanted(c));
        uint32_t up = c->connecting ? EPOLLOUT : proxy_side_events(&c->up, server_wanted(c));

        if (c->down_io) {
                (void) sd_event_source_set_io_events(c->down_io, down);
                (void) sd_event_source_set_enabled(c->down_io, down ? SD_EVENT_ON : SD_EVENT_OFF);
        }
        if (c->up_io) {
                (void) sd_event_source_set_io_events(c->up_io, up);
                (void) sd_event_source_set_enabled(c->up_io, up ? SD_EVENT_ON : SD_EVENT_OFF);
        }
        if (c->armed != c->phase) {
                uint64_t at = proxy_deadline(&c->p->timeouts, c->phase, c->since, c->active);

                c->armed = c->phase;
                if (at == PROXY_NO_DEADLINE)
                        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                else {
                        proxy_timer_arm(c->timer, at);
                }
        }
}

/* Runs the connection's machine until it waits; frees it once it is closed. */
void connection_run(connection *c) {
        proxy_phase before;

        do {
                before = c->phase;
                switch (c->phase) {
                case PROXY_PHASE_HEAD:
                        run_head(c);
                        break;
                case PROXY_PHASE_SETUP:
                        run_setup(c);
                        break;
                case PROXY_PHASE_RELAY:
                        run_relay(c);
                        break;
                case PROXY_PHASE_CLOSING:
                        run_closing(c);
                        break;
                default:
                        break;
                }
        } while (c->phase != before && c->phase != PROXY_PHASE_CLOSED);
        if (c->phase == PROXY_PHASE_CLOSED)
                connection_free(c);
        else
                connection_update(c);
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        connection *c = userdata;

        (void) s, (void) fd;
        proxy_side_ready(&c->down, revents);
        connection_run(c);
        return 0;
}

int proxy_on_upstream_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        connection *c = userdata;

        (void) s, (void) fd;
        proxy_side_ready(&c->up, revents);
        if (c->connecting)
                upstream_connect_done(c);
        connection_run(c);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        connection *c = userdata;
        uint64_t at = proxy_deadline(&c->p->timeouts, c->phase, c->since, c->active);
        _cleanup_(moat_error_clear) moat_error err = {};
        int status = proxy_deadline_status(c->phase);

        if (at > usec && at != PROXY_NO_DEADLINE) {
                /* a relay moved bytes since the timer was set: its deadline moved with them */
                proxy_timer_arm(s, at);
                return 0;
        }
        if (status == 408 && !c->failed)
                connection_answer(c, 408, "Request Timeout", "moat: the request took too long to arrive\n");
        else if (status == 504 && (c->kind != KIND_INJECT || c->down_ready)) {
                moat_error_set(&err, -ETIMEDOUT, "%s did not answer in time", c->route.host);
                upstream_failed(c, err.code, &err);
                if (c->kind == KIND_INJECT)
                        connection_enter(c, PROXY_EVENT_FAILED);
        } else
                connection_enter(c, PROXY_EVENT_DEADLINE);
        connection_run(c);
        return 0;
}

int connection_new(proxy *p, int fd, bool refusing, connection **ret) {
        connection *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        *c = (connection) { .p = p, .down = PROXY_SIDE_INIT, .up = PROXY_SIDE_INIT, .refusing = refusing,
                            .armed = PROXY_PHASE_CLOSED, .since = proxy_now(p) };
        c->down.fd = fd;
        c->active = c->since_open = c->since;
        r = sd_event_add_io(p->event, &c->down_io, fd, EPOLLIN, on_client_io, c);
        if (r >= 0)
                r = sd_event_add_time(p->event, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, 10 * 1000, on_deadline, c);
        if (r < 0) {
                sd_event_source_disable_unref(c->down_io);
                free(c);
                return r;
        }
        c->next = p->connections;
        if (c->next)
                c->next->prev = c;
        p->connections = c;
        if (refusing)
                p->n_refusing++;
        else if (++p->n_serving > p->peak)
                p->peak = p->n_serving;
        *ret = c;
        return 0;
}

/* One record a second at most of the connections refused for the cap, with their number. */
static int on_busy_record(sd_event_source *s, uint64_t usec, void *userdata) {
        proxy *p = userdata;

        if (p->busy_refused == 0)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) journal_write_proxy_busy(p->rec, p->busy_refused, CONNECTIONS_MAX);
        p->busy_refused = 0;
        proxy_timer_arm(s, usec + BUSY_RECORD_USEC);
        return 0;
}

/* Over the cap: 503, rather than a connection closed with no word, and a record. */
static void refuse_busy(proxy *p, int fd) {
        connection *c;

        p->busy_refused++;
        if (p->busy_timer && sd_event_source_get_enabled(p->busy_timer, NULL) == 0) {
                proxy_timer_arm(p->busy_timer, proxy_now(p) + BUSY_RECORD_USEC);
        }
        if (p->n_refusing >= REFUSING_MAX || connection_new(p, fd, true, &c) < 0) {
                close(fd);
                return;
        }
        c->phase = PROXY_PHASE_CLOSING; /* what the client sent is read and dropped */
        connection_answer(c, 503, "Service Unavailable",
                          "moat: the proxy serves this run's connections to its limit; try again\n");
        connection_run(c);
}

static int on_accept(sd_event_source *s, int listen_fd, uint32_t revents, void *userdata) {
        proxy *p = userdata;

        (void) revents;
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                connection *c;

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* no descriptor for it: the client waits in the backlog until a
                                 * connection closes or a moment passes, and the loop does not
                                 * spin on a listener that stays readable */
                                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                                proxy_timer_arm(p->accept_retry, proxy_now(p) + ACCEPT_RETRY_USEC);
                                return 0;
                        }
                        return sd_event_exit(p->event, -errno);
                }
                no_delay(fd);
                if (p->n_serving + p->n_handed >= CONNECTIONS_MAX) {
                        refuse_busy(p, fd);
                        continue;
                }
                if (connection_new(p, fd, false, &c) < 0) {
                        close(fd);
                        continue;
                }
                connection_run(c);
        }
        return 0;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        proxy *p = userdata;

        (void) usec;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return sd_event_source_set_enabled(p->listener, SD_EVENT_ON);
}

static int on_end(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) fd, (void) revents, (void) userdata;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) si, (void) userdata;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The loop of the front (SOURCE_FD listens, ON_SOURCE accepts) or of the worker (SOURCE_FD is
 * its socket to the front, ON_SOURCE takes what the front hands it). */
int proxy_serve_loop(proxy *p, int source_fd, sd_event_io_handler_t on_source, int lifeline_fd, moat_error *err) {
        _cleanup_(sd_event_source_disable_unrefp) sd_event_source *life = NULL, *term = NULL, *intr = NULL;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return moat_error_set(err, -errno, "cannot block signals: %m");
        /* accept() until it would block, never blocking the loop */
        r = fcntl(source_fd, F_GETFL);
        if (r < 0 || fcntl(source_fd, F_SETFL, r | O_NONBLOCK) < 0)
                return moat_error_set(err, -errno, "cannot make the listener non-blocking: %m");
        r = sd_event_new(&p->event);
        if (r >= 0)
                r = sd_event_add_io(p->event, &p->listener, source_fd, EPOLLIN, on_source, p);
        if (r >= 0)
                r = sd_event_add_time(p->event, &p->accept_retry, CLOCK_MONOTONIC, UINT64_MAX, 0, on_accept_retry, p);
        if (r >= 0)
                r = sd_event_add_time(p->event, &p->busy_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_busy_record, p);
        if (r >= 0)
                r = sd_event_add_time(p->event, &p->trim_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_trim, p);
        if (r >= 0)
                r = sd_event_add_time(p->event, &p->worker_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, proxy_on_worker_linger, p);
        if (r >= 0 && p->tls)
                r = sd_event_add_time(p->event, &p->pool_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, proxy_on_pool_timer, p);
        if (r >= 0)
                r = resolver_new(p->event, &p->resolver);
        if (r >= 0)
                r = sd_event_add_signal(p->event, &term, SIGTERM, on_stop_signal, p);
        if (r >= 0)
                r = sd_event_add_signal(p->event, &intr, SIGINT, on_stop_signal, p);
        /* the write end is the unit's main process's: its end is the proxy's */
        if (r >= 0 && lifeline_fd >= 0)
                r = sd_event_add_io(p->event, &life, lifeline_fd, EPOLLIN, on_end, p);
        if (r >= 0) {
                (void) sd_event_source_set_enabled(p->accept_retry, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(p->busy_timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(p->trim_timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(p->worker_timer, SD_EVENT_OFF);
                if (p->pool_timer)
                        (void) sd_event_source_set_enabled(p->pool_timer, SD_EVENT_OFF);
                r = sd_event_loop(p->event);
                if (r < 0)
                        moat_error_set(err, r, "cannot accept connections: %s", strerror(-r));
        } else
                moat_error_set(err, r, "cannot set up the proxy's event loop: %s", strerror(-r));

        /* every connection ends before anything it uses goes, the worker's too */
        while (p->connections)
                connection_free(p->connections);
        proxy_pool_drop_all(p);
        p->pool_timer = sd_event_source_disable_unref(p->pool_timer);
        if (p->worker_fd >= 0)
                proxy_worker_gone(p);
        if (p->busy_refused > 0)
                (void) journal_write_proxy_busy(p->rec, p->busy_refused, CONNECTIONS_MAX);
        /* lookups still in a thread are that thread's to free */
        resolver_free(TAKE_PTR(p->resolver));
        p->listener = sd_event_source_disable_unref(p->listener);
        p->accept_retry = sd_event_source_disable_unref(p->accept_retry);
        p->busy_timer = sd_event_source_disable_unref(p->busy_timer);
        p->trim_timer = sd_event_source_disable_unref(p->trim_timer);
        p->worker_timer = sd_event_source_disable_unref(p->worker_timer);
        life = sd_event_source_disable_unref(life);
        term = sd_event_source_disable_unref(term);
        intr = sd_event_source_disable_unref(intr);
        p->event = sd_event_unref(p->event);
        return r < 0 ? r : 0;
}

int proxy_serve(proxy *p, int listen_fd, int lifeline_fd, moat_error *err) {
        int r;

        p->listen_fd = listen_fd;
        p->lifeline_fd = lifeline_fd;
        /* the TLS worker is reaped by the kernel; the front waits for it only at its end */
        signal(SIGCHLD, SIG_IGN);
        r = proxy_serve_loop(p, listen_fd, on_accept, lifeline_fd, err);
        while (waitpid(-1, NULL, 0) >= 0 || errno == EINTR)
                ;
        return r;
}
