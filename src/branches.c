/* moat branches: the branches runs made with --branch, their checkouts, their changes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "run-branch.h"

static void branches_usage(FILE *out) {
        fputs("Usage: moat branches [--user|--system] [list]\n"
              "       moat branches [--user|--system] diff NAME\n"
              "       moat branches [--user|--system] fetch NAME\n"
              "       moat branches [--user|--system] rm [-f] NAME...\n"
              "\n"
              "The branches moat/NAME that runs started with --branch NAME work on, each in a\n"
              "checkout of its own under MOAT_HOME.\n"
              "\n"
              "  list        each branch: name, its last run (id) and that run's state, base,\n"
              "              commits ahead of the base, uncommitted files in its checkout (-\n"
              "              while a run uses it), repository\n"
              "  diff NAME   what moat/NAME changed against its base (fetched first)\n"
              "  fetch NAME  bring moat/NAME into its repository now (a run's end does it too)\n"
              "  rm NAME     remove the checkout (the branch stays in the repository); refused\n"
              "              while a run uses it or while it holds uncommitted work\n"
              "  rm -f NAME  remove the checkout, its uncommitted work, and the branch\n"
              "\n"
              "NAME is looked for in the repository of the current directory first.\n"
              "See moat-branches(1).\n",
              out);
}

/* The run of E that has not ended, or NULL (also in *RET_LAST: the newest run of E). */
static const run_record *live_run(cli_context *ctx, const run_branch_entry *e, run_record **ret_last) {
        _cleanup_(moat_error_clear) moat_error err = {};

        if (run_branch_last_run(ctx->store, e, ret_last, &err) < 0)
                return NULL;
        return *ret_last && !run_state_is_final((*ret_last)->state) ? *ret_last : NULL;
}

static int branches_list(cli_context *ctx) {
        _cleanup_(moat_error_clear) moat_error err = {};
        run_branch_entry *list = NULL;
        size_t n = 0;

        if (run_branch_list(run_store_home(ctx->store), &list, &n, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        printf("%-20s %-12s %-8s %-8s %5s %5s  %s\n", "BRANCH", "RUN", "STATE", "BASE", "AHEAD", "DIRTY", "REPOSITORY");
        for (size_t i = 0; i < n; i++) {
                const run_branch_entry *e = &list[i];
                _cleanup_(run_record_freep) run_record *last = NULL;
                const run_record *live = live_run(ctx, e, &last);
                char ahead_s[24] = "-", dirty_s[24] = "-", branch[128];
                long ahead;
                size_t dirty;

                if (e->base && e->repo && run_branch_ahead(e->repo, e->name, e->base, &ahead, &err) >= 0)
                        snprintf(ahead_s, sizeof(ahead_s), "%ld", ahead);
                moat_error_clear(&err);
                /* a running agent could change the config under git's feet: no look inside */
                if (!live && run_branch_dirty(e->checkout, &dirty, &err) >= 0)
                        snprintf(dirty_s, sizeof(dirty_s), "%zu", dirty);
                moat_error_clear(&err);
                snprintf(branch, sizeof(branch), RUN_BRANCH_PREFIX "%s", e->name);
                printf("%-20s %-12s %-8s %-8.8s %5s %5s  %s\n", branch, last ? last->id : "-",
                       last ? run_state_to_string(last->state) : "-", e->base ?: "-", ahead_s, dirty_s, e->repo ?: "?");
        }
        run_branch_entries_free(list, n);
        return 0;
}

/* NAME's checkout, in *LIST (freed by the caller), or NULL after saying why. */
static run_branch_entry *find(cli_context *ctx, const char *name, run_branch_entry **list, size_t *n) {
        _cleanup_(moat_error_clear) moat_error err = {};
        run_branch_entry *e = NULL;

        if (!run_branch_name_valid(name)) {
                cli_fail("invalid branch name '%s'; see 'moat branches'", name);
                return NULL;
        }
        if (run_branch_list(run_store_home(ctx->store), list, n, &err) < 0 ||
            run_branch_find(*list, *n, ".", name, &e, &err) < 0) {
                cli_fail("%s", moat_error_message(&err));
                return NULL;
        }
        return e;
}

static int branches_fetch_or_diff(cli_context *ctx, const char *name, bool diff) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *text = NULL;
        run_branch_entry *list = NULL, *e;
        size_t n = 0;
        int rc = 0;

        e = find(ctx, name, &list, &n);
        if (!e)
                rc = EXIT_MOAT_ERROR;
        else if (!e->repo)
                rc = cli_fail("the repository of %s is unknown", e->checkout);
        else if (run_branch_fetch(e->repo, e->checkout, e->name, &err) < 0)
                rc = cli_fail("%s", moat_error_message(&err));
        else if (!diff)
                printf("Fetched " RUN_BRANCH_PREFIX "%s into %s.\n", e->name, e->repo);
        else if (!e->base)
                rc = cli_fail("the base of " RUN_BRANCH_PREFIX "%s is unknown", e->name);
        else if (run_branch_diff(e->repo, e->name, e->base, &text, &err) < 0)
                rc = cli_fail("%s", moat_error_message(&err));
        else
                fputs(text, stdout);
        run_branch_entries_free(list, n);
        return rc;
}

static int branches_rm_one(cli_context *ctx, const char *name, bool force) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *last = NULL;
        _cleanup_close_ int lock_fd = -1;
        run_branch_entry *list = NULL, *e;
        const run_record *live;
        size_t n = 0, dirty = 0;
        int rc = 0;

        e = find(ctx, name, &list, &n);
        if (!e) {
                run_branch_entries_free(list, n);
                return EXIT_MOAT_ERROR;
        }
        /* no run starts on it while this decides (the start checks under the same lock) */
        if (run_store_lock(ctx->store, &lock_fd, &err) < 0)
                rc = cli_fail("%s", moat_error_message(&err));
        else if ((live = live_run(ctx, e, &last)))
                rc = cli_fail("the branch " RUN_BRANCH_PREFIX "%s is in use by run %s (%s), which is %s; stop it "
                              "first",
                              e->name, live->name, live->id, run_state_to_string(live->state));
        else if (!force && run_branch_dirty(e->checkout, &dirty, &err) < 0)
                rc = cli_fail("%s; remove it anyway with 'moat branches rm -f %s'", moat_error_message(&err), e->name);
        else if (!force && dirty > 0)
                rc = cli_fail("the checkout of " RUN_BRANCH_PREFIX "%s holds %zu uncommitted file%s (%s); remove it "
                              "anyway with 'moat branches rm -f %s'",
                              e->name, dirty, dirty == 1 ? "" : "s", e->checkout, e->name);
        /* its commits are kept in the repository before the checkout goes */
        else if (!force && e->repo && run_branch_fetch(e->repo, e->checkout, e->name, &err) < 0)
                rc = cli_fail("%s; remove it anyway with 'moat branches rm -f %s'", moat_error_message(&err), e->name);
        else if (run_branch_remove(e, force, &err) < 0)
                rc = cli_fail("%s", moat_error_message(&err));
        else
                printf(force ? "Removed the checkout and the branch " RUN_BRANCH_PREFIX "%s.\n"
                             : "Removed the checkout of " RUN_BRANCH_PREFIX "%s; the branch stays in its repository.\n",
                       e->name);
        run_branch_entries_free(list, n);
        return rc;
}

