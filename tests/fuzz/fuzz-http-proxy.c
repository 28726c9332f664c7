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

static int rewrite(const char *data, size_t size, size_t split, sink *out) {
        static const http_rewrite_options o = { .inject_name = "x-api-key", .inject_value = "SECRET" };
        http_rewriter *rw = NULL;
        int r;

        if (http_rewriter_new(&o, collect, out, &rw) < 0)
                abort();
        r = http_rewriter_feed(rw, data, split);
        if (r >= 0)
                r = http_rewriter_feed(rw, data + split, size - split);
        http_rewriter_free(rw);
        return r;
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
        return 0;
}
