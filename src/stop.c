/* moat stop: stop runs, as `systemctl [--user] stop moat-<id>` does. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli-util.h"
#include "cli.h"
#include "unit.h"

int cmd_stop(int argc, char **argv) {
        enum { OPT_USER = 256, OPT_SYSTEM };
        static const struct option options[] = {
                { "user", no_argument, NULL, OPT_USER },
                { "system", no_argument, NULL, OPT_SYSTEM },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(run_store_freep) run_store *store = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        bool user = false, system = false;
        int c, rc = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case OPT_USER:
                        user = true;
                        break;
                case OPT_SYSTEM:
                        system = true;
                        break;
                case 'h':
                        fputs("Usage: moat stop [--user|--system] RUN...\n"
                              "\n"
                              "Stop runs: their containers get SIGTERM, then SIGKILL after 10 s; each run\n"
                              "is recorded as stopped. RUN is an id, a unique id prefix or a name.\n"
                              "See moat-stop(1).\n",
                              stdout);
                        return 0;
                default:
                        return cli_fail_option(c, argv, "stop");
                }
        if (optind >= argc)
                return cli_fail("no run given; usage: moat stop RUN...");

        store = cli_open_store(cli_manager(user, system));
        if (!store)
                return EXIT_MOAT_ERROR;
        if (unit_bus_open(cli_manager(user, system), &bus, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));

        for (int i = optind; i < argc; i++) {
                _cleanup_(run_record_freep) run_record *rec = NULL;
                int r;

                moat_error_clear(&err);
                r = run_store_resolve(store, argv[i], &rec, &err);
                if (r >= 0) {
                        r = unit_stop(bus, rec->unit, true, &err);
                        if (r == -ENOENT)
                                r = 0; /* already ended and collected */
                }
                if (r < 0)
                        rc = cli_fail("%s", moat_error_message(&err));
        }
        return rc;
}
