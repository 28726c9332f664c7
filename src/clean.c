/* moat clean: remove the records of ended runs, and containers left by runs that are gone. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "podman.h"
#include "runner.h"
#include "unit.h"

/* A container labelled moat.run-id whose unit is not live belongs to no run. */
static int clean_containers(sd_bus *bus, run_manager manager, unsigned *ret_n, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_free_ char *socket = NULL;
        podman_container_summary *list = NULL;
        size_t n = 0;
        int r;

        r = podman_socket_path(manager == RUN_MANAGER_USER, &socket, err);
        if (r >= 0)
                r = podman_client_new(socket, &c, err);
        if (r >= 0)
                r = podman_container_list(c, "moat.run-id", &list, &n, err);
        if (r < 0)
                return r;
        *ret_n = 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *unit = NULL, *state = NULL;

                if (!list[i].run_id || !run_id_valid(list[i].run_id))
                        continue;
                unit = run_unit_name(list[i].run_id);
                if (!unit) {
                        r = moat_error_set(err, -ENOMEM, "out of memory");
                        break;
                }
                r = unit_active_state(bus, unit, &state, err);
                if (r < 0)
                        break;
                if (unit_state_is_live(state))
                        continue;
                r = podman_container_remove(c, list[i].id, true, err);
                if (r < 0 && r != -ENOENT)
                        break;
                r = 0;
                (*ret_n)++;
        }
        podman_container_summaries_free(list, n);
        return r;
}

int cmd_clean(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        cli_manager_flags mf = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        run_record **list = NULL;
        size_t n = 0;
        unsigned removed = 0, containers = 0;
        int c, rc = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        fputs("Usage: moat clean [--user|--system]\n"
                              "\n"
                              "Remove the records of ended runs (and their kept containers), and\n"
                              "containers labelled moat.run-id whose run has no live unit.\n"
                              "See moat-clean(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "clean");
                }
        if (optind < argc)
                return cli_fail("unexpected argument '%s'; usage: moat clean", argv[optind]);

        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;
        if (run_store_list(ctx.store, &list, &n, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *state = NULL;

                if (unit_active_state(ctx.bus, list[i]->unit, &state, &err) < 0) {
                        rc = cli_fail("%s", moat_error_message(&err));
                        break;
                }
                if (unit_state_is_live(state))
                        continue;
                if (runner_remove(ctx.store, list[i], &err) < 0) {
                        rc = cli_fail("%s", moat_error_message(&err));
                        moat_error_clear(&err);
                        continue;
                }
                removed++;
        }
        run_records_free(list, n);

        if (rc == 0 && clean_containers(ctx.bus, ctx.manager, &containers, &err) < 0)
                rc = cli_fail("%s", moat_error_message(&err));
        printf("Removed %u run%s and %u orphaned container%s.\n", removed, removed == 1 ? "" : "s", containers,
               containers == 1 ? "" : "s");
        return rc;
}
