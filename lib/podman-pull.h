/* The body of libpod's POST /images/pull: newline-delimited JSON objects
 * ({"stream": "..."} progress, {"error": "..."} failure, {"id": "...", "images": [...]} the
 * result), streamed after an HTTP 200 — so a pull can still fail after the status says OK. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef void (*podman_pull_progress_fn)(const char *message, void *userdata);

typedef struct podman_pull_stream {
        char *line;        /* the incomplete line carried over between reads */
        size_t line_len, line_cap;
        char *error;       /* the first "error" reported, if any */
        char *image_id;    /* from the final {"id": ...} object */
        /* a build's stream, which has the same shape: its messages go to progress as they come,
         * newlines and all, and its end needs no result object */
        bool build;
} podman_pull_stream;

void podman_pull_stream_init(podman_pull_stream *s);
void podman_pull_stream_free(podman_pull_stream *s);

/* Feeds LEN bytes; each complete "stream" message goes to PROGRESS (when not NULL), with
 * trailing newlines removed. Returns 0, or -EBADMSG for a line that is not a JSON object or
 * -EMSGSIZE for a line over 1 MiB (err says which). */
int podman_pull_stream_feed(podman_pull_stream *s, const char *data, size_t len,
                            podman_pull_progress_fn progress, void *userdata, moat_error *err);

/* At the end of the body: 0 and *ret_image_id (may be NULL) when the pull succeeded;
 * -EIO with podman's error message when an "error" was reported; -EBADMSG when the stream
 * ended without a result. */
int podman_pull_stream_end(podman_pull_stream *s, char **ret_image_id, moat_error *err);
