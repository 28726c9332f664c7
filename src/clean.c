/* moat clean: remove the records of ended runs, containers left by runs that are gone, and
 * agents' images that their provider's recipe no longer names. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "podman.h"
#include "image-build.h"
#include "run-branch.h"
#include "runner.h"
#include "settings.h"
#include "unit.h"

/* Whether run ID is being started or stopped (its lock is held: run-stop.h), so that clean
 * must leave it alone; else *RET_LOCK_FD holds it (-1 when the run has no record). */
static int run_busy(run_store *store, const char *id, int *ret_lock_fd, moat_error *err) {
        int r;

        *ret_lock_fd = -1;
        r = run_store_lock_run(store, id, 0, ret_lock_fd, err);
        if (r == -EBUSY)
                return 1;
        if (r == -ENOENT) {
                moat_error_clear(err);
                return 0;
        }
        return r < 0 ? r : 0;
}

/* A container labelled moat.run-id whose unit is not live belongs to no run, unless its run
 * is starting (the container comes before the unit). */
static int clean_containers(run_store *store, sd_bus *bus, podman_client *c, unsigned *ret_n, moat_error *err) {
        podman_container_summary *list = NULL;
        size_t n = 0;
        int r;

        r = podman_container_list(c, "moat.run-id", &list, &n, err);
        if (r < 0)
                return r;
        *ret_n = 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *unit = NULL, *state = NULL;
                _cleanup_close_ int lock_fd = -1;

                if (!list[i].run_id || !run_id_valid(list[i].run_id))
                        continue;
                r = run_busy(store, list[i].run_id, &lock_fd, err);
                if (r < 0)
                        break;
                if (r > 0)
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

/* Whether TAG, an image of provider NAME, is one its recipe no longer names: the provider is
 * gone, or builds another image.  A provider that cannot be read keeps its images. */
static bool agent_image_stale(const char *name, const char *tag) {
        provider p = {};
        bool stale;
        int r;

        if (!name || !data_name_valid(name) || strncmp(tag, IMAGE_RECIPE_REPO, strlen(IMAGE_RECIPE_REPO)) != 0)
                return false;
        r = provider_load(name, &p, NULL);
        stale = r == -ENOENT || (r >= 0 && (!p.build.from || strcmp(p.image, tag) != 0));
        provider_done(&p);
        return stale;
}

/* Agents' images left by changed recipes; one a container still uses stays. */
static int clean_agent_images(podman_client *c, unsigned *ret_n, moat_error *err) {
        podman_image_summary *list = NULL;
        size_t n = 0;
        int r;

        r = podman_image_list(c, "io.moat.provider", &list, &n, err);
        if (r < 0)
                return r;
        *ret_n = 0;
        for (size_t i = 0; i < n && r >= 0; i++)
                for (char **t = list[i].tags; *t && r >= 0; t++) {
                        if (!agent_image_stale(list[i].label, *t))
                                continue;
                        r = podman_image_remove(c, *t, err);
                        if (r == -EBUSY || r == -ENOENT) {
                                moat_error_clear(err);
                                r = 0;
                                continue;
                        }
                        if (r >= 0)
                                (*ret_n)++;
                }
        podman_image_summaries_free(list, n);
        return r;
}

int cmd_clean(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(podman_client_freep) podman_client *pc = NULL;
        cli_manager_flags mf = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        run_record **list = NULL;
        size_t n = 0;
        unsigned removed = 0, containers = 0, images = 0, checkouts = 0;
        int c, rc = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        fputs("Usage: moat clean [--user|--system]\n"
                              "\n"
                              "Remove the records of ended runs (and their kept containers),\n"
                              "containers labelled moat.run-id whose run has no live unit, and\n"
                              "agents' images that their provider's recipe no longer names, and\n"
                              "the checkouts of --branch runs whose branch is merged, whose runs\n"
                              "have ended and which hold no uncommitted work (the branch stays).\n"
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
                _cleanup_close_ int lock_fd = -1;
                int busy;

                /* first the lock: once it is ours, no moat run is between record and unit */
                busy = run_busy(ctx.store, list[i]->id, &lock_fd, &err);
                if (busy < 0) {
                        rc = cli_fail("%s", moat_error_message(&err));
                        break;
                }
                if (busy > 0 || lock_fd < 0)
                        continue;
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

        if (rc == 0 && (podman_client_open(ctx.manager == RUN_MANAGER_USER, &pc, &err) < 0 ||
                        clean_containers(ctx.store, ctx.bus, pc, &containers, &err) < 0 ||
                        clean_agent_images(pc, &images, &err) < 0))
                rc = cli_fail("%s", moat_error_message(&err));
        printf("Removed %u run%s, %u orphaned container%s and %u old agent image%s.\n", removed,
               removed == 1 ? "" : "s", containers, containers == 1 ? "" : "s", images, images == 1 ? "" : "s");
        /* after the records: a branch whose runs are all gone is free */
        if (rc == 0 && run_branch_clean(ctx.store, &checkouts, &err) < 0)
                rc = cli_fail("%s", moat_error_message(&err));
        if (checkouts > 0)
                printf("Removed %u checkout%s of merged branches.\n", checkouts, checkouts == 1 ? "" : "s");
        return rc;
}
