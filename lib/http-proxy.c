#include "config.h"

#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>

#include "http-proxy.h"
#include "proxy-route.h"

void proxy_request_done(proxy_request *r) {
        free(r->host);
        *r = (proxy_request) {};
}

typedef struct head_reader {
        const char *url;
        size_t url_len;
        bool complete;
} head_reader;

static int head_on_url(http_parser *p, const char *at, size_t len) {
        head_reader *h = p->data;

        if (!h->url)
                h->url = at;
        h->url_len = (size_t) (at + len - h->url);
        return 0;
}

static int head_on_headers_complete(http_parser *p) {
        head_reader *h = p->data;

        h->complete = true;
        http_parser_pause(p, 1); /* the head is all this reader wants */
        return 0;
}

int proxy_request_parse(const char *buf, size_t len, proxy_request *ret, moat_error *err) {
        static const http_parser_settings settings = {
                .on_url = head_on_url,
                .on_headers_complete = head_on_headers_complete,
        };
        struct http_parser_url u;
        head_reader h = {};
        http_parser p;
        size_t n, scan = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
        bool connect;

        /* the whole buffer each time: heads are small, and the URL stays one piece */
        http_parser_init(&p, HTTP_REQUEST);
        p.data = &h;
        n = http_parser_execute(&p, &settings, buf, scan);
        if (!h.complete) {
                if (HTTP_PARSER_ERRNO(&p) != HPE_OK)
                        return moat_error_set(err, -EBADMSG, "not an HTTP request (%s)",
                                              http_errno_description(HTTP_PARSER_ERRNO(&p)));
                if (len >= HTTP_HEAD_MAX)
                        return moat_error_set(err, -EBADMSG, "a request head longer than %d bytes", HTTP_HEAD_MAX);
                return -EAGAIN;
        }
        connect = p.method == HTTP_CONNECT;
        http_parser_url_init(&u);
        if (!h.url || http_parser_parse_url(h.url, h.url_len, connect, &u) != 0 ||
            !(u.field_set & (1 << UF_HOST)))
                return moat_error_set(err, -EBADMSG, "a proxy takes CONNECT host:port or http://host/... requests");
        if (!connect && (u.field_set & (1 << UF_SCHEMA)) && u.field_data[UF_SCHEMA].len == 5 &&
            strncasecmp(h.url + u.field_data[UF_SCHEMA].off, "https", 5) == 0) {
                const char *host = h.url + u.field_data[UF_HOST].off;
                int host_len = u.field_data[UF_HOST].len;

                /* busybox wget sends https:// URLs to the proxy as plain HTTP: say what works */
                if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") <
                    (size_t) host_len)
                        host_len = 0;
                return moat_error_set(err, -EBADMSG,
                                      "https://%.*s goes through the proxy only as CONNECT %.*s:%u, not as a plain "
                                      "HTTP request; set HTTPS_PROXY (not only HTTP_PROXY) to the proxy, or use a "
                                      "client that tunnels https through it",
                                      host_len, host, host_len, host,
                                      (u.field_set & (1 << UF_PORT)) ? (unsigned) u.port : 443u);
        }
        if (!connect && (!(u.field_set & (1 << UF_SCHEMA)) || u.field_data[UF_SCHEMA].len != 4 ||
                         strncasecmp(h.url + u.field_data[UF_SCHEMA].off, "http", 4) != 0))
                return moat_error_set(err, -EBADMSG, "plain requests through the proxy must be http://; use CONNECT "
                                                     "for https");
        *ret = (proxy_request) {
                .is_connect = connect,
                .port = (u.field_set & (1 << UF_PORT)) ? u.port : 80,
                /* paused at the head's last LF: it belongs to the head */
                .head_len = n + 1,
        };
        ret->host = strndup(h.url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len);
        if (!ret->host)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* A growing buffer; what the rewriter builds a head or a trailer in. */
typedef struct buf {
        char *data;
        size_t len, cap;
} buf;

static int buf_add(buf *b, const char *data, size_t len) {
        if (b->len + len > HTTP_HEAD_MAX + 1024)
                return -E2BIG;
        if (len == 0)
                return 0; /* DATA may be NULL then, which memcpy must not get */
        if (b->len + len > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 1024;
                char *p;

                while (cap < b->len + len)
                        cap *= 2;
                p = realloc(b->data, cap);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, data, len);
        b->len += len;
        return 0;
}

