#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "macro.h"
#include "tap.h"
#include "tls-ca.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free);

static X509 *ca_cert(const tls_ca *ca) {
        _cleanup_free_ char *pem = NULL;
        BIO *bio;
        X509 *x;

        if (tls_ca_cert_pem(ca, &pem, NULL) < 0)
                return NULL;
        bio = BIO_new_mem_buf(pem, -1);
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        return x;
}

/* X509_verify_cert of LEAF for HOST with only TRUSTED in the store: X509_V_OK or the reason. */
static int verify(X509 *leaf, X509 *trusted, const char *host) {
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        int r = -1;

        if (store && ctx && X509_STORE_add_cert(store, trusted) && X509_STORE_CTX_init(ctx, store, leaf, NULL) &&
            X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0)) {
                X509_verify_cert(ctx);
                r = X509_STORE_CTX_get_error(ctx);
        }
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return r;
}

static void test_ca_cert(void) {
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_free_ char *pem = NULL;
        BASIC_CONSTRAINTS *bc;
        char cn[128] = "";
        int crit = -1;

        is_int(tls_ca_new("0123456789ab", NULL, &ca, NULL), 0, "a CA is made");
        is_int(tls_ca_cert_pem(ca, &pem, NULL), 0, "its certificate comes out as PEM");
        contains(pem, "-----BEGIN CERTIFICATE-----", "the PEM holds a certificate");
        ok(!strstr(pem, "PRIVATE KEY") && !strstr(pem, "EC PARAMETERS"), "and no key");
        ok(strstr(strstr(pem, "BEGIN") + 1, "BEGIN") == NULL, "and nothing but the one certificate");

        x = ca_cert(ca);
        ok(x != NULL, "the PEM parses back");
        if (!x)
                return;
        is_int(X509_check_issued(x, x), X509_V_OK, "the CA certificate is self-issued");
        is_int(X509_verify(x, X509_get0_pubkey(x)), 1, "and signed with its own key");
        is_int(X509_check_ca(x), 1, "it is a CA");
        bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
        ok(bc && bc->ca && crit == 1, "basicConstraints is critical and CA:TRUE");
        ok(bc && bc->pathlen && ASN1_INTEGER_get(bc->pathlen) == 0, "with pathlen 0");
        BASIC_CONSTRAINTS_free(bc);
        is_int(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN, "keyUsage is keyCertSign and cRLSign");
        ok(X509_get0_subject_key_id(x) != NULL, "it has a subject key id");
        is_int(X509_get_ext_by_NID(x, NID_name_constraints, -1), -1, "no name constraints when none were asked for");
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        is_str(cn, "moat run 0123456789ab CA", "its name says which run");
        ok(X509_cmp_time(X509_get0_notBefore(x), NULL) < 0 && X509_cmp_time(X509_get0_notAfter(x), NULL) > 0,
           "it is valid now");
}

static void test_leaf(void) {
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL, *other = NULL;
        _cleanup_(X509_freep) X509 *x = NULL, *other_x = NULL;
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL, *again = NULL, *upper = NULL, *second = NULL;
        STACK_OF(X509) *chain = NULL;
        moat_error err = {};
        X509 *leaf;

        if (tls_ca_new("leaf", NULL, &ca, NULL) < 0 || tls_ca_new("other", NULL, &other, NULL) < 0)
                return (void) ok(0, "CAs made");
        x = ca_cert(ca);
        other_x = ca_cert(other);
        is_int(tls_ca_server_ctx(ca, "api.example.test", &ctx, &err), 0, "a server context for api.example.test");
        if (!ctx)
                return;
        leaf = SSL_CTX_get0_certificate(ctx);
        ok(leaf != NULL, "it holds a certificate");
        is_int(verify(leaf, x, "api.example.test"), X509_V_OK, "which verifies against the CA alone, for its host");
        is_int(verify(leaf, x, "other.example.test"), X509_V_ERR_HOSTNAME_MISMATCH, "but not for another host");
        is_int(verify(leaf, other_x, "api.example.test"), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
               "nor against another run's CA");
        ok(X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1, "it is fit for a TLS server");
        ok(X509_get_extended_key_usage(leaf) == XKU_SSL_SERVER, "its extendedKeyUsage is serverAuth alone");
        ok(X509_get_key_usage(leaf) == KU_DIGITAL_SIGNATURE, "its keyUsage is digitalSignature");
        ok(X509_check_ca(leaf) == 0, "it is no CA");
        ok(X509_get0_authority_key_id(leaf) && ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
                                                                     X509_get0_subject_key_id(x)) == 0,
           "its authority key id is the CA's key id");
        ok(X509_cmp_time(X509_get0_notAfter(leaf), NULL) > 0 &&
                   ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(x)) <= 0,
           "it is valid now and not past the CA");
        SSL_CTX_get0_chain_certs(ctx, &chain);
        ok(sk_X509_num(chain) == 1 && X509_cmp(sk_X509_value(chain, 0), x) == 0, "the chain sent is the CA");

        is_int(tls_ca_server_ctx(ca, "api.example.test", &again, NULL), 0, "a second context for the host");
        ok(again == ctx, "is the cached one");
        is_int(tls_ca_server_ctx(ca, "API.Example.TEST", &upper, NULL), 0, "one for the host in upper case");
        ok(upper == ctx, "is the same one");
        is_int(tls_ca_server_ctx(ca, "b.example.test", &second, NULL), 0, "one for another host");
        ok(second && second != ctx, "is another one");

        /* the CA goes first: the contexts a proxy thread holds outlive it */
        tls_ca_free(TAKE_PTR(ca));
        is_int(verify(SSL_CTX_get0_certificate(again), x, "api.example.test"), X509_V_OK,
               "a context still held outlives its CA object");
        moat_error_clear(&err);
}

