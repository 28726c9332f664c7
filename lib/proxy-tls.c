/* The TLS module of the egress proxy (lib/proxy-tls.h): OpenSSL for the proxy's sides, the
 * run's CA, TLS to servers and the sessions it resumes.  Built as moat-proxy-tls.so; what it
 * exports is moat_proxy_tls_ops alone. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "proxy-tls.h"
#include "tls-ca.h"

struct proxy_tls {
        tls_ca *ca;
        SSL_CTX *upstream; /* verifies servers against the host's trust store; made when first used */
        /* the last TLS session with each grant host: a resumed handshake skips the
         * certificate's verification, which a first one with that host did */
        struct upstream_session {
                char *host;
                SSL_SESSION *session;
        } sessions[16];
};

static int tls_index = -1; /* SSL ex_data: the proxy_tls of an upstream SSL */

/* What OpenSSL said after R on S: -EAGAIN with what it waits for noted, or its error. */
static int ssl_wait(proxy_side *s, int r, bool reading) {
        switch (SSL_get_error(s->tls, r)) {
        case SSL_ERROR_WANT_READ:
                s->readable = false;
                if (!reading)
                        s->write_wants_read = true;
                return -EAGAIN;
        case SSL_ERROR_WANT_WRITE:
                s->writable = false;
                if (reading)
                        s->read_wants_write = true;
                return -EAGAIN;
        case SSL_ERROR_ZERO_RETURN:
                return 0;
        default:
                /* an end without close_notify is an end too: many servers never send it */
                return reading ? 0 : -EPIPE;
        }
}

static int side_read(proxy_side *s, char *buf, size_t size) {
        int r;

        ERR_clear_error();
        r = SSL_read(s->tls, buf, size > INT_MAX ? INT_MAX : (int) size);
        if (r > 0) {
                s->read_wants_write = false;
                return r;
        }
        r = ssl_wait(s, r, true);
        if (r == 0)
                s->eof = true;
        return r;
}

static ssize_t side_write(proxy_side *s, const char *data, size_t len) {
        int r;

        ERR_clear_error();
        r = SSL_write(s->tls, data, len > INT_MAX ? INT_MAX : (int) len);
        if (r > 0) {
                s->write_wants_read = false;
                return r;
        }
        r = ssl_wait(s, r, false);
        return r == 0 ? -EPIPE : r;
}

static int side_handshake(proxy_side *s, bool server) {
        int r;

        ERR_clear_error();
        r = server ? SSL_accept(s->tls) : SSL_connect(s->tls);
        if (r == 1) {
                s->handshaking = false;
                return 1;
        }
        s->handshaking = true;
        r = ssl_wait(s, r, true);
        s->read_wants_write = false; /* a handshake's wants are its own */
        return r == -EAGAIN ? r : -EPROTO;
}

static void side_shutdown(proxy_side *s) {
        if (SSL_is_init_finished(s->tls)) {
                ERR_clear_error();
                (void) SSL_shutdown(s->tls); /* one try: the peer need not answer it */
        }
}

static void side_free(proxy_side *s) {
        SSL_free(s->tls);
        s->tls = NULL;
        ERR_clear_error();
}

static bool side_clean(const proxy_side *s) {
        return SSL_has_pending(s->tls) == 0;
}

static const char *side_dial_error(const proxy_side *s) {
        long verify = s->tls ? SSL_get_verify_result(s->tls) : X509_V_OK;

        return verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "the handshake did not complete";
}

extern const proxy_tls_ops moat_proxy_tls_ops;

/* S's socket gets SSL, in the modes the proxy's queues need. */
static int side_tls(proxy_side *s, SSL *ssl) {
        if (!ssl || !SSL_set_fd(ssl, s->fd)) {
                SSL_free(ssl);
                return -ENOMEM;
        }
        SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
        s->tls = ssl;
        s->tls_ops = &moat_proxy_tls_ops;
        s->handshaking = true;
        return 0;
}

static int side_serve(proxy_tls *t, proxy_side *s, const char *host, moat_error *err) {
        SSL_CTX *ctx = NULL;
        int r;

        r = tls_ca_server_ctx(t->ca, host, &ctx, err);
        if (r < 0)
                return r;
        r = side_tls(s, SSL_new(ctx));
        SSL_CTX_free(ctx); /* the SSL holds its own reference */
        if (r < 0)
                return moat_error_set(err, r, "cannot set up TLS for %s", host);
        return 0;
}

