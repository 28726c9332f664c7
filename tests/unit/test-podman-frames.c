#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "podman-frames.h"
#include "tap.h"

typedef struct collector {
        char *bytes[4];
        size_t len[4];
        size_t calls;
        size_t max_piece;
        size_t zero_length_calls;
        size_t fail_at; /* return fail_with on this call (1-based), 0: never */
        int fail_with;
} collector;

static void collector_free(collector *c) {
        for (size_t i = 0; i < 4; i++)
                free(c->bytes[i]);
        *c = (collector) {};
}

static int collect(podman_stream stream, const char *data, size_t len, void *userdata) {
        collector *c = userdata;
        char *p;

        c->calls++;
        if (len == 0) {
                /* Against the contract; failing also stops a demultiplexer stuck in a loop. */
                c->zero_length_calls++;
                return -EPROTO;
        }
        if (len > c->max_piece)
                c->max_piece = len;
        if (c->fail_at > 0 && c->calls == c->fail_at)
                return c->fail_with;
        if ((unsigned) stream > 3)
                abort();
        p = realloc(c->bytes[stream], c->len[stream] + len + 1);
        if (!p)
                abort();
        memcpy(p + c->len[stream], data, len);
        c->len[stream] += len;
        p[c->len[stream]] = '\0';
        c->bytes[stream] = p;
        return 0;
}

/* Appends a frame to buf at *pos. */
static void put_frame(char *buf, size_t *pos, unsigned char type, const void *payload, uint32_t len) {
        unsigned char *h = (unsigned char *) buf + *pos;

        h[0] = type;
        h[1] = h[2] = h[3] = 0;
        h[4] = (unsigned char) (len >> 24);
        h[5] = (unsigned char) (len >> 16);
        h[6] = (unsigned char) (len >> 8);
        h[7] = (unsigned char) len;
        if (len > 0)
                memcpy(buf + *pos + 8, payload, len);
        *pos += 8 + len;
}

/* Feeds buf in pieces of the given sizes (the last repeated), then ends. */
static int feed_pieces(const char *buf, size_t len, const size_t *cuts, size_t n_cuts, collector *c,
                       moat_error *err) {
        podman_demux d;
        size_t pos = 0;
        int r;

        podman_demux_init(&d, false);
        for (size_t i = 0; pos < len; i++) {
                size_t n = cuts[i < n_cuts ? i : n_cuts - 1];

                if (n > len - pos)
                        n = len - pos;
                r = podman_demux_feed(&d, buf + pos, n, collect, c, err);
                if (r < 0)
                        return r;
                pos += n;
        }
        return podman_demux_end(&d, err);
}

static char multi[256];
static size_t multi_len;

static void build_multi(void) {
        multi_len = 0;
        put_frame(multi, &multi_len, 1, "hello ", 6);
        put_frame(multi, &multi_len, 2, "warn\n", 5);
        put_frame(multi, &multi_len, 1, NULL, 0);
        put_frame(multi, &multi_len, 1, "world\n", 6);
        put_frame(multi, &multi_len, 2, NULL, 0);
        put_frame(multi, &multi_len, 3, "oops", 4);
        put_frame(multi, &multi_len, 2, "x", 1);
        put_frame(multi, &multi_len, 0, "in", 2);
}

static bool multi_output_ok(const collector *c) {
        return c->len[1] == 12 && memcmp(c->bytes[1], "hello world\n", 12) == 0 && c->len[2] == 6 &&
               memcmp(c->bytes[2], "warn\nx", 6) == 0 && c->len[3] == 4 &&
               memcmp(c->bytes[3], "oops", 4) == 0 && c->len[0] == 2 && memcmp(c->bytes[0], "in", 2) == 0 &&
               c->zero_length_calls == 0;
}

static void test_whole_and_splits(void) {
        collector c = {};
        moat_error err = {};
        size_t one = 1, bad_split = SIZE_MAX;
        int r;

        build_multi();

        r = feed_pieces(multi, multi_len, &multi_len, 1, &c, &err);
        is_int(r, 0, "multi-frame buffer at once: fed and ended");
        ok(multi_output_ok(&c), "multi-frame buffer at once: stdout, stderr, error, stdin exact");
        is_int(c.calls, 6, "one callback per non-empty frame");
        collector_free(&c);

        r = feed_pieces(multi, multi_len, &one, 1, &c, &err);
        is_int(r, 0, "one byte at a time: fed and ended");
        ok(multi_output_ok(&c), "one byte at a time: output exact");
        is_int(c.max_piece, 1, "one byte at a time: pieces handed on as they come");
        collector_free(&c);

        for (size_t i = 0; i <= multi_len; i++) {
                size_t cuts[2] = { i, multi_len - i };

                if (i == 0)
                        cuts[0] = multi_len; /* a zero-length first feed is covered below */
                r = feed_pieces(multi, multi_len, cuts, 2, &c, &err);
                if ((r != 0 || !multi_output_ok(&c)) && bad_split == SIZE_MAX)
                        bad_split = i;
                collector_free(&c);
        }
        ok(bad_split == SIZE_MAX, "every 2-way split of %zu bytes gives the exact output", multi_len);
        if (bad_split != SIZE_MAX)
                printf("#   first bad split at %zu\n", bad_split);

        /* Every 3-way split too: header and payload boundaries in all combinations. */
        bad_split = SIZE_MAX;
        for (size_t i = 1; i < multi_len; i++)
                for (size_t j = 1; i + j < multi_len; j++) {
                        size_t cuts[3] = { i, j, multi_len - i - j };

                        r = feed_pieces(multi, multi_len, cuts, 3, &c, &err);
                        if ((r != 0 || !multi_output_ok(&c)) && bad_split == SIZE_MAX)
                                bad_split = i * 1000 + j;
                        collector_free(&c);
                }
        ok(bad_split == SIZE_MAX, "every 3-way split gives the exact output");
        ok(err.code == 0, "no error set along the way");
        moat_error_clear(&err);
}

