#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "strv.h"
#include "net-policy.h"
#include "tls-ca.h"

/* Containers, VMs and the host disagree on the time by seconds to minutes. */
#define BACKDATE_SECONDS (60 * 60)
/* The CA lasts as long as any run could: its key never leaves the proxy's memory and dies
 * with it, and the container reads the CA once, when it starts. */
#define CA_VALIDITY_SECONDS (20L * 365 * 24 * 60 * 60)
/* Leaves are short-lived and issued again a day before they expire, for connections made
 * then; those already open keep theirs. */
#define LEAF_VALIDITY_SECONDS (7L * 24 * 60 * 60)
#define LEAF_RENEW_SECONDS (24L * 60 * 60)

DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

typedef struct cached_ctx {
        char *host;
        SSL_CTX *ctx;
        time_t renew_at;
} cached_ctx;

struct tls_ca {
        EVP_PKEY *key;
        X509 *cert;
        EVP_PKEY *leaf_key; /* shared by all leaves: they live as long as the CA, and keygen is not free */
        char **permitted;   /* lower case; NULL: any host */
        pthread_mutex_t lock; /* guards cache */
        cached_ctx *cache;
        size_t n_cache;
        long leaf_seconds, renew_seconds;
};

/* Reports the oldest error on OpenSSL's thread-local queue, the one that names the cause, and
 * empties the queue so it cannot be blamed on a later call. */
static int ssl_error(moat_error *err, const char *what) {
        unsigned long e = ERR_get_error();
        char reason[256] = "unknown error";
        int code = -EIO;

        if (e != 0) {
                ERR_error_string_n(e, reason, sizeof reason);
                if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
                        code = -ENOMEM;
        }
        ERR_clear_error();
        return moat_error_set(err, code, "%s: %s", what, reason);
}

static bool add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
        bool ok = ext && X509_add_ext(x, ext, -1);

        X509_EXTENSION_free(ext);
        return ok;
}

/* A random positive 128-bit serial: clients key their caches on issuer and serial, and every
 * run's CA has the same kind of name. */
static bool set_random_serial(X509 *x) {
        _cleanup_(BN_freep) BIGNUM *bn = BN_new();

        return bn && BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
               BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
}

/* A v3 certificate for KEY named CN, issued by ISSUER (NULL: by itself), valid from an hour ago
 * until SECONDS from now; extensions and signature are left to the caller. */
static X509 *cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, long seconds) {
        _cleanup_(X509_freep) X509 *x = X509_new();
        X509_NAME *name;

        if (!x || !X509_set_version(x, X509_VERSION_3) || !set_random_serial(x) || !X509_set_pubkey(x, key))
                return NULL;
        name = X509_get_subject_name(x);
        if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0))
                return NULL;
        if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
                return NULL;
        if (!X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), seconds))
                return NULL;
        return TAKE_PTR(x);
}

/* "critical,permitted;DNS:a.test,permitted;DNS:b.test"; the names passed host_name_normalize(), so
 * none can smuggle a ',' or ';' into OpenSSL's configuration syntax. */
static char *name_constraints_value(char *const *permitted) {
        char *value = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&value, &size);
        bool failed;

        if (!f)
                return NULL;
        fputs("critical", f);
        for (char *const *p = permitted; *p; p++)
                fprintf(f, ",permitted;DNS:%s", *p);
        failed = ferror(f);
        if (fclose(f) != 0 || failed) {
                free(value);
                return NULL;
        }
        return value;
}

static int ca_cert_new(tls_ca *ca, const char *run_id, moat_error *err) {
        _cleanup_free_ char *constraints = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        X509V3_CTX v3;
        char cn[65]; /* ub-common-name */

        if (snprintf(cn, sizeof cn, "moat run %s CA", run_id) >= (int) sizeof cn)
                return moat_error_set(err, -EINVAL, "the run id '%s' is too long for a CA name", run_id);
        x = cert_new(cn, ca->key, NULL, CA_VALIDITY_SECONDS);
        if (!x)
                return ssl_error(err, "failed to make the run's CA certificate");
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
            !add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") ||
            !add_ext(x, &v3, NID_subject_key_identifier, "hash"))
                return ssl_error(err, "failed to add the extensions of the run's CA certificate");
        if (ca->permitted) {
                constraints = name_constraints_value(ca->permitted);
                if (!constraints)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                if (!add_ext(x, &v3, NID_name_constraints, constraints))
                        return ssl_error(err, "failed to add name constraints to the run's CA certificate");
        }
        if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
                return ssl_error(err, "failed to sign the run's CA certificate");
        ca->cert = TAKE_PTR(x);
        return 0;
}