static int branches_rm(cli_context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool force = false;
        int c, rc = 0;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":fh", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        branches_usage(stdout);
                        return 0;
                default:
                        return cli_fail_option(c, argv, "branches rm");
                }
        if (optind >= argc)
                return cli_fail("give the branch to remove; usage: moat branches rm [-f] NAME...");
        for (int i = optind; i < argc; i++) {
                int k = branches_rm_one(ctx, argv[i], force);

                if (k != 0)
                        rc = k;
        }
        return rc;
}

int cmd_branches(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        cli_manager_flags mf = {};
        const char *sub;
        int c;

        opterr = 0;
        /* '+': the subcommand's options are its own */
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        branches_usage(stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "branches");
                }
        sub = optind < argc ? argv[optind] : "list";
        if (strcmp(sub, "list") != 0 && strcmp(sub, "diff") != 0 && strcmp(sub, "fetch") != 0 &&
            strcmp(sub, "rm") != 0)
                return cli_fail("unknown subcommand '%s'; use list, diff, fetch or rm (see 'moat branches --help')",
                                sub);
        if (strcmp(sub, "list") == 0 && optind + 1 < argc)
                return cli_fail("unexpected argument '%s'; usage: moat branches [list]", argv[optind + 1]);
        if ((strcmp(sub, "diff") == 0 || strcmp(sub, "fetch") == 0) && optind + 2 != argc)
                return cli_fail("usage: moat branches %s NAME", sub);
        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        if (strcmp(sub, "list") == 0)
                return branches_list(&ctx);
        if (strcmp(sub, "rm") == 0)
                return branches_rm(&ctx, argc - optind, argv + optind);
        return branches_fetch_or_diff(&ctx, argv[optind + 1], strcmp(sub, "diff") == 0);
}
