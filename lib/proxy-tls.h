/* The egress proxy's TLS, in a module of its own (moat-proxy-tls.so) that only the process
 * doing TLS loads.  OpenSSL costs every process that maps it some 580 KiB of private memory
 * (libcrypto's relocated tables) and its contexts more: the proxy's front, resident for the
 * whole run, never loads it; a worker forked for intercepted connections does, and ends when
 * they have (lib/proxy-worker.c).  Nothing outside the module names an OpenSSL type: a side's TLS is
 * a void *. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "proxy-side.h"

/* The module's file, where `make install` puts it. */
#define PROXY_TLS_MODULE PKGLIBDIR "/moat-proxy-tls.so"
/* The one symbol it exports: a const proxy_tls_ops. */
#define PROXY_TLS_OPS_SYMBOL "moat_proxy_tls_ops"

typedef struct proxy_tls proxy_tls; /* the run's CA, TLS to servers, their sessions */

typedef struct proxy_tls_ops {
        /* A CA for RUN_ID limited to PERMITTED (tls_ca_new()): its certificate as PEM, and
         * the whole of it as tls_ca_export() writes it, for new(). */
        int (*make_ca)(const char *run_id, char *const *permitted, char **ret_cert_pem, char **ret_blob,
                       size_t *ret_blob_len, moat_error *err);
        /* The host's trust store, as a file (the container's bundle starts with it). */
        const char *(*host_trust_file)(void);

        int (*new)(const char *ca_blob, size_t len, char *const *permitted, proxy_tls **ret, moat_error *err);
        void (*free)(proxy_tls *t);

        /* TLS on a side's socket: as the server for the container, with a certificate of the
         * run's CA for HOST; as the client of HOST's real server, verified (chain and name). */
        int (*side_serve)(proxy_tls *t, proxy_side *s, const char *host, moat_error *err);
        int (*side_dial)(proxy_tls *t, proxy_side *s, const char *host, moat_error *err);
        /* What proxy_side does with a side whose TLS is on (lib/proxy-side.h's meanings). */
        int (*side_read)(proxy_side *s, char *buf, size_t size);
        ssize_t (*side_write)(proxy_side *s, const char *data, size_t len);
        int (*side_handshake)(proxy_side *s, bool server);
        void (*side_shutdown)(proxy_side *s);
        void (*side_free)(proxy_side *s);
        /* Whether nothing the server sent waits inside TLS, unread. */
        bool (*side_clean)(const proxy_side *s);
        /* Why a dial's handshake failed, in words. */
        const char *(*side_dial_error)(const proxy_side *s);
} proxy_tls_ops;

/* Loads the module: its ops, or NULL with ERR set. */
const proxy_tls_ops *proxy_tls_load(moat_error *err);

/* Work with the module done in a child process, whose bytes come back in *OUT (*OUT_LEN). */
typedef int (*proxy_tls_child_fn)(const proxy_tls_ops *ops, void *userdata, char **out, size_t *out_len,
                                  moat_error *err);

/* Runs FN in a child that loads the module, so that this process never maps OpenSSL: what FN
 * put in *OUT comes back in *RET (*RET_LEN bytes, NUL-terminated; secret: the caller clears
 * it), FN's error in ERR. */
int proxy_tls_in_child(proxy_tls_child_fn fn, void *userdata, char **ret, size_t *ret_len, moat_error *err);