static int buf_adds(buf *b, const char *s) {
        return buf_add(b, s, strlen(s));
}

struct http_rewriter {
        http_parser parser;
        http_rewrite_options o;
        http_out_fn out;
        void *userdata;
        buf url;
        buf fields;     /* "Name: value\r\n"... of the head or trailer in the making */
        buf name;       /* the header being read */
        buf value;
        bool in_value;
        bool in_body, last_chunk;
        bool upgraded, done;
        int error;      /* a failure inside a callback: out's, or -E2BIG */
        /* the Host check (o.authority_host): Host fields of the head being read, whether all
         * named the host, and for a refused request, why and what it named */
        unsigned n_host;
        bool host_wrong;
        char why[320];
        char named[256];
        /* requests sent whose final responses have not all come, oldest first */
        uint8_t queue[HTTP_PIPELINE_MAX];
        size_t n_queue;
        http_parser resp;
        bool resp_interim, resp_switch, resume;
        bool waiting;   /* an upgrade request went out: its answer decides what follows */
        buf held;       /* client bytes after it, meanwhile */
        /* the request log (o.exchange): one per request in queue[], same order */
        struct exchange *ex;
        size_t ex_cap;
        uint32_t next_seq;      /* the request being read is ex[] with this seq, while there */
        bool resp_complete;     /* an answer ended: the response parser paused there */
        char resp_field[20];    /* the answer's header being read, if short */
        size_t resp_field_len;
        bool resp_field_long;
        /* whether the connection could carry another request: at a boundary both ways, and
         * the last request and its answer both keep the connection alive */
        bool in_request, resp_in_message;
        bool keep_alive_request, keep_alive_answer;
        unsigned answered;
};

typedef struct exchange {
        uint32_t seq;
        uint8_t method;
        int status;
        uint64_t up, down, started;
        usage_api api;
        usage_parser *usage;
        char path[HTTP_PATH_MAX + 1];
} exchange;

static bool observing(const http_rewriter *rw) {
        return rw->o.exchange != NULL;
}

/* Whether answers are read: to know where each ends. */
static bool reading_answers(const http_rewriter *rw) {
        return rw->o.authority_host || observing(rw);
}

static uint64_t clock_now(const http_rewriter *rw) {
        return rw->o.clock ? rw->o.clock(rw->userdata) : 0;
}

/* The path of a request target (origin or absolute form), without query or fragment, each
 * byte outside printable ASCII as '?', cut at HTTP_PATH_MAX. */
static void target_path(const char *url, size_t n, char out[static HTTP_PATH_MAX + 1]) {
        struct http_parser_url u;
        size_t len = 0;

        http_parser_url_init(&u);
        if (n > 0 && url[0] != '/' && http_parser_parse_url(url, n, 0, &u) == 0) {
                if (u.field_set & (1 << UF_PATH)) {
                        url += u.field_data[UF_PATH].off;
                        n = u.field_data[UF_PATH].len;
                } else
                        url = "/", n = 1;
        }
        for (size_t i = 0; i < n && len < HTTP_PATH_MAX && url[i] != '?' && url[i] != '#'; i++)
                out[len++] = url[i] > 0x20 && url[i] < 0x7f ? url[i] : '?';
        out[len] = '\0';
}

static exchange *exchange_push(http_rewriter *rw, const http_parser *p) {
        exchange *x;

        if (rw->n_queue == rw->ex_cap) {
                size_t cap = rw->ex_cap ? rw->ex_cap * 2 : 2;
                exchange *e = realloc(rw->ex, cap * sizeof(*e));

                if (!e)
                        return NULL;
                rw->ex = e;
                rw->ex_cap = cap;
        }
        x = &rw->ex[rw->n_queue];
        *x = (exchange) { .seq = ++rw->next_seq, .method = (uint8_t) p->method, .started = clock_now(rw) };
        target_path(rw->url.data, rw->url.len, x->path);
        if (rw->o.usage) {
                x->api = usage_api_for_request(http_method_str((enum http_method) p->method), x->path);
                if (x->api != USAGE_API_NONE && !(x->usage = usage_parser_new(x->api, x->path)))
                        return NULL;
        }
        return x;
}

