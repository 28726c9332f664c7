/* The HTTP a run's proxy reads from the container, parsed by node's http_parser: the request
 * a client makes of the proxy (CONNECT host:port, or a plain request in absolute form), and
 * the stream of requests inside a tunnel whose headers the proxy rewrites to add a grant's
 * credential.  Pure: bytes in, bytes out, no sockets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The longest request head the proxy takes (a header block, as http_parser's default). */
#define HTTP_HEAD_MAX (64 * 1024)

typedef struct proxy_request {
        bool is_connect;
        char *host;       /* as sent, without brackets: validated by the caller */
        uint16_t port;
        size_t head_len;  /* bytes of the head; for CONNECT, what follows is the tunnel's */
} proxy_request;

void proxy_request_done(proxy_request *r);

/* Parses the request head at the start of BUF: 0 when complete; -EAGAIN when more bytes are
 * needed; -EBADMSG (err says why) for anything a proxy does not take: not HTTP, a head
 * longer than HTTP_HEAD_MAX, an origin-form or https:// target. */
int proxy_request_parse(const char *buf, size_t len, proxy_request *ret, moat_error *err);

typedef struct http_rewrite_options {
        const char *inject_name;  /* a header set on every request (any of that name removed); */
        const char *inject_value; /* NULL: none */
        bool origin_form;         /* absolute-form targets become origin-form (plain HTTP) */
        bool one_request;         /* Connection: close, and nothing after the first request */
} http_rewrite_options;

/* Where the rewritten bytes go; a negative return stops the feed and is returned. */
typedef int (*http_out_fn)(const char *data, size_t len, void *userdata);

typedef struct http_rewriter http_rewriter;

int http_rewriter_new(const http_rewrite_options *o, http_out_fn out, void *userdata, http_rewriter **ret);
void http_rewriter_free(http_rewriter *rw);
DEFINE_TRIVIAL_CLEANUP_FUNC(http_rewriter *, http_rewriter_free);

/* Feeds client bytes.  Each request's head goes out rebuilt (the injected header in place of
 * any of its name; Proxy-Authorization and Proxy-Connection dropped), its body as framed
 * (chunks re-framed with their sizes, trailers kept); after an upgrade (WebSocket), bytes
 * pass as they are.  0, out's negative value, -E2BIG for a head past HTTP_HEAD_MAX or
 * -EBADMSG for bytes that are not HTTP. */
int http_rewriter_feed(http_rewriter *rw, const char *data, size_t len);

/* Whether the one request of a one_request rewriter has gone out whole. */
bool http_rewriter_done(const http_rewriter *rw);
