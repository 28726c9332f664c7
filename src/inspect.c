/* moat inspect: a run's record, with the live state of its unit and container. */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "journal.h"
#include "json-util.h"
#include "strv.h"
#include "podman.h"
#include "price-table.h"
#include "usage-report.h"
#include "unit.h"

/* The live part: the unit's ActiveState and, when it still exists, the container's state. */
static void add_live_state(cJSON *obj, const run_record *rec) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_free_ char *state = NULL;
        podman_container_state cs = {};
        cJSON *container;

        if (unit_bus_open(rec->manager, &bus, NULL) >= 0 && unit_active_state(bus, rec->unit, &state, NULL) >= 0)
                cJSON_AddStringToObject(obj, "unit_state", state);
        else
                cJSON_AddNullToObject(obj, "unit_state");

        if (!rec->container_id || podman_client_open(rec->manager == RUN_MANAGER_USER, &c, NULL) < 0 ||
            podman_container_inspect(c, rec->container_id, &cs, NULL) < 0) {
                cJSON_AddNullToObject(obj, "container_state");
                return;
        }
        container = cJSON_AddObjectToObject(obj, "container_state");
        if (container) {
                cJSON_AddStringToObject(container, "status", cs.status ? cs.status : "");
                cJSON_AddNumberToObject(container, "exit_code", cs.exit_code);
                cJSON_AddBoolToObject(container, "oom_killed", cs.oom_killed);
        }
        podman_container_state_free(&cs);
}

/* The hosts the run's proxy refused, from the journal's network-denied records. */
static void add_denied_hosts(cJSON *obj, const run_record *rec) {
        _cleanup_(strv_freep) char **hosts = NULL;
        cJSON *a;

        if (!run_has_proxy(rec) || journal_read_denied_hosts(rec, &hosts, NULL) < 0) {
                cJSON_AddNullToObject(obj, "network_denied");
                return;
        }
        a = cJSON_AddArrayToObject(obj, "network_denied");
        for (char **h = hosts; a && *h; h++)
                cJSON_AddItemToArray(a, cJSON_CreateString(*h));
}

/* The run's token usage at model APIs, summed from its proxy's request records, with an
 * estimated cost where the price table prices every model it used. */
static void add_usage(cJSON *obj, const run_record *rec, const char *home) {
        usage_report rep = {};
        price_table prices = {};
        usage_row all;
        double cost = 0;
        bool priced = true;
        cJSON *u, *models;

        if (!run_has_proxy(rec) || usage_report_add_run(&rep, rec, NULL) < 0) {
                cJSON_AddNullToObject(obj, "usage");
                usage_report_done(&rep);
                return;
        }
        (void) price_table_load(home, &prices, NULL);
        usage_report_total(&rep, &all);
        u = cJSON_AddObjectToObject(obj, "usage");
        if (u) {
                cJSON_AddNumberToObject(u, "requests", (double) all.requests);
                cJSON_AddNumberToObject(u, "unknown", (double) all.unknown);
                cJSON_AddNumberToObject(u, "input_tokens", (double) all.input);
                cJSON_AddNumberToObject(u, "output_tokens", (double) all.output);
                cJSON_AddNumberToObject(u, "cache_read_tokens", (double) all.cache_read);
                cJSON_AddNumberToObject(u, "cache_write_tokens", (double) all.cache_write);
                models = cJSON_AddArrayToObject(u, "models");
                for (size_t i = 0; i < rep.n; i++) {
                        double c = usage_row_cost(&rep.rows[i], &prices);

                        if (rep.rows[i].model[0] && models)
                                cJSON_AddItemToArray(models, cJSON_CreateString(rep.rows[i].model));
                        if (c >= 0)
                                cost += c;
                        else if (rep.rows[i].requests > rep.rows[i].unknown)
                                priced = false;
                }
                if (priced && prices.source) {
                        cJSON_AddNumberToObject(u, "cost", cost);
                        cJSON_AddStringToObject(u, "currency", prices.currency);
                } else
                        cJSON_AddNullToObject(u, "cost");
        }
        usage_report_done(&rep);
        price_table_done(&prices);
}

int cmd_inspect(int argc, char **argv) {
        enum { OPT_JSON = OPT_OWN };
        static const struct option options[] = {
                { "json", no_argument, NULL, OPT_JSON },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        cli_manager_flags mf = {};
        _cleanup_(cJSON_Deletep) cJSON *obj = NULL;
        _cleanup_free_ char *json = NULL, *out = NULL;
        bool as_json = false;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case OPT_JSON:
                        as_json = true;
                        break;
                case 'h':
                        fputs("Usage: moat inspect [--json] [--user|--system] RUN\n"
                              "\n"
                              "Show RUN's record with the live state of its unit and container.\n"
                              "See moat-inspect(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "inspect");
                }
        if (argc - optind != 1)
                return cli_fail("give exactly one run; usage: moat inspect RUN");

        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        rec = cli_resolve(&ctx, argv[optind]);
        if (!rec)
                return EXIT_MOAT_ERROR;
        if (run_record_to_json(rec, &json, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        obj = cJSON_Parse(json);
        if (!obj)
                return cli_fail("out of memory");
        add_live_state(obj, rec);
        add_denied_hosts(obj, rec);
        add_usage(obj, rec, run_store_home(ctx.store));

        if (as_json) {
                out = cJSON_Print(obj);
                if (!out)
                        return cli_fail("out of memory");
                puts(out);
                return 0;
        }
        for (cJSON *item = obj->child; item; item = item->next) {
                _cleanup_free_ char *v = NULL;

                if (cJSON_IsString(item))
                        printf("%s: %s\n", item->string, item->valuestring);
                /* the record's 0 means none was set: not a limit of 0 */
                else if (cJSON_IsNumber(item) && item->valuedouble == 0 &&
                         (strcmp(item->string, "memory_bytes") == 0 || strcmp(item->string, "cpus") == 0))
                        printf("%s: no limit\n", item->string);
                else if (!cJSON_IsNull(item) && (v = cJSON_PrintUnformatted(item)))
                        printf("%s: %s\n", item->string, v);
        }
        return 0;
}