static void test_refused_hosts(void) {
        static const char *const bad[] = { "1.2.3.4", "*.x.test", "", "-a.test", "x.test ",
                                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test" };
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL, *unmade = NULL;
        moat_error err = {};
        char *const bad_permitted[] = { (char *) "a.test", (char *) "*.b.test", NULL };

        if (tls_ca_new("refuse", NULL, &ca, NULL) < 0)
                return (void) ok(0, "CA made");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                SSL_CTX *ctx = NULL;
                X509 *x = NULL;

                is_int(tls_ca_server_ctx(ca, bad[i], &ctx, &err), -EINVAL, "no context for '%s'", bad[i]);
                ok(ctx == NULL && err.msg, "none returned, and a reason given");
                moat_error_clear(&err);
                is_int(tls_ca_issue_leaf(ca, bad[i], &x, NULL), -EINVAL, "and no certificate");
        }
        is_int(tls_ca_new("refuse", bad_permitted, &unmade, &err), -EINVAL, "a CA cannot be limited to '*.b.test'");
        ok(unmade == NULL, "none is made");
        moat_error_clear(&err);
}

static void test_name_constraints(void) {
        char *const permitted[] = { (char *) "a.test", (char *) "C.Test", NULL };
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        _cleanup_(X509_freep) X509 *x = NULL, *a = NULL, *b = NULL, *aa = NULL, *c = NULL;
        SSL_CTX *ctx = NULL;
        X509_EXTENSION *ext;
        int i;

        if (tls_ca_new("nc", permitted, &ca, NULL) < 0)
                return (void) ok(0, "CA made");
        x = ca_cert(ca);
        i = X509_get_ext_by_NID(x, NID_name_constraints, -1);
        ext = i >= 0 ? X509_get_ext(x, i) : NULL;
        ok(ext && X509_EXTENSION_get_critical(ext), "the CA carries critical name constraints");

        if (tls_ca_issue_leaf(ca, "a.test", &a, NULL) < 0 || tls_ca_issue_leaf(ca, "b.test", &b, NULL) < 0 ||
            tls_ca_issue_leaf(ca, "aa.test", &aa, NULL) < 0 || tls_ca_issue_leaf(ca, "c.test", &c, NULL) < 0)
                return (void) ok(0, "leaves issued");
        is_int(verify(a, x, "a.test"), X509_V_OK, "a leaf for a permitted name verifies");
        is_int(verify(c, x, "c.test"), X509_V_OK, "so does one for the other, given in upper case");
        is_int(verify(b, x, "b.test"), X509_V_ERR_PERMITTED_VIOLATION, "one for b.test is refused by the client");
        is_int(verify(aa, x, "aa.test"), X509_V_ERR_PERMITTED_VIOLATION, "so is one for aa.test, which ends in a.test");

        is_int(tls_ca_server_ctx(ca, "b.test", &ctx, NULL), -EPERM, "no context for a name that is not permitted");
        is_int(tls_ca_server_ctx(ca, "x.a.test", &ctx, NULL), -EPERM, "nor for a subdomain of one that is");
        ok(ctx == NULL, "none returned");
        is_int(tls_ca_server_ctx(ca, "A.test", &ctx, NULL), 0, "but one for a permitted name");
        SSL_CTX_free(ctx);
}

