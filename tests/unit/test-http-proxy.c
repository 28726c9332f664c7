/* What the proxy reads from a container: the request it makes of the proxy, and the requests
 * inside a tunnel, rewritten to carry a grant's header. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-proxy.h"
#include "tap.h"

static void test_connect(void) {
        static const char req[] = "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n"
                                  "User-Agent: curl\r\n\r\n\x16\x03\x01";
        proxy_request r = {};
        moat_error err = {};

        ok(proxy_request_parse(req, sizeof(req) - 1, &r, &err) == 0, "CONNECT parses");
        ok(r.is_connect, "it is a CONNECT");
        is_str(r.host, "api.anthropic.com", "its host");
        is_int(r.port, 443, "its port");
        is_int((int) r.head_len, (int) (sizeof(req) - 1 - 3), "the head ends where the TLS bytes begin");
        proxy_request_done(&r);

        for (size_t cut = 0; cut < sizeof(req) - 4; cut++)
                if (proxy_request_parse(req, cut, &r, &err) != -EAGAIN) {
                        ok(false, "a head cut at %zu asks for more", cut);
                        proxy_request_done(&r);
                        moat_error_clear(&err);
                        return;
                }
        ok(true, "a head cut anywhere asks for more bytes");

        ok(proxy_request_parse("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", 31, &r, &err) == 0 && strcmp(r.host, "::1") == 0 &&
                   r.port == 8443,
           "an IPv6 literal comes without brackets");
        proxy_request_done(&r);
}

static void test_absolute_form(void) {
        static const char req[] = "GET http://example.test:8080/a?b=1 HTTP/1.1\r\nHost: example.test:8080\r\n\r\n";
        proxy_request r = {};
        moat_error err = {};

        ok(proxy_request_parse(req, sizeof(req) - 1, &r, &err) == 0, "an absolute-form GET parses");
        ok(!r.is_connect, "not a CONNECT");
        is_str(r.host, "example.test", "its host");
        is_int(r.port, 8080, "its port");
        proxy_request_done(&r);
        ok(proxy_request_parse("GET http://e.test/ HTTP/1.1\r\n\r\n", 31, &r, &err) == 0 && r.port == 80,
           "port 80 by default");
        proxy_request_done(&r);
}

static void test_https_as_plain_http(void) {
        proxy_request r = {};
        moat_error err = {};

        ok(proxy_request_parse("GET https://api.example.test/v1 HTTP/1.1\r\n\r\n", 44, &r, &err) == -EBADMSG,
           "an https URL sent as plain HTTP is refused");
        is_str(err.msg,
               "https://api.example.test goes through the proxy only as CONNECT api.example.test:443, not as a "
               "plain HTTP request; set HTTPS_PROXY (not only HTTP_PROXY) to the proxy, or use a client that "
               "tunnels https through it",
               "the reason names the host and says to use CONNECT (HTTPS_PROXY)");
        moat_error_clear(&err);
        ok(proxy_request_parse("GET https://e.test:8443/ HTTP/1.1\r\n\r\n", 37, &r, &err) == -EBADMSG &&
                   err.msg && strstr(err.msg, "CONNECT e.test:8443,"),
           "its port is kept: %s", err.msg ? err.msg : "-");
        moat_error_clear(&err);
}

static void test_refused(void) {
        static const char *const bad[] = {
                "GET /a HTTP/1.1\r\nHost: e.test\r\n\r\n",
                "GET https://e.test/ HTTP/1.1\r\n\r\n",
                "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n",
                "CONNECT  HTTP/1.1\r\n\r\n",
                "HELLO\r\n\r\n",
        };
        char *big;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                proxy_request r = {};
                moat_error err = {};

                ok(proxy_request_parse(bad[i], strlen(bad[i]), &r, &err) == -EBADMSG && err.msg,
                   "refused with a reason: %.20s... (%s)", bad[i], err.msg ? err.msg : "-");
                ok(r.host == NULL, "nothing returned");
                moat_error_clear(&err);
        }
        big = malloc(HTTP_HEAD_MAX + 100);
        memcpy(big, "CONNECT a.test:443 HTTP/1.1\r\nX: ", 32);
        memset(big + 32, 'a', HTTP_HEAD_MAX + 100 - 32);
        {
                proxy_request r = {};
                moat_error err = {};

                ok(proxy_request_parse(big, HTTP_HEAD_MAX + 100, &r, &err) == -EBADMSG, "a head past the limit");
                moat_error_clear(&err);
        }
        free(big);
}

typedef struct sink {
        char *data;
        size_t len;
        int fail_after; /* calls before the sink fails; 0: never */
        int calls;
} sink;

