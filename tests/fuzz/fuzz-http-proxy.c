/* The HTTP a container sends its proxy: any bytes are a request head, a request for more, or
 * refused with a reason; the rewriter never emits a head without the injected header, and
 * gives the same bytes whether fed at once or split anywhere. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
        char *data;
        size_t len;
} sink;

static int collect(const char *data, size_t len, void *userdata) {
        sink *s = userdata;
        char *p = realloc(s->data, s->len + len + 1);

        if (!p)
                abort();
        memcpy(p + s->len, data, len);
        s->data = p;
        s->len += len;
        s->data[s->len] = '\0';
        return 0;
}

static int rewrite_with(const http_rewrite_options *o, const char *data, size_t size, size_t split, sink *out) {
        http_rewriter *rw = NULL;
        int r;

        if (http_rewriter_new(o, collect, out, &rw) < 0)
                abort();
        r = http_rewriter_feed(rw, data, split);
        if (r >= 0)
                r = http_rewriter_feed(rw, data + split, size - split);
        /* a refusal says why; nothing else does */
        if ((r == -EPERM) != (http_rewriter_refusal(rw, NULL) != NULL))
                abort();
        /* the same bytes read as the server's answers: whatever they are, no crash */
        if (r >= 0)
                (void) http_rewriter_response(rw, data, size);
        http_rewriter_end(rw); /* the request log's end: every exchange told once */
        http_rewriter_free(rw);
        return r;
}

/* The request log's callback: whatever it is told is printable and bounded. */
static void check_exchange(const http_exchange *x, void *userdata) {
        (void) userdata;
        if (strlen(x->path) > HTTP_PATH_MAX || strchr(x->path, '?') || strchr(x->path, ' '))
                abort();
}

static int rewrite(const char *data, size_t size, size_t split, sink *out) {
        static const http_rewrite_options o = { .inject_name = "x-api-key", .inject_value = "SECRET",
                                                .exchange = check_exchange, .usage = true };

        return rewrite_with(&o, data, size, split, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        proxy_request req = {};
        moat_error err = {};
        sink whole = {}, split = {};
        int r1, r2;

        r1 = proxy_request_parse(text, size, &req, &err);
        if (r1 == 0 && (!req.host || req.head_len == 0 || req.head_len > size))
                abort();
        if (r1 == -EBADMSG && !err.msg)
                abort();
        if (r1 != 0 && r1 != -EAGAIN && r1 != -EBADMSG && r1 != -ENOMEM)
                abort();
        proxy_request_done(&req);
        moat_error_clear(&err);

        r1 = rewrite(text, size, 0, &whole);
        r2 = rewrite(text, size, size / 2, &split);
        /* a split changes nothing of what came out before an error */
        if (r1 == 0 && r2 == 0 && (whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len))))
                abort();
        /* no head leaves without the credential; none with the placeholder's value left in */
        if (r1 == 0 && whole.len > 0 && memmem(whole.data, whole.len, " HTTP/1.", 8) &&
            !memmem(whole.data, whole.len, "x-api-key: SECRET\r\n", 19) && !memmem(text, size, "Upgrade", 7) &&
            !memmem(text, size, "upgrade", 7))
                abort();
        free(whole.data);
        free(split.data);

        /* for an intercepted connection to api.test: nothing goes out that names another host */
        {
                static const http_rewrite_options o = { .inject_name = "x-api-key", .inject_value = "SECRET",
                                                        .authority_host = "api.test", .authority_port = 443 };
                sink a = {}, b = {};

                r1 = rewrite_with(&o, text, size, 0, &a);
                r2 = rewrite_with(&o, text, size, size / 2, &b);
                if (r1 != r2 && (r1 == -EPERM || r2 == -EPERM))
                        abort();
                if (r1 == 0 && r2 == 0 && (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len))))
                        abort();
                free(a.data);
                free(b.data);
        }
        return 0;
}
