/* The relay: the unit's main process from the moment the container runs until the run ends.
 *
 * It copies the container's output from podman's attach connection into the journal and
 * does nothing else, so what stays resident for a run is small: the C library and
 * libsystemd, no libcurl, no cJSON (conmon's model).  Whatever needs podman's API it leaves to
 * short-lived moat-monitor helpers it starts: `moat-monitor stop ID` on SIGTERM/SIGINT (the
 * relay goes on relaying while the container stops), and at the end of the output
 * `moat-monitor finish ID ...`, which waits for the exit, records it and removes the
 * container; the relay then exits with the finish helper's status, so the unit's result is
 * the container's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "podman-frames.h"
#include "resource-probe.h"
#include "run.h"
#include "spawn-helper.h"

/* The pure part: bytes from the attach connection to a sink, counted per stream. */
typedef struct relay_feed {
        podman_demux demux; /* raw for a terminal */
        uint64_t relayed[PODMAN_STREAM_ERROR + 1]; /* payload bytes handed on, per stream */
        podman_frame_fn sink;
        void *userdata;
} relay_feed;

void relay_feed_init(relay_feed *f, bool tty, podman_frame_fn sink, void *userdata);

/* Returns 0, the sink's negative value, or -EBADMSG for a stream that is not podman's frames. */
int relay_feed_bytes(relay_feed *f, const void *data, size_t len, moat_error *err);

/* True when the stream could end here: not inside a frame.  An end elsewhere means the
 * connection broke (podman went away), not that the container exited. */
bool relay_feed_at_boundary(const relay_feed *f);

/* The command line of the helper that finishes the run after the output ended:
 * MONITOR finish ID STDOUT-BYTES STDERR-BYTES LINES whole|cut [RESOURCES], LINES the journal
 * entries written, RESOURCES what the container used (run_resources_format(); none when RES
 * is NULL).  argv points into the struct and at the strings it was made from. */
typedef struct relay_finish_cmd {
        char out[24], err[24], lines[24];
        char resources[RESOURCES_ARG_MAX];
        char *argv[9];
} relay_finish_cmd;

void relay_finish_cmd_init(relay_finish_cmd *cmd, const char *monitor, const char *id, const relay_feed *f,
                           uint64_t lines, bool cut, const run_resources *res);

/* Makes a fresh grandchild the unit's main process, conmon's way: the process that exec'd
 * holds in its RSS every page of libc and libsystemd that the loader touched, while a process
 * forked after that maps only the pages it touches itself.  The grandchild, reparented to the
 * manager so that systemd does not see an alien main PID, is announced with MAINPID=; the
 * original process waits for systemd to have read that, and exits unless a stop reached it
 * meanwhile.  Returns in the process that goes on: the heir, or the original one (without
 * NOTIFY_SOCKET, when a fork fails, or after such a stop). */
void relay_hand_over(void);

/* Runs the relay of REC (id, name, manager, tty) on ATTACH_FD until the run has ended, then
 * ends the helper on PROXY (the run's proxy, or HELPER_LIFELINE_NONE) and waits for it to be
 * gone; returns the process's exit status. */
int relay_run(const run_record *rec, int attach_fd, helper_lifeline *proxy, pid_t container_pid);
