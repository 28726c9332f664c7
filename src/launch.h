/* Starting a run from the command line: moat run's options (and, for a provider, -p), the
 * workspace's moat.yaml under them, and the three modes. */
#pragma once

#include <stdbool.h>

#include "cli-util.h"
#include "run-plan.h"

typedef struct launch {
        run_plan p;
        cli_manager_flags mf;
} launch;

/* Parses argv of COMMAND ("run", or a provider's name with -p). Returns -1 to go on, or the
 * exit status when done (0 after --help, 125 after a usage error, reported). */
int launch_parse(launch *l, int argc, char **argv, const char *command, bool is_provider);

/* Reads WORKSPACE/moat.yaml into what the flags left open, printing its warnings; asks about
 * (or refuses) one that is not approved. -1 to go on, else the exit status. */
int launch_apply_config(launch *l);

/* Makes the run of PROVIDER (run_plan_add_provider()). -1 to go on, else the exit status. */
int launch_provider(launch *l, const char *provider);

/* Starts the run in its mode; the exit status for moat. */
int launch_start(launch *l);

void launch_done(launch *l);
