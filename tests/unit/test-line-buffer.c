#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "line-buffer.h"
#include "macro.h"
#include "tap.h"

/* Collects what the buffer hands on as "LINE|" or "LINE~" (partial), to compare as text. */
typedef struct collected {
        char out[1 << 16];
        size_t len;
        int calls;
        int fail_at;
} collected;

static int collect(const char *line, size_t len, bool partial, void *userdata) {
        collected *c = userdata;

        c->calls++;
        if (c->fail_at && c->calls == c->fail_at)
                return -EPIPE;
        if (c->len + len + 1 >= sizeof(c->out))
                return -E2BIG;
        memcpy(c->out + c->len, line, len);
        c->len += len;
        c->out[c->len++] = partial ? '~' : '|';
        c->out[c->len] = '\0';
        return 0;
}

typedef struct measured {
        size_t len;
        int calls;
        bool all_z;
} measured;

static int measure(const char *line, size_t len, bool partial, void *userdata) {
        measured *m = userdata;

        m->len = len;
        m->calls++;
        m->all_z = !partial;
        for (size_t i = 0; i < len && m->all_z; i++)
                m->all_z = line[i] == 'z';
        return 0;
}

static void check_every_split(const char *input, size_t len, const char *want) {
        int failures = 0;

        for (size_t cut = 0; cut <= len; cut++) {
                line_buffer b = {};
                collected c = {};

                line_buffer_feed(&b, input, cut, collect, &c);
                line_buffer_feed(&b, input + cut, len - cut, collect, &c);
                line_buffer_flush(&b, collect, &c);
                if (c.len != strlen(want) || memcmp(c.out, want, c.len) != 0)
                        failures++;
                line_buffer_free(&b);
        }
        ok(failures == 0, "every 2-way split of %zu bytes gives the same lines", len);
}

int main(void) {
        line_buffer b = {};
        collected c = {};

        line_buffer_feed(&b, "a\nbb\n", 5, collect, &c);
        is_str(c.out, "a|bb|", "two complete lines");
        line_buffer_feed(&b, "cc", 2, collect, &c);
        is_str(c.out, "a|bb|", "an incomplete line waits");
        line_buffer_feed(&b, "c\r\n\n", 4, collect, &c);
        is_str(c.out, "a|bb|ccc\r||", "its end arrives; CR is kept; an empty line is a line");
        line_buffer_flush(&b, collect, &c);
        is_str(c.out, "a|bb|ccc\r||", "flush with nothing left hands on nothing");
        line_buffer_feed(&b, "tail", 4, collect, &c);
        line_buffer_flush(&b, collect, &c);
        is_str(c.out, "a|bb|ccc\r||tail~", "the last line without newline comes out partial");
        line_buffer_free(&b);

        /* binary: NUL and bytes that are not UTF-8 stay as they are */
        {
                static const char bin[] = { 'x', '\0', (char) 0xff, (char) 0xfe, '\n', '\x1b', '[', 'm' };
                collected d = {};

                line_buffer_feed(&b, bin, sizeof(bin), collect, &d);
                line_buffer_flush(&b, collect, &d);
                is_mem(d.out, d.len, "x\0\xff\xfe|\x1b[m~", 9, "NUL, 0xff and escapes kept byte for byte");
                line_buffer_free(&b);
        }

        check_every_split("one\ntwo\n\nthree", 14, "one|two||three~");
        check_every_split("\n\n", 2, "||");

        /* a 1 MiB line fed in 4 KiB pieces comes out whole, once */
        {
                size_t big = 1 << 20;
                char *line = malloc(big + 1);
                measured m = {};

                memset(line, 'z', big);
                line[big] = '\n';
                for (size_t off = 0; off <= big; off += 4096) {
                        size_t n = big + 1 - off < 4096 ? big + 1 - off : 4096;

                        line_buffer_feed(&b, line + off, n, measure, &m);
                }
                is_int(m.calls, 1, "a 1 MiB line is handed on once");
                is_int(m.len, big, "and whole");
                ok(m.all_z, "byte for byte");
                ok(b.buf == NULL && b.cap == 0, "its buffer is given back once it is out (cap %zu)", b.cap);
                line_buffer_feed(&b, line, 100, measure, &m);
                line_buffer_feed(&b, "\n", 1, measure, &m);
                ok(b.cap > 0 && b.cap <= LINE_BUFFER_KEEP_CAP, "a short line's buffer is kept for the next (cap %zu)", b.cap);
                line_buffer_feed(&b, line, 200000, measure, &m);
                line_buffer_flush(&b, measure, &m);
                ok(b.buf == NULL && m.len == 200000, "a long partial line's too, after the flush");
                free(line);
                line_buffer_free(&b);
        }

        /* a callback's error stops the feed and is returned */
        {
                collected e = { .fail_at = 2 };

                is_int(line_buffer_feed(&b, "1\n2\n3\n", 6, collect, &e), -EPIPE, "callback error returned");
                is_str(e.out, "1|", "nothing after the failing line was handed on");
                line_buffer_free(&b);
        }
        return tap_done();
}
