/* The egress proxy's TLS worker (lib/proxy-internal.h): the front forks it for the first
 * connection to a grant's host, hands it such connections over a socket pair
 * (lib/proxy-handoff.h) and closes its end WORKER_LINGER_USEC after the last ended; the
 * worker loads the TLS module (lib/proxy-tls.h) and runs the connection machine of
 * lib/proxy.c on what it is handed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy-handoff.h"
#include "proxy-internal.h"
#include "strv.h"

/* How long the TLS worker stays without an intercepted connection before it ends, and its
 * OpenSSL with it.  The worker stays as long as a client keeps a connection open (a kept-alive
 * one too), so this is the wait after the last one closed: as long as the front waits to
 * trim its heap; a new worker costs the next request some 7 ms (bench/proxy.sh). */
#define WORKER_LINGER_USEC (1000 * 1000)

/* Connections taken from the front per wake-up, as the front accepts them. */
#define HANDOFF_BATCH 64

/* The worker's: a head the front handed over.  Never touched in the front. */
static char handed_head[PROXY_HANDOFF_MAX];

/* ---- The front's side ---- */

static int worker_main(proxy *front, int fd);
static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* What the worker's socket is asked for, and when the worker ends: a while after it has no
 * connection of the front's, none waiting to go either. */
static void worker_update(proxy *p) {
        if (!p->worker_io)
                return;
        (void) sd_event_source_set_io_events(p->worker_io, EPOLLIN | (p->n_handing > 0 ? EPOLLOUT : 0));
        if (p->n_handing > 0 || p->n_handed > 0)
                (void) sd_event_source_set_enabled(p->worker_timer, SD_EVENT_OFF);
        else if (sd_event_source_get_enabled(p->worker_timer, NULL) == 0)
                proxy_timer_arm(p->worker_timer, proxy_now(p) + WORKER_LINGER_USEC);
}

/* The worker's end, or the front's with it: its socket closed (which ends a worker still
 * running), and what waited to go to it answered. */
void proxy_worker_gone(proxy *p) {
        p->worker_io = sd_event_source_disable_unref(p->worker_io);
        p->worker_fd = safe_close(p->worker_fd);
        p->n_handed = 0;
        (void) sd_event_source_set_enabled(p->worker_timer, SD_EVENT_OFF);
        for (connection *c = p->connections, *next; c && p->n_handing > 0; c = next) {
                next = c->next;
                if (!c->handing)
                        continue;
                c->handing = false;
                p->n_handing--;
                connection_answer(c, 502, "Bad Gateway", "moat: the proxy's TLS worker ended; try again\n");
                connection_run(c);
        }
}

static int worker_spawn(proxy *p) {
        int sv[2], r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                close(sv[0]);
                _exit(worker_main(p, sv[1]));
        }
        close(sv[1]);
        r = sd_event_add_io(p->event, &p->worker_io, sv[0], EPOLLIN, on_worker_io, p);
        if (r < 0) {
                close(sv[0]); /* the worker ends with it */
                return r;
        }
        p->worker_fd = sv[0];
        return 0;
}

/* Sends C to the worker: 0, the worker has its socket and C is closed for the front, with no
 * word to anyone (connection_run() frees it); or a negative errno, nothing done. */
static int hand_over(connection *c) {
        proxy *p = c->p;
        int r = proxy_handoff_send(p->worker_fd, c->down.fd, c->head, c->head_len);

        if (r < 0)
                return r;
        if (c->handing) {
                c->handing = false;
                p->n_handing--;
        }
        p->n_handed++;
        c->phase = PROXY_PHASE_CLOSED;
        return 0;
}

/* A connection to a grant's host, its head read: the worker's from here on. */
void proxy_hand_to_worker(connection *c) {
        proxy *p = c->p;

        if (p->worker_fd < 0 && worker_spawn(p) < 0) {
                connection_answer(c, 502, "Bad Gateway", "moat: the proxy cannot start its TLS worker\n");
                return;
        }
        /* at once when nothing waits before it: the client waits for the worker's 200 */
        if (p->n_handing > 0 || hand_over(c) < 0) {
                c->handing = true;
                p->n_handing++;
        }
        worker_update(p);
}

/* Sends what waits for the worker, as far as its socket takes it. */
static void worker_send(proxy *p) {
        for (connection *c = p->connections, *next; c && p->n_handing > 0; c = next) {
                int r;

                next = c->next;
                if (!c->handing)
                        continue;
                r = hand_over(c);
                if (r == -EAGAIN)
                        return;
                if (r < 0) {
                        c->handing = false;
                        p->n_handing--;
                        connection_answer(c, 502, "Bad Gateway", "moat: the proxy cannot reach its TLS worker\n");
                }
                connection_run(c);
        }
}

