#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "podman-pull.h"
#include "tap.h"

#define ID "4e4c9d64ee4c0e6f7cd0f1e7c8e2d0b0a9c9d6b4e1f2a3b4c5d6e7f8091a2b3c"

typedef struct progress {
        char text[4096]; /* messages joined with '|' */
        size_t count;
} progress;

static void on_progress(const char *message, void *userdata) {
        progress *p = userdata;
        size_t used = strlen(p->text);

        snprintf(p->text + used, sizeof p->text - used, "%s%s", p->count > 0 ? "|" : "", message);
        p->count++;
}

typedef struct outcome {
        int feed, end;
        char *id;
        char *msg;
        progress progress;
} outcome;

static void outcome_free(outcome *o) {
        free(o->id);
        free(o->msg);
        *o = (outcome) {};
}

/* Feeds body in pieces of the given sizes (the last one repeated), then ends. */
static outcome run_pieces(const char *body, size_t len, const size_t *cuts, size_t n_cuts) {
        podman_pull_stream s;
        moat_error err = {};
        outcome o = {};
        size_t pos = 0;

        podman_pull_stream_init(&s);
        for (size_t i = 0; pos < len; i++) {
                size_t n = cuts[i < n_cuts ? i : n_cuts - 1];

                if (n > len - pos)
                        n = len - pos;
                o.feed = podman_pull_stream_feed(&s, body + pos, n, on_progress, &o.progress, &err);
                if (o.feed < 0)
                        break;
                pos += n;
        }
        if (o.feed == 0)
                o.end = podman_pull_stream_end(&s, &o.id, &err);
        o.msg = err.msg ? strdup(err.msg) : NULL;
        moat_error_clear(&err);
        podman_pull_stream_free(&s);
        return o;
}

static outcome run(const char *body) {
        size_t len = strlen(body);

        return run_pieces(body, len, &len, 1);
}

static const char success[] =
        "{\"stream\":\"Trying to pull docker.io/library/busybox:latest...\\n\"}\n"
        "{\"stream\":\"Getting image source signatures\\n\"}\n"
        "{\"stream\":\"Copying blob sha256:a1b2\\n\"}\n"
        "{\"stream\":\"Writing manifest to image destination\\n\"}\n"
        "{\"images\":[\"" ID "\"],\"id\":\"" ID "\"}\n";

static const char success_progress[] =
        "Trying to pull docker.io/library/busybox:latest...|Getting image source signatures|"
        "Copying blob sha256:a1b2|Writing manifest to image destination";

static void test_success(void) {
        outcome o = run(success);
        size_t one = 1, bad = SIZE_MAX;

        is_int(o.feed, 0, "successful pull: fed");
        is_int(o.end, 0, "successful pull: ended with a result");
        is_str(o.id, ID, "the image ID");
        is_str(o.progress.text, success_progress, "progress messages, trailing newlines removed");
        is_int(o.progress.count, 4, "one progress call per stream line");
        outcome_free(&o);

        o = run_pieces(success, strlen(success), &one, 1);
        ok(o.end == 0 && o.id && strcmp(o.id, ID) == 0 && strcmp(o.progress.text, success_progress) == 0,
           "one byte at a time: same progress and result");
        outcome_free(&o);

        for (size_t i = 1; i < strlen(success); i++) {
                size_t cuts[2] = { i, strlen(success) };

                o = run_pieces(success, strlen(success), cuts, 2);
                if ((o.end != 0 || !o.id || strcmp(o.id, ID) != 0 ||
                     strcmp(o.progress.text, success_progress) != 0) &&
                    bad == SIZE_MAX)
                        bad = i;
                outcome_free(&o);
        }
        ok(bad == SIZE_MAX, "every 2-way split: same progress and result");
        if (bad != SIZE_MAX)
                printf("#   first bad split at %zu\n", bad);
}

