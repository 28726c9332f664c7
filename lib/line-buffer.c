#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "line-buffer.h"

static void line_done(line_buffer *b) {
        b->len = 0;
        if (b->cap > LINE_BUFFER_KEEP_CAP)
                line_buffer_free(b);
}

static int append(line_buffer *b, const char *data, size_t len) {
        if (b->len + len > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                char *p;

                while (cap < b->len + len)
                        cap *= 2;
                p = realloc(b->buf, cap);
                if (!p)
                        return -ENOMEM;
                b->buf = p;
                b->cap = cap;
        }
        memcpy(b->buf + b->len, data, len);
        b->len += len;
        return 0;
}

int line_buffer_feed(line_buffer *b, const char *data, size_t len, line_fn fn, void *userdata) {
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t n;
                int r;

                if (!nl)
                        return append(b, data, len);
                n = (size_t) (nl - data);
                if (b->len > 0) {
                        r = append(b, data, n);
                        if (r < 0)
                                return r;
                        r = fn(b->buf, b->len, false, userdata);
                        line_done(b);
                } else
                        r = fn(data, n, false, userdata);
                if (r < 0)
                        return r;
                data += n + 1;
                len -= n + 1;
        }
        return 0;
}

int line_buffer_flush(line_buffer *b, line_fn fn, void *userdata) {
        int r;

        if (b->len == 0)
                return 0;
        r = fn(b->buf, b->len, true, userdata);
        line_done(b);
        return r;
}

void line_buffer_free(line_buffer *b) {
        free(b->buf);
        *b = (line_buffer) {};
}