static void test_empty_feeds(void) {
        podman_demux d;
        collector c = {};
        char buf[64];
        size_t len = 0;

        put_frame(buf, &len, 1, NULL, 0);
        put_frame(buf, &len, 2, NULL, 0);
        put_frame(buf, &len, 3, NULL, 0);
        podman_demux_init(&d, false);
        is_int(podman_demux_feed(&d, NULL, 0, collect, &c, NULL), 0, "feeding nothing is fine");
        is_int(podman_demux_feed(&d, buf, len, collect, &c, NULL), 0, "zero-length frames fed");
        is_int(c.calls, 0, "zero-length frames produce no callback");
        is_int(podman_demux_end(&d, NULL), 0, "ending after zero-length frames is clean");
        is_int(podman_demux_end(&d, NULL), 0, "ending twice is harmless");
}

static void test_large_frame(void) {
        const size_t size = 3 * 1024 * 1024;
        _cleanup_free_ char *buf = malloc(size + 16 + 3), *payload = malloc(size);
        collector c = {};
        moat_error err = {};
        size_t len = 0, cuts[] = { 3, 70001, 65536 + 13 };
        int r;

        if (!buf || !payload)
                abort();
        for (size_t i = 0; i < size; i++)
                payload[i] = (char) (i * 7 + (i >> 9));
        put_frame(buf, &len, 1, payload, (uint32_t) size);
        put_frame(buf, &len, 2, "end", 3);

        r = feed_pieces(buf, len, cuts, ELEMENTSOF(cuts), &c, &err);
        is_int(r, 0, "3 MiB frame fed in pieces");
        is_mem(c.bytes[1], c.len[1], payload, size, "3 MiB payload reassembled exactly");
        is_str(c.bytes[2], "end", "the frame after the large one");
        ok(c.max_piece <= 70001, "the payload is handed on in pieces, never whole (largest %zu)",
           c.max_piece);
        ok(c.calls > 40, "many callbacks for a payload arriving in many reads (%zu)", c.calls);
        collector_free(&c);
        moat_error_clear(&err);
}

static void test_error_frame(void) {
        podman_demux d;
        collector c = {};
        char buf[64];
        size_t len = 0;

        put_frame(buf, &len, 3, "Error: boom", 11);
        podman_demux_init(&d, false);
        is_int(podman_demux_feed(&d, buf, len, collect, &c, NULL), 0, "error frame fed");
        ok(c.len[3] == 11 && memcmp(c.bytes[3], "Error: boom", 11) == 0, "type 3 goes to the error stream");
        ok(c.len[1] == 0 && c.len[2] == 0, "and nowhere else");
        collector_free(&c);
}

static void test_unknown_type(void) {
        static const unsigned char types[] = { 4, 0x80, 0xff };
        podman_demux d;
        collector c = {};
        moat_error err = {};
        char buf[64];
        size_t len = 0;

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                len = 0;
                put_frame(buf, &len, 1, "before", 6);
                put_frame(buf, &len, types[i], "bad", 3);
                put_frame(buf, &len, 1, "after", 5);
                podman_demux_init(&d, false);
                is_int(podman_demux_feed(&d, buf, len, collect, &c, &err), -EBADMSG,
                       "stream type %u rejected", types[i]);
                contains(err.msg, "stream type", "the error names the stream type");
                ok(c.len[1] == 6 && memcmp(c.bytes[1], "before", 6) == 0,
                   "frames before the bad header were handed on, nothing after");
                is_int(podman_demux_feed(&d, "\1\0\0\0\0\0\0\1x", 9, collect, &c, NULL), -EBADMSG,
                       "a failed demultiplexer stays failed");
                is_int(c.len[1], 6, "and hands on nothing more");
                is_int(podman_demux_end(&d, NULL), -EBADMSG, "ending a failed stream is an error");
                collector_free(&c);
                moat_error_clear(&err);
        }

        /* The bad type split from the rest of its header is still caught. */
        len = 0;
        put_frame(buf, &len, 9, NULL, 0);
        podman_demux_init(&d, false);
        is_int(podman_demux_feed(&d, buf, 1, collect, &c, NULL), 0, "first header byte alone: no verdict yet");
        is_int(podman_demux_feed(&d, buf + 1, len - 1, collect, &c, &err), -EBADMSG,
               "bad type caught when its header completes, even for an empty frame");
        moat_error_clear(&err);
}

