/* One end of a connection the egress proxy relays (the client's or the server's): a
 * non-blocking socket, with TLS or without, and the bytes waiting to go out to it.  Nothing
 * here waits: an operation that cannot go on returns -EAGAIN and leaves in the side what it
 * waits for, which proxy_side_events() turns into the epoll mask to ask for (EPOLLOUT only
 * while something is pending).  TLS's wants may cross: a TLS read can need the socket
 * writable, a write readable (the read_wants_write and write_wants_read flags, which the TLS
 * module sets). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes for a side beyond which the other side is no longer read, so that a peer that does
 * not read holds at most this much of the proxy's memory. */
#define PROXY_SIDE_OUT_MAX (32 * 1024)

/* A spliced tunnel's pipe, each way: as large as an unprivileged process may make one
 * (/proc/sys/fs/pipe-max-size's default), since the tunnel fills it and empties it in turn
 * (200 MiB through a tunnel: 0.995 and 0.96 of direct with 1 MiB, 0.945 and 0.88 with
 * 256 KiB, alternated runs).  Pipes count against their user's pipe budget
 * (/proc/sys/fs/pipe-user-pages-soft, 64 MiB) from the moment they are made, so a tunnel
 * gets one only once it carries bulk: PROXY_SIDE_SPLICE_AFTER bytes that way; past the
 * budget a pipe keeps the kernel's default size, and the tunnel still splices. */
#define PROXY_SIDE_PIPE_SIZE (1024 * 1024)
#define PROXY_SIDE_SPLICE_AFTER (256 * 1024)

struct proxy_tls_ops;

typedef struct proxy_side {
        int fd;
        void *tls;      /* NULL: plain bytes; else an SSL of the TLS module's (lib/proxy-tls.h) */
        const struct proxy_tls_ops *tls_ops;
        bool readable;  /* as last seen: until a read would block */
        bool writable;
        bool read_wants_write; /* TLS: a read waits for the socket to take bytes */
        bool write_wants_read; /* TLS: a write waits for bytes from the peer */
        bool handshaking;
        bool eof;       /* the peer sent its last byte */
        bool shut;      /* the proxy sent its last byte */
        char *out;      /* what waits to go out: out[out_start, out_start + out_len) */
        size_t out_start, out_len, out_cap;
        /* A tunnel's bytes for this side that the kernel moves without copying them into
         * the proxy (splice(2)): they wait in a pipe, PIPED of them, and go before OUT's,
         * which are only ever queued after them. */
        int pipe_r, pipe_w;
        size_t piped;
} proxy_side;

#define PROXY_SIDE_INIT { .fd = -1, .readable = true, .writable = true, .pipe_r = -1, .pipe_w = -1 }

/* Reads at most SIZE bytes: > 0 read, 0 the peer's end, -EAGAIN nothing now, < 0 an error. */
int proxy_side_read(proxy_side *s, char *buf, size_t size);

/* Queues LEN bytes and sends what the socket takes now: 0, or < 0 an error (-ENOMEM). */
int proxy_side_send(proxy_side *s, const char *data, size_t len);

/* Queues without sending (for a writer that produces in pieces; proxy_side_flush() next). */
int proxy_side_queue(proxy_side *s, const char *data, size_t len);

/* Sends what is queued: 0 all gone, -EAGAIN some left, < 0 an error. */
int proxy_side_flush(proxy_side *s);

/* Moves what FROM's socket has (plain, both) into TO's pipe, to be sent by
 * proxy_side_flush(TO); only while TO has nothing waiting (proxy_side_has_room() and nothing
 * queued).  > 0 bytes moved, 0 FROM's end, -EAGAIN nothing now, -EOPNOTSUPP where the kernel
 * cannot (the caller reads and sends instead), < 0 an error. */
int proxy_side_splice(proxy_side *to, proxy_side *from);

/* A step of the TLS handshake (SERVER: the proxy is the server): 1 done, -EAGAIN, -EPROTO. */
int proxy_side_handshake(proxy_side *s, bool server);

/* Whether the proxy still owes this side bytes. */
static inline bool proxy_side_pending(const proxy_side *s) {
        return s->out_len > 0 || s->piped > 0;
}

/* Room for more bytes for this side before the other side is paused: a pipe is filled only
 * when empty, so that a full one is never mistaken for a source with nothing to read. */
static inline bool proxy_side_has_room(const proxy_side *s) {
        return s->out_len < PROXY_SIDE_OUT_MAX && s->piped == 0;
}

/* Ends what the proxy sends (close_notify over TLS, then FIN), once nothing is pending. */
void proxy_side_shutdown(proxy_side *s);

/* The epoll events the side waits for, when the proxy WANTS_INPUT from it. */
uint32_t proxy_side_events(const proxy_side *s, bool wants_input);

/* What the socket reported: marks the side readable and writable as it is. */
void proxy_side_ready(proxy_side *s, uint32_t revents);

/* Frees the TLS state and the queue; closes the socket. */
void proxy_side_close(proxy_side *s);
