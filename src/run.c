/* moat run: start a run (fire-and-forget). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "follow.h"
#include "interactive.h"
#include "runner.h"

#define MAX_LIST 256

static void run_usage(FILE *out) {
        fputs("Usage: moat run [OPTIONS] [WORKSPACE] [-- COMMAND [ARG...]]\n"
              "\n"
              "Run COMMAND in a new container, as the transient systemd unit moat-<id>.service, and\n"
              "return once it runs. WORKSPACE (default: the current directory) is mounted at\n"
              "/workspace, the working directory.\n"
              "\n"
              "Options:\n"
              "  -f, --follow          print the run's output until it ends; exit with its code\n"
              "                        (Ctrl+C stops the run, a second Ctrl+C kills it)\n"
              "  -i, --interactive     attach stdin (and the terminal, with a TTY) until the run\n"
              "                        ends; Ctrl-] three times stops it; exit with its code\n"
              "  -n, --name NAME       name the run ([a-z0-9][a-z0-9_.-]{0,62}; default: random)\n"
              "      --image IMAGE     the image (default: " RUN_DEFAULT_IMAGE ")\n"
              "  -e, --env KEY=VALUE   set an environment variable in the container (repeatable)\n"
              "  -m, --mount SRC:DST[:ro]  bind-mount a host path (repeatable)\n"
              "      --keep            keep the container after the run ends\n"
              "      --memory SIZE     memory limit, e.g. 512m, 2g\n"
              "      --cpus N          CPU limit, e.g. 1.5\n"
              "      --user            use the user manager and rootless podman (default for non-root)\n"
              "      --system          use the system manager and rootful podman (default for root)\n"
              "  -h, --help            show this help\n"
              "\n"
              "Exit status: 0 when the run started (with -f: the run's exit code); 125 when it\n"
              "could not start (nothing is left behind).\n"
              "See moat-run(1).\n",
              out);
}

/* moat run -f: the output until the end, then the status line; exits with the run's code. */
static int follow_to_end(const run_record *rec) {
        const follow_options fo = { .follow = true, .tail = -1, .stop_on_interrupt = true };
        journal_end end = {};
        int r;

        r = follow_run(rec, &fo, &end);
        if (r == -EPIPE)
                return EXIT_MOAT_ERROR;
        if (r < 0)
                return EXIT_MOAT_ERROR;
        if (!end.seen)
                return cli_fail("run %s (%s) ended without a record of how; see 'moat inspect %s'", rec->name,
                                rec->id, rec->id);
        if (end.state == RUN_FAILED) {
                fprintf(stderr, "Run %s (%s) failed; see 'moat inspect %s'\n", rec->name, rec->id, rec->id);
                return EXIT_MOAT_ERROR;
        }
        fprintf(stderr, "Run %s (%s) %s with code %d\n", rec->name, rec->id, run_state_to_string(end.state),
                end.exit_code);
        return end.exit_code & 0xff;
}

int cmd_run(int argc, char **argv) {
        enum { OPT_IMAGE = OPT_OWN, OPT_KEEP, OPT_MEMORY, OPT_CPUS };
        static const struct option options[] = {
                { "name", required_argument, NULL, 'n' },
                { "image", required_argument, NULL, OPT_IMAGE },
                { "env", required_argument, NULL, 'e' },
                { "mount", required_argument, NULL, 'm' },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "follow", no_argument, NULL, 'f' },
                { "interactive", no_argument, NULL, 'i' },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        char *env[MAX_LIST + 1], *mounts[MAX_LIST + 1];
        run_options o = { .env = env, .mounts = mounts };
        cli_manager_flags mf = {};
        bool follow = false, interactive = false;
        int c, dashdash = argc, r;

        /* Everything after "--" is the command, options included. */
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        dashdash = i;
                        break;
                }

        opterr = 0;
        while ((c = getopt_long(dashdash, argv, ":fin:e:m:h", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        o.name = optarg;
                        break;
                case OPT_IMAGE:
                        o.image = optarg;
                        break;
                case 'e':
                        if (o.n_env >= MAX_LIST)
                                return cli_fail("too many -e options (at most %d)", MAX_LIST);
                        env[o.n_env++] = optarg;
                        break;
                case 'm':
                        if (o.n_mounts >= MAX_LIST)
                                return cli_fail("too many -m options (at most %d)", MAX_LIST);
                        mounts[o.n_mounts++] = optarg;
                        break;
                case 'f':
                        follow = true;
                        break;
                case 'i':
                        interactive = true;
                        break;
                case OPT_KEEP:
                        o.keep = true;
                        break;
                case OPT_MEMORY:
                        if (parse_memory_size(optarg, &o.memory_bytes) < 0)
                                return cli_fail("invalid --memory '%s': use a size such as 512m or 2g", optarg);
                        break;
                case OPT_CPUS:
                        if (parse_cpus(optarg, &o.cpus) < 0)
                                return cli_fail("invalid --cpus '%s': use a positive number such as 1.5", optarg);
                        break;
                case 'h':
                        run_usage(stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "run");
                }
        }
        env[o.n_env] = NULL;
        mounts[o.n_mounts] = NULL;
        if (optind < dashdash)
                o.workspace = argv[optind++];
        if (optind < dashdash)
                return cli_fail("unexpected argument '%s'; put the command after '--' (see 'moat run --help')",
                                argv[optind]);
        if (dashdash + 1 < argc)
                o.command = argv + dashdash + 1;
        if (cli_manager(&mf, &o.manager) < 0)
                return cli_fail("--user and --system exclude each other");

        if (follow && interactive)
                return cli_fail("-f and -i exclude each other: -i already shows the output");
        if (interactive)
                return interactive_run(&o);

        r = runner_start(&o, &rec, &err);
        if (r < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (!follow) {
                printf("Started %s (%s). Use 'moat logs %s -f' to follow output.\n", rec->name, rec->id, rec->id);
                return 0;
        }
        return follow_to_end(rec);
}
