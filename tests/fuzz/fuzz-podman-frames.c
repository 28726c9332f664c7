/* The stream demultiplexer against a whole-buffer reference: fed at once or in pieces of
 * any size, it must hand on exactly the bytes the reference finds, per stream, and fail the
 * same way.  The first input byte picks the piece size. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podman-frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct output {
        uint8_t *bytes[4];
        size_t len[4];
        size_t calls;
        bool cancel; /* fail the first callback */
} output;

typedef struct result {
        int feed; /* the first error of a feed, or 0 */
        int end;  /* podman_demux_end(), when every feed succeeded */
} result;

static void output_free(output *o) {
        for (size_t i = 0; i < 4; i++)
                free(o->bytes[i]);
}

static void output_append(output *o, unsigned stream, const void *p, size_t len) {
        uint8_t *b = realloc(o->bytes[stream], o->len[stream] + len);

        if (!b)
                abort();
        memcpy(b + o->len[stream], p, len);
        o->bytes[stream] = b;
        o->len[stream] += len;
}

static int on_frame(podman_stream stream, const char *data, size_t len, void *userdata) {
        output *o = userdata;

        if (len == 0 || !data || (unsigned) stream > PODMAN_STREAM_ERROR)
                abort();
        o->calls++;
        if (o->cancel)
                return -ECANCELED;
        output_append(o, (unsigned) stream, data, len);
        return 0;
}

/* The frames as a simple loop over the whole buffer sees them. */
static result reference(const uint8_t *p, size_t size, output *o) {
        size_t pos = 0;

        while (size - pos >= 8) {
                uint32_t len = (uint32_t) p[pos + 4] << 24 | (uint32_t) p[pos + 5] << 16 |
                               (uint32_t) p[pos + 6] << 8 | p[pos + 7];
                size_t avail = size - pos - 8;

                if (p[pos] > 3)
                        return (result) { .feed = -EBADMSG };
                if (len > 0)
                        output_append(o, p[pos], p + pos + 8, len < avail ? len : avail);
                if (len > avail)
                        return (result) { .end = -EBADMSG };
                pos += 8 + len;
        }
        return (result) { .end = pos < size ? -EBADMSG : 0 };
}

static result demux(const uint8_t *p, size_t size, size_t piece, output *o) {
        podman_demux d;
        moat_error err = {};
        result res = {};

        podman_demux_init(&d, false);
        for (size_t pos = 0; pos < size; pos += piece) {
                size_t n = size - pos < piece ? size - pos : piece;

                res.feed = podman_demux_feed(&d, p + pos, n, on_frame, o, &err);
                if (res.feed < 0)
                        break;
        }
        if (res.feed == -EBADMSG && (err.code != -EBADMSG || !err.msg))
                abort(); /* a rejected header must say why */
        if (res.feed == 0) {
                res.end = podman_demux_end(&d, &err);
                if (res.end != 0 && res.end != -EBADMSG)
                        abort();
                if (res.end < 0 && !err.msg)
                        abort();
        }
        /* A demultiplexer that failed stays failed. */
        if (res.feed == -EBADMSG && podman_demux_feed(&d, "x", 1, on_frame, o, NULL) != -EBADMSG)
                abort();
        moat_error_clear(&err);
        return res;
}

static bool outputs_equal(const output *a, const output *b) {
        for (size_t i = 0; i < 4; i++)
                if (a->len[i] != b->len[i] || (a->len[i] > 0 && memcmp(a->bytes[i], b->bytes[i], a->len[i]) != 0))
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        output want = {}, whole = {}, pieces = {}, cancelled = { .cancel = true };
        result rw, r1, r2, r3;
        size_t piece;

        if (size < 1)
                return 0;
        piece = data[0] % 19 + 1;
        data++;
        size--;

        rw = reference(data, size, &want);
        r1 = demux(data, size, size > 0 ? size : 1, &whole);
        r2 = demux(data, size, piece, &pieces);
        if (r1.feed != rw.feed || r1.end != rw.end || r2.feed != rw.feed || r2.end != rw.end)
                abort();
        if (!outputs_equal(&whole, &want) || !outputs_equal(&pieces, &want))
                abort();
        if (want.len[0] + want.len[1] + want.len[2] + want.len[3] > size)
                abort();

        /* A callback's error stops the demultiplexer at once and comes back unchanged. */
        r3 = demux(data, size, size > 0 ? size : 1, &cancelled);
        if (whole.calls > 0 ? r3.feed != -ECANCELED || cancelled.calls != 1 : r3.feed != rw.feed)
                abort();

        output_free(&want);
        output_free(&whole);
        output_free(&pieces);
        output_free(&cancelled);
        return 0;
}
