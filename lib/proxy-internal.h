/* The egress proxy's insides, shared by its files and by nothing else: the proxy and its
 * connections, the machine each runs, accept and the loop (lib/proxy.c); the TLS worker
 * that the front forks for connections to grants' hosts (lib/proxy-worker.c); the worker's
 * pool of servers' connections (lib/proxy-pool.c). */
#pragma once

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "host-addrs.h"
#include "http-proxy.h"
#include "proxy-side.h"
#include "proxy-tls.h"
#include "proxy.h"
#include "resolver.h"

/* The worker's connections to grants' servers that a client left idle and reusable, kept
 * for the next client of the same host: for clients that open a connection a request (curl
 * in a script).  Well inside any server's own idle timeout, so that none closes one as it
 * is taken. */
#define POOL_MAX 8
#define POOL_IDLE_USEC (1000 * 1000)


typedef struct connection connection;

/* The proxy is two processes.  The front accepts every connection, routes it, tunnels and
 * answers; it never loads OpenSSL (lib/proxy-tls.h).  A connection to a grant's host it hands,
 * its head read, to the TLS worker: a fork of the front that loads the TLS module, terminates
 * the client's TLS, adds the credential and ends WORKER_LINGER_USEC after its last connection.
 * Both run the same machine below; the worker's connections come over a socket pair
 * (SOCK_SEQPACKET: a message is the head, with the client's socket), and the worker answers
 * with how many of them ended, so that the front's cap counts them. */
struct proxy {
        const run_record *rec;
        proxy_secret *secrets;
        size_t n_secrets;
        char *ca_blob;     /* the run's CA (tls_ca_export()), for the worker */
        size_t ca_blob_len;
        const proxy_tls_ops *tls; /* the worker's: NULL in the front */
        proxy_tls *tls_state;
        host_addrs *own;   /* which the proxy does not dial */
        proxy_timeouts timeouts;
        sd_event *event;
        sd_event_source *listener, *accept_retry, *busy_timer, *trim_timer;
        connection *connections; /* every connection, for the shutdown */
        size_t n_serving, n_refusing;
        unsigned busy_refused;   /* 503s not yet in a record */
        resolver *resolver;      /* name lookups, off the loop's thread */
        size_t peak;             /* the most served at once since memory was last trimmed */
        int listen_fd, lifeline_fd;
        char *title;             /* the process's command line, which the worker rewrites */
        size_t title_len;
        /* the front's: its worker */
        int worker_fd;           /* -1: no worker */
        sd_event_source *worker_io, *worker_timer;
        size_t n_handing;        /* connections waiting to go to the worker */
        size_t n_handed;         /* the worker's, not yet reported ended */
        /* the worker's: its front, and the servers' connections it keeps */
        struct parked {
                char *host;     /* NULL: a free slot */
                uint16_t port;
                const grant_def *grant;
                proxy_side side;
                sd_event_source *io;
                uint64_t since;
        } pool[POOL_MAX];
        sd_event_source *pool_timer;
        int front_fd;
        uint32_t ended_unsent;   /* connections ended, not yet reported */
};

typedef enum connection_kind {
        KIND_NONE,
        KIND_TUNNEL, /* CONNECT, bytes passed unread */
        KIND_PLAIN,  /* one http:// request, then the server's answer */
        KIND_INJECT, /* CONNECT to a grant's host: both TLS ends here, requests rewritten */
} connection_kind;

/* One client's connection: a small state machine (lib/proxy-deadline.h), each side with the
 * bytes that wait for it (lib/proxy-side.h), one timer for the phase's deadline. */
struct connection {
        proxy *p;
        connection *prev, *next;
        proxy_phase phase;
        connection_kind kind;
        bool refusing;            /* over the cap: answered 503 */
        proxy_side down, up;      /* the client's end, the server's */
        sd_event_source *down_io, *up_io, *timer;
        uint64_t since, active;   /* when the phase began; the last byte relayed */
        uint64_t since_open;      /* when it was accepted */
        proxy_phase armed;        /* the phase the timer was set for */
        char *head;               /* what the client sent before its route was known */
        size_t head_len, head_cap;
        proxy_request req;
        proxy_route route;
        resolver_query *lookup;   /* under way */
        struct addrinfo *addrs, *next_addr;
        int dial_error;           /* the last address's; -EACCES while none could be dialled */
        bool connecting;
        bool down_ready, up_ready; /* KIND_INJECT: each handshake done */
        bool handing;             /* the front's, waiting to go to the worker */
        bool handed;              /* the worker's: the front counts it */
        http_rewriter *rw;
        char *inject_value;
        bool misdirected;         /* a request named another host: 421 once the rest is answered */
        bool relayed;             /* it reached RELAY: a tunnel's record is due at its end */
        bool no_splice;           /* a tunnel whose bytes the kernel cannot splice: copied */
        uint64_t tunnel_up, tunnel_down; /* a tunnel's bytes each way */
        int failed;               /* KIND_INJECT: the server could not be had, answered at the request */
        moat_error failure;
};

/* lib/proxy.c */
uint64_t proxy_now(const proxy *p);
/* The timer S goes off once, at AT (CLOCK_MONOTONIC). */
void proxy_timer_arm(sd_event_source *s, uint64_t at);
/* The connection moves on; PROXY_PHASE_CLOSED is freed by connection_run(), its caller's last
 * step, so that nothing below it frees what its callers still use. */
void connection_enter(connection *c, proxy_event event);
/* The proxy's own answer, then the close: over the client's TLS when it has one. */
void connection_answer(connection *c, int status, const char *reason, const char *body);
/* Runs the connection's machine until it waits; frees it once it is closed. */
void connection_run(connection *c);
void connection_free(connection *c);
int connection_new(proxy *p, int fd, bool refusing, connection **ret);
/* The head read so far: routed once it is whole. */
void proxy_head_parse(connection *c);
int proxy_on_upstream_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* The loop of the front (SOURCE_FD listens, ON_SOURCE accepts) or of the worker (SOURCE_FD is
 * its socket to the front, ON_SOURCE takes what the front hands it). */
int proxy_serve_loop(proxy *p, int source_fd, sd_event_io_handler_t on_source, int lifeline_fd, moat_error *err);

/* lib/proxy-worker.c */
/* A connection to a grant's host, its head read: the worker's from here on. */
void proxy_hand_to_worker(connection *c);
/* The worker's end, or the front's with it: its socket closed (which ends a worker still
 * running), and what waited to go to it answered. */
void proxy_worker_gone(proxy *p);
int proxy_on_worker_linger(sd_event_source *s, uint64_t usec, void *userdata);
/* The worker: one of the front's connections ended. */
void proxy_worker_report_end(proxy *p);

/* lib/proxy-pool.c */
/* C closes: its server's connection parked when it could serve another client. */
bool proxy_pool_park(connection *c);
/* A parked connection to C's server, for C's grant, becomes C's: true, or false. */
bool proxy_pool_take(connection *c);
int proxy_on_pool_timer(sd_event_source *s, uint64_t usec, void *userdata);
void proxy_pool_drop_all(proxy *p);
