#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "time-util.h"
#include "unit.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

/* How often unit_wait_inactive() looks: a stopping run ends within its stop timeout. */
#define UNIT_POLL_USEC 20000

/* dbus-daemon refuses a user's connections past max_connections_per_user (256 on the system
 * bus), which sd-bus reports as ENOBUFS: with hundreds of runs and waits at once that is a
 * queue, not a failure, so a refused connection is tried again for up to BUS_BUSY_WAIT_USEC. */
#define BUS_BUSY_WAIT_USEC (120 * USEC_PER_SEC)

static int bus_open_once(run_manager m, sd_bus **ret, moat_error *err);

int unit_bus_open(run_manager m, sd_bus **ret, moat_error *err) {
        uint64_t deadline = now_usec() + BUS_BUSY_WAIT_USEC, pause = 50000;
        int r;

        for (;;) {
                r = bus_open_once(m, ret, err);
                if (r != -ENOBUFS || now_usec() >= deadline)
                        break;
                moat_error_clear(err);
                (void) usleep(pause);
                pause = pause * 2 < USEC_PER_SEC ? pause * 2 : USEC_PER_SEC;
        }
        if (r == -ENOBUFS)
                moat_error_prefix(err, "dbus-daemon still refuses more connections after %u s (its "
                                  "max_connections_per_user)", (unsigned) (BUS_BUSY_WAIT_USEC / USEC_PER_SEC));
        return r;
}

static int bus_open_once(run_manager m, sd_bus **ret, moat_error *err) {
        sd_bus *bus = NULL;
        const char *unique;
        int r;

        if (m == RUN_MANAGER_USER) {
                r = sd_bus_open_user(&bus);
                if (r < 0)
                        return moat_error_set(err, r,
                                              "cannot reach the systemd user manager: %s; check that "
                                              "'systemctl --user status' works (XDG_RUNTIME_DIR set, "
                                              "user@%u.service running), or use --system as root",
                                              strerror(-r), (unsigned) getuid());
        } else {
                r = sd_bus_open_system(&bus);
                if (r < 0)
                        return moat_error_set(err, r,
                                              "cannot reach the systemd system manager: %s; check that "
                                              "'systemctl status' works, or use --user",
                                              strerror(-r));
        }
        /* sd-bus authenticates on first use, and dbus-daemon closes a connection that has not
         * authenticated within its auth_timeout (30 s on the system bus, 240 s on a session
         * bus): a bus opened before a slow create or a long interactive session would be gone
         * when its first call is made.  Asking for our unique name authenticates now. */
        r = sd_bus_get_unique_name(bus, &unique);
        if (r < 0) {
                sd_bus_flush_close_unref(bus);
                return moat_error_set(err, r, "cannot reach the systemd %s manager: %s",
                                      m == RUN_MANAGER_USER ? "user" : "system", strerror(-r));
        }
        *ret = bus;
        return 0;
}

int unit_bus_ensure(run_manager m, sd_bus **bus, moat_error *err) {
        if (*bus && sd_bus_is_open(*bus) > 0)
                return 0;
        *bus = sd_bus_flush_close_unref(*bus);
        return unit_bus_open(m, bus, err);
}

static int append_exec(sd_bus_message *m, const char *property, char *const *argv) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", property);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', "a(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", argv[0]);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, (char **) argv);
        if (r < 0)
                return r;
        /* false: a failing command fails the unit */
        r = sd_bus_message_append(m, "b", 0);
        if (r < 0)
                return r;
        for (int i = 0; i < 4; i++) {
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_properties(sd_bus_message *m, const unit_spec *spec) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", spec->description, "Type",
                                  "s", "notify", "CollectMode", "s", "inactive-or-failed", "KillMode",
                                  "s", "mixed");
        if (r < 0)
                return r;
        /* all: the relay's first process takes the main PID back from its heir when a stop
         * overtook the hand-over (lib/relay.c); only moat's own processes live in the unit */
        r = sd_bus_message_append(m, "(sv)", "NotifyAccess", "s", "all");
        if (r < 0)
                return r;
        /* journald's rate limit would drop output silently; an explicit interval with a huge
         * burst turns it off (an interval of 0 means "the default" in systemd 252). */
        r = sd_bus_message_append(m, "(sv)(sv)", "LogRateLimitIntervalUSec", "t", (uint64_t) 1000000,
                                  "LogRateLimitBurst", "u", (uint32_t) UINT32_MAX);
        if (r < 0)
                return r;
        if (spec->slice) {
                r = sd_bus_message_append(m, "(sv)", "Slice", "s", spec->slice);
                if (r < 0)
                        return r;
        }
        if (spec->timeout_stop_usec) {
                r = sd_bus_message_append(m, "(sv)", "TimeoutStopUSec", "t", spec->timeout_stop_usec);
                if (r < 0)
                        return r;
        }
        if (spec->runtime_max_usec > 0) {
                r = sd_bus_message_append(m, "(sv)", "RuntimeMaxUSec", "t", spec->runtime_max_usec);
                if (r < 0)
                        return r;
        }
        if (spec->environment) {
                r = sd_bus_message_open_container(m, 'r', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "Environment");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, (char **) spec->environment);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        if (spec->n_credentials > 0) {
                r = sd_bus_message_open_container(m, 'r', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "LoadCredential");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "a(ss)");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "(ss)");
                for (size_t i = 0; r >= 0 && i < spec->n_credentials; i++)
                        r = sd_bus_message_append(m, "(ss)", spec->credentials[i].id, spec->credentials[i].path);
                for (int i = 0; r >= 0 && i < 3; i++)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        r = append_exec(m, "ExecStart", spec->exec_start);
        if (r < 0)
                return r;
        if (spec->exec_stop_post) {
                r = append_exec(m, "ExecStopPost", spec->exec_stop_post);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

typedef struct job_wait {
        const char *path;
        char *result;
} job_wait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->path && strcmp(path, w->path) == 0 && !w->result)
                w->result = strdup(result);
        return 0;
}

