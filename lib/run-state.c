#include "config.h"

#include <errno.h>
#include <string.h>

#include "run.h"

/* The names are the record format (metadata.json) and what moat list prints: never rename. */
static const char *const run_state_names[_RUN_STATE_MAX] = {
        [RUN_CREATED] = "created",   [RUN_STARTING] = "starting", [RUN_RUNNING] = "running",
        [RUN_STOPPING] = "stopping", [RUN_EXITED] = "exited",     [RUN_STOPPED] = "stopped",
        [RUN_FAILED] = "failed",
};

static const char *const run_manager_names[] = {
        [RUN_MANAGER_SYSTEM] = "system",
        [RUN_MANAGER_USER] = "user",
};

const char *run_state_to_string(run_state s) {
        if (s < 0 || s >= _RUN_STATE_MAX)
                return NULL;
        return run_state_names[s];
}

run_state run_state_from_string(const char *s) {
        if (!s)
                return _RUN_STATE_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(run_state_names); i++)
                if (strcmp(run_state_names[i], s) == 0)
                        return (run_state) i;
        return _RUN_STATE_INVALID;
}

bool run_state_is_final(run_state s) {
        return s == RUN_EXITED || s == RUN_STOPPED || s == RUN_FAILED;
}

static bool run_state_is_live(run_state s) {
        return s >= RUN_CREATED && s <= RUN_STOPPING;
}

bool run_state_transition_ok(run_state from, run_state to) {
        if (!run_state_is_live(from) || to < 0 || to >= _RUN_STATE_MAX)
                return false;

        switch (to) {
        case RUN_STARTING:
                return from == RUN_CREATED;
        case RUN_RUNNING:
                return from == RUN_STARTING;
        case RUN_STOPPING:
                return from == RUN_RUNNING;
        case RUN_EXITED:
                /* A container that ends on its own while a stop is under way still ran to
                 * its end; one that never got to run did not. */
                return from == RUN_RUNNING || from == RUN_STOPPING;
        case RUN_STOPPED:
        case RUN_FAILED:
                return true;
        default: /* RUN_CREATED: nothing goes back to the start */
                return false;
        }
}

const char *run_manager_to_string(run_manager m) {
        if ((unsigned) m >= ELEMENTSOF(run_manager_names))
                return NULL;
        return run_manager_names[m];
}

int run_manager_from_string(const char *s, run_manager *ret) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(run_manager_names); i++)
                if (strcmp(run_manager_names[i], s) == 0) {
                        *ret = (run_manager) i;
                        return 0;
                }
        return -EINVAL;
}