static int collect(const char *data, size_t len, void *userdata) {
        sink *s = userdata;

        if (s->fail_after && ++s->calls > s->fail_after)
                return -EPIPE;
        s->data = realloc(s->data, s->len + len + 1);
        memcpy(s->data + s->len, data, len);
        s->len += len;
        s->data[s->len] = '\0';
        return 0;
}

static const http_rewrite_options inject = { .inject_name = "x-api-key", .inject_value = "sk-secret" };

/* Rewrites IN fed in pieces of STEP bytes (0: at once); returns feed's last value. */
static int rewrite(const http_rewrite_options *o, const char *in, size_t len, size_t step, sink *s) {
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        int r = 0;

        if (http_rewriter_new(o, collect, s, &rw) < 0)
                return -ENOMEM;
        if (!step)
                return http_rewriter_feed(rw, in, len);
        for (size_t off = 0; off < len && r >= 0; off += step)
                r = http_rewriter_feed(rw, in + off, len - off < step ? len - off : step);
        return r;
}

static void test_inject(void) {
        static const char in[] = "GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Api-Key: moat-proxy\r\n"
                                 "Accept: */*\r\nx-api-key: another\r\nProxy-Authorization: Basic eA==\r\n\r\n";
        static const char want[] = "GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nAccept: */*\r\n"
                                   "x-api-key: sk-secret\r\n\r\n";
        sink s = {};

        ok(rewrite(&inject, in, sizeof(in) - 1, 0, &s) == 0, "a GET goes through");
        is_str(s.data, want, "the placeholder header (in any case, every copy) replaced, the proxy's own dropped");
        free(s.data);
        s = (sink) {};
        ok(rewrite(&inject, in, sizeof(in) - 1, 1, &s) == 0 && s.data && strcmp(s.data, want) == 0,
           "the same when fed one byte at a time");
        free(s.data);
}

static void test_pipelined_and_bodies(void) {
        static const char in[] = "POST /v1/messages HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                                 "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n"
                                 "GET /last HTTP/1.1\r\nHost: a\r\n\r\n";
        static const char want[] = "POST /v1/messages HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nx-api-key: sk-secret\r\n\r\nhello"
                                   "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nx-api-key: sk-secret\r\n\r\n"
                                   "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n"
                                   "GET /last HTTP/1.1\r\nHost: a\r\nx-api-key: sk-secret\r\n\r\n";
        sink s = {};

        ok(rewrite(&inject, in, sizeof(in) - 1, 0, &s) == 0, "three requests on one connection");
        is_str(s.data, want, "each gets the header; a body as sent; chunks and trailers re-framed alike");
        free(s.data);
        for (size_t step = 2; step < 9; step++) {
                s = (sink) {};
                if (rewrite(&inject, in, sizeof(in) - 1, step, &s) != 0 || !s.data || strcmp(s.data, want) != 0) {
                        ok(false, "fed in pieces of %zu", step);
                        free(s.data);
                        return;
                }
                free(s.data);
        }
        ok(true, "the same output fed in pieces of 2 to 8 bytes");
}

static void test_upgrade(void) {
        static const char in[] = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                                 "\x81\x05hello GET / HTTP/1.1\r\n";
        sink s = {};

        ok(rewrite(&inject, in, sizeof(in) - 1, 0, &s) == 0, "an upgrade goes through");
        ok(s.data && strstr(s.data, "x-api-key: sk-secret\r\n\r\n\x81\x05hello GET / HTTP/1.1\r\n"),
           "after it, the bytes pass as they are, not parsed as requests");
        free(s.data);
}

