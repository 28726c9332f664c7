/* moat usage: the tokens runs' agents used, per agent and model, with an estimated cost. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-util.h"
#include "cli.h"
#include "json-util.h"
#include "price-table.h"
#include "runner.h"
#include "time-util.h"
#include "usage-report.h"

/* --since: a date (2026-12-01), a time (2026-12-01T08:00:00, UTC) or a duration back from now
 * (7d, 12h). */
static int parse_since(const char *s, uint64_t *ret) {
        struct tm tm = {};
        const char *end;
        uint64_t ago;
        time_t t;

        if (parse_duration(s, &ago) == 0) {
                uint64_t now = now_usec();

                *ret = now > ago ? now - ago : 0;
                return 0;
        }
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end) {
                tm = (struct tm) {};
                end = strptime(s, "%Y-%m-%d", &tm);
        }
        if (!end || (*end && strcmp(end, "Z") != 0))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC;
        return 0;
}

static cJSON *row_json(const usage_row *row, double cost, bool with_names) {
        cJSON *o = cJSON_CreateObject();

        if (!o)
                return NULL;
        if (with_names) {
                cJSON_AddStringToObject(o, "agent", row->agent);
                if (row->model[0])
                        cJSON_AddStringToObject(o, "model", row->model);
                else
                        cJSON_AddNullToObject(o, "model");
        }
        cJSON_AddNumberToObject(o, "requests", (double) row->requests);
        cJSON_AddNumberToObject(o, "unknown", (double) row->unknown);
        cJSON_AddNumberToObject(o, "input_tokens", (double) row->input);
        cJSON_AddNumberToObject(o, "output_tokens", (double) row->output);
        cJSON_AddNumberToObject(o, "cache_read_tokens", (double) row->cache_read);
        cJSON_AddNumberToObject(o, "cache_write_tokens", (double) row->cache_write);
        if (cost >= 0)
                cJSON_AddNumberToObject(o, "cost", cost);
        else
                cJSON_AddNullToObject(o, "cost");
        return o;
}

static int print_json(const usage_report *rep, const price_table *prices, const char *since) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL;
        cJSON *rows = NULL, *total;
        double sum = 0;
        usage_row all;

        if (!o || !(rows = cJSON_AddArrayToObject(o, "rows")))
                return cli_fail("out of memory");
        if (since)
                cJSON_AddStringToObject(o, "since", since);
        cJSON_AddNumberToObject(o, "runs", (double) rep->runs);
        cJSON_AddStringToObject(o, "currency", prices->currency ?: "USD");
        if (prices->source)
                cJSON_AddStringToObject(o, "prices", prices->source);
        for (size_t i = 0; i < rep->n; i++) {
                double cost = usage_row_cost(&rep->rows[i], prices);

                if (cost > 0)
                        sum += cost;
                cJSON_AddItemToArray(rows, row_json(&rep->rows[i], cost, true));
        }
        usage_report_total(rep, &all);
        total = row_json(&all, sum, false);
        if (!total || !cJSON_AddItemToObject(o, "total", total))
                return cli_fail("out of memory");
        text = cJSON_Print(o);
        if (!text)
                return cli_fail("out of memory");
        puts(text);
        return 0;
}

static void print_row(const char *agent, const char *model, const usage_row *row, double cost) {
        char money[32] = "-";

        if (cost >= 0)
                snprintf(money, sizeof(money), "%.4f", cost);
        printf("%-10s %-32s %8" PRIu64 " %7" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10s\n",
               agent, model, row->requests, row->unknown, row->input, row->output, row->cache_read, row->cache_write,
               money);
}

static void print_text(const usage_report *rep, const price_table *prices) {
        double sum = 0;
        bool unpriced = false;
        usage_row all;

        printf("%-10s %-32s %8s %7s %12s %12s %12s %12s %10s\n", "AGENT", "MODEL", "REQUESTS", "UNKNOWN", "INPUT",
               "OUTPUT", "CACHE_READ", "CACHE_WRITE", "COST");
        for (size_t i = 0; i < rep->n; i++) {
                const usage_row *row = &rep->rows[i];
                double cost = usage_row_cost(row, prices);

                if (cost >= 0)
                        sum += cost;
                else if (row->requests > row->unknown)
                        unpriced = true;
                print_row(row->agent[0] ? row->agent : "-", row->model[0] ? row->model : "(unknown)", row, cost);
        }
        usage_report_total(rep, &all);
        print_row("TOTAL", "", &all, sum);
        if (prices->source)
                printf("\nCosts are estimates in %s from %s%s; UNKNOWN counts answers whose usage could not be read.\n",
                       prices->currency, prices->source, unpriced ? " (a model it has no price for counts as 0)" : "");
}

int cmd_usage(int argc, char **argv) {
        enum { OPT_JSON = OPT_OWN, OPT_SINCE };
        static const struct option options[] = {
                { "since", required_argument, NULL, OPT_SINCE },
                { "json", no_argument, NULL, OPT_JSON },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        cli_manager_flags mf = {};
        usage_report rep = {};
        price_table prices = {};
        run_record **list = NULL;
        const char *since_arg = NULL;
        uint64_t since = 0;
        bool as_json = false;
        size_t n = 0;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case OPT_JSON:
                        as_json = true;
                        break;
                case OPT_SINCE:
                        if (parse_since(optarg, &since) < 0)
                                return cli_fail("invalid --since '%s': use a date (2026-12-01), a UTC time "
                                                "(2026-12-01T08:00:00) or a duration back from now (7d, 12h)",
                                                optarg);
                        since_arg = optarg;
                        break;
                case 'h':
                        fputs("Usage: moat usage [--since DATE] [--json] [--user|--system]\n"
                              "\n"
                              "Sum the tokens that runs' agents used at model APIs, as their proxies\n"
                              "recorded them, per agent and model, with an estimated cost from the price\n"
                              "table.\n"
                              "      --since DATE  only runs created since DATE: 2026-12-01, 2026-12-01T08:00:00\n"
                              "                    (UTC) or a duration back from now, e.g. 7d or 12h\n"
                              "      --json        one JSON object\n"
                              "See moat-usage(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "usage");
                }
        if (optind < argc)
                return cli_fail("unexpected argument '%s'; usage: moat usage [--since DATE] [--json]", argv[optind]);

        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        if (run_store_list(ctx.store, &list, &n, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        r = 0;
        /* oldest first: the rows come in the order models were first used */
        for (size_t i = n; i-- > 0 && r >= 0;)
                if (list[i]->created_at >= since)
                        r = usage_report_add_run(&rep, list[i], &err);
        run_records_free(list, n);
        if (r < 0) {
                usage_report_done(&rep);
                return cli_fail("%s", moat_error_message(&err));
        }
        if (price_table_load(run_store_home(ctx.store), &prices, &err) < 0) {
                /* no table (or a broken one): tokens still count, costs are unknown */
                fprintf(stderr, "moat: warning: %s; no costs\n", moat_error_message(&err));
                moat_error_clear(&err);
        }
        if (as_json)
                r = print_json(&rep, &prices, since_arg);
        else
                print_text(&rep, &prices);
        usage_report_done(&rep);
        price_table_done(&prices);
        return r;
}