/* An empty CA limited to PERMITTED: its keys and certificate are the caller's to set. */
static int ca_alloc(char *const *permitted, tls_ca **ret, moat_error *err) {
        _cleanup_(tls_ca_freep) tls_ca *ca = calloc(1, sizeof *ca);

        if (!ca)
                return moat_error_set(err, -ENOMEM, "out of memory");
        ca->lock = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        ca->leaf_seconds = LEAF_VALIDITY_SECONDS;
        ca->renew_seconds = LEAF_RENEW_SECONDS;
        for (char *const *p = permitted; p && *p; p++) {
                char *host;

                if (host_name_normalize(*p, &host) < 0)
                        return moat_error_set(err, -EINVAL, "cannot limit the run's CA to '%s': not a DNS host name",
                                              *p);
                if (strv_push(&ca->permitted, host) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(ca);
        return 0;
}

int tls_ca_new(const char *run_id, char *const *permitted, tls_ca **ret, moat_error *err) {
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        int r;

        r = ca_alloc(permitted, &ca, err);
        if (r < 0)
                return r;
        ca->key = EVP_EC_gen("P-256");
        ca->leaf_key = EVP_EC_gen("P-256");
        if (!ca->key || !ca->leaf_key)
                return ssl_error(err, "failed to generate the keys of the run's CA");
        r = ca_cert_new(ca, run_id, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ca);
        return 0;
}

int tls_ca_export(const tls_ca *ca, char **ret, size_t *ret_len, moat_error *err) {
        _cleanup_(BIO_freep) BIO *bio = BIO_new(BIO_s_secmem());
        char *data, *blob;
        long len;

        if (!bio || !PEM_write_bio_X509(bio, ca->cert) ||
            !PEM_write_bio_PrivateKey(bio, ca->key, NULL, NULL, 0, NULL, NULL) ||
            !PEM_write_bio_PrivateKey(bio, ca->leaf_key, NULL, NULL, 0, NULL, NULL))
                return ssl_error(err, "failed to write out the run's CA");
        len = BIO_get_mem_data(bio, &data);
        blob = malloc((size_t) len + 1);
        if (!blob)
                return moat_error_set(err, -ENOMEM, "out of memory");
        memcpy(blob, data, (size_t) len);
        blob[len] = '\0';
        *ret = blob;
        *ret_len = (size_t) len;
        return 0;
}

int tls_ca_import(const char *blob, size_t len, char *const *permitted, tls_ca **ret, moat_error *err) {
        _cleanup_(tls_ca_freep) tls_ca *ca = NULL;
        _cleanup_(BIO_freep) BIO *bio = NULL;
        int r;

        if (len > INT_MAX)
                return moat_error_set(err, -EINVAL, "the run's CA is too long");
        r = ca_alloc(permitted, &ca, err);
        if (r < 0)
                return r;
        bio = BIO_new_mem_buf(blob, (int) len);
        if (!bio)
                return moat_error_set(err, -ENOMEM, "out of memory");
        ca->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (ca->cert)
                ca->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        if (ca->key)
                ca->leaf_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        if (!ca->leaf_key || X509_check_private_key(ca->cert, ca->key) != 1)
                return ssl_error(err, "failed to read the run's CA");
        *ret = TAKE_PTR(ca);
        return 0;
}

void tls_ca_free(tls_ca *ca) {
        if (!ca)
                return;
        for (size_t i = 0; i < ca->n_cache; i++) {
                free(ca->cache[i].host);
                SSL_CTX_free(ca->cache[i].ctx);
        }
        free(ca->cache);
        strv_free(ca->permitted);
        X509_free(ca->cert);
        EVP_PKEY_free(ca->leaf_key);
        EVP_PKEY_free(ca->key); /* clears the key's memory */
        pthread_mutex_destroy(&ca->lock);
        free(ca);
}

int tls_ca_cert_pem(const tls_ca *ca, char **ret_pem, moat_error *err) {
        _cleanup_(BIO_freep) BIO *bio = BIO_new(BIO_s_mem());
        char *data, *pem;
        long len;

        if (!bio || !PEM_write_bio_X509(bio, ca->cert))
                return ssl_error(err, "failed to write the run's CA certificate as PEM");
        len = BIO_get_mem_data(bio, &data);
        pem = strndup(data, (size_t) len);
        if (!pem)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret_pem = pem;
        return 0;
}

int tls_ca_issue_leaf(tls_ca *ca, const char *host, X509 **ret, moat_error *err) {
        _cleanup_free_ char *san = NULL, *name = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        X509V3_CTX v3;

        if (host_name_normalize(host, &name) < 0)
                return moat_error_set(err, -EINVAL, "refusing to issue a certificate for a name that is not a DNS host name");
        if (asprintf(&san, "DNS:%s", name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        x = cert_new(name, ca->leaf_key, ca->cert, ca->leaf_seconds);
        if (!x)
                return ssl_error(err, "failed to make a certificate");
        /* No leaf outlives its CA. */
        if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
            !X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)))
                return ssl_error(err, "failed to make a certificate");
        X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
        if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
            !add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") ||
            !add_ext(x, &v3, NID_ext_key_usage, "serverAuth") || !add_ext(x, &v3, NID_subject_alt_name, san) ||
            !add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
            !add_ext(x, &v3, NID_authority_key_identifier, "keyid:always"))
                return ssl_error(err, "failed to add the extensions of a certificate");
        if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
                return ssl_error(err, "failed to sign a certificate");
        *ret = TAKE_PTR(x);
        return 0;
}

