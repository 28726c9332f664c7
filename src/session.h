/* A terminal, or plain stdin and stdout, joined to a stream of podman's (an attach or an exec
 * session): moat run -i and moat exec. */
#pragma once

#include <stdbool.h>

#include "podman-attach.h"

typedef struct session_ops {
        /* the local terminal's size, at the start and on every SIGWINCH (TTY only) */
        void (*resize)(unsigned rows, unsigned cols, void *userdata);
        /* the terminal closed (SIGHUP), Ctrl+C without a terminal (SIGINT), or, with
         * escape_stops, Ctrl-] three times within a second: the remote side should end */
        void (*stop)(void *userdata);
        bool escape_stops;
        bool no_input;  /* stdin is not the remote side's: it is not read */
        void *userdata;
} session_ops;

/* Pumps stdin into A and A's output to stdout and stderr until the stream ends; with TTY the
 * local terminal is raw meanwhile (restored on every way out, and a newline printed after
 * what the program left).  Returns 0 at the end of the stream, or 128 + SIGTERM when moat
 * was asked to go (the remote side is left alone). */
int session_run(podman_attach *a, bool tty, const session_ops *ops);
