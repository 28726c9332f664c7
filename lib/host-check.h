/* What moat needs of the host, checked one thing at a time, each with what is wrong and the
 * fix: for moat doctor, and for the warning moat run gives when journald would drop a user
 * run's output. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "run.h"

typedef enum check_status {
        CHECK_OK,
        CHECK_WARN, /* moat works, with a limit the message names */
        CHECK_FAIL,
} check_status;

typedef struct host_check {
        const char *name;    /* "podman", "journald", ... */
        check_status status;
        char *message;       /* what was found, or what is wrong */
        char *fix;           /* a command or step; NULL when nothing is to be done */
} host_check;

void host_check_done(host_check *c);

/* journald limits the output of a user's units by user@UID.service's LogRateLimit*; moat's
 * drop-in lifts them, but only a user manager started after it was read runs with it. */
int host_check_journal_limits(uid_t uid, host_check *ret);

int host_check_podman(run_manager m, host_check *ret);
/* podman's storage driver: vfs works, but copies a whole image for every container. */
int host_check_storage(run_manager m, host_check *ret);
int host_check_manager(run_manager m, host_check *ret);
int host_check_slice(run_manager m, host_check *ret);
int host_check_delegation(uid_t uid, host_check *ret);
int host_check_subids(uid_t uid, host_check *ret);

/* The pure parts, for the tests. */

/* Whether a rate limit of BURST entries per INTERVAL_USEC lets a run's output through: at
 * least a million lines a second, far above what journald ingests.  0 is journald's default. */
bool journal_limits_lift(uint64_t interval_usec, uint64_t burst);

/* The number of subordinate ids TEXT (an /etc/subuid or /etc/subgid) gives USER or UID; 0
 * when none. */
uint64_t subid_count(const char *text, const char *user, uid_t uid);
