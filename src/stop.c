/* moat stop: stop runs, as `systemctl [--user] stop moat-<id>` does. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "cli-util.h"
#include "cli.h"
#include "unit.h"

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
                              "Stop runs: their containers get SIGTERM, then SIGKILL after 10 s; each run\n"
                              "is recorded as stopped. RUN is an id, a unique id prefix or a name.\n"
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
                int r;

                if (!rec) {
                        rc = EXIT_MOAT_ERROR;
                        continue;
                }
                r = unit_stop(ctx.bus, rec->unit, true, &err);
                if (r < 0 && r != -ENOENT) /* -ENOENT: already ended and collected */
                        rc = cli_fail("%s", moat_error_message(&err));
        }
        return rc;
}
