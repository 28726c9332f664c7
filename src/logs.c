/* moat logs: a run's output, from the journal. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-util.h"
#include "cli.h"
#include "follow.h"

int cmd_logs(int argc, char **argv) {
        enum { OPT_USER = 256, OPT_SYSTEM };
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                { "timestamps", no_argument, NULL, 't' },
                { "user", no_argument, NULL, OPT_USER },
                { "system", no_argument, NULL, OPT_SYSTEM },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(run_store_freep) run_store *store = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        follow_options o = { .tail = -1 };
        bool user = false, system = false;
        char *end;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:fn:th", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        o.follow = true;
                        break;
                case 'n':
                        errno = 0;
                        o.tail = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || o.tail < 0)
                                return cli_fail("invalid --lines '%s': use a number of lines, 0 or more", optarg);
                        break;
                case 't':
                        o.timestamps = true;
                        break;
                case OPT_USER:
                        user = true;
                        break;
                case OPT_SYSTEM:
                        system = true;
                        break;
                case 'h':
                        fputs("Usage: moat logs [-f] [-n N] [-t] [--user|--system] RUN\n"
                              "\n"
                              "Print RUN's output from the journal: its stdout on stdout, its stderr on\n"
                              "stderr, byte for byte.\n"
                              "  -f, --follow      keep printing until the run ends\n"
                              "  -n, --lines N     only the last N lines\n"
                              "  -t, --timestamps  prefix each line with its time (UTC)\n"
                              "See moat-logs(1).\n",
                              stdout);
                        return 0;
                default:
                        return cli_fail_option(c, argv, "logs");
                }
        if (argc - optind != 1)
                return cli_fail("give exactly one run; usage: moat logs [-f] [-n N] [-t] RUN");

        store = cli_open_store(cli_manager(user, system));
        if (!store)
                return EXIT_MOAT_ERROR;
        if (run_store_resolve(store, argv[optind], &rec, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));

        r = follow_run(rec, &o, NULL);
        if (r == -EPIPE)
                return 0; /* the reader went away (moat logs | head): nothing to say */
        return r < 0 ? EXIT_MOAT_ERROR : 0;
}