typedef struct racer {
        tls_ca *ca;
        SSL_CTX *ctx;
        int r;
} racer;

static void *race(void *userdata) {
        racer *t = userdata;

        t->r = tls_ca_server_ctx(t->ca, "race.test", &t->ctx, NULL);
        return NULL;
}

static void test_threads(void) {
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        racer t[8] = {};
        pthread_t tid[ELEMENTSOF(t)];
        int same = 0;

        if (tls_ca_new("threads", NULL, &ca, NULL) < 0)
                return (void) ok(0, "CA made");
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                t[i].ca = ca;
                pthread_create(&tid[i], NULL, race, &t[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                pthread_join(tid[i], NULL);
                same += t[i].r == 0 && t[i].ctx == t[0].ctx;
        }
        is_int(same, ELEMENTSOF(t), "threads asking at once for one host all get the same context");
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                SSL_CTX_free(t[i].ctx);
}

typedef struct server {
        SSL_CTX *ctx;
        int fd;
        int accepted;
        char got[5];
} server;

static void *serve(void *userdata) {
        server *s = userdata;
        SSL *ssl = SSL_new(s->ctx);

        if (ssl && SSL_set_fd(ssl, s->fd)) {
                s->accepted = SSL_accept(ssl);
                if (s->accepted == 1 && SSL_read(ssl, s->got, 4) == 4)
                        SSL_write(ssl, "pong", 4);
        }
        SSL_free(ssl);
        close(s->fd);
        ERR_clear_error();
        return NULL;
}

/* A TLS handshake over a socketpair, the client trusting only the CA and asking for HOST with
 * ALPN list ALPN.  Returns SSL_connect's result; fills the protocol selected. */
static int handshake(SSL_CTX *server_ctx, X509 *ca, const char *host, const char *alpn, size_t alpn_len,
                     char selected[16], char reply[5]) {
        _cleanup_(SSL_CTX_freep) SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
        server s = { .ctx = server_ctx };
        const unsigned char *proto = NULL;
        unsigned proto_len = 0;
        pthread_t tid;
        int fds[2], r = -1;
        SSL *ssl;

        if (!cctx || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -1;
        X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca);
        SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
        s.fd = fds[1];
        pthread_create(&tid, NULL, serve, &s);

        ssl = SSL_new(cctx);
        if (ssl && SSL_set_fd(ssl, fds[0]) && SSL_set1_host(ssl, host) && SSL_set_tlsext_host_name(ssl, host) &&
            SSL_set_alpn_protos(ssl, (const unsigned char *) alpn, (unsigned) alpn_len) == 0) {
                r = SSL_connect(ssl);
                if (r == 1 && SSL_get_verify_result(ssl) != X509_V_OK)
                        r = -2;
                SSL_get0_alpn_selected(ssl, &proto, &proto_len);
                snprintf(selected, 16, "%.*s", (int) proto_len, proto ? (const char *) proto : "");
                if (r == 1 && SSL_write(ssl, "ping", 4) == 4 && SSL_read(ssl, reply, 4) == 4)
                        reply[4] = '\0';
        }
        SSL_free(ssl);
        close(fds[0]);
        pthread_join(tid, NULL);
        ERR_clear_error();
        return r;
}

static void test_handshake(void) {
        static const char offer[] = "\x02h2\x08http/1.1";
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL, *other = NULL;
        _cleanup_(X509_freep) X509 *x = NULL, *other_x = NULL;
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL;
        char selected[16] = "", reply[5] = "";

        if (tls_ca_new("tls", NULL, &ca, NULL) < 0 || tls_ca_new("tls2", NULL, &other, NULL) < 0 ||
            tls_ca_server_ctx(ca, "api.example.test", &ctx, NULL) < 0)
                return (void) ok(0, "CA and context made");
        x = ca_cert(ca);
        other_x = ca_cert(other);

        is_int(handshake(ctx, x, "api.example.test", offer, sizeof offer - 1, selected, reply), 1,
               "a client trusting only the CA completes a handshake for the host");
        is_str(selected, "http/1.1", "ALPN picks http/1.1 over h2");
        is_str(reply, "pong", "data flows both ways");

        ok(handshake(ctx, x, "other.example.test", offer, sizeof offer - 1, selected, reply) != 1,
           "a client asking for another host refuses the certificate");
        ok(handshake(ctx, other_x, "api.example.test", offer, sizeof offer - 1, selected, reply) != 1,
           "a client trusting another run's CA refuses it");
        ok(handshake(ctx, x, "api.example.test", "\x02h2", 3, selected, reply) != 1,
           "a client offering only h2 is turned away");
}

/* The leaf a server context presents. */
static X509 *leaf_of(SSL_CTX *ctx) {
        return SSL_CTX_get0_certificate(ctx);
}

static void test_lifetime(void) {
        static const char offer[] = "\x08http/1.1";
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(SSL_CTX_freep) SSL_CTX *first = NULL, *second = NULL, *third = NULL, *kept = NULL;
        char selected[16] = "", reply[5] = "";
        time_t in_19_years = time(NULL) + 19L * 365 * 24 * 60 * 60;

        if (tls_ca_new("life", NULL, &ca, NULL) < 0)
                return (void) ok(0, "CA made");
        x = ca_cert(ca);
        ok(X509_cmp_time(X509_get0_notAfter(x), &in_19_years) > 0, "the CA outlasts any run (19 years and more)");
        /* leaves of two seconds, issued again in their last second */
        tls_ca_set_leaf_lifetime(ca, 2, 1);
        if (tls_ca_server_ctx(ca, "api.example.test", &first, NULL) < 0 ||
            tls_ca_server_ctx(ca, "api.example.test", &kept, NULL) < 0)
                return (void) ok(0, "contexts made");
        ok(first == kept, "a fresh leaf is served again");
        ok(X509_cmp_time(X509_get0_notAfter(leaf_of(first)), &(time_t) { time(NULL) + 3 }) < 0,
           "a leaf lasts as long as it was told");
        sleep(3);
        ok(X509_cmp_current_time(X509_get0_notAfter(leaf_of(first))) < 0, "the first leaf has expired");
        ok(handshake(first, x, "api.example.test", offer, sizeof offer - 1, selected, reply) != 1,
           "a client refuses it");
        /* from now on, leaves of a minute, issued again two minutes before they end: at once */
        tls_ca_set_leaf_lifetime(ca, 60, 120);
        ok(tls_ca_server_ctx(ca, "api.example.test", &second, NULL) == 0 && second != first,
           "the next connection gets a new leaf");
        ok(X509_cmp_current_time(X509_get0_notAfter(leaf_of(second))) > 0, "which is valid");
        is_int(handshake(second, x, "api.example.test", offer, sizeof offer - 1, selected, reply), 1,
               "and a client completes a handshake with it");
        ok(tls_ca_server_ctx(ca, "api.example.test", &third, NULL) == 0 && third != second,
           "a leaf near its end is replaced before it expires");
}

/* STORE's verdict on LEAF for HOST, looking certificates up as a handshake would. */
static int verify_in(X509_STORE *store, X509 *leaf, const char *host) {
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        int r = -1;

        if (ctx && X509_STORE_CTX_init(ctx, store, leaf, NULL) &&
            X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0)) {
                X509_verify_cert(ctx);
                r = X509_STORE_CTX_get_error(ctx);
        }
        X509_STORE_CTX_free(ctx);
        return r;
}

