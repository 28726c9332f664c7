#include "config.h"

#include <errno.h>

#include "idmap-mount.h"
#include "journal.h"
#include "run-stop.h"
#include "time-util.h"
#include "unit.h"

int run_end_unstarted(run_store *store, podman_client *c, run_record *rec, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *own = NULL;
        moat_error e = {};
        int r;

        rec->state = RUN_STOPPED;
        rec->stopped_at = now_usec();
        rec->has_exit_code = false;
        rec->has_output_lines = true;
        rec->output_lines = 0;
        r = run_store_save(store, rec, err);
        (void) journal_write_exit(rec);
        if (rec->container_id && !rec->keep) {
                if (!c && podman_client_open(rec->manager == RUN_MANAGER_USER, &own, &e) >= 0)
                        c = own;
                if (c)
                        (void) podman_container_remove(c, rec->container_id, true, &e);
                moat_error_clear(&e);
        }
        /* a rootful agent's mapped workspace and home, which ExecStopPost removes otherwise */
        (void) idmap_mounts_remove(rec->id);
        return r;
}

static int reload(run_store *store, run_record **rec, moat_error *err) {
        run_record *now = NULL;
        int r;

        r = run_store_load(store, (*rec)->id, &now, err);
        if (r < 0)
                return r;
        run_record_free(*rec);
        *rec = now;
        return 0;
}

/* The unit is asked to stop and waited for; not loaded is not an error here. */
static int stop_unit(sd_bus *bus, const run_record *rec, moat_error *err) {
        int r;

        r = unit_stop(bus, rec->unit, true, err);
        if (r == -ENOENT) {
                moat_error_clear(err);
                return 0;
        }
        return r;
}

int run_stop(run_store *store, sd_bus *bus, run_record **rec, bool *ret_was_ended, moat_error *err) {
        _cleanup_close_ int lock_fd = -1;
        _cleanup_free_ char *state = NULL;
        int r;

        *ret_was_ended = run_state_is_final((*rec)->state);
        if (*ret_was_ended)
                return 0;
        /* first the request, then the unit: a start that loads the unit after StopUnit found
         * none reads the request later */
        r = run_store_request_stop(store, (*rec)->id, err);
        if (r >= 0)
                r = stop_unit(bus, *rec, err);
        /* moat run may still be starting it: its lock says when the start has settled */
        if (r >= 0)
                r = run_store_lock_run(store, (*rec)->id, RUN_START_SETTLE_USEC, &lock_fd, err);
        if (r == -ETIMEDOUT)
                return moat_error_set(err, r, "it is still being started after %d s; the stop is recorded and is "
                                      "carried out when it starts", (int) (RUN_START_SETTLE_USEC / USEC_PER_SEC));
        if (r >= 0)
                r = reload(store, rec, err);
        if (r < 0 || run_state_is_final((*rec)->state))
                return r;

        /* the start settled with the run going: a unit that was loaded after the first look */
        r = stop_unit(bus, *rec, err);
        if (r >= 0)
                r = reload(store, rec, err);
        if (r < 0 || run_state_is_final((*rec)->state))
                return r;
        r = unit_active_state(bus, (*rec)->unit, &state, err);
        if (r < 0)
                return r;
        /* no unit, no moat run: the one that started it died before it loaded the unit */
        if (!unit_state_is_live(state) && (*rec)->state == RUN_CREATED)
                return run_end_unstarted(store, NULL, *rec, err);
        return moat_error_set(err, -EIO, "its record says %s and its unit is %s; see 'journalctl%s -u %s'",
                              run_state_to_string((*rec)->state), state,
                              (*rec)->manager == RUN_MANAGER_USER ? " --user" : "", (*rec)->unit);
}
