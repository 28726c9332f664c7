/* moat rm: remove the records (and kept containers) of runs. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "run-stop.h"
#include "runner.h"
#include "unit.h"

int cmd_rm(int argc, char **argv) {
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        cli_manager_flags mf = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        bool force = false;
        int c, rc = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":fh", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        fputs("Usage: moat rm [-f] [--user|--system] RUN...\n"
                              "\n"
                              "Remove the records of ended runs, and their containers when kept.\n"
                              "  -f, --force   stop a live run first\n"
                              "See moat-rm(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "rm");
                }
        if (optind >= argc)
                return cli_fail("no run given; usage: moat rm [-f] RUN...");

        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;

        for (int i = optind; i < argc; i++) {
                _cleanup_(run_record_freep) run_record *rec = NULL;
                _cleanup_free_ char *state = NULL;
                _cleanup_close_ int lock_fd = -1;
                bool was_ended;
                int r;

                moat_error_clear(&err);
                r = run_store_resolve(ctx.store, argv[i], &rec, &err);
                /* a run whose record is final has ended, even while its unit still cleans up;
                 * one whose lock is held is being started (run-stop.h) */
                if (r >= 0 && !run_state_is_final(rec->state)) {
                        r = run_store_lock_run(ctx.store, rec->id, 0, &lock_fd, &err);
                        if (r >= 0)
                                r = unit_active_state(ctx.bus, rec->unit, &state, &err);
                        else if (r == -EBUSY)
                                r = 0;
                }
                if (r >= 0 && !run_state_is_final(rec->state) && (lock_fd < 0 || unit_state_is_live(state))) {
                        if (!force) {
                                rc = cli_fail("run %s (%s) is still running; stop it first (moat stop %s) or use -f",
                                              rec->name, rec->id, rec->name);
                                continue;
                        }
                        lock_fd = safe_close(lock_fd);
                        r = run_stop(ctx.store, ctx.bus, &rec, &was_ended, &err);
                        if (r == -ENOENT) /* it ended and was removed meanwhile: done */
                                continue;
                }
                if (r >= 0)
                        r = runner_remove(ctx.store, rec, &err);
                if (r < 0)
                        rc = cli_fail("%s", moat_error_message(&err));
        }
        return rc;
}