/* The exchange of the oldest request, its answer ended (or not to come): told, and gone. */
static void exchange_pop(http_rewriter *rw) {
        exchange *x = &rw->ex[0];
        usage_tokens tokens = {};
        http_exchange e = {
                .method = http_method_str((enum http_method) x->method),
                .path = x->path,
                .status = x->status,
                .bytes_up = x->up,
                .bytes_down = x->down,
                .started = x->started,
                .ended = clock_now(rw),
                .api = x->api,
        };

        if (x->usage) {
                usage_parser_finish(x->usage, &tokens);
                usage_parser_free(x->usage);
                e.usage = &tokens;
        }
        rw->o.exchange(&e, rw->userdata);
        memmove(rw->ex, rw->ex + 1, (rw->n_queue - 1) * sizeof(*rw->ex));
}

/* The request being read, while its exchange is queued. */
static exchange *current_request(http_rewriter *rw) {
        if (!observing(rw) || rw->n_queue == 0 || rw->ex[rw->n_queue - 1].seq != rw->next_seq)
                return NULL;
        return &rw->ex[rw->n_queue - 1];
}

enum {
        REQUEST_HEAD = 1 << 0,    /* its response has no body */
        REQUEST_UPGRADE = 1 << 1, /* a 101 answer makes the connection a tunnel */
};

/* Whether the request being read is one to a model API whose usage is read (o.usage). */
static bool usage_request(const http_rewriter *rw) {
        char path[HTTP_PATH_MAX + 1];

        if (!rw->o.usage || rw->in_body)
                return false;
        target_path(rw->url.data, rw->url.len, path);
        return usage_api_for_request(http_method_str((enum http_method) rw->parser.method), path) != USAGE_API_NONE;
}

static bool is_dropped(const http_rewriter *rw, const char *name, size_t len) {
        static const char *const hop[] = { "proxy-authorization", "proxy-connection" };

        for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
                if (len == strlen(hop[i]) && strncasecmp(name, hop[i], len) == 0)
                        return true;
        if (rw->o.inject_name && len == strlen(rw->o.inject_name) && strncasecmp(name, rw->o.inject_name, len) == 0)
                return true;
        if (rw->o.one_request && ((len == 10 && strncasecmp(name, "connection", 10) == 0) ||
                                  (len == 10 && strncasecmp(name, "keep-alive", 10) == 0)))
                return true;
        /* a compressed answer's usage cannot be read (no decompressor here): a model API's
         * answer comes as it is, whatever the client accepts */
        if (len == 15 && strncasecmp(name, "accept-encoding", 15) == 0 && usage_request(rw))
                return true;
        return false;
}

/* Why the request being read goes nowhere: WHAT and the authority it named, printable. */
static void note_named(http_rewriter *rw, const char *what, const char *authority, size_t len) {
        size_t n = 0;

        for (size_t i = 0; i < len && n < sizeof(rw->named) - 1; i++)
                rw->named[n++] = authority[i] >= 0x21 && authority[i] <= 0x7e && authority[i] != '\\' ? authority[i] : '?';
        rw->named[n] = '\0';
        snprintf(rw->why, sizeof(rw->why), "%s %s", what, n ? rw->named : "empty");
}

/* The header just read goes into the fields, unless it is one the proxy replaces. */
static int commit_header(http_rewriter *rw) {
        int r = 0;

        if (rw->name.len == 0)
                return 0;
        if (rw->o.authority_host && !rw->in_body && rw->name.len == 4 && strncasecmp(rw->name.data, "host", 4) == 0) {
                rw->n_host++;
                if (!rw->host_wrong &&
                    !proxy_authority_names(rw->value.data ?: "", rw->value.len, rw->o.authority_host, rw->o.authority_port)) {
                        rw->host_wrong = true;
                        note_named(rw, "its Host is", rw->value.data, rw->value.len);
                }
        }
        if (!is_dropped(rw, rw->name.data, rw->name.len)) {
                r = buf_add(&rw->fields, rw->name.data, rw->name.len);
                if (r >= 0)
                        r = buf_adds(&rw->fields, ": ");
                if (r >= 0)
                        r = buf_add(&rw->fields, rw->value.data, rw->value.len);
                if (r >= 0)
                        r = buf_adds(&rw->fields, "\r\n");
        }
        rw->name.len = rw->value.len = 0;
        rw->in_value = false;
        return r;
}

