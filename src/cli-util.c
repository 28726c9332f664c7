#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "unit.h"

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
