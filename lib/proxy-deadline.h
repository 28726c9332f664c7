/* A run's egress proxy, the life of one connection in time: its phases, how an event moves it
 * from one to the next, and when each phase's deadline falls.  Pure: no sockets and no clock
 * (lib/proxy.c passes the times), so the arithmetic and the transitions have unit tests
 * (tests/unit/test-proxy-deadline.c). */
#pragma once

#include <stdint.h>

#define PROXY_NO_DEADLINE UINT64_MAX

typedef enum proxy_phase {
        PROXY_PHASE_HEAD,    /* reading what the client asks of the proxy (a request head) */
        PROXY_PHASE_SETUP,   /* resolving, connecting to the server, TLS handshakes */
        PROXY_PHASE_RELAY,   /* moving bytes both ways: a tunnel, intercepted or plain HTTP */
        PROXY_PHASE_CLOSING, /* the last bytes out, then the client's end, before the close */
        PROXY_PHASE_CLOSED,  /* nothing left: the connection is freed */
} proxy_phase;

typedef enum proxy_event {
        PROXY_EVENT_HEAD,     /* the head is whole and routed to a server */
        PROXY_EVENT_READY,    /* the server is connected (and both handshakes done) */
        PROXY_EVENT_FAILED,   /* the server could not be had: answer the next request with why */
        PROXY_EVENT_ANSWER,   /* the proxy answers on its own (an error, a refusal), then closes */
        PROXY_EVENT_END,      /* a side ended: what is pending goes out, then the close */
        PROXY_EVENT_ABORT,    /* an error that leaves nothing to say: close at once */
        PROXY_EVENT_DEADLINE, /* the phase's deadline passed */
} proxy_event;

/* Each phase's limit in microseconds; 0: none. */
typedef struct proxy_timeouts {
        uint64_t head;    /* the whole request head, from the connection's first moment */
        uint64_t setup;   /* from the head to a server connected and verified */
        uint64_t idle;    /* a relay with no byte either way: tunnels and kept-alive connections */
        uint64_t linger;  /* after the proxy's last byte, for the client to close first */
} proxy_timeouts;

/* 30 s for a head, 15 s to set up, 10 minutes idle, 2 s to linger. */
void proxy_timeouts_default(proxy_timeouts *t);

/* Overrides some of T from SPEC, "head=MS,setup=MS,idle=MS,linger=MS" (any subset, in any
 * order): for the tests, which would otherwise wait minutes.  -EINVAL, T untouched, for
 * anything else. */
int proxy_timeouts_parse(const char *spec, proxy_timeouts *t);

/* Where EVENT takes a connection in PHASE. */
proxy_phase proxy_phase_next(proxy_phase phase, proxy_event event);

/* The status the proxy answers a deadline in PHASE with before it closes (408 for a head the
 * client never finished, 504 for a server that never answered), or 0 for none: an idle relay
 * is closed without a word, as a server closes an idle connection. */
int proxy_deadline_status(proxy_phase phase);

/* When PHASE, entered at SINCE, with its last byte moved at ACTIVE, ends: a relay's deadline
 * moves with each byte, the others' do not (a head sent one byte at a time ends when the first
 * byte's deadline does).  PROXY_NO_DEADLINE for none; never wraps. */
uint64_t proxy_deadline(const proxy_timeouts *t, proxy_phase phase, uint64_t since, uint64_t active);
