/* moat wait: block until a run ends; exit with its exit code. */
#include "config.h"

#include <stdio.h>

#include "cli-util.h"
#include "cli.h"

int cmd_wait(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        cli_manager_flags mf = {};
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        fputs("Usage: moat wait [--user|--system] RUN\n"
                              "\n"
                              "Wait until RUN ends and exit with its exit code (125 when it failed).\n"
                              "See moat-wait(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "wait");
                }
        if (argc - optind != 1)
                return cli_fail("give exactly one run; usage: moat wait RUN");
        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;
        rec = cli_resolve(&ctx, argv[optind]);
        if (!rec)
                return EXIT_MOAT_ERROR;

        if (cli_wait_end(&ctx, &rec) != 0)
                return EXIT_MOAT_ERROR;

        return cli_report_end(rec, rec->state, rec->has_exit_code, rec->exit_code, rec->error, rec->stop_reason, 0, false);
}
