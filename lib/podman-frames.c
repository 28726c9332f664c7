#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "podman-frames.h"

#define FRAME_HEADER_SIZE sizeof(((podman_demux *) NULL)->header)

void podman_demux_init(podman_demux *d, bool raw) {
        *d = (podman_demux) { .raw = raw };
}

/* A complete header whose frame has no payload left is only ever a rejected one: frames
 * that end reset header_len to 0. */
static bool demux_is_broken(const podman_demux *d) {
        return d->header_len == FRAME_HEADER_SIZE && d->remaining == 0;
}

static int demux_parse_header(podman_demux *d, moat_error *err) {
        const unsigned char *h = d->header;

        /* Bytes 1..3 are padding: docker documents them as zero, and nothing depends on it. */
        if (h[0] > PODMAN_STREAM_ERROR)
                return moat_error_set(err, -EBADMSG,
                                      "unknown stream type %u in a stream frame header", h[0]);

        d->stream = (podman_stream) h[0];
        d->remaining = (uint32_t) h[4] << 24 | (uint32_t) h[5] << 16 | (uint32_t) h[6] << 8 |
                       (uint32_t) h[7];
        if (d->remaining == 0)
                d->header_len = 0; /* an empty frame: nothing to hand on */
        return 0;
}

int podman_demux_feed(podman_demux *d, const void *data, size_t len, podman_frame_fn fn,
                      void *userdata, moat_error *err) {
        const char *p = data;
        int r;

        if (demux_is_broken(d))
                return moat_error_set(err, -EBADMSG, "stream frames are corrupt");
        if (d->raw)
                return len > 0 ? fn(PODMAN_STREAM_STDOUT, p, len, userdata) : 0;

        while (len > 0) {
                size_t n;

                if (d->header_len < FRAME_HEADER_SIZE) {
                        n = FRAME_HEADER_SIZE - d->header_len;
                        if (n > len)
                                n = len;
                        memcpy(d->header + d->header_len, p, n);
                        d->header_len += n;
                        p += n;
                        len -= n;
                        if (d->header_len < FRAME_HEADER_SIZE)
                                break;

                        r = demux_parse_header(d, err);
                        if (r < 0)
                                return r;
                        continue;
                }

                n = d->remaining < len ? d->remaining : len;
                /* Account for the piece before handing it on, so that the state is
                 * consistent whatever the callback returns. */
                d->remaining -= (uint32_t) n;
                if (d->remaining == 0)
                        d->header_len = 0;

                r = fn(d->stream, p, n, userdata);
                if (r < 0)
                        return r;
                p += n;
                len -= n;
        }

        return 0;
}

int podman_demux_end(const podman_demux *d, moat_error *err) {
        if (demux_is_broken(d))
                return moat_error_set(err, -EBADMSG, "stream frames are corrupt");
        if (d->header_len == 0)
                return 0;
        if (d->header_len < FRAME_HEADER_SIZE)
                return moat_error_set(err, -EBADMSG,
                                      "stream ended inside a frame header (%zu of %zu bytes)",
                                      d->header_len, FRAME_HEADER_SIZE);
        return moat_error_set(err, -EBADMSG,
                              "stream ended inside a frame, %" PRIu32 " bytes short",
                              d->remaining);
}