static int fail(http_rewriter *rw, int r) {
        rw->error = r;
        return -1;
}

static int emit(http_rewriter *rw, const char *data, size_t len) {
        exchange *x = current_request(rw);
        int r = len > 0 ? rw->out(data, len, rw->userdata) : 0;

        if (x)
                x->up += len;

        return r < 0 ? fail(rw, r) : 0;
}

static int on_message_begin(http_parser *p) {
        http_rewriter *rw = p->data;

        rw->url.len = rw->fields.len = rw->name.len = rw->value.len = 0;
        rw->in_value = rw->in_body = rw->last_chunk = false;
        rw->next_seq++; /* no exchange has this seq until its head is whole */
        rw->in_request = true;
        rw->n_host = 0;
        rw->host_wrong = false;
        return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
        http_rewriter *rw = p->data;
        int r = buf_add(&rw->url, at, len);

        return r < 0 ? fail(rw, r) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
        http_rewriter *rw = p->data;
        int r = 0;

        if (rw->in_value)
                r = commit_header(rw);
        if (r >= 0)
                r = buf_add(&rw->name, at, len);
        return r < 0 ? fail(rw, r) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
        http_rewriter *rw = p->data;
        int r;

        rw->in_value = true;
        r = buf_add(&rw->value, at, len);
        return r < 0 ? fail(rw, r) : 0;
}

/* The target as the upstream gets it: origin-form when asked, else as sent. */
static int add_target(http_rewriter *rw, buf *head) {
        struct http_parser_url u;
        const char *url = rw->url.data;
        size_t n = rw->url.len;

        if (!rw->o.origin_form)
                return buf_add(head, url, n);
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, n, 0, &u) != 0)
                return -EBADMSG;
        if (!(u.field_set & (1 << UF_PATH)))
                return buf_adds(head, "/");
        /* the path and whatever follows it (query, fragment) */
        return buf_add(head, url + u.field_data[UF_PATH].off, n - u.field_data[UF_PATH].off);
}

/* Whether the request just read may go to the intercepted host: one Host, naming it; an
 * absolute target naming it too; no CONNECT (a tunnel inside the tunnel would carry anything
 * past this check).  Otherwise rw->why says why. */
static bool request_for_host(http_rewriter *rw, const http_parser *p) {
        const char *url = rw->url.data;
        struct http_parser_url u;

        if (p->method == HTTP_CONNECT) {
                note_named(rw, "it is a CONNECT to", url, rw->url.len);
                return false;
        }
        if (rw->host_wrong)
                return false;
        if (rw->n_host != 1) {
                snprintf(rw->why, sizeof(rw->why), "it has %s", rw->n_host ? "more than one Host" : "no Host");
                return false;
        }
        if (rw->url.len == 0 || url[0] == '/' || (rw->url.len == 1 && url[0] == '*'))
                return true;
        /* absolute form: its authority is the one a server goes by */
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, rw->url.len, 0, &u) != 0 || !(u.field_set & (1 << UF_HOST))) {
                note_named(rw, "its target is", url, rw->url.len);
                return false;
        }
        if (!proxy_authority_names(url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len, rw->o.authority_host,
                                   rw->o.authority_port) ||
            ((u.field_set & (1 << UF_PORT)) && u.port != rw->o.authority_port)) {
                note_named(rw, "its target names", url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len);
                return false;
        }
        return true;
}

