/* The monitor: the main process of a run's unit.  It starts the container, waits for its
 * exit, records the outcome and cleans up; and, as the unit's ExecStopPost, finishes a run
 * whose monitor died. */
#pragma once

#include "error.h"
#include "run.h"

/* Grace a stopped container gets between SIGTERM and SIGKILL, in seconds. */
#define MONITOR_STOP_GRACE_SEC 10

/* Runs run ID of the store at HOME to its end. Returns the container's exit code (0..255),
 * or a negative errno when the run could not be run (the record says failed, and why). */
int monitor_run(const char *home, const char *id, moat_error *err);

/* ExecStopPost: when the record is not final, the monitor ended before the run did: the
 * container is removed (stopped when --keep) and the record says failed, with
 * SERVICE_RESULT / EXIT_CODE / EXIT_STATUS (systemd's) as the reason. */
int monitor_cleanup(const char *home, const char *id, moat_error *err);