static void test_late_error(void) {
        outcome o = run("{\"stream\":\"Trying to pull quay.io/nope:latest...\\n\"}\n"
                        "{\"stream\":\"Getting image source signatures\\n\"}\n"
                        "{\"error\":\"reading manifest latest in quay.io/nope: unauthorized\"}\n");

        is_int(o.feed, 0, "late error: the lines themselves are fine");
        is_int(o.end, -EIO, "late error after progress: -EIO at the end");
        is_str(o.msg, "reading manifest latest in quay.io/nope: unauthorized", "podman's error message");
        ok(o.id == NULL, "no image ID on failure");
        is_int(o.progress.count, 2, "progress before the error was reported");
        outcome_free(&o);

        o = run("{\"error\":\"first\"}\n{\"error\":\"second\"}\n{\"id\":\"" ID "\"}\n");
        is_int(o.end, -EIO, "an error wins over a later result");
        is_str(o.msg, "first", "the first error is kept");
        outcome_free(&o);

        o = run("{\"error\":\"boom\",\"images\":[],\"id\":\"" ID "\"}\n");
        is_int(o.end, -EIO, "an error next to an ID in one object wins");
        outcome_free(&o);

        o = run("{\"error\":\"\"}\n{\"id\":\"" ID "\"}\n");
        is_int(o.end, 0, "an empty error says nothing (libpod omits empty fields)");
        outcome_free(&o);
}

static void test_last_line_without_newline(void) {
        outcome o = run("{\"stream\":\"x\\n\"}\n{\"id\":\"" ID "\",\"images\":[\"" ID "\"]}");

        is_int(o.end, 0, "a last line without its newline is still read");
        is_str(o.id, ID, "and gives the ID");
        outcome_free(&o);

        o = run("{\"stream\":\"x\\n\"}\n{\"error\":\"late\"}");
        is_int(o.end, -EIO, "a last error without its newline is still read");
        outcome_free(&o);

        o = run("{\"stream\":\"x\\n\"}\n{\"id\":\"" ID);
        is_int(o.end, -EBADMSG, "a last line cut short is an error");
        contains(o.msg, "not a JSON object", "saying what is wrong");
        outcome_free(&o);
}

static void test_malformed_lines(void) {
        static const char *const bad[] = {
                "not json at all\n",
                "[\"stream\",\"x\"]\n",
                "\"just a string\"\n",
                "42\n",
                "null\n",
                "{\"stream\":\"x\"} trailing\n",
                "{\"stream\":\"x\"}{\"stream\":\"y\"}\n",
                "{\"stream\":\"unterminated\n",
                "{\"stream\":5}\n",
                "{\"error\":[\"x\"]}\n",
                "{\"id\":true}\n",
                "{\"images\":\"" ID "\"}\n",
                "{\"images\":[1]}\n",
        };
        outcome o;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *body = NULL;

                if (asprintf(&body, "{\"stream\":\"ok\\n\"}\n%s{\"id\":\"" ID "\"}\n", bad[i]) < 0)
                        abort();
                o = run(body);
                is_int(o.feed, -EBADMSG, "bad line %zu rejected: %.*s", i, (int) strlen(bad[i]) - 1, bad[i]);
                ok(o.msg != NULL, "with a message (%s)", o.msg ? o.msg : "none");
                outcome_free(&o);
        }

        o = run_pieces("ok\0no\n", 6, (const size_t[]) { 6 }, 1);
        is_int(o.feed, -EBADMSG, "a NUL byte in a line is rejected");
        outcome_free(&o);

        o = run("\n\r\n  \n{\"stream\":\"a\\r\\n\"}\r\n\n{\"id\":\"" ID "\"}\r\n");
        is_int(o.end, 0, "blank lines and CRLF line ends are tolerated");
        is_str(o.progress.text, "a", "CR and LF both trimmed from messages");
        outcome_free(&o);

        o = run("{\"stream\":\"caf\\u00e9 \\\"q\\\" \\\\ \\ud83d\\ude00\\nsecond line\\n\"}\n{\"id\":\"x\"}\n");
        is_str(o.progress.text, "caf\xc3\xa9 \"q\" \\ \xf0\x9f\x98\x80\nsecond line",
               "escapes decoded; only trailing newlines removed");
        outcome_free(&o);

        o = run("{\"stream\":\"\\n\"}\n{\"unknown\":1,\"id\":\"x\"}\n");
        is_int(o.progress.count, 0, "an empty message is not passed on");
        is_int(o.end, 0, "unknown fields are ignored");
        outcome_free(&o);
}

