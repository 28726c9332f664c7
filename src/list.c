/* moat list: the runs in the store, newest first. */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "cli-util.h"
#include "cli.h"
#include "time-util.h"

static void format_age(uint64_t then, uint64_t now, char *buf, size_t size) {
        uint64_t s = now > then ? (now - then) / USEC_PER_SEC : 0;

        if (s < 60)
                snprintf(buf, size, "%us", (unsigned) s);
        else if (s < 3600)
                snprintf(buf, size, "%um", (unsigned) (s / 60));
        else if (s < 86400)
                snprintf(buf, size, "%uh", (unsigned) (s / 3600));
        else
                snprintf(buf, size, "%ud", (unsigned) (s / 86400));
}

int cmd_list(int argc, char **argv) {
        enum { OPT_JSON = OPT_OWN };
        static const struct option options[] = {
                { "json", no_argument, NULL, OPT_JSON },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        run_record **list = NULL;
        size_t n = 0;
        cli_manager_flags mf = {};
        bool json = false;
        uint64_t now = now_usec();
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case OPT_JSON:
                        json = true;
                        break;
                case 'h':
                        fputs("Usage: moat list [--json] [--user|--system]\n"
                              "\n"
                              "List runs, newest first: name, id, state, exit code, age, image.\n"
                              "With --json, an array of run records. See moat-list(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "list");
                }
        if (optind < argc)
                return cli_fail("unexpected argument '%s'; usage: moat list [--json]", argv[optind]);

        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        if (run_store_list(ctx.store, &list, &n, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));

        if (json) {
                fputc('[', stdout);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *s = NULL;

                        if (run_record_to_json(list[i], &s, NULL) < 0)
                                continue;
                        printf("%s%s", i ? "," : "", s);
                }
                fputs("]\n", stdout);
        } else {
                /* as wide as the longest name (up to 63), so that every column stays one */
                int width = 24;

                for (size_t i = 0; i < n; i++)
                        if (list[i]->name && (int) strlen(list[i]->name) > width)
                                width = (int) strlen(list[i]->name);
                printf("%-*s %-12s %-8s %4s %5s %s\n", width, "NAME", "ID", "STATE", "EXIT", "AGE", "IMAGE");
                for (size_t i = 0; i < n; i++) {
                        char age[16], code[8] = "-";

                        format_age(list[i]->created_at, now, age, sizeof(age));
                        if (list[i]->has_exit_code)
                                snprintf(code, sizeof(code), "%d", list[i]->exit_code);
                        printf("%-*s %-12s %-8s %4s %5s %s\n", width, list[i]->name, list[i]->id,
                               run_state_to_string(list[i]->state), code, age, list[i]->image);
                }
        }
        run_records_free(list, n);
        return 0;
}