/* The host's trust store: a hashed directory is looked up as needed, and is what counts. */
static void test_host_trust(void) {
        char dir[] = "/tmp/test-tls-trust-XXXXXX", path[512], cmd[600];
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL, *leaf = NULL;
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL;
        _cleanup_free_ char *pem = NULL;
        FILE *f;

        if (!mkdtemp(dir))
                abort();
        ok(!tls_trust_dir_hashed(dir), "an empty directory is not a hashed store");
        ok(!tls_trust_dir_hashed("/no/such/dir"), "nor one that is missing");
        snprintf(path, sizeof(path), "%s/ca.pem", dir);
        is_int(tls_ca_new("0123456789ab", (char *[]) { (char *) "api.example.com", NULL }, &ca, NULL), 0, "a CA");
        is_int(tls_ca_cert_pem(ca, &pem, NULL), 0, "its PEM");
        f = fopen(path, "w");
        ok(f && fputs(pem, f) >= 0 && fclose(f) == 0, "written as a file");
        snprintf(path, sizeof(path), "%s/1A2B3C4D.0", dir);
        ok(symlink("ca.pem", path) == 0 && !tls_trust_dir_hashed(dir), "upper-case hex is not c_rehash's");
        unlink(path);
        cert = ca_cert(ca);
        snprintf(path, sizeof(path), "%s/%08lx.0", dir, X509_subject_name_hash(cert));
        ok(symlink("ca.pem", path) == 0 && tls_trust_dir_hashed(dir), "a hashed link makes it a store");

        setenv("SSL_CERT_DIR", dir, 1);
        unsetenv("SSL_CERT_FILE");
        ctx = SSL_CTX_new(TLS_client_method());
        is_int(tls_load_host_trust(ctx), 0, "the host's trust loaded");
        is_int(tls_ca_issue_leaf(ca, "api.example.com", &leaf, NULL), 0, "a leaf of the CA");
        is_int(verify_in(SSL_CTX_get_cert_store(ctx), leaf, "api.example.com"), X509_V_OK,
               "a server's certificate from a CA in the directory verifies");
        is_int(verify_in(SSL_CTX_get_cert_store(ctx), leaf, "other.example.com"), X509_V_ERR_HOSTNAME_MISMATCH,
               "not for another name");
        unlink(path);
        SSL_CTX_free(ctx);
        ctx = SSL_CTX_new(TLS_client_method());
        is_int(tls_load_host_trust(ctx), 0, "loaded again without the CA");
        is_int(verify_in(SSL_CTX_get_cert_store(ctx), leaf, "api.example.com"),
               X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "a CA not in the store is not trusted");
        unsetenv("SSL_CERT_DIR");
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "# %s failed\n", cmd);
}

