/* moat logs: a run's output, from the journal. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-util.h"
#include "cli.h"
#include "follow.h"

int cmd_logs(int argc, char **argv) {
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                { "timestamps", no_argument, NULL, 't' },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(follow_end_done) follow_end ended = {};
        follow_options o = { .tail = -1 };
        cli_manager_flags mf = {};
        char *end;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":fn:th", options, NULL)) >= 0)
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
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "logs");
                }
        if (argc - optind != 1)
                return cli_fail("give exactly one run; usage: moat logs [-f] [-n N] [-t] RUN");

        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        rec = cli_resolve(&ctx, argv[optind]);
        if (!rec)
                return EXIT_MOAT_ERROR;

        r = follow_run(rec, &o, &ended);
        if (r == -EPIPE)
                return 0; /* the reader went away (moat logs | head): nothing to say */
        if (r < 0)
                return EXIT_MOAT_ERROR;
        /* the output shown is not all of it: scripts must not take it for the whole */
        return ended.dropped > 0 ? 1 : 0;
}
