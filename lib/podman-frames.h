/* The 8-byte stream multiplexing of podman's logs and (non-TTY) attach endpoints:
 * byte 0 the stream (0 stdin, 1 stdout, 2 stderr, 3 error), bytes 4..7 the payload length,
 * big-endian.  The demultiplexer is incremental: headers and payloads may be split across
 * any number of reads, and a payload is handed on in pieces as it arrives, never buffered
 * whole (a frame may be many MiB). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum podman_stream {
        PODMAN_STREAM_STDIN = 0,
        PODMAN_STREAM_STDOUT = 1,
        PODMAN_STREAM_STDERR = 2,
        PODMAN_STREAM_ERROR = 3, /* podman's own error text, e.g. when logs fail mid-way */
} podman_stream;

/* Receives a piece of a frame's payload (never zero-length).  A negative return stops the
 * demultiplexer, which returns that value. */
typedef int (*podman_frame_fn)(podman_stream stream, const char *data, size_t len, void *userdata);

typedef struct podman_demux {
        bool raw;            /* a terminal's stream: no frames, every byte is stdout */
        unsigned char header[8];
        size_t header_len;   /* bytes of the current header received so far */
        uint32_t remaining;  /* payload bytes of the current frame still to come */
        podman_stream stream;
} podman_demux;

/* RAW for a container with a terminal, whose attach stream is not multiplexed. */
void podman_demux_init(podman_demux *d, bool raw);

/* Feeds LEN bytes. Returns 0, the callback's negative value, or -EBADMSG for a header with
 * an unknown stream type (err says so). */
int podman_demux_feed(podman_demux *d, const void *data, size_t len, podman_frame_fn fn,
                      void *userdata, moat_error *err);

/* At the end of the stream: -EBADMSG when it stopped inside a header or a payload. */
int podman_demux_end(const podman_demux *d, moat_error *err);
