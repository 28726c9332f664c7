#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "strv.h"
#include "tap.h"

typedef struct sink {
        char out[256], err[256];
        size_t out_len, err_len, calls;
        int fail_with;
} sink;

static int collect(podman_stream stream, const char *data, size_t len, void *userdata) {
        sink *s = userdata;

        s->calls++;
        if (s->fail_with)
                return s->fail_with;
        if (stream == PODMAN_STREAM_STDOUT && s->out_len + len <= sizeof(s->out)) {
                memcpy(s->out + s->out_len, data, len);
                s->out_len += len;
        } else if (stream == PODMAN_STREAM_STDERR && s->err_len + len <= sizeof(s->err)) {
                memcpy(s->err + s->err_len, data, len);
                s->err_len += len;
        }
        return 0;
}

static size_t frame(unsigned char *buf, unsigned char type, const char *payload) {
        uint32_t len = (uint32_t) strlen(payload);

        memset(buf, 0, 8);
        buf[0] = type;
        buf[4] = (unsigned char) (len >> 24);
        buf[5] = (unsigned char) (len >> 16);
        buf[6] = (unsigned char) (len >> 8);
        buf[7] = (unsigned char) len;
        memcpy(buf + 8, payload, len);
        return 8 + len;
}

/* Frames fed one byte at a time reach the sink per stream, counted, and the feed knows
 * where a frame ends. */
static void test_frames_byte_by_byte(void) {
        unsigned char buf[128];
        size_t n = 0;
        sink s = {};
        relay_feed f;
        bool boundary_inside = true;

        n += frame(buf + n, 1, "hello\n");
        n += frame(buf + n, 2, "oops");
        n += frame(buf + n, 1, "no newline");
        relay_feed_init(&f, false, collect, &s);
        for (size_t i = 0; i < n; i++) {
                is_int(relay_feed_bytes(&f, buf + i, 1, NULL), 0, "byte %zu is taken", i);
                if (i == 3 || i == 10)
                        boundary_inside &= !relay_feed_at_boundary(&f);
        }
        ok(boundary_inside, "inside a header and inside a payload is not a boundary");
        ok(relay_feed_at_boundary(&f), "after the last frame is a boundary");
        is_mem(s.out, s.out_len, "hello\nno newline", 16, "stdout payloads, in order");
        is_mem(s.err, s.err_len, "oops", 4, "stderr payload");
        ok(f.relayed[PODMAN_STREAM_STDOUT] == 16 && f.relayed[PODMAN_STREAM_STDERR] == 4,
           "bytes counted per stream: %llu, %llu", (unsigned long long) f.relayed[1], (unsigned long long) f.relayed[2]);
}

/* A terminal's stream is raw: every byte is stdout, frame-like bytes included, and any
 * point is a boundary. */
static void test_tty_raw(void) {
        const char raw[] = "\x01\x00\x00\x00\x00\x00\x00\x05prompt$ ";
        sink s = {};
        relay_feed f;

        relay_feed_init(&f, true, collect, &s);
        is_int(relay_feed_bytes(&f, raw, sizeof(raw) - 1, NULL), 0, "raw bytes taken");
        is_mem(s.out, s.out_len, raw, sizeof(raw) - 1, "passed on untouched as stdout");
        ok(f.relayed[PODMAN_STREAM_STDOUT] == sizeof(raw) - 1, "counted");
        ok(relay_feed_at_boundary(&f), "a raw stream may end anywhere");
}

/* Garbage is refused with -EBADMSG, a failing sink stops the feed with its error, and an
 * empty read hands nothing on. */
static void test_errors(void) {
        unsigned char buf[64];
        sink s = {};
        relay_feed f;
        moat_error err = {};
        size_t n;

        relay_feed_init(&f, false, collect, &s);
        is_int(relay_feed_bytes(&f, "\x09garbage", 8, &err), -EBADMSG, "an unknown stream type is refused");
        moat_error_clear(&err);

        s = (sink) { .fail_with = -EPIPE };
        relay_feed_init(&f, false, collect, &s);
        n = frame(buf, 1, "x");
        is_int(relay_feed_bytes(&f, buf, n, NULL), -EPIPE, "the sink's error comes back");
        ok(f.relayed[PODMAN_STREAM_STDOUT] == 0, "what the sink refused is not counted as relayed");

        s = (sink) {};
        relay_feed_init(&f, false, collect, &s);
        is_int(relay_feed_bytes(&f, buf, 0, NULL), 0, "an empty read is fine");
        is_int((int) s.calls, 0, "and hands nothing on");
}

/* The finish helper's arguments carry the counts and whether the stream was cut. */
static void test_finish_argv(void) {
        unsigned char buf[64];
        sink s = {};
        relay_feed f;
        relay_finish_cmd cmd;
        char **argv = cmd.argv;

        relay_feed_init(&f, false, collect, &s);
        (void) relay_feed_bytes(&f, buf, frame(buf, 2, "12345"), NULL);
        (void) relay_feed_bytes(&f, buf, frame(buf, 1, "abc"), NULL);
        relay_finish_cmd_init(&cmd, "/x/moat-monitor", "0123456789ab", &f, 18446744073709551615ULL, true, NULL);
        ok(argv[7] == NULL, "argv is NULL-terminated");
        is_int((int) strv_length(argv), 7, "seven arguments");
        is_str(argv[0], "/x/moat-monitor", "the monitor");
        is_str(argv[1], "finish", "its finish command");
        is_str(argv[2], "0123456789ab", "the run");
        is_str(argv[3], "3", "stdout bytes");
        is_str(argv[4], "5", "stderr bytes");
        is_str(argv[5], "18446744073709551615", "journal entries written, to the last digit");
        is_str(argv[6], "cut", "cut");
        relay_finish_cmd_init(&cmd, "m", "0123456789ab", &f, 0, false,
                              &(run_resources) { 2000000, 104857600, RUN_RESOURCE_UNKNOWN, 0, 3 });
        is_str(argv[5], "0", "no entries");
        is_str(argv[6], "whole", "whole when the stream ended at a boundary");
        is_str(argv[7], "2000000,104857600,-,0,3", "what the container used, unknown as -");
        ok(argv[8] == NULL, "argv is NULL-terminated after them");
}

int main(void) {
        test_frames_byte_by_byte();
        test_tty_raw();
        test_errors();
        test_finish_argv();
        return tap_done();
}
