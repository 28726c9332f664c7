/* moat stop: stop runs, as `systemctl [--user] stop moat-<id>` does. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "cli-util.h"
#include "cli.h"
#include "run-stop.h"

static const char *ended_how(const run_record *rec) {
        static char buf[64];

        if (rec->state == RUN_EXITED && rec->has_exit_code) {
                snprintf(buf, sizeof(buf), "exited with code %d", rec->exit_code);
                return buf;
        }
        return run_state_to_string(rec->state);
}

int cmd_stop(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        cli_manager_flags mf = {};
        int c, rc = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        fputs("Usage: moat stop [--user|--system] RUN...\n"
                              "\n"
                              "Stop runs, at any moment of their start too, and wait until they ended:\n"
                              "their containers get SIGTERM, then SIGKILL after 10 s; each run is recorded\n"
                              "as stopped. RUN is an id, a unique id prefix or a name.\n"
                              "See moat-stop(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "stop");
                }
        if (optind >= argc)
                return cli_fail("no run given; usage: moat stop RUN...");
        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;

        for (int i = optind; i < argc; i++) {
                _cleanup_(run_record_freep) run_record *rec = cli_resolve(&ctx, argv[i]);
                _cleanup_(moat_error_clear) moat_error err = {};
                bool was_ended;
                int r;

                if (!rec) {
                        rc = EXIT_MOAT_ERROR;
                        continue;
                }
                r = run_stop(ctx.store, ctx.bus, &rec, &was_ended, &err);
                if (r == -ENOENT) {
                        printf("Run %s (%s) has ended; its record was removed meanwhile.\n", rec->name, rec->id);
                        continue;
                }
                if (r < 0) {
                        rc = cli_fail("cannot stop run %s (%s): %s", rec->name, rec->id, moat_error_message(&err));
                        continue;
                }
                /* stopped is what was asked; anything else ended before the stop could act */
                if (was_ended || rec->state != RUN_STOPPED)
                        printf("Run %s (%s) had already ended: %s.\n", rec->name, rec->id, ended_how(rec));
        }
        return rc;
}
