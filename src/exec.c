/* moat exec: a command in a running run's container, through podman's exec endpoints; its
 * output on moat's stdout and stderr (or a terminal with -t), its exit code moat's. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "exec-session.h"
#include "podman-attach.h"
#include "podman.h"
#include "runner.h"
#include "session.h"
#include "strv.h"
#include "unit.h"

/* podman's default stop timeout, for a command whose moat went first */
#define EXEC_STOP_GRACE_USEC (10 * UINT64_C(1000000))
/* conmon forks its cleanup's waiter as the command ends: a moment */
#define EXEC_RELEASE_USEC (2 * UINT64_C(1000000))

typedef struct exec_call {
        podman_client *client;
        const char *exec_id;
} exec_call;

/* Ctrl-C without a terminal, or the terminal gone: the command ends, as a local one would. */
static void stop_exec(void *userdata) {
        exec_call *e = userdata;

        (void) exec_session_signal("/proc", e->exec_id, SIGTERM);
}

static void resize_exec(unsigned rows, unsigned cols, void *userdata) {
        exec_call *e = userdata;
        moat_error err = {};

        (void) podman_exec_resize(e->client, e->exec_id, rows, cols, &err);
        moat_error_clear(&err);
}

static void usage(FILE *out) {
        fputs("Usage: moat exec [-i] [-t] [-e KEY=VALUE] [--user|--system] RUN -- COMMAND [ARG...]\n"
              "\n"
              "Run COMMAND in RUN's container while the run runs. Its stdout and stderr come\n"
              "out on moat's; moat exits with its exit code.\n"
              "  -i, --interactive     pass stdin to the command\n"
              "  -t, --tty             give it a terminal (with -i on a terminal: the size follows)\n"
              "  -e, --env KEY=VALUE   set a variable for the command (repeatable)\n"
              "See moat-exec(1).\n",
              out);
}

/* The exec session's end: its exit code, once podman has it. */
static int exec_exit_code(podman_client *c, const char *exec_id, int *ret, moat_error *err) {
        for (int attempt = 0; attempt < 100; attempt++) {
                bool running;
                int r;

                r = podman_exec_inspect(c, exec_id, &running, ret, err);
                if (r < 0 || !running)
                        return r;
                usleep(20000); /* the stream ends a moment before podman records the exit */
        }
        return moat_error_set(err, -ETIMEDOUT, "the command's stream ended, but it still runs");
}

int cmd_exec(int argc, char **argv) {
        static const struct option options[] = {
                { "interactive", no_argument, NULL, 'i' },
                { "tty", no_argument, NULL, 't' },
                { "env", required_argument, NULL, 'e' },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_(podman_attach_closep) podman_attach *a = NULL;
        _cleanup_(strv_freep) char **env = NULL;
        _cleanup_free_ char *socket = NULL, *exec_id = NULL, *state = NULL;
        _cleanup_close_ int guard = -1;
        cli_manager_flags mf = {};
        bool interactive = false, tty = false;
        int opt, dashdash = argc, r, code;

        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        dashdash = i;
                        break;
                }
        opterr = 0;
        while ((opt = getopt_long(dashdash, argv, ":ite:h", options, NULL)) >= 0)
                switch (opt) {
                case 'i':
                        interactive = true;
                        break;
                case 't':
                        tty = true;
                        break;
                case 'e':
                        if (validate_env(optarg, &err) < 0)
                                return cli_fail("%s", moat_error_message(&err));
                        if (strv_push(&env, strdup(optarg)) < 0)
                                return cli_fail("out of memory");
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        if (!cli_manager_option(opt, &mf))
                                return cli_fail_option(opt, argv, "exec");
                }
        if (optind + 1 != dashdash || dashdash + 1 >= argc)
                return cli_fail("give one run and a command; usage: moat exec [-i] [-t] RUN -- COMMAND [ARG...]");

        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;
        rec = cli_resolve(&ctx, argv[optind]);
        if (!rec)
                return EXIT_MOAT_ERROR;
        if (unit_active_state(ctx.bus, rec->unit, &state, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (rec->state != RUN_RUNNING || !unit_state_is_live(state) || !rec->container_id)
                return cli_fail("run %s (%s) is %s, not running: there is no container to run a command in", rec->name,
                                rec->id, run_state_to_string(rec->state));
        /* a terminal only where there is one to give it */
        tty = tty && isatty(STDOUT_FILENO) && (!interactive || isatty(STDIN_FILENO));

        if (podman_socket_path(rec->manager == RUN_MANAGER_USER, &socket, &err) < 0 ||
            podman_client_new(socket, &c, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        {
                const podman_exec_spec spec = {
                        .command = argv + dashdash + 1,
                        .env = env,
                        .terminal = tty,
                        .stdin_open = interactive,
                };

                r = podman_exec_create(c, rec->container_id, &spec, &exec_id, &err);
        }
        if (r == -EBUSY || r == -ENOENT)
                return cli_fail("run %s (%s) has no running container to run a command in", rec->name, rec->id);
        if (r < 0)
                return cli_fail("%s", moat_error_message(&err));
        /* from here on the session is removed however moat ends: by moat at the command's end,
         * by the guard when moat is killed first */
        if (exec_guard_start(exec_id, EXEC_STOP_GRACE_USEC, &guard, &err) < 0 ||
            podman_exec_start_open(socket, exec_id, tty, &a, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        {
                exec_call e = { .client = c, .exec_id = exec_id };
                const session_ops ops = { .resize = resize_exec, .stop = stop_exec, .no_input = !interactive, .userdata = &e };

                r = session_run(a, tty, &ops);
        }
        if (r != 0)
                return r; /* asked to go: the guard ends the command */
        r = exec_exit_code(c, exec_id, &code, &err);
        (void) exec_session_release("/proc", exec_id, EXEC_RELEASE_USEC);
        exec_guard_done(TAKE_FD(guard));
        if (r < 0)
                return cli_fail("%s", moat_error_message(&err));
        return code & 0xff;
}