static int on_headers_complete(http_parser *p) {
        http_rewriter *rw = p->data;
        buf head = {};
        char version[32];
        int r;

        r = commit_header(rw);
        if (r < 0)
                return fail(rw, r);
        rw->in_body = true;
        if (rw->o.authority_host && !request_for_host(rw, p))
                return fail(rw, -EPERM);
        if (reading_answers(rw) && rw->n_queue == HTTP_PIPELINE_MAX)
                return fail(rw, -E2BIG);
        snprintf(version, sizeof(version), " HTTP/%u.%u\r\n", p->http_major, p->http_minor);
        r = buf_adds(&head, http_method_str((enum http_method) p->method));
        if (r >= 0)
                r = buf_adds(&head, " ");
        if (r >= 0)
                r = add_target(rw, &head);
        if (r >= 0)
                r = buf_adds(&head, version);
        if (r >= 0)
                r = buf_add(&head, rw->fields.data, rw->fields.len);
        if (r >= 0 && rw->o.one_request)
                r = buf_adds(&head, "Connection: close\r\n");
        if (r >= 0 && rw->o.inject_name) {
                r = buf_adds(&head, rw->o.inject_name);
                if (r >= 0)
                        r = buf_adds(&head, ": ");
                if (r >= 0)
                        r = buf_adds(&head, rw->o.inject_value);
                if (r >= 0)
                        r = buf_adds(&head, "\r\n");
        }
        if (r >= 0)
                r = buf_adds(&head, "\r\n");
        rw->fields.len = 0;
        /* queued before its head goes out: an answer can only come after it */
        if (r >= 0 && observing(rw) && !exchange_push(rw, p))
                r = -ENOMEM;
        if (r >= 0 && reading_answers(rw))
                rw->queue[rw->n_queue++] = (uint8_t) ((p->method == HTTP_HEAD ? REQUEST_HEAD : 0) |
                                                      (p->upgrade ? REQUEST_UPGRADE : 0));
        if (r >= 0)
                r = emit(rw, head.data, head.len) < 0 ? rw->error : 0;
        free(head.data);
        if (r < 0)
                return fail(rw, r);
        return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
        return emit(p->data, at, len);
}

static int on_chunk_header(http_parser *p) {
        http_rewriter *rw = p->data;
        char size[32];

        rw->last_chunk = p->content_length == 0;
        snprintf(size, sizeof(size), "%llx\r\n", (unsigned long long) p->content_length);
        return emit(rw, size, strlen(size));
}

static int on_chunk_complete(http_parser *p) {
        http_rewriter *rw = p->data;
        int r;

        if (!rw->last_chunk)
                return emit(rw, "\r\n", 2);
        /* the last chunk: its trailer fields, then the end of the message */
        r = commit_header(rw);
        if (r >= 0)
                r = buf_adds(&rw->fields, "\r\n");
        if (r < 0)
                return fail(rw, r);
        r = emit(rw, rw->fields.data, rw->fields.len);
        rw->fields.len = 0;
        return r;
}

static int on_message_complete(http_parser *p) {
        http_rewriter *rw = p->data;

        rw->in_request = false;
        rw->keep_alive_request = http_should_keep_alive(p);
        if (rw->o.one_request) {
                rw->done = true;
                http_parser_pause(p, 1); /* nothing after the one request */
        } else if (p->upgrade && rw->o.authority_host) {
                rw->waiting = true;
                http_parser_pause(p, 1); /* what follows is for the server's answer to decide */
        }
        return 0;
}

static const http_parser_settings rewrite_settings = {
        .on_message_begin = on_message_begin,
        .on_url = on_url,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_chunk_header = on_chunk_header,
        .on_chunk_complete = on_chunk_complete,
        .on_message_complete = on_message_complete,
};

int http_rewriter_new(const http_rewrite_options *o, http_out_fn out, void *userdata, http_rewriter **ret) {
        http_rewriter *rw = calloc(1, sizeof(*rw));

        if (!rw)
                return -ENOMEM;
        if ((o->inject_name == NULL) != (o->inject_value == NULL)) {
                free(rw);
                return -EINVAL;
        }
        http_parser_init(&rw->parser, HTTP_REQUEST);
        rw->parser.data = rw;
        http_parser_init(&rw->resp, HTTP_RESPONSE);
        rw->resp.data = rw;
        rw->o = *o;
        rw->out = out;
        rw->userdata = userdata;
        *ret = rw;
        return 0;
}

void http_rewriter_free(http_rewriter *rw) {
        if (!rw)
                return;
        free(rw->url.data);
        free(rw->fields.data);
        free(rw->name.data);
        free(rw->value.data);
        free(rw->held.data);
        for (size_t i = 0; rw->ex && i < rw->n_queue; i++)
                usage_parser_free(rw->ex[i].usage);
        free(rw->ex);
        free(rw);
}

