/* The monitor: everything of a run that needs podman's API, as moat-monitor's commands.
 * `run` is the unit's main process until the container runs; then it becomes the relay
 * (relay.h), which calls `stop` and `finish` as short-lived helpers; `cleanup` is the unit's
 * ExecStopPost, which finishes a run whose main process died. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "run.h"

#define MONITOR_PATH LIBEXECDIR "/moat-monitor"
#define RELAY_PATH LIBEXECDIR "/moat-relay"
#define PROXY_PATH LIBEXECDIR "/moat-proxy"
/* how long the run's main process waits for the proxy to go before going itself */
#define PROXY_END_TIMEOUT_MS 5000

/* Grace a stopped container gets between SIGTERM and SIGKILL, in seconds. */
#define MONITOR_STOP_GRACE_SEC 10
/* The grace when the run's time limit (--timeout) ends it: the limit is the user's bound. */
#define MONITOR_TIMEOUT_GRACE_SEC 1

/* Starts run ID of the store at HOME: attaches, starts the container, records it running
 * and execs the relay with the attach connection.  Returns only on failure, a negative errno
 * (the record says failed, and why). */
int monitor_run(const char *home, const char *id, moat_error *err);

/* Records "stopping" and stops the container with grace (SIGTERM, then SIGKILL). */
int monitor_stop(const char *home, const char *id, moat_error *err);

/* After the output ended: waits for the exit; when the attach was CUT short (or podman went
 * away meanwhile), relays the rest of the output from podman's log, skipping the RELAYED
 * stdout and stderr bytes and numbering its entries on from LINES; records the outcome and
 * the number of entries, writes the end record and removes the container.  Returns the
 * container's exit code (0..255), or a negative errno (the record says failed). */
int monitor_finish(const char *home, const char *id, const uint64_t relayed[2], uint64_t lines, bool cut,
                   const run_resources *used, moat_error *err);

/* ExecStopPost: when the record is not final, the monitor ended before the run did: the
 * container is removed (stopped when --keep) and the record says failed, with
 * SERVICE_RESULT / EXIT_CODE / EXIT_STATUS (systemd's) as the reason. */
int monitor_cleanup(const char *home, const char *id, moat_error *err);
