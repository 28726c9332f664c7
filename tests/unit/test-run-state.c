#include "config.h"

#include <errno.h>

#include "run.h"
#include "tap.h"

/* The allowed moves, written out independently of the code: everything else is forbidden. */
static const struct {
        run_state from, to;
} allowed[] = {
        { RUN_CREATED, RUN_STARTING },  { RUN_CREATED, RUN_STOPPED },  { RUN_CREATED, RUN_FAILED },
        { RUN_STARTING, RUN_RUNNING },  { RUN_STARTING, RUN_STOPPED }, { RUN_STARTING, RUN_FAILED },
        { RUN_RUNNING, RUN_STOPPING },  { RUN_RUNNING, RUN_EXITED },   { RUN_RUNNING, RUN_STOPPED },
        { RUN_RUNNING, RUN_FAILED },    { RUN_STOPPING, RUN_EXITED },  { RUN_STOPPING, RUN_STOPPED },
        { RUN_STOPPING, RUN_FAILED },
};

static bool is_allowed(run_state from, run_state to) {
        for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                if (allowed[i].from == from && allowed[i].to == to)
                        return true;
        return false;
}

static void test_names(void) {
        static const char *const names[] = { "created", "starting", "running", "stopping",
                                             "exited",  "stopped",  "failed" };
        run_manager m = RUN_MANAGER_SYSTEM;

        is_int(ELEMENTSOF(names), _RUN_STATE_MAX, "one name per state");
        for (run_state s = 0; s < _RUN_STATE_MAX; s++) {
                is_str(run_state_to_string(s), names[s], "state %d is \"%s\"", s, names[s]);
                is_int(run_state_from_string(names[s]), s, "\"%s\" reads back", names[s]);
        }
        ok(run_state_to_string(_RUN_STATE_MAX) == NULL, "no name past the last state");
        ok(run_state_to_string(_RUN_STATE_INVALID) == NULL, "no name for the invalid state");
        is_int(run_state_from_string("Running"), _RUN_STATE_INVALID, "names are case-sensitive");
        is_int(run_state_from_string("runnin"), _RUN_STATE_INVALID, "no prefix match");
        is_int(run_state_from_string("running "), _RUN_STATE_INVALID, "no trailing space");
        is_int(run_state_from_string(""), _RUN_STATE_INVALID, "empty is no state");
        is_int(run_state_from_string(NULL), _RUN_STATE_INVALID, "NULL is no state");

        is_str(run_manager_to_string(RUN_MANAGER_SYSTEM), "system", "system manager name");
        is_str(run_manager_to_string(RUN_MANAGER_USER), "user", "user manager name");
        ok(run_manager_to_string((run_manager) 2) == NULL, "no name for an unknown manager");
        is_int(run_manager_from_string("user", &m), 0, "\"user\" parses");
        is_int(m, RUN_MANAGER_USER, "\"user\" is the user manager");
        is_int(run_manager_from_string("system", &m), 0, "\"system\" parses");
        is_int(m, RUN_MANAGER_SYSTEM, "\"system\" is the system manager");
        m = RUN_MANAGER_USER;
        is_int(run_manager_from_string("User", &m), -EINVAL, "manager names are case-sensitive");
        is_int(run_manager_from_string(NULL, &m), -EINVAL, "NULL is no manager");
        is_int(m, RUN_MANAGER_USER, "a failed parse leaves the output alone");
}

static void test_final(void) {
        for (run_state s = 0; s < _RUN_STATE_MAX; s++)
                is_int(run_state_is_final(s), s == RUN_EXITED || s == RUN_STOPPED || s == RUN_FAILED,
                       "%s %s final", run_state_to_string(s), run_state_is_final(s) ? "is" : "is not");
        ok(!run_state_is_final(_RUN_STATE_INVALID), "the invalid state is not final");
}

static void test_transitions(void) {
        /* Every pair, so that each forbidden move is checked as well as each allowed one. */
        for (run_state from = 0; from < _RUN_STATE_MAX; from++)
                for (run_state to = 0; to < _RUN_STATE_MAX; to++) {
                        bool want = is_allowed(from, to);

                        is_int(run_state_transition_ok(from, to), want, "%s -> %s %s", run_state_to_string(from),
                               run_state_to_string(to), want ? "allowed" : "forbidden");
                }

        for (run_state s = 0; s < _RUN_STATE_MAX; s++) {
                ok(!run_state_transition_ok(_RUN_STATE_INVALID, s), "invalid -> %s forbidden",
                   run_state_to_string(s));
                ok(!run_state_transition_ok(s, _RUN_STATE_INVALID), "%s -> invalid forbidden",
                   run_state_to_string(s));
                ok(!run_state_transition_ok(s, _RUN_STATE_MAX), "%s -> past the last state forbidden",
                   run_state_to_string(s));
        }
        ok(!run_state_transition_ok(_RUN_STATE_MAX, RUN_FAILED), "past the last state -> failed forbidden");
}

int main(void) {
        test_names();
        test_final();
        test_transitions();
        return tap_done();
}
