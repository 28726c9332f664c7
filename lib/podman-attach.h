/* An interactive attach (or an exec session's stream): the container's stdin, and its
 * output, over one connection that podman hijacks once it has answered.  libcurl connects
 * and carries every byte; it has no API for an HTTP upgrade whose connection then stays a
 * raw, two-way stream (CONNECT_ONLY is its way for such protocols), so the request line and
 * the status line are ours. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "podman.h"

typedef struct podman_attach podman_attach;

/* Attaches to stdout and stderr of container ID (created, not yet started, or running), and
 * to its stdin with INPUT.  TTY says whether the container has a terminal: then the output is
 * one raw stream, else it comes in frames.  -EBUSY: podman found the container new and its
 * set-up under way by another caller (an init), so it could not attach yet. */
int podman_attach_open(const char *socket_path, const char *id, bool tty, bool input, podman_attach **ret,
                       moat_error *err);
/* Starts exec session EXEC_ID (podman_exec_create()) and streams it as an attach does: its
 * stdin, when the session has one, and its output, raw with TTY, else in frames. */
int podman_exec_start_open(const char *socket_path, const char *exec_id, bool tty, podman_attach **ret,
                           moat_error *err);

void podman_attach_close(podman_attach *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(podman_attach *, podman_attach_close);

/* The connection's file descriptor, to poll for input. */
int podman_attach_fd(const podman_attach *a);

/* A duplicate of the connection, inheritable across exec, for a reader that starts at the
 * beginning of the stream (nothing read yet): -EBUSY otherwise. */
int podman_attach_take_fd(podman_attach *a, moat_error *err);

/* Reads what has arrived and hands it to FN (the raw stream as PODMAN_STREAM_STDOUT when
 * the container has a terminal).  Returns 1 while the stream goes on, 0 at its end. */
int podman_attach_read(podman_attach *a, podman_frame_fn fn, void *userdata, moat_error *err);

/* Sends bytes to the container's stdin. */
int podman_attach_write(podman_attach *a, const void *data, size_t len, moat_error *err);

/* The end of stdin: the container reads EOF. */
int podman_attach_close_stdin(podman_attach *a, moat_error *err);