static void test_padding_ignored(void) {
        podman_demux d;
        collector c = {};
        unsigned char buf[] = { 1, 0xff, 0x12, 0x34, 0, 0, 0, 2, 'h', 'i' };

        podman_demux_init(&d, false);
        is_int(podman_demux_feed(&d, buf, sizeof buf, collect, &c, NULL), 0, "non-zero bytes 1..3 accepted");
        is_str(c.bytes[1], "hi", "and ignored");
        collector_free(&c);
}

static void test_truncated(void) {
        podman_demux d;
        collector c = {};
        moat_error err = {};
        char buf[64];
        size_t len = 0;

        put_frame(buf, &len, 1, "complete", 8);
        put_frame(buf, &len, 2, "partial!", 8);

        for (size_t cut = len - 15; cut < len; cut++) {
                podman_demux_init(&d, false);
                podman_demux_feed(&d, buf, cut, collect, &c, NULL);
                if (!ok(podman_demux_end(&d, &err) == -EBADMSG, "stream cut %zu bytes early: end fails",
                        len - cut))
                        continue;
                contains(err.msg, cut < len - 8 ? "header" : "short", "the error says where it stopped");
                moat_error_clear(&err);
                collector_free(&c);
        }

        podman_demux_init(&d, false);
        podman_demux_feed(&d, buf, len - 3, collect, &c, NULL);
        is_str(c.bytes[2], "parti", "a truncated payload's bytes were handed on as they came");
        collector_free(&c);

        podman_demux_init(&d, false);
        is_int(podman_demux_feed(&d, "\1\0\0\0\xff\xff\xff\xff", 8, collect, &c, NULL), 0,
               "a 4 GiB length is only a number");
        is_int(podman_demux_end(&d, &err), -EBADMSG, "and the stream ending before it is an error");
        contains(err.msg, "4294967295", "the error says how much was missing");
        moat_error_clear(&err);
}

static void test_callback_abort(void) {
        collector c = { .fail_at = 2, .fail_with = -ECANCELED };
        moat_error err = {};
        podman_demux d;
        size_t one = 1;

        build_multi();
        podman_demux_init(&d, false);
        is_int(podman_demux_feed(&d, multi, multi_len, collect, &c, &err), -ECANCELED,
               "a callback's error comes back unchanged");
        is_int(c.calls, 2, "no callback after the one that failed");
        is_int(err.code, 0, "the demultiplexer adds no error of its own");
        collector_free(&c);

        c = (collector) { .fail_at = 3, .fail_with = -EPIPE };
        is_int(feed_pieces(multi, multi_len, &one, 1, &c, &err), -EPIPE,
               "a callback's error stops byte-at-a-time feeding too");
        is_int(c.calls, 3, "exactly at the failing call");
        collector_free(&c);

        c = (collector) { .fail_at = 1, .fail_with = 1 };
        is_int(feed_pieces(multi, multi_len, &multi_len, 1, &c, &err), 0,
               "a positive callback return is not an error");
        collector_free(&c);
}

/* A terminal's stream has no frames: every byte, header-like or not, is stdout, handed on
 * as it comes; it may end anywhere. */
static void test_raw(void) {
        static const char raw[] = "\x02\x00\x00\x00\x00\x00\x00\x03" "abc\xff prompt$ ";
        podman_demux d;
        collector c = {};

        podman_demux_init(&d, true);
        is_int(podman_demux_feed(&d, raw, 5, collect, &c, NULL), 0, "raw bytes taken");
        is_int(podman_demux_feed(&d, raw + 5, sizeof(raw) - 1 - 5, collect, &c, NULL), 0, "the rest too");
        is_int(podman_demux_feed(&d, raw, 0, collect, &c, NULL), 0, "an empty feed is fine");
        is_int((int) c.calls, 2, "one callback per non-empty feed");
        is_mem(c.bytes[1], c.len[1], raw, sizeof(raw) - 1, "every byte reaches stdout untouched");
        ok(c.len[2] == 0, "nothing is taken for stderr");
        is_int(podman_demux_end(&d, NULL), 0, "a raw stream may end anywhere");
        collector_free(&c);
        c = (collector) { .fail_at = 1, .fail_with = -EPIPE };
        is_int(podman_demux_feed(&d, raw, 3, collect, &c, NULL), -EPIPE, "the callback's error comes back");
        collector_free(&c);
}

int main(void) {
        test_raw();
        test_whole_and_splits();
        test_empty_feeds();
        test_large_frame();
        test_error_frame();
        test_unknown_type();
        test_padding_ignored();
        test_truncated();
        test_callback_abort();
        return tap_done();
}