int http_rewriter_feed(http_rewriter *rw, const char *data, size_t len) {
        size_t n;
        int r;

        if (rw->done)
                return 0;
        if (rw->error)
                return rw->error;
        if (rw->upgraded)
                return len > 0 ? rw->out(data, len, rw->userdata) : 0;
        if (rw->waiting) {
                r = buf_add(&rw->held, data, len);
                return r < 0 ? fail(rw, r), r : 0;
        }
        n = http_parser_execute(&rw->parser, &rewrite_settings, data, len);
        if (rw->error)
                return rw->error;
        if (rw->done)
                return 0;
        if (rw->waiting) {
                http_parser_pause(&rw->parser, 0);
                r = buf_add(&rw->held, data + n, len - n);
                return r < 0 ? fail(rw, r), r : 0;
        }
        if (rw->parser.upgrade && !rw->o.authority_host) {
                /* the rest is the upgraded protocol's: as it is */
                rw->upgraded = true;
                return n < len ? rw->out(data + n, len - n, rw->userdata) : 0;
        }
        if (HTTP_PARSER_ERRNO(&rw->parser) != HPE_OK || n != len)
                return HTTP_PARSER_ERRNO(&rw->parser) == HPE_HEADER_OVERFLOW ? -E2BIG : -EBADMSG;
        return 0;
}

static int resp_on_message_begin(http_parser *p) {
        http_rewriter *rw = p->data;

        rw->resp_field_len = 0;
        rw->resp_field_long = false;
        rw->resp_in_message = true;
        return 0;
}

/* The answer's Content-Encoding, the one header the usage parser needs to know of. */
static int resp_on_header_field(http_parser *p, const char *at, size_t len) {
        http_rewriter *rw = p->data;

        if (rw->resp_field_len == SIZE_MAX) /* a value was read: a new field begins */
                rw->resp_field_len = 0, rw->resp_field_long = false;
        if (rw->resp_field_len + len >= sizeof(rw->resp_field))
                rw->resp_field_long = true;
        else {
                memcpy(rw->resp_field + rw->resp_field_len, at, len);
                rw->resp_field_len += len;
        }
        return 0;
}

static int resp_on_header_value(http_parser *p, const char *at, size_t len) {
        http_rewriter *rw = p->data;

        if (rw->resp_field_len != SIZE_MAX && !rw->resp_field_long && rw->resp_field_len == 16 &&
            strncasecmp(rw->resp_field, "content-encoding", 16) == 0 && rw->n_queue > 0 && observing(rw) &&
            rw->ex[0].usage && !(len >= 8 && strncasecmp(at, "identity", 8) == 0) && len > 0)
                usage_parser_encoded(rw->ex[0].usage);
        rw->resp_field_len = SIZE_MAX;
        return 0;
}

static int resp_on_body(http_parser *p, const char *at, size_t len) {
        http_rewriter *rw = p->data;

        if (!rw->resp_interim && observing(rw) && rw->n_queue > 0 && rw->ex[0].usage)
                usage_parser_feed(rw->ex[0].usage, at, len);
        return 0;
}

static int resp_on_headers_complete(http_parser *p) {
        http_rewriter *rw = p->data;

        rw->resp_interim = p->status_code / 100 == 1 && p->status_code != 101;
        if (rw->resp_interim)
                return 0;
        if (rw->n_queue == 0)
                return fail(rw, -EBADMSG); /* an answer to no request */
        if (observing(rw))
                rw->ex[0].status = (int) p->status_code;
        if (p->status_code == 101) {
                if (!(rw->queue[0] & REQUEST_UPGRADE))
                        return fail(rw, -EBADMSG);
                rw->resp_switch = true;
                http_parser_pause(p, 1);
                return 0;
        }
        return rw->queue[0] & REQUEST_HEAD ? 1 : 0; /* 1: no body */
}