/* The CA handed from the process that made it to the proxy's TLS worker: the same CA, its
 * limits with it, and nothing short of it is taken. */
static void test_export_import(void) {
        char *const hosts[] = { (char *) "api.example.com", NULL };
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL, *copy = NULL, *other = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL, *leaf = NULL;
        _cleanup_free_ char *blob = NULL, *other_blob = NULL, *pem = NULL, *copy_pem = NULL, *mixed = NULL;
        SSL_CTX *ctx = NULL;
        size_t len = 0, other_len = 0;
        moat_error err = {};

        is_int(tls_ca_new("0123456789ab", hosts, &ca, NULL), 0, "a CA");
        is_int(tls_ca_export(ca, &blob, &len, NULL), 0, "written out");
        ok(len == strlen(blob) && strstr(blob, "BEGIN CERTIFICATE") && strstr(blob, "PRIVATE KEY"),
           "as PEM: a certificate and keys");
        is_int(tls_ca_import(blob, len, hosts, &copy, NULL), 0, "read back");
        is_int(tls_ca_cert_pem(ca, &pem, NULL), 0, "the CA's certificate");
        is_int(tls_ca_cert_pem(copy, &copy_pem, NULL), 0, "the copy's");
        ok(pem && copy_pem && strcmp(pem, copy_pem) == 0, "the same certificate");
        cert = ca_cert(ca);
        is_int(tls_ca_issue_leaf(copy, "api.example.com", &leaf, NULL), 0, "the copy issues");
        is_int(verify(leaf, cert, "api.example.com"), X509_V_OK, "what the original CA vouches for: the same key");
        is_int(tls_ca_server_ctx(copy, "other.example.com", &ctx, &err), -EPERM, "and keeps to the hosts it was given");
        moat_error_clear(&err);
        ok(!ctx, "no context for another host");

        is_int(tls_ca_import(blob, len / 2, hosts, &other, &err), -EIO, "half of it is refused");
        moat_error_clear(&err);
        /* another CA's keys under this certificate: refused, not a CA that signs what none trusts */
        is_int(tls_ca_new("0123456789ac", hosts, &other, NULL), 0, "another CA");
        is_int(tls_ca_export(other, &other_blob, &other_len, NULL), 0, "written out");
        ok(strstr(other_blob, "-----BEGIN PRIVATE KEY") &&
           asprintf(&mixed, "%s%s", copy_pem, strstr(other_blob, "-----BEGIN PRIVATE KEY")) > 0,
           "its keys under the first one's certificate");
        tls_ca_free(TAKE_PTR(other));
        is_int(tls_ca_import(mixed, strlen(mixed), hosts, &other, &err), -EIO,
               "a certificate with another CA's key is refused");
        moat_error_clear(&err);
}

int main(void) {
        test_ca_cert();
        test_export_import();
        test_leaf();
        test_refused_hosts();
        test_name_constraints();
        test_threads();
        test_handshake();
        test_lifetime();
        test_host_trust();
        return tap_done();
}
