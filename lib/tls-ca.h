/* A certificate authority made in memory for one run, and the TLS server contexts the egress
 * proxy terminates a container's TLS with for the hosts of a grant.  The CA's private key
 * never reaches a file: tls_ca_export() hands it, in memory, from the process that made it to
 * the proxy, which passes it on to its TLS worker (lib/proxy-tls.h).  The container learns
 * only the CA certificate, as PEM. */
#pragma once

#include <stdbool.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "error.h"
#include "macro.h"

typedef struct tls_ca tls_ca;

/* A fresh CA for one run: an EC P-256 key and a self-signed certificate "moat run RUN_ID CA",
 * valid from an hour ago for 20 years, the whole life of any run.  With PERMITTED (a NULL-terminated list of host names;
 * NULL or empty means any host), a critical nameConstraints extension limits the CA to those
 * names, so a leaked key cannot vouch for any other site; note that RFC 5280 lets a DNS
 * constraint "a.test" cover its subdomains ("x.a.test") too. tls_ca_server_ctx() issues only
 * for the listed names themselves. */
int tls_ca_new(const char *run_id, char *const *permitted, tls_ca **ret, moat_error *err);

/* The CA whole (its certificate, its key and the leaves' key, PEM) in *RET (*RET_LEN bytes,
 * NUL-terminated), for tls_ca_import() in another process.  Secret: the caller clears it. */
int tls_ca_export(const tls_ca *ca, char **ret, size_t *ret_len, moat_error *err);

/* The CA of tls_ca_export()'s BLOB (LEN bytes), limited to PERMITTED as tls_ca_new()'s. */
int tls_ca_import(const char *blob, size_t len, char *const *permitted, tls_ca **ret, moat_error *err);

/* Drops the cached contexts; those a caller still holds stay valid until it frees them. */
void tls_ca_free(tls_ca *ca);
DEFINE_TRIVIAL_CLEANUP_FUNC(tls_ca *, tls_ca_free);

/* The CA certificate as PEM, for the container's trust bundle (the caller frees it). */
int tls_ca_cert_pem(const tls_ca *ca, char **ret_pem, moat_error *err);

/* A server-side SSL_CTX presenting a leaf certificate for HOST (chain: leaf, CA), TLS 1.2 or
 * later, whose ALPN selects "http/1.1" and nothing else.  Leaves last 7 days and are issued
 * again a day before they end.  Contexts are cached per host, so every call for one host
 * returns the same SSL_CTX until then, with a reference the caller drops with
 * SSL_CTX_free().  Safe to call from several threads.  -EINVAL for a HOST that is not a DNS
 * host name (host_name_normalize()), -EPERM for one outside the CA's permitted names. */
int tls_ca_server_ctx(tls_ca *ca, const char *host, SSL_CTX **ret, moat_error *err);

/* Internal, exported for the unit tests: issues a leaf certificate for HOST (which must pass
 * host_name_normalize()) without checking it against the permitted names, so a test can show that
 * a client refuses what the CA's name constraints exclude.  The proxy uses
 * tls_ca_server_ctx(). */
int tls_ca_issue_leaf(tls_ca *ca, const char *host, X509 **ret, moat_error *err);

/* Internal, for the unit tests: leaves issued from now on last SECONDS and are issued again
 * RENEW_BEFORE seconds before they end. */
void tls_ca_set_leaf_lifetime(tls_ca *ca, long seconds, long renew_before);

/* The host's trust store for CTX, as servers are verified against it.  Looked up lazily in
 * the hashed directory (SSL_CERT_DIR, else OpenSSL's default, which update-ca-certificates
 * and c_rehash keep): a run's proxy then holds only the CAs its servers use, where loading
 * the bundle file parses every one (~140 certificates, ~900 KiB of heap).  Where there is no
 * such directory, or SSL_CERT_FILE names a file, OpenSSL's default paths (file and directory). */
int tls_load_host_trust(SSL_CTX *ctx);

/* Whether DIR holds hashed certificate links (NNNNNNNN.D, as c_rehash names them). */
bool tls_trust_dir_hashed(const char *dir);
