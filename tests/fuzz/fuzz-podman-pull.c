/* The pull stream parser fed at once and in pieces of any size (the first input byte picks
 * the size) must report the same progress, the same result and the same error. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podman-pull.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
        char *progress; /* every message, each followed by a NUL */
        size_t progress_len;
        int feed, end;
        char *image_id;
        char *error;
} run;

static void on_progress(const char *message, void *userdata) {
        run *r = userdata;
        size_t n;
        char *p;

        if (!message)
                abort();
        n = strlen(message);
        /* Trailing newlines are removed; empty messages are not passed on. */
        if (n == 0 || message[n - 1] == '\n' || message[n - 1] == '\r')
                abort();
        p = realloc(r->progress, r->progress_len + n + 1);
        if (!p)
                abort();
        memcpy(p + r->progress_len, message, n + 1);
        r->progress = p;
        r->progress_len += n + 1;
}

static run pull(const uint8_t *data, size_t size, size_t piece) {
        podman_pull_stream s;
        moat_error err = {};
        run r = {};

        podman_pull_stream_init(&s);
        for (size_t pos = 0; pos < size; pos += piece) {
                size_t n = size - pos < piece ? size - pos : piece;

                r.feed = podman_pull_stream_feed(&s, (const char *) data + pos, n, on_progress, &r, &err);
                if (r.feed < 0)
                        break;
        }
        if (r.feed < 0) {
                if ((r.feed != -EBADMSG && r.feed != -EMSGSIZE) || err.code != r.feed || !err.msg)
                        abort();
        } else {
                r.end = podman_pull_stream_end(&s, &r.image_id, &err);
                switch (r.end) {
                case 0:
                        if (!r.image_id || r.image_id[0] == '\0' || err.code != 0)
                                abort();
                        break;
                case -EIO:
                case -EBADMSG:
                        if (r.image_id || err.code != r.end || !err.msg)
                                abort();
                        break;
                default:
                        abort();
                }
        }
        if (err.msg) {
                r.error = strdup(err.msg);
                if (!r.error)
                        abort();
        }
        moat_error_clear(&err);
        podman_pull_stream_free(&s);
        return r;
}

static bool strings_equal(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static void run_free(run *r) {
        free(r->progress);
        free(r->image_id);
        free(r->error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        run whole, pieces;
        size_t piece;

        if (size < 1)
                return 0;
        piece = data[0] % 23 + 1;
        data++;
        size--;

        whole = pull(data, size, size > 0 ? size : 1);
        pieces = pull(data, size, piece);
        if (whole.feed != pieces.feed || whole.end != pieces.end ||
            !strings_equal(whole.image_id, pieces.image_id) || !strings_equal(whole.error, pieces.error) ||
            whole.progress_len != pieces.progress_len ||
            (whole.progress_len > 0 && memcmp(whole.progress, pieces.progress, whole.progress_len) != 0))
                abort();

        run_free(&whole);
        run_free(&pieces);
        return 0;
}