static int on_worker_io(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        proxy *p = userdata;

        for (;;) {
                uint32_t ended;
                int r = proxy_handoff_recv_ended(fd, &ended);

                if (r > 0) {
                        p->n_handed -= ended < p->n_handed ? ended : p->n_handed;
                        continue;
                }
                if (r == -EAGAIN)
                        break;
                if (r < 0)
                        fprintf(stderr, "moat-proxy: the TLS worker's socket failed: %s\n", strerror(-r));
                proxy_worker_gone(p); /* its end */
                return 0;
        }
        worker_send(p);
        worker_update(p);
        return 0;
}

int proxy_on_worker_linger(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        proxy *p = userdata;

        if (p->n_handing == 0 && p->n_handed == 0)
                proxy_worker_gone(p);
        return 0;
}

/* ---- The worker's side, in the child of the front's fork ---- */

/* Tells the front how many of its connections ended, as soon as its socket takes it. */
static void report_flush(proxy *p) {
        if (p->ended_unsent > 0 && proxy_handoff_send_ended(p->front_fd, p->ended_unsent) == 0)
                p->ended_unsent = 0;
        /* the worker's listener is its socket to the front */
        if (p->listener)
                (void) sd_event_source_set_io_events(p->listener, EPOLLIN | (p->ended_unsent > 0 ? EPOLLOUT : 0));
}

void proxy_worker_report_end(proxy *p) {
        if (p->front_fd < 0)
                return;
        p->ended_unsent++;
        report_flush(p);
}

static int on_handoff(sd_event_source *s _unused_, int fd, uint32_t revents, void *userdata) {
        proxy *p = userdata;

        if (revents & EPOLLOUT)
                report_flush(p);
        for (int i = 0; i < HANDOFF_BATCH; i++) {
                connection *c;
                size_t len = 0;
                int cfd = -1, r;

                r = proxy_handoff_recv(fd, handed_head, sizeof(handed_head), &cfd, &len);
                if (r == -EAGAIN)
                        return 0;
                if (r == 0)
                        return sd_event_exit(p->event, 0); /* the front is done with the worker */
                if (r == -EBADMSG) {
                        p->ended_unsent++;
                        report_flush(p);
                        continue;
                }
                if (r < 0)
                        return sd_event_exit(p->event, r);
                if (connection_new(p, cfd, false, &c) < 0) {
                        close(cfd);
                        p->ended_unsent++;
                        report_flush(p);
                        continue;
                }
                c->handed = true;
                c->head = malloc(len);
                if (!c->head) {
                        connection_enter(c, PROXY_EVENT_ABORT);
                        connection_run(c);
                        continue;
                }
                memcpy(c->head, handed_head, len);
                c->head_len = c->head_cap = len;
                proxy_head_parse(c);
                connection_run(c);
        }
        return 0;
}

/* The worker's command line and name: not the front's, which scripts find the run's proxy by. */
static void worker_retitle(const proxy *front) {
        if (front->title && front->title_len > 0) {
                memset(front->title, 0, front->title_len);
                snprintf(front->title, front->title_len, "moat-proxy-tls %s", front->rec->id);
        }
        (void) prctl(PR_SET_NAME, "moat-proxy-tls");
}

static void close_side_fds(proxy_side *s) {
        s->fd = safe_close(s->fd);
        s->pipe_r = safe_close(s->pipe_r);
        s->pipe_w = safe_close(s->pipe_w);
}

/* The worker, in the child of the front's fork: it lets go of what is the front's, loads the
 * TLS module and serves what the front hands it over FD until the front closes its end.
 * Nothing of the front's loop is touched here: its epoll and its threads are the front's. */
static int worker_main(proxy *front, int fd) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(strv_freep) char **hosts = NULL;
        proxy *w = NULL;
        int r;

        /* a copy of a client's socket held here would keep open what the front closed */
        for (connection *c = front->connections; c; c = c->next) {
                close_side_fds(&c->down);
                close_side_fds(&c->up);
        }
        front->listen_fd = safe_close(front->listen_fd);
        front->lifeline_fd = safe_close(front->lifeline_fd);
        front->worker_fd = safe_close(front->worker_fd);
        worker_retitle(front);

        r = proxy_new(front->rec, front->secrets, front->n_secrets, NULL, 0, &w, &err);
        if (r >= 0) {
                w->timeouts = front->timeouts;
                w->tls = proxy_tls_load(&err);
                r = w->tls ? 0 : err.code;
        }
        if (r >= 0)
                r = proxy_grant_hosts(front->rec, &hosts) < 0 ? moat_error_set(&err, -ENOMEM, "out of memory") : 0;
        if (r >= 0)
                r = w->tls->new(front->ca_blob, front->ca_blob_len, hosts, &w->tls_state, &err);
        if (front->ca_blob)
                explicit_bzero(front->ca_blob, front->ca_blob_len);
        if (r >= 0) {
                w->front_fd = fd;
                r = proxy_serve_loop(w, fd, on_handoff, -1, &err);
        }
        if (r < 0) {
                fprintf(stderr, "moat-proxy: the TLS worker: %s\n", moat_error_message(&err));
                return 1;
        }
        /* the secrets are the front's too: they go with this process, not by a free */
        return 0;
}