static void test_one_request(void) {
        static const char in[] = "GET http://plain.test/p?q=1 HTTP/1.1\r\nHost: plain.test\r\nConnection: keep-alive\r\n"
                                 "Proxy-Connection: keep-alive\r\n\r\nGET http://other.test/ HTTP/1.1\r\n\r\n";
        static const char want[] = "GET /p?q=1 HTTP/1.1\r\nHost: plain.test\r\nConnection: close\r\n\r\n";
        const http_rewrite_options o = { .origin_form = true, .one_request = true };
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        sink s = {};

        ok(http_rewriter_new(&o, collect, &s, &rw) == 0, "made");
        ok(http_rewriter_feed(rw, in, sizeof(in) - 1) == 0, "a plain request through the proxy");
        is_str(s.data, want, "origin-form, Connection: close, the proxy's headers dropped, nothing after it");
        ok(http_rewriter_done(rw), "done after one request");
        free(s.data);
}

static void test_errors(void) {
        sink s = {};
        char *big;
        size_t n = HTTP_HEAD_MAX + 4096;

        ok(rewrite(&inject, "\x16\x03\x01\x00\x05hello", 10, 0, &s) == -EBADMSG, "TLS bytes are not HTTP");
        free(s.data);
        s = (sink) {};
        ok(rewrite(&inject, "GET / HTTP/1.1\r\nBad Header\r\n\r\n", 31, 0, &s) == -EBADMSG, "a header without ':'");
        ok(s.len == 0, "nothing of a broken head goes out");
        free(s.data);
        s = (sink) {};
        big = malloc(n);
        memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
        memset(big + 19, 'a', n - 19);
        ok(rewrite(&inject, big, n, 0, &s) < 0, "a head past the limit is refused");
        free(big);
        free(s.data);
        s = (sink) { .fail_after = 1 };
        ok(rewrite(&inject, "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 40, 0, &s) == -EPIPE,
           "the sink's failure comes back");
        free(s.data);
}


static const http_rewrite_options for_host = { .inject_name = "x-api-key", .inject_value = "sk-secret",
                                               .authority_host = "api.test", .authority_port = 443 };

/* Feeds IN to a rewriter for api.test:443; returns feed's value, the refusal in WHY. */
static int rewrite_for_host(const char *in, sink *s, char *why, size_t size) {
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        const char *reason;
        int r;

        if (http_rewriter_new(&for_host, collect, s, &rw) < 0)
                return -ENOMEM;
        r = http_rewriter_feed(rw, in, strlen(in));
        reason = http_rewriter_refusal(rw, NULL);
        snprintf(why, size, "%s", reason ? reason : "");
        return r;
}

static void test_host_check(void) {
        static const struct {
                const char *in, *why;
        } refused[] = {
                { "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n", "its Host is other.test" },
                { "GET https://other.test/x HTTP/1.1\r\nHost: api.test\r\n\r\n", "its target names other.test" },
                { "GET https://api.test:8443/x HTTP/1.1\r\nHost: api.test\r\n\r\n", "its target names api.test" },
                { "GET / HTTP/1.1\r\nHost: api.test:8443\r\n\r\n", "its Host is api.test:8443" },
                { "GET / HTTP/1.1\r\nHost: api.test\r\nHost: other.test\r\n\r\n", "its Host is other.test" },
                { "GET / HTTP/1.1\r\nHost: api.test\r\nhost: api.test\r\n\r\n", "it has more than one Host" },
                { "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "it has no Host" },
                { "GET / HTTP/1.0\r\n\r\n", "it has no Host" },
                { "CONNECT other.test:443 HTTP/1.1\r\nHost: api.test\r\n\r\n", "it is a CONNECT to other.test:443" },
                { "CONNECT api.test:443 HTTP/1.1\r\nHost: api.test\r\n\r\n", "it is a CONNECT to api.test:443" },
                { "GET / HTTP/1.1\r\nHost: api.test\r\n\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n",
                  "its Host is evil.test" },
        };
        static const char *const passed[] = {
                "GET / HTTP/1.1\r\nHost: API.Test.\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: api.test:443\r\n\r\n",
                "GET https://api.test/x HTTP/1.1\r\nHost: api.test\r\n\r\n",
                "OPTIONS * HTTP/1.1\r\nHost: api.test\r\n\r\n",
                "POST /a HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: trailer.test\r\n\r\n",
        };
        char why[512];

        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                sink s = {};

                is_int(rewrite_for_host(refused[i].in, &s, why, sizeof(why)), -EPERM, "refused: %s", refused[i].why);
                is_str(why, refused[i].why, "saying why");
                ok(!s.data || !memmem(s.data, s.len, "sk-secret", 9) || i == ELEMENTSOF(refused) - 1,
                   "the credential went nowhere with it");
                if (i == ELEMENTSOF(refused) - 1)
                        ok(s.data && strstr(s.data, "sk-secret") && !strstr(strstr(s.data, "sk-secret") + 1, "sk-secret") &&
                                   !strstr(s.data, "evil"),
                           "a pipelined request to another host: the first went, it did not");
                free(s.data);
        }
        for (size_t i = 0; i < ELEMENTSOF(passed); i++) {
                sink s = {};

                is_int(rewrite_for_host(passed[i], &s, why, sizeof(why)), 0, "passes: %.40s", passed[i]);
                free(s.data);
        }
}

static int feed_str(http_rewriter *rw, const char *s) {
        return http_rewriter_feed(rw, s, strlen(s));
}

static int answer_str(http_rewriter *rw, const char *s) {
        return http_rewriter_response(rw, s, strlen(s));
}

static const char upgrade_req[] = "GET /ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

static void test_upgrade_answered(void) {
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        static const char in[] = "GET /a HTTP/1.1\r\nHost: api.test\r\n\r\n";
        static const char resp_a[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        static const char switched[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x01x";
        sink s = {};

        ok(http_rewriter_new(&for_host, collect, &s, &rw) == 0, "made");
        ok(http_rewriter_feed(rw, in, sizeof(in) - 1) == 0, "a request");
        ok(http_rewriter_feed(rw, upgrade_req, sizeof(upgrade_req) - 1) == 0, "then an upgrade");
        ok(feed_str(rw, "\x81\x05hello") == 0, "then a frame, sent ahead");
        ok(http_rewriter_waiting(rw), "which waits for the server's answer");
        ok(!strstr(s.data, "hello"), "nothing after the upgrade went out yet");
        is_int(http_rewriter_outstanding(rw), 2, "two requests await their answers");
        ok(http_rewriter_response(rw, resp_a, sizeof(resp_a) - 1) == 0 && http_rewriter_waiting(rw),
           "the first one's answer changes nothing");
        ok(answer_str(rw, "HTTP/1.1 100 Continue\r\n\r\n") == 0 && http_rewriter_waiting(rw),
           "nor an interim answer");
        ok(http_rewriter_response(rw, switched, sizeof(switched) - 1) == 0, "101");
        ok(!http_rewriter_waiting(rw) && s.data && strstr(s.data, "\r\n\r\n\x81\x05hello"),
           "the held frame went out as it was");
        ok(feed_str(rw, "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n") == 0 &&
                   strstr(s.data, "evil.test"),
           "from then on the bytes are WebSocket's, not requests");
        free(s.data);
}

static void test_upgrade_refused(void) {
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        static const char refused[] = "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\nnope";
        static const char after[] = "GET /next HTTP/1.1\r\nHost: api.test\r\n\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n";
        sink s = {};

        ok(http_rewriter_new(&for_host, collect, &s, &rw) == 0, "made");
        ok(http_rewriter_feed(rw, upgrade_req, sizeof(upgrade_req) - 1) == 0, "an upgrade");
        ok(http_rewriter_feed(rw, after, sizeof(after) - 1) == 0, "and two requests behind it, held");
        ok(s.data && !strstr(s.data, "/next"), "held, not sent");
        is_int(http_rewriter_response(rw, refused, sizeof(refused) - 1), -EPERM,
               "the server refused the upgrade: what was held is read as requests again");
        ok(strstr(s.data, "GET /next HTTP/1.1\r\nHost: api.test\r\nx-api-key: sk-secret") != NULL,
           "the next request went, with the credential");
        ok(!strstr(s.data, "evil"), "the one to another host did not");
        is_str(http_rewriter_refusal(rw, NULL), "its Host is evil.test", "and says why");
        free(s.data);
        s = (sink) {};
        http_rewriter_free(TAKE_PTR(rw));
        ok(http_rewriter_new(&for_host, collect, &s, &rw) == 0, "made");
        ok(feed_str(rw, "HEAD / HTTP/1.1\r\nHost: api.test\r\n\r\n") == 0 &&
                   http_rewriter_feed(rw, upgrade_req, sizeof(upgrade_req) - 1) == 0,
           "a HEAD, then an upgrade");
        ok(answer_str(rw, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n") == 0 &&
                   http_rewriter_waiting(rw) && http_rewriter_outstanding(rw) == 1,
           "the HEAD's answer has no body, whatever its length says");
        is_int(answer_str(rw, "HTTP/1.1 101 Switching\r\n\r\n"), 0, "101 to the upgrade");
        ok(!http_rewriter_waiting(rw), "a tunnel now");
        free(s.data);
        s = (sink) {};
        http_rewriter_free(TAKE_PTR(rw));
        ok(http_rewriter_new(&for_host, collect, &s, &rw) == 0 &&
                   feed_str(rw, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n") == 0,
           "a plain request");
        is_int(answer_str(rw, "HTTP/1.1 101 Switching\r\n\r\n"), -EBADMSG,
               "a 101 to what asked for no upgrade is not HTTP");
        free(s.data);
}

/* The request log: what each exchange reports, in order. */
typedef struct log {
        char lines[8][512];
        size_t n;
        uint64_t clock;
} log;

static void log_exchange(const http_exchange *x, void *userdata) {
        log *l = userdata;

        if (l->n < 8)
                snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s %s %d %llu %llu %llu%s%s %s %llu/%llu/%llu/%llu",
                         x->method, x->path, x->status, (unsigned long long) x->bytes_up,
                         (unsigned long long) x->bytes_down, (unsigned long long) (x->ended - x->started),
                         x->usage ? " " : "", x->usage ? usage_api_to_string(x->api) : "",
                         x->usage && x->usage->known ? x->usage->model : "-",
                         (unsigned long long) (x->usage ? x->usage->input : 0),
                         (unsigned long long) (x->usage ? x->usage->output : 0),
                         (unsigned long long) (x->usage ? x->usage->cache_read : 0),
                         (unsigned long long) (x->usage ? x->usage->cache_write : 0));
}

static uint64_t log_clock(void *userdata) {
        (void) userdata;
        return 0;
}

typedef struct logged {
        sink s;
        log l;
} logged;

static int logged_collect(const char *data, size_t len, void *userdata) {
        logged *lg = userdata;

        return collect(data, len, &lg->s);
}

static void logged_exchange(const http_exchange *x, void *userdata) {
        log_exchange(x, &((logged *) userdata)->l);
}

static void test_exchanges(void) {
        static const char req[] = "POST /v1/messages?beta=true&key=SECRET HTTP/1.1\r\nHost: api.test\r\n"
                                  "x-api-key: placeholder\r\nContent-Length: 2\r\n\r\n{}"
                                  "GET /plain/p%20ath#frag HTTP/1.1\r\nHost: api.test\r\n\r\n"
                                  "HEAD /h HTTP/1.1\r\nHost: api.test\r\n\r\n";
        static const char sse[] = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n";
        static const char start[] = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m1\","
                                    "\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}\n\n";
        http_rewrite_options o = { .inject_name = "x-api-key", .inject_value = "sk-secret",
                                   .authority_host = "api.test", .authority_port = 443,
                                   .exchange = logged_exchange, .clock = log_clock, .usage = true };
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        logged lg = {};
        char *answer;
        size_t up_first;
        int n;

        ok(http_rewriter_new(&o, logged_collect, &lg, &rw) == 0, "a rewriter with a request log");
        is_int(feed_str(rw, req), 0, "three requests pipelined");
        is_int((int) lg.l.n, 0, "nothing told before the answers");
        up_first = (size_t) (strstr(lg.s.data, "GET /plain") - lg.s.data);
        n = asprintf(&answer, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "%zx\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n"
                              "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!"
                              "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
                     strlen(start), start, strlen(sse), sse);
        if (n < 0)
                abort();
        /* a byte at a time, as slow servers send */
        {
                int r = 0;

                for (int i = 0; i < n && r == 0; i++)
                        r = http_rewriter_response(rw, answer + i, 1);
                is_int(r, 0, "the answers, a byte at a time");
        }
        is_int((int) lg.l.n, 3, "three exchanges told");
        {
                char want[512];
                size_t first_down = (size_t) (strstr(answer, "HTTP/1.1 404") - answer);

                snprintf(want, sizeof(want), "POST /v1/messages 200 %zu %zu 0 anthropic m1 5/7/3/0", up_first, first_down);
                is_str(lg.l.lines[0], want, "the first: no query, its bytes each way, its usage");
        }
        ok(strncmp(lg.l.lines[1], "GET /plain/p%20ath 404 ", 23) == 0 && strstr(lg.l.lines[1], " 41 0") == NULL,
           "the second: no fragment, its status: %s", lg.l.lines[1]);
        ok(strncmp(lg.l.lines[2], "HEAD /h 200 ", 12) == 0, "the third, HEAD, without a body: %s", lg.l.lines[2]);
        ok(!strstr(lg.s.data, "SECRET") || strstr(lg.l.lines[0], "SECRET") == NULL, "no query in the log");
        free(answer);
        free(lg.s.data);
}

static void test_exchange_cut(void) {
        static const char req[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n\r\n"
                                  "GET /never HTTP/1.1\r\nHost: api.test\r\n\r\n";
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"usage\":{\"prompt_tokens\":1,";
        http_rewrite_options o = { .authority_host = "api.test", .authority_port = 443,
                                   .exchange = logged_exchange, .usage = true };
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        logged lg = {};

        ok(http_rewriter_new(&o, logged_collect, &lg, &rw) == 0, "a rewriter with a request log");
        is_int(feed_str(rw, req), 0, "two requests");
        is_int(answer_str(rw, answer), 0, "half an answer");
        http_rewriter_end(rw);
        is_int((int) lg.l.n, 2, "both told at the connection's end");
        ok(strncmp(lg.l.lines[0], "POST /v1/chat/completions 200 ", 30) == 0 && strstr(lg.l.lines[0], " openai-chat - 0/0/0/0"),
           "the cut answer: its status, usage unknown: %s", lg.l.lines[0]);
        ok(strncmp(lg.l.lines[1], "GET /never 0 ", 13) == 0, "the unanswered: status 0: %s", lg.l.lines[1]);
        http_rewriter_end(rw);
        is_int((int) lg.l.n, 2, "told once");
        free(lg.s.data);
}

static void test_exchange_plain(void) {
        static const char req[] = "GET http://plain.test/x?q=1 HTTP/1.1\r\nHost: plain.test\r\n\r\n";
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        http_rewrite_options o = { .origin_form = true, .one_request = true, .exchange = logged_exchange };
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        logged lg = {};

        ok(http_rewriter_new(&o, logged_collect, &lg, &rw) == 0, "a plain rewriter with a request log");
        is_int(feed_str(rw, req), 0, "a plain request");
        is_int(answer_str(rw, answer), 0, "its answer");
        is_int((int) lg.l.n, 1, "told");
        ok(strncmp(lg.l.lines[0], "GET /x 200 ", 11) == 0, "the path of an absolute target: %s", lg.l.lines[0]);
        ok(strstr(lg.l.lines[0], " 40 0") != NULL, "the answer's 40 bytes: %s", lg.l.lines[0]);
        free(lg.s.data);
}

/* A model API's answer must come uncompressed for its usage to be read. */
static void test_model_request_uncompressed(void) {
        static const char req[] = "POST /v1/messages?beta=true HTTP/1.1\r\nHost: api.test\r\nAccept-Encoding: gzip, br\r\n"
                                  "Content-Length: 0\r\n\r\n"
                                  "GET /v1/models HTTP/1.1\r\nHost: api.test\r\nAccept-Encoding: gzip\r\n\r\n";
        http_rewrite_options o = { .authority_host = "api.test", .authority_port = 443,
                                   .exchange = logged_exchange, .usage = true };
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        logged lg = {};
        char *second;

        ok(http_rewriter_new(&o, logged_collect, &lg, &rw) == 0, "a rewriter reading usage");
        is_int(feed_str(rw, req), 0, "a model request and another");
        second = lg.s.data ? strstr(lg.s.data, "GET /v1/models") : NULL;
        ok(second && !memmem(lg.s.data, (size_t) (second - lg.s.data), "Accept-Encoding", 15),
           "the model request goes without Accept-Encoding");
        ok(second && strstr(second, "Accept-Encoding: gzip\r\n"), "the other keeps it");
        free(lg.s.data);
}

/* Whether the server's connection may serve another client: only at a boundary both ways,
 * after answers that keep it alive. */
static bool reusable_after(const char *req, const char *resp) {
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        sink s = {};
        bool r;

        if (http_rewriter_new(&for_host, collect, &s, &rw) < 0 || feed_str(rw, req) < 0 || answer_str(rw, resp) < 0)
                r = false;
        else
                r = http_rewriter_reusable(rw);
        free(s.data);
        return r;
}

static void test_reusable(void) {
        static const char get[] = "GET /a HTTP/1.1\r\nHost: api.test\r\n\r\n";
        static const char ok_2[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        _cleanup_(http_rewriter_freep) http_rewriter *rw = NULL;
        sink s = {};

        ok(reusable_after(get, ok_2), "a request and its whole answer: reusable");
        ok(reusable_after("POST /m HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\n\r\nabc",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
           "a body each way, chunked: reusable");
        ok(!reusable_after(get, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok"), "not in the middle of an answer");
        ok(!reusable_after(get, "HTTP/1.1 200 OK\r\n\r\nok"), "nor after an answer that ends with the connection");
        ok(!reusable_after(get, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
           "nor after an answer that closes it");
        ok(!reusable_after("GET /a HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n", ok_2),
           "nor after a request that closes it");
        ok(!reusable_after("GET /a HTTP/1.0\r\nHost: api.test\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
           "nor HTTP/1.0");
        ok(!reusable_after(upgrade_req, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
           "nor an upgraded connection");
        ok(!reusable_after("GET /a HTTP/1.1\r\nHost: api.test\r\n\r\nGET /b HTTP/1.1\r\nHost: api.test\r\n\r\n", ok_2),
           "nor one with a request still unanswered");

        ok(http_rewriter_new(&for_host, collect, &s, &rw) == 0, "made");
        ok(!http_rewriter_reusable(rw), "nor one that served no request yet");
        ok(feed_str(rw, get) == 0 && answer_str(rw, ok_2) == 0 && http_rewriter_reusable(rw), "one that did");
        ok(feed_str(rw, "GET /b HTTP/1.1\r\nHost: api") == 0 && !http_rewriter_reusable(rw),
           "not while the next request is half sent");
        free(s.data);
}

int main(void) {
        test_reusable();
        test_model_request_uncompressed();
        test_exchanges();
        test_exchange_cut();
        test_exchange_plain();
        test_connect();
        test_absolute_form();
        test_https_as_plain_http();
        test_refused();
        test_inject();
        test_pipelined_and_bodies();
        test_upgrade();
        test_one_request();
        test_errors();
        test_host_check();
        test_upgrade_answered();
        test_upgrade_refused();
        return tap_done();
}
