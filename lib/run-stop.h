/* Stopping a run at any moment from its record's creation to its end, and where the truth of
 * a stop lives (moat-stop(1), doc/design-start-stop.md):
 *  - the unit: once it is loaded, a stop is systemd's (StopUnit, or systemctl stop), carried
 *    out by its main process (the monitor holds SIGTERM while it starts the container; the
 *    relay stops it) or, when that process never ran or died of the stop, by the runner or the
 *    unit's ExecStopPost, which record the run as stopped;
 *  - the stop request (run_store_request_stop), written before the unit is asked: a run whose
 *    unit is not loaded yet is stopped by whoever would start it next (moat run before it
 *    loads the unit, the monitor before it starts the container);
 *  - the run's lock (run_store_lock_run), which moat run holds while it starts the run: a stop
 *    waits for it before it reads how the run ended, clean and rm leave a held run alone.
 * The record says how it ended; a stop never removes it. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "error.h"
#include "podman.h"
#include "run.h"

/* How long a stop waits for moat run to settle a start it holds: podman's create of a run
 * among hundreds started at once takes minutes on a loaded host. */
#define RUN_START_SETTLE_USEC (600 * USEC_PER_SEC)

/* Stops *REC and waits until it has ended; *REC is then its final record.  *RET_WAS_ENDED:
 * it had ended before the stop (nothing was done).  -ENOENT: it ended and its record was
 * removed meanwhile (clean and rm remove ended runs only).  Otherwise negative when the stop
 * could not be carried out (err says why); the stop request stays, for the start to honour. */
int run_stop(run_store *store, sd_bus *bus, run_record **rec, bool *ret_was_ended, moat_error *err);

/* Ends REC, whose monitor never ran (its record says created), as stopped: no exit code, the
 * end record in the journal, its container removed (kept with --keep).  C may be NULL. */
int run_end_unstarted(run_store *store, podman_client *c, run_record *rec, moat_error *err);