/* Calls METHOD(name, "replace"/"fail", ...) and waits for the job's JobRemoved signal; *ret_result
 * is how the job ended ("done", "canceled", "failed", ...).  Negative only when the call
 * failed.  The match goes in before the call, so a fast job cannot finish unseen. */
static int call_and_wait_job(sd_bus *bus, sd_bus_message *call, const char *what, char **ret_result,
                             moat_error *err) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        job_wait w = {};
        int r;

        r = sd_bus_match_signal(bus, &slot, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                on_job_removed, &w);
        if (r < 0)
                return moat_error_set(err, r, "cannot watch systemd jobs: %s", strerror(-r));

        r = sd_bus_call(bus, call, 0, &error, &reply);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                        return moat_error_set(err, -ENOENT, "%s: %s", what, error.message);
                return moat_error_set(err, r, "%s: %s", what, error.message ? error.message : strerror(-r));
        }
        r = sd_bus_message_read(reply, "o", &w.path);
        if (r < 0)
                return moat_error_set(err, r, "%s: unexpected reply from systemd", what);

        while (!w.result) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return moat_error_set(err, r, "%s: lost the connection to systemd: %s", what,
                                              strerror(-r));
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return moat_error_set(err, r, "%s: %s", what, strerror(-r));
        }
        *ret_result = w.result;
        return 0;
}

/* For jobs whose only good end is "done". */
static int call_and_wait_job_done(sd_bus *bus, sd_bus_message *call, const char *what, moat_error *err) {
        _cleanup_free_ char *result = NULL;
        int r;

        r = call_and_wait_job(bus, call, what, &result, err);
        if (r < 0)
                return r;
        if (strcmp(result, "done") != 0)
                return moat_error_set(err, -EIO, "%s: job %s", what, result);
        return 0;
}

int unit_start_transient(sd_bus *bus, const unit_spec *spec, char **ret_job_result, moat_error *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", spec->name, "fail");
        if (r >= 0)
                r = append_properties(m, spec);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return moat_error_set(err, r, "cannot build the request for %s: %s", spec->name, strerror(-r));
        return call_and_wait_job(bus, m, spec->name, ret_job_result, err);
}

int unit_stop(sd_bus *bus, const char *name, bool wait, moat_error *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StopUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", name, "replace");
        if (r < 0)
                return moat_error_set(err, r, "cannot build the request to stop %s", name);
        if (!wait) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                r = sd_bus_call(bus, m, 0, &error, NULL);
                if (r < 0 && sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                        return moat_error_set(err, -ENOENT, "%s: %s", name, error.message);
                if (r < 0)
                        return moat_error_set(err, r, "%s: %s", name, error.message ? error.message : strerror(-r));
                return 0;
        }
        return call_and_wait_job_done(bus, m, name, err);
}

int unit_active_state(sd_bus *bus, const char *name, char **ret, moat_error *err) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        char *state = NULL;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", &error,
                               &reply, "s", name);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit")) {
                        state = strdup("inactive");
                        if (!state)
                                return moat_error_set(err, -ENOMEM, "out of memory");
                        *ret = state;
                        return 0;
                }
                return moat_error_set(err, r, "cannot ask systemd about %s: %s", name,
                                      error.message ? error.message : strerror(-r));
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return moat_error_set(err, r, "unexpected reply from systemd about %s", name);
        r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, "org.freedesktop.systemd1.Unit",
                                       "ActiveState", &error, &state);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the state of %s: %s", name,
                                      error.message ? error.message : strerror(-r));
        *ret = state;
        return 0;
}

int unit_wait_inactive(sd_bus *bus, const char *name, uint64_t timeout_usec, moat_error *err) {
        for (uint64_t waited = 0;; waited += UNIT_POLL_USEC) {
                _cleanup_free_ char *state = NULL;
                int r;

                r = unit_active_state(bus, name, &state, err);
                if (r < 0)
                        return r;
                if (!unit_state_is_live(state))
                        return 0;
                if (waited >= timeout_usec)
                        return moat_error_set(err, -ETIMEDOUT, "%s is still %s", name, state);
                usleep(UNIT_POLL_USEC);
        }
}

bool unit_state_is_live(const char *s) {
        return s && (strcmp(s, "active") == 0 || strcmp(s, "activating") == 0 ||
                     strcmp(s, "deactivating") == 0 || strcmp(s, "reloading") == 0);
}
