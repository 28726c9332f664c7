#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cli-util.h"
#include "unit.h"

int cli_fail(const char *fmt, ...) {
        va_list ap;

        fputs("moat: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_MOAT_ERROR;
}

int cli_fail_error(const moat_error *err) {
        cli_fail("%s", moat_error_message(err));
        return err->exit_status > 0 ? err->exit_status : EXIT_MOAT_ERROR;
}

int cli_fail_option(int c, char **argv, const char *command) {
        const char *arg = argv[optind - 1];

        if (c == ':')
                return cli_fail("option '%s' of 'moat %s' needs a value", arg, command);
        if (optopt && strncmp(arg, "--", 2) != 0)
                return cli_fail("unknown option '-%c' for 'moat %s'; see 'moat %s --help'", optopt, command, command);
        return cli_fail("unknown option '%s' for 'moat %s'; see 'moat %s --help'", arg, command, command);
}

bool cli_manager_option(int c, cli_manager_flags *f) {
        if (c == OPT_USER)
                f->user = true;
        else if (c == OPT_SYSTEM)
                f->system = true;
        else
                return false;
        return true;
}

int cli_manager(const cli_manager_flags *f, run_manager *ret) {
        if (f->user && f->system)
                return -EINVAL;
        if (f->user)
                *ret = RUN_MANAGER_USER;
        else if (f->system)
                *ret = RUN_MANAGER_SYSTEM;
        else
                *ret = geteuid() == 0 ? RUN_MANAGER_SYSTEM : RUN_MANAGER_USER;
        return 0;
}

int cli_context_open(cli_context *ctx, const cli_manager_flags *f, bool need_bus) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *home = NULL;

        if (cli_manager(f, &ctx->manager) < 0)
                return cli_fail("--user and --system exclude each other");
        if (run_store_default_home(ctx->manager, &home, &err) < 0 || run_store_open(home, &ctx->store, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (need_bus && unit_bus_open(ctx->manager, &ctx->bus, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        return 0;
}

void cli_context_close(cli_context *ctx) {
        run_store_free(ctx->store);
        ctx->store = NULL;
        ctx->bus = sd_bus_flush_close_unref(ctx->bus);
}

run_record *cli_resolve(cli_context *ctx, const char *run) {
        _cleanup_(moat_error_clear) moat_error err = {};
        run_record *rec = NULL;

        if (run_store_resolve(ctx->store, run, &rec, &err) < 0) {
                cli_fail("%s", moat_error_message(&err));
                return NULL;
        }
        return rec;
}

int cli_report_end(const run_record *rec, run_state state, bool has_exit_code, int exit_code, const char *error,
                   const char *stop_reason, uint64_t dropped, bool status_line) {
        const char *lead = status_line ? "Run" : "moat: run";
        char lost[96] = "";
        int status;

        if (dropped > 0)
                snprintf(lost, sizeof(lost), "; journald dropped %" PRIu64 " line%s of its output", dropped,
                         dropped == 1 ? "" : "s");
        if (state == RUN_FAILED) {
                fprintf(stderr, "%s %s (%s) failed", lead, rec->name, rec->id);
                if (error)
                        fprintf(stderr, ": %s%s\n", error, lost);
                else
                        fprintf(stderr, "; see 'moat inspect %s'%s\n", rec->id, lost);
                /* its command could not be run: podman run's 126 or 127 */
                if (has_exit_code && (exit_code == EXIT_CANNOT_INVOKE || exit_code == EXIT_NOT_FOUND))
                        return exit_code;
                return EXIT_MOAT_ERROR;
        }
        if (state != RUN_STOPPED)
                stop_reason = NULL;
        if (!has_exit_code) {
                fprintf(stderr, "%s %s (%s) was %s%s%s%s before its container started\n", lead, rec->name, rec->id,
                        run_state_to_string(state), stop_reason ? " (" : "", stop_reason ?: "", stop_reason ? ")" : "");
                return EXIT_MOAT_ERROR;
        }
        status = exit_code & 0xff;
        if (status_line)
                fprintf(stderr, "Run %s (%s) %s%s%s%s with code %d%s\n", rec->name, rec->id,
                        run_state_to_string(state), stop_reason ? " (" : "", stop_reason ?: "", stop_reason ? ")" : "",
                        exit_code, lost);
        return status;
}

int cli_wait_end(cli_context *ctx, run_record **rec) {
        _cleanup_close_ int ifd = -1;
        _cleanup_free_ char *dir = NULL;
        int unit_gone = 0;

        /* The monitor renames each new record into place: watch for that, and look at the
         * unit now and then in case nothing will ever be written again. */
        if (asprintf(&dir, "%s/runs/%s", run_store_home(ctx->store), (*rec)->id) < 0)
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

                if (run_store_load(ctx->store, (*rec)->id, &now, &err) < 0)
                        return cli_fail("%s", moat_error_message(&err));
                run_record_free(*rec);
                *rec = now;
                if (run_state_is_final(now->state))
                        return 0;
                if (unit_bus_ensure(ctx->manager, &ctx->bus, &err) < 0 ||
                    unit_active_state(ctx->bus, now->unit, &state, &err) < 0)
                        return cli_fail("%s", moat_error_message(&err));
                /* ExecStopPost writes the record before the unit is inactive; give a record
                 * that lags one more look before calling the run lost. */
                if (!unit_state_is_live(state) && unit_gone++ > 0)
                        return cli_fail("run %s (%s) ended without recording how; see 'journalctl%s -u %s'",
                                        now->name, now->id, now->manager == RUN_MANAGER_USER ? " --user" : "",
                                        now->unit);
                if (poll(&p, 1, 1000) < 0 && errno != EINTR)
                        return cli_fail("cannot wait: %m");
                while (read(ifd, buf, sizeof(buf)) > 0)
                        ;
        }
}