static int resp_on_message_complete(http_parser *p) {
        http_rewriter *rw = p->data;

        rw->resp_in_message = false;
        if (rw->resp_interim || rw->n_queue == 0)
                return 0;
        rw->keep_alive_answer = http_should_keep_alive(p);
        rw->answered++;
        /* an upgrade the server did not take: the connection goes on as HTTP, inspected */
        if (rw->queue[0] & REQUEST_UPGRADE)
                rw->resume = true;
        if (observing(rw)) {
                /* told once the bytes that ended it are counted: http_rewriter_response() */
                rw->resp_complete = true;
                http_parser_pause(p, 1);
                return 0;
        }
        memmove(rw->queue, rw->queue + 1, --rw->n_queue);
        return 0;
}

static const http_parser_settings response_settings = {
        .on_message_begin = resp_on_message_begin,
        .on_header_field = resp_on_header_field,
        .on_header_value = resp_on_header_value,
        .on_headers_complete = resp_on_headers_complete,
        .on_body = resp_on_body,
        .on_message_complete = resp_on_message_complete,
};

/* An answer ended: its exchange is told, its request leaves the queue. */
static void answer_done(http_rewriter *rw) {
        exchange_pop(rw);
        memmove(rw->queue, rw->queue + 1, --rw->n_queue);
}

void http_rewriter_end(http_rewriter *rw) {
        if (!observing(rw) || rw->n_queue == 0)
                return;
        /* an answer that ends with the connection ends now */
        if (!rw->upgraded && !rw->error && HTTP_PARSER_ERRNO(&rw->resp) == HPE_OK) {
                rw->resp_complete = false;
                (void) http_parser_execute(&rw->resp, &response_settings, NULL, 0);
                if (rw->resp_complete)
                        answer_done(rw);
        }
        while (rw->n_queue > 0)
                answer_done(rw);
}

int http_rewriter_response(http_rewriter *rw, const char *data, size_t len) {
        _cleanup_free_ char *held = NULL;
        size_t n, held_len;

        if (!reading_answers(rw) || rw->upgraded || len == 0)
                return 0;
        for (;;) {
                rw->resp_complete = false;
                n = http_parser_execute(&rw->resp, &response_settings, data, len);
                if (observing(rw) && rw->n_queue > 0)
                        rw->ex[0].down += n;
                if (rw->resp_complete) {
                        /* paused where an answer ended: the rest is the next one's */
                        answer_done(rw);
                        http_parser_pause(&rw->resp, 0);
                        data += n;
                        len -= n;
                        if (len > 0 && !rw->error && !rw->resp_switch)
                                continue;
                        n = len = 0;
                }
                break;
        }
        if (rw->resp_switch) {
                /* 101: from here on both ways are the upgraded protocol's */
                rw->upgraded = true;
                rw->waiting = false;
                if (observing(rw))
                        while (rw->n_queue > 0)
                                answer_done(rw);
                return rw->held.len > 0 ? rw->out(rw->held.data, rw->held.len, rw->userdata) : 0;
        }
        if (rw->error)
                return rw->error;
        if (HTTP_PARSER_ERRNO(&rw->resp) != HPE_OK || n != len)
                return -EBADMSG;
        if (!rw->resume)
                return 0;
        rw->resume = rw->waiting = false;
        held = TAKE_PTR(rw->held.data);
        held_len = rw->held.len;
        rw->held = (buf) {};
        return http_rewriter_feed(rw, held, held_len);
}

bool http_rewriter_reusable(const http_rewriter *rw) {
        return rw->answered > 0 && rw->n_queue == 0 && !rw->in_request && !rw->resp_in_message &&
               rw->keep_alive_request && rw->keep_alive_answer && !rw->upgraded && !rw->waiting && !rw->done &&
               !rw->error && rw->held.len == 0 && HTTP_PARSER_ERRNO(&rw->parser) == HPE_OK &&
               HTTP_PARSER_ERRNO(&rw->resp) == HPE_OK;
}

size_t http_rewriter_outstanding(const http_rewriter *rw) {
        return rw->n_queue;
}

bool http_rewriter_waiting(const http_rewriter *rw) {
        return rw->waiting;
}

const char *http_rewriter_refusal(const http_rewriter *rw, const char **ret_named) {
        if (rw->error != -EPERM)
                return NULL;
        if (ret_named)
                *ret_named = rw->named[0] ? rw->named : NULL;
        return rw->why;
}

bool http_rewriter_done(const http_rewriter *rw) {
        return rw->done;
}
