/* Starting a run from the command line: moat run's options (and, for a provider, -p), the
 * workspace's moat.yaml under them, and the three modes. */
#pragma once

#include <stdbool.h>

#include "cli-util.h"
#include "runner.h"
#include "settings.h"

typedef struct launch {
        run_options o;
        char **env;          /* KEY=VALUE, in the order they apply: later wins */
        char **mounts;
        char **command;      /* built by launch_provider(), or borrowed from argv */
        cli_manager_flags mf;
        bool follow, interactive, interactive_flag;
        bool memory_flag, cpus_flag;
        const char *prompt;  /* -p, providers only */
        char *const *extra;  /* after "--" */
        provider agent;      /* the provider, for moat PROVIDER */
        int network;         /* -1: not given by a flag */
        char **allow;
        char **grant_names;  /* asked for: each must be defined and stored */
        grant_def *grants;   /* what the run uses */
        size_t n_grants;
        moat_config cfg;
} launch;

/* Parses argv of COMMAND ("run", or a provider's name with -p). Returns -1 to go on, or the
 * exit status when done (0 after --help, 125 after a usage error, reported). */
int launch_parse(launch *l, int argc, char **argv, const char *command, bool is_provider);

/* Reads WORKSPACE/moat.yaml into what the flags left open, printing its warnings. */
int launch_apply_config(launch *l);

/* Makes the run of PROVIDER: its image, its argv (with the prompt as typed), the host
 * variables it passes through (values to the container only), its mounts. */
int launch_provider(launch *l, const char *provider);

/* Starts the run in its mode; the exit status for moat. */
int launch_start(launch *l);

void launch_done(launch *l);
