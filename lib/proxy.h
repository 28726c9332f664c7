/* A run's egress proxy: moat-proxy's work, one per run, inside the run's unit.
 *
 * It listens on 127.0.0.1:PROXY_PORT inside the container's network namespace (the socket is
 * made there; the proxy itself stays in the host's) and takes CONNECT and plain http://
 * requests.  For a host of one of the run's grants it terminates the container's TLS with a
 * certificate of the run's own CA, verifies the real server (chain and name, against the
 * host's trust store), and sends every request on with the grant's header in place of
 * whatever the container put there.  Other hosts the policy allows get a plain tunnel;
 * the rest get 403 and a network-denied record in the journal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "grant.h"
#include "run.h"
#include "proxy-deadline.h"
#include "proxy-route.h"

typedef struct proxy_secret {
        char *grant;  /* the grant's name */
        char *value;
        size_t len;
} proxy_secret;

typedef struct proxy proxy;

/* Takes SECRETS (one per grant of REC) and CA_BLOB, the run's CA as tls_ca_export() wrote it
 * (NULL when REC has no grants), which it clears when freed. */
int proxy_new(const run_record *rec, proxy_secret *secrets, size_t n_secrets, char *ca_blob, size_t ca_blob_len,
              proxy **ret, moat_error *err);
void proxy_free(proxy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(proxy *, proxy_free);

/* The phases' deadlines (lib/proxy-deadline.h), for the tests; the defaults otherwise. */
void proxy_set_timeouts(proxy *p, const proxy_timeouts *t);

/* The process's command line, TITLE (LEN bytes from argv[0] on), which the TLS worker
 * rewrites to its own: the front keeps the one that names it "moat-proxy RUN-ID". */
void proxy_set_title(proxy *p, char *title, size_t len);

/* Serves connections on LISTEN_FD in one thread, an sd-event loop, until LIFELINE_FD (-1:
 * none) reports its other end closed or SIGTERM or SIGINT comes: 0, once every connection has
 * ended.  A negative errno when the loop cannot go on (err says why). */
int proxy_serve(proxy *p, int listen_fd, int lifeline_fd, moat_error *err);
