/* A run's egress proxy, its policy: where a host goes, which destinations it never dials,
 * which requests a credential may ride on, the grant's header and what a refusal says.  Pure:
 * no sockets and no processes (lib/proxy.c does the I/O), so every rule here has unit tests
 * (tests/unit/test-proxy-route.c) and a fuzz target (tests/fuzz/fuzz-proxy-route.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "grant.h"
#include "run.h"

typedef enum proxy_verdict {
        PROXY_DENY,
        PROXY_TUNNEL, /* pass the bytes, unread */
        PROXY_INJECT, /* terminate TLS, add the grant's header */
} proxy_verdict;

typedef struct proxy_route {
        proxy_verdict verdict;
        char *host;              /* normalized; as sent only for an IP address in an open run */
        const grant_def *grant;  /* PROXY_INJECT: the grant and its rule for the host */
        const grant_rule *rule;
} proxy_route;

void proxy_route_done(proxy_route *r);

/* Where a request for HOST (as the container sent it) goes under REC's network policy.
 * -ENOMEM only: a host that is no host name is denied (strict) or tunnelled (open). */
int proxy_route_host(const run_record *rec, const char *host, proxy_route *ret);

/* Printable, and nothing a header, a journal field or a body could be confused by. */
bool proxy_host_printable(const char *host);

/* The value of RULE's header for SECRET: "{secret}" and "{basic:USER}" (base64 of
 * "USER:SECRET") filled in. */
int grant_header_value(const grant_rule *rule, const char *secret, size_t len, char **ret);

/* The hosts of every grant of REC, which the run's CA may vouch for (a NULL-terminated list). */
int proxy_grant_hosts(const run_record *rec, char ***ret);

/* What the container gets back for a refused host (a 403 body), one line. */
int proxy_denial_text(const run_record *rec, const char *host, char **ret);

/* Whether AUTHORITY (LEN bytes: "host", "host:port", "[v6]:port", as a Host header or an
 * absolute URL carries it) names HOST (normalized) at PORT: the name compared without regard
 * to case or one trailing dot, a port, when given, equal to PORT.  This is what keeps a
 * credential on the host it is for: a front end that routes by Host must not see another. */
bool proxy_authority_names(const char *authority, size_t len, const char *host, uint16_t port);

/* Why a request inside an intercepted connection to HOST is refused with 421 (a body, one
 * line); WHY says what the request named. */
int proxy_misdirected_text(const char *host, const char *why, char **ret);

/* Whether the proxy must not dial SA (IPv4 or IPv6, v4-mapped read as IPv4): loopback,
 * "this network" (0.0.0.0/8, ::), link-local (169.254.0.0/16 with the clouds' metadata
 * service, fe80::/10) or one of OWN (N_OWN addresses of the host itself).  The proxy runs in
 * the host's network namespace: these would hand the container the host's own services. */
bool proxy_address_refused(const struct sockaddr *sa, const struct sockaddr *const *own, size_t n_own);

/* Whether the user allowed HOST (normalized, or an address as sent) by its exact name, which
 * lets it reach an address proxy_address_refused() would refuse.  A wildcard never does. */
bool proxy_local_allowed(const run_record *rec, const char *host);

/* What the container gets back when HOST resolved only to such addresses (a 403 body). */
int proxy_local_denial_text(const char *host, char **ret);