static const unsigned char alpn_http11[] = "\x08http/1.1";

/* The proxy speaks HTTP/1.1 on both sides; a client that offers only other protocols (h2) is
 * told so with the fatal no_application_protocol alert of RFC 7301. */
static int select_http11(SSL *ssl _unused_, const unsigned char **out, unsigned char *outlen,
                         const unsigned char *in, unsigned inlen, void *userdata _unused_) {
        unsigned char *selected;

        if (SSL_select_next_proto(&selected, outlen, alpn_http11, sizeof alpn_http11 - 1, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_ALERT_FATAL;
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
}

static int server_ctx_new(tls_ca *ca, const char *host, SSL_CTX **ret, moat_error *err) {
        _cleanup_(X509_freep) X509 *leaf = NULL;
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL;
        int r;

        r = tls_ca_issue_leaf(ca, host, &leaf, err);
        if (r < 0)
                return r;
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || SSL_CTX_use_certificate(ctx, leaf) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, ca->leaf_key) != 1 || !SSL_CTX_add1_chain_cert(ctx, ca->cert))
                return ssl_error(err, "failed to set up TLS");
        SSL_CTX_set_alpn_select_cb(ctx, select_http11, NULL);
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* Called with the lock held: one thread issues for a host while the others wait for it, rather
 * than each signing a certificate of its own. */
static int server_ctx_cached(tls_ca *ca, const char *host, SSL_CTX **ret, moat_error *err) {
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL;
        _cleanup_free_ char *key = NULL;
        cached_ctx *cache;
        int r;

        time_t now = time(NULL);

        for (size_t i = 0; i < ca->n_cache; i++)
                if (strcmp(ca->cache[i].host, host) == 0) {
                        if (now >= ca->cache[i].renew_at) {
                                /* near its end: a new one, for this and later connections */
                                r = server_ctx_new(ca, host, &ctx, err);
                                if (r < 0)
                                        return r;
                                SSL_CTX_free(ca->cache[i].ctx);
                                ca->cache[i].ctx = TAKE_PTR(ctx);
                                ca->cache[i].renew_at = now + ca->leaf_seconds - ca->renew_seconds;
                        }
                        SSL_CTX_up_ref(ca->cache[i].ctx);
                        *ret = ca->cache[i].ctx;
                        return 0;
                }

        r = server_ctx_new(ca, host, &ctx, err);
        if (r < 0)
                return r;
        cache = realloc(ca->cache, (ca->n_cache + 1) * sizeof *cache);
        if (!cache)
                return moat_error_set(err, -ENOMEM, "out of memory");
        ca->cache = cache;
        key = strdup(host);
        if (!key)
                return moat_error_set(err, -ENOMEM, "out of memory");
        SSL_CTX_up_ref(ctx);
        *ret = ctx;
        cache[ca->n_cache++] = (cached_ctx) { .host = TAKE_PTR(key), .ctx = TAKE_PTR(ctx),
                                              .renew_at = now + ca->leaf_seconds - ca->renew_seconds };
        return 0;
}

int tls_ca_server_ctx(tls_ca *ca, const char *host, SSL_CTX **ret, moat_error *err) {
        _cleanup_free_ char *name = NULL;
        bool permitted = !ca->permitted;
        int r;

        if (host_name_normalize(host, &name) < 0)
                return moat_error_set(err, -EINVAL, "refusing to issue a certificate for a name that is not a DNS host name");
        for (char **p = ca->permitted; p && *p; p++)
                permitted = permitted || strcmp(*p, name) == 0;
        if (!permitted)
                return moat_error_set(err, -EPERM, "refusing to issue a certificate for %s: not a host of this run's grants",
                                      name);

        pthread_mutex_lock(&ca->lock);
        r = server_ctx_cached(ca, name, ret, err);
        pthread_mutex_unlock(&ca->lock);
        return r;
}

void tls_ca_set_leaf_lifetime(tls_ca *ca, long seconds, long renew_before) {
        ca->leaf_seconds = seconds;
        ca->renew_seconds = renew_before;
}

bool tls_trust_dir_hashed(const char *dir) {
        DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *e;
        bool hashed = false;

        if (!d)
                return false;
        while (!hashed && (e = readdir(d))) {
                const char *n = e->d_name;

                hashed = strlen(n) >= 10 && strspn(n, "0123456789abcdef") == 8 && n[8] == '.' &&
                         n[9 + strspn(n + 9, "0123456789")] == '\0' && n[9] != '\0';
        }
        closedir(d);
        return hashed;
}

int tls_load_host_trust(SSL_CTX *ctx) {
        const char *dir = getenv(X509_get_default_cert_dir_env()) ?: X509_get_default_cert_dir();

        if (!getenv(X509_get_default_cert_file_env()) && tls_trust_dir_hashed(dir))
                return SSL_CTX_load_verify_dir(ctx, dir) == 1 ? 0 : -EIO;
        return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -EIO;
}
