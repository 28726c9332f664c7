/* The HTTP a run's proxy reads from the container, parsed by node's http_parser: the request
 * a client makes of the proxy (CONNECT host:port, or a plain request in absolute form), and
 * the stream of requests inside a tunnel whose headers the proxy rewrites to add a grant's
 * credential.  Pure: bytes in, bytes out, no sockets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "usage.h"

/* The longest request head the proxy takes (a header block, as http_parser's default). */
#define HTTP_HEAD_MAX (64 * 1024)
/* The most requests an intercepted connection may have sent ahead of their answers. */
#define HTTP_PIPELINE_MAX 256

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

/* One request and its answer, as the request log records it: never a header value, a query or
 * a body. */
#define HTTP_PATH_MAX 256
typedef struct http_exchange {
        const char *method;
        const char *path;          /* printable, without query or fragment, cut at HTTP_PATH_MAX */
        int status;                /* the final answer's; 0 when none came */
        uint64_t bytes_up;         /* the request as it went out: head and body */
        uint64_t bytes_down;       /* the answer as it came: head and body */
        uint64_t started, ended;   /* the clock's */
        const usage_tokens *usage; /* a model API's request (and options.usage): its tokens */
        usage_api api;
} http_exchange;

typedef struct http_rewrite_options {
        const char *inject_name;  /* a header set on every request (any of that name removed); */
        const char *inject_value; /* NULL: none */
        bool origin_form;         /* absolute-form targets become origin-form (plain HTTP) */
        bool one_request;         /* Connection: close, and nothing after the first request */
        /* An intercepted connection's host (normalized) and port: every request must name
         * them, in its one Host field and in an absolute target, and none may be a CONNECT
         * (-EPERM, see http_rewriter_refusal()).  An upgrade waits for the server's answer,
         * which the caller passes to http_rewriter_response(). */
        const char *authority_host;
        uint16_t authority_port;
        /* The request log: each exchange once its answer has ended, or once the connection
         * did (http_rewriter_end()), with the clock's times; the server's bytes must then be
         * passed to http_rewriter_response().  NULL: none. */
        void (*exchange)(const http_exchange *x, void *userdata);
        uint64_t (*clock)(void *userdata);
        bool usage;               /* read the token usage of model APIs' answers (usage.h) */
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
 * pass as they are — with authority_host, only once the server answered it with 101; until
 * then what follows the upgrade request is held (http_rewriter_waiting()).  0, out's
 * negative value, -E2BIG for a head past HTTP_HEAD_MAX (or too many requests ahead of their
 * answers), -EBADMSG for bytes that are not HTTP, -EPERM for a request that names another
 * host: nothing of it went out, and nothing will. */
int http_rewriter_feed(http_rewriter *rw, const char *data, size_t len);

/* With authority_host or exchange: the server's bytes, as the caller passes them on to the client, read
 * for where each answer ends: a 101 to an upgrade turns the connection into a tunnel (the held
 * bytes go out as they are), any other answer to it resumes the inspection of what was held.
 * 0, -EBADMSG for bytes that are not HTTP answers, or what feeding the held bytes returns. */
int http_rewriter_response(http_rewriter *rw, const char *data, size_t len);

/* The connection ended: every exchange still open is told, as far as it went. */
void http_rewriter_end(http_rewriter *rw);

/* Whether the server's connection could carry another client's requests: at least one
 * answer came, every request sent has its final answer, no request is half sent, both the
 * last request and its answer keep the connection alive (HTTP/1.1 without "Connection:
 * close", an answer whose end was its length), and no upgrade happened or waits. */
bool http_rewriter_reusable(const http_rewriter *rw);

/* Requests that went out and have no final answer yet. */
size_t http_rewriter_outstanding(const http_rewriter *rw);

/* Whether an upgrade request awaits its answer: the caller need not read the client. */
bool http_rewriter_waiting(const http_rewriter *rw);

/* After -EPERM: why the request was refused (one phrase, printable) and, in *RET_NAMED, the
 * host it named (printable) or NULL.  NULL otherwise. */
const char *http_rewriter_refusal(const http_rewriter *rw, const char **ret_named);

/* Whether the one request of a one_request rewriter has gone out whole. */
bool http_rewriter_done(const http_rewriter *rw);