/* OpenSSL's word of a new session with a server (TLS 1.3 sends them after the handshake). */
static int remember_session(SSL *ssl, SSL_SESSION *session) {
        proxy_tls *t = SSL_get_ex_data(ssl, tls_index);
        const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        struct upstream_session *slot = NULL;
        SSL_SESSION *copy;

        if (!t || !host)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(t->sessions) && !slot; i++)
                if (!t->sessions[i].host || strcmp(t->sessions[i].host, host) == 0)
                        slot = &t->sessions[i];
        if (!slot || (!slot->host && !(slot->host = strdup(host))))
                return 0;
        /* a copy: OpenSSL marks the connection's own session unresumable when the connection
         * ends without a close_notify sent (most do: the client hangs up), and then no later
         * connection would resume it (every request paid a full handshake and verification) */
        copy = SSL_SESSION_dup(session);
        if (!copy)
                return 0;
        SSL_SESSION_free(slot->session);
        slot->session = copy;
        return 0;
}

static void resume_session(proxy_tls *t, SSL *ssl, const char *host) {
        for (size_t i = 0; i < ELEMENTSOF(t->sessions) && t->sessions[i].host; i++)
                if (strcmp(t->sessions[i].host, host) == 0 && t->sessions[i].session)
                        (void) SSL_set_session(ssl, t->sessions[i].session);
}

/* The context for TLS to servers, made for the first dial: a worker that only ever served
 * clients whose servers failed never pays for it.  NULL, with ERR set, when it cannot be made. */
static SSL_CTX *upstream_ctx(proxy_tls *t, moat_error *err) {
        static const unsigned char alpn[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
        SSL_CTX *ctx;

        if (t->upstream)
                return t->upstream;
        if (tls_index < 0)
                tls_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        ctx = SSL_CTX_new(TLS_client_method());
        if (tls_index < 0 || !ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
            tls_load_host_trust(ctx) < 0 || SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn)) != 0) {
                moat_error_set(err, -EIO, "cannot set up TLS to servers: %s", ERR_reason_error_string(ERR_get_error()));
                ERR_clear_error();
                SSL_CTX_free(ctx);
                return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, remember_session);
        return t->upstream = ctx;
}

static int side_dial(proxy_tls *t, proxy_side *s, const char *host, moat_error *err) {
        SSL_CTX *ctx = upstream_ctx(t, err);
        SSL *ssl;
        int r;

        if (!ctx)
                return err ? err->code : -EIO;
        ssl = SSL_new(ctx);
        if (!ssl || !SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host) ||
            !SSL_set_ex_data(ssl, tls_index, t)) {
                SSL_free(ssl);
                ERR_clear_error();
                return moat_error_set(err, -ENOMEM, "cannot set up TLS with %s", host);
        }
        resume_session(t, ssl, host);
        r = side_tls(s, ssl);
        if (r < 0)
                return moat_error_set(err, r, "cannot set up TLS with %s", host);
        return 0;
}

static int make_ca(const char *run_id, char *const *permitted, char **ret_cert_pem, char **ret_blob,
                   size_t *ret_blob_len, moat_error *err) {
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        _cleanup_free_ char *pem = NULL;
        int r;

        r = tls_ca_new(run_id, permitted, &ca, err);
        if (r >= 0)
                r = tls_ca_cert_pem(ca, &pem, err);
        if (r >= 0)
                r = tls_ca_export(ca, ret_blob, ret_blob_len, err);
        if (r < 0)
                return r;
        *ret_cert_pem = TAKE_PTR(pem);
        return 0;
}

static const char *host_trust_file(void) {
        return X509_get_default_cert_file();
}

static void tls_free(proxy_tls *t) {
        if (!t)
                return;
        tls_ca_free(t->ca);
        SSL_CTX_free(t->upstream);
        for (size_t i = 0; i < ELEMENTSOF(t->sessions); i++) {
                free(t->sessions[i].host);
                SSL_SESSION_free(t->sessions[i].session);
        }
        free(t);
}

static int tls_new(const char *ca_blob, size_t len, char *const *permitted, proxy_tls **ret, moat_error *err) {
        proxy_tls *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = tls_ca_import(ca_blob, len, permitted, &t->ca, err);
        if (r < 0) {
                tls_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

const proxy_tls_ops moat_proxy_tls_ops = {
        .make_ca = make_ca,
        .host_trust_file = host_trust_file,
        .new = tls_new,
        .free = tls_free,
        .side_serve = side_serve,
        .side_dial = side_dial,
        .side_read = side_read,
        .side_write = side_write,
        .side_handshake = side_handshake,
        .side_shutdown = side_shutdown,
        .side_free = side_free,
        .side_clean = side_clean,
        .side_dial_error = side_dial_error,
};
