#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "interactive.h"
#include "podman-attach.h"
#include "session.h"
#include "unit.h"

/* The attach, opened before the container starts so that not a byte of its output is lost. */
typedef struct early_attach {
        podman_attach *attach;
        char *socket;
} early_attach;

static int open_attach(const run_record *rec, void *userdata, moat_error *err) {
        early_attach *s = userdata;

        return podman_attach_open(s->socket, rec->container_id, rec->tty, true, &s->attach, err);
}

typedef struct run_control {
        podman_client *client;
        const run_record *rec;
        cli_context *ctx;
} run_control;

static void resize_container(unsigned rows, unsigned cols, void *userdata) {
        run_control *t = userdata;
        moat_error err = {};

        (void) podman_container_resize(t->client, t->rec->container_id, rows, cols, &err);
        moat_error_clear(&err);
}

static void stop_run(void *userdata) {
        run_control *t = userdata;

        if (unit_bus_ensure(t->ctx->manager, &t->ctx->bus, NULL) >= 0)
                (void) unit_stop(t->ctx->bus, t->rec->unit, false, NULL);
}

int interactive_run(run_options *o) {
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        early_attach s = {};
        cli_manager_flags mf = { .user = o->manager == RUN_MANAGER_USER, .system = o->manager == RUN_MANAGER_SYSTEM };
        run_control t = {};
        const session_ops ops = { .resize = resize_container, .stop = stop_run, .escape_stops = true, .userdata = &t };
        int r;

        o->interactive = true;
        o->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        o->before_start = open_attach;
        o->userdata = &s;
        if (podman_socket_path(o->manager == RUN_MANAGER_USER, &s.socket, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;

        r = runner_start(o, &rec, &err);
        if (r < 0) {
                podman_attach_close(s.attach);
                free(s.socket);
                return cli_fail_error(&err);
        }
        if (podman_client_new(s.socket, &c, &err) < 0) {
                podman_attach_close(s.attach);
                free(s.socket);
                return cli_fail("%s", moat_error_message(&err));
        }

        t = (run_control) { .client = c, .rec = rec, .ctx = &ctx };
        r = session_run(s.attach, rec->tty, &ops);
        podman_attach_close(s.attach);
        free(s.socket);
        if (r != 0)
                return r; /* moat goes; the run stays, as with -f */
        if (cli_wait_end(&ctx, &rec) != 0)
                return EXIT_MOAT_ERROR;
        return cli_report_end(rec, rec->state, rec->has_exit_code, rec->exit_code, rec->error, rec->stop_reason, 0, true);
}
