/* The runs' transient units, through the system or the user manager over sd-bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "error.h"
#include "run.h"

/* Connects to the manager (system bus, or the user's bus). Unreachable: an error saying
 * which manager and how to check it. */
int unit_bus_open(run_manager m, sd_bus **ret, moat_error *err);

/* For a caller that holds *BUS for long (an interactive session): opens it again when the
 * connection was closed under it (a restarted dbus-daemon). */
int unit_bus_ensure(run_manager m, sd_bus **bus, moat_error *err);

typedef struct unit_credential {
        const char *id;
        const char *path;
} unit_credential;

typedef struct unit_spec {
        const char *name;          /* moat-<id>.service */
        const char *description;
        const char *slice;         /* e.g. moat.slice, or NULL */
        char *const *exec_start;   /* argv, [0] an absolute path */
        char *const *exec_stop_post;
        char *const *environment;  /* KEY=VALUE; never secrets: unit properties are public */
        /* LoadCredential=: systemd reads each file when the unit starts and gives it to the
         * unit's processes only, in $CREDENTIALS_DIRECTORY; the property names the file. */
        const unit_credential *credentials;
        size_t n_credentials;
        uint64_t timeout_stop_usec;
        uint64_t runtime_max_usec; /* RuntimeMaxSec=: systemd stops the unit after it; 0: never */
} unit_spec;

/* Creates the unit as Type=notify and waits for its start job, which completes once the main
 * process says READY=1.  Negative only when the unit could not be created; once it exists,
 * 0 and *ret_job_result says how its start ended: "done", or e.g. "canceled" (a stop came
 * first) or "failed" (the main process exited before it was ready). */
int unit_start_transient(sd_bus *bus, const unit_spec *spec, char **ret_job_result, moat_error *err);

/* Stops the unit and, with WAIT, waits for the job (as `systemctl stop`; without it, as
 * `systemctl stop --no-block`). -ENOENT when not loaded. */
int unit_stop(sd_bus *bus, const char *name, bool wait, moat_error *err);

/* The unit's ActiveState ("active", "activating", "deactivating", "inactive", "failed"),
 * or "inactive" when the unit is not loaded (ended and collected). */
int unit_active_state(sd_bus *bus, const char *name, char **ret, moat_error *err);

/* Waits until the unit's processes are gone (its state is not live), polling; -ETIMEDOUT
 * after TIMEOUT_USEC. */
int unit_wait_inactive(sd_bus *bus, const char *name, uint64_t timeout_usec, moat_error *err);

/* Whether the state means the unit's processes may still run. */
bool unit_state_is_live(const char *active_state);
