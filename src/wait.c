/* moat wait: block until a run ends; exit with its exit code. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/inotify.h>

#include "cli-util.h"
#include "cli.h"
#include "unit.h"

int cmd_wait(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_close_ int ifd = -1;
        _cleanup_free_ char *dir = NULL;
        cli_manager_flags mf = {};
        int c, unit_gone = 0;

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

        /* The monitor renames each new record into place: watch for that, and look at the
         * unit now and then in case nothing will ever be written again. */
        if (asprintf(&dir, "%s/runs/%s", run_store_home(ctx.store), rec->id) < 0)
                return cli_fail("out of memory");
        ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd < 0 || inotify_add_watch(ifd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF) < 0)
                return cli_fail("cannot watch %s: %m", dir);

        for (;;) {
                _cleanup_(moat_error_clear) moat_error err = {};
                _cleanup_free_ char *state = NULL;
                struct pollfd p = { .fd = ifd, .events = POLLIN };
                char buf[4096];
                run_record *now = NULL;

                if (run_store_load(ctx.store, rec->id, &now, &err) < 0)
                        return cli_fail("%s", moat_error_message(&err));
                run_record_free(rec);
                rec = now;
                if (run_state_is_final(rec->state))
                        break;
                if (unit_active_state(ctx.bus, rec->unit, &state, &err) < 0)
                        return cli_fail("%s", moat_error_message(&err));
                /* ExecStopPost writes the record before the unit is inactive; give a record
                 * that lags one more look before calling the run lost. */
                if (!unit_state_is_live(state) && unit_gone++ > 0)
                        return cli_fail("run %s (%s) ended without recording how; see 'journalctl%s -u %s'",
                                        rec->name, rec->id, rec->manager == RUN_MANAGER_USER ? " --user" : "",
                                        rec->unit);
                if (poll(&p, 1, 1000) < 0 && errno != EINTR)
                        return cli_fail("cannot wait: %m");
                while (read(ifd, buf, sizeof(buf)) > 0)
                        ;
        }

        if (rec->state == RUN_FAILED)
                return cli_fail("run %s (%s) failed: %s", rec->name, rec->id, rec->error ? rec->error : "unknown");
        return rec->has_exit_code ? rec->exit_code & 0xff : EXIT_MOAT_ERROR;
}