static void test_no_result(void) {
        outcome o = run("{\"stream\":\"Copying config\\n\"}\n");

        is_int(o.end, -EBADMSG, "a stream without a result is an error");
        contains(o.msg, "without a result", "saying so");
        outcome_free(&o);

        o = run("");
        is_int(o.end, -EBADMSG, "an empty body is an error");
        outcome_free(&o);

        o = run("{\"images\":[\"aaa\",\"bbb\"]}\n");
        is_int(o.end, 0, "a result with only \"images\"");
        is_str(o.id, "bbb", "takes the last image, as libpod's \"id\" does");
        outcome_free(&o);
}

static void test_long_lines(void) {
        const size_t max = 1024 * 1024;
        _cleanup_free_ char *big = malloc(max + 64);
        podman_pull_stream s;
        moat_error err = {};
        _cleanup_free_ char *id = NULL;
        size_t len;

        if (!big)
                abort();

        /* A line of exactly 1 MiB (a valid object padded with spaces) is accepted. */
        memset(big, ' ', max);
        memcpy(big, "{\"id\":\"" ID "\"}", strlen("{\"id\":\"" ID "\"}"));
        big[max] = '\n';
        podman_pull_stream_init(&s);
        for (size_t pos = 0; pos <= max; pos += 4096)
                if (podman_pull_stream_feed(&s, big + pos, pos + 4096 > max + 1 ? max + 1 - pos : 4096, NULL,
                                            NULL, &err) < 0)
                        break;
        is_int(err.code, 0, "a line of exactly 1 MiB in pieces is accepted");
        is_int(podman_pull_stream_end(&s, &id, &err), 0, "and parsed");
        podman_pull_stream_free(&s);
        moat_error_clear(&err);

        /* One byte more, without a newline yet: refused before it is all buffered. */
        memset(big, ' ', max + 1);
        podman_pull_stream_init(&s);
        is_int(podman_pull_stream_feed(&s, big, max, NULL, NULL, &err), 0, "1 MiB of a line buffered");
        is_int(podman_pull_stream_feed(&s, big, 1, NULL, NULL, &err), -EMSGSIZE,
               "the byte past 1 MiB is refused");
        contains(err.msg, "longer than", "saying the line is too long");
        ok(s.line_cap <= max, "the buffer never grew past 1 MiB (%zu)", s.line_cap);
        podman_pull_stream_free(&s);
        moat_error_clear(&err);

        /* The same line complete in one read, newline and all. */
        big[max + 1] = '\n';
        podman_pull_stream_init(&s);
        is_int(podman_pull_stream_feed(&s, big, max + 2, NULL, NULL, &err), -EMSGSIZE,
               "an over-long line complete in one read is refused too");
        podman_pull_stream_free(&s);
        moat_error_clear(&err);

        /* Half in one read, the rest with its newline in the next. */
        len = max / 2;
        podman_pull_stream_init(&s);
        podman_pull_stream_feed(&s, big, len, NULL, NULL, &err);
        is_int(podman_pull_stream_feed(&s, big + len, max + 2 - len, NULL, NULL, &err), -EMSGSIZE,
               "an over-long line across two reads is refused");
        podman_pull_stream_free(&s);
        moat_error_clear(&err);
}

static void test_api_edges(void) {
        static const char body[] = "{\"stream\":\"x\"}\n{\"id\":\"" ID "\"}\n";
        podman_pull_stream s;
        moat_error err = {};

        podman_pull_stream_init(&s);
        is_int(podman_pull_stream_feed(&s, body, strlen(body), NULL, NULL, &err), 0, "progress may be NULL");
        is_int(podman_pull_stream_end(&s, NULL, &err), 0, "ret_image_id may be NULL");
        podman_pull_stream_free(&s);

        podman_pull_stream_init(&s);
        podman_pull_stream_feed(&s, "{\"stream\":\"half a li", 20, NULL, NULL, &err);
        podman_pull_stream_free(&s);
        ok(s.line == NULL && s.line_len == 0, "free releases a half line and resets the stream");
        podman_pull_stream_free(&s);
        ok(true, "free twice is harmless");
        podman_pull_stream_free(NULL);
        ok(err.code == 0, "no error along the way");
}

int main(void) {
        test_success();
        test_late_error();
        test_last_line_without_newline();
        test_malformed_lines();
        test_no_result();
        test_long_lines();
        test_api_edges();
        return tap_done();
}
