/* moat top: what the running runs' containers use now, refreshed until Ctrl+C. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "json-util.h"
#include "podman.h"
#include "resource-probe.h"
#include "time-util.h"

typedef struct watched {
        run_record *rec;
        resource_probe probe;
        bool probing;
        run_resources before, now;
        uint64_t memory_now;
} watched;

static void format_bytes(uint64_t v, char buf[static 16]) {
        if (v == RUN_RESOURCE_UNKNOWN)
                snprintf(buf, 16, "-");
        else if (v >= 1ULL << 30)
                snprintf(buf, 16, "%.1fG", (double) v / (1 << 30));
        else if (v >= 1ULL << 20)
                snprintf(buf, 16, "%.1fM", (double) v / (1 << 20));
        else
                snprintf(buf, 16, "%.0fK", (double) v / 1024);
}

/* The running runs and their containers' cgroups. */
static int watch_running(cli_context *ctx, watched **ret, size_t *ret_n) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        run_record **list = NULL;
        watched *w;
        size_t n = 0, k = 0;

        if (run_store_list(ctx->store, &list, &n, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        w = calloc(n ?: 1, sizeof(*w));
        if (!w) {
                run_records_free(list, n);
                return cli_fail("out of memory");
        }
        (void) podman_client_open(ctx->manager == RUN_MANAGER_USER, &c, NULL);
        for (size_t i = 0; i < n; i++) {
                podman_container_state st = {};

                if (list[i]->state != RUN_RUNNING || !list[i]->container_id) {
                        run_record_free(list[i]);
                        continue;
                }
                w[k] = (watched) { .rec = list[i], .before = RUN_RESOURCES_UNKNOWN, .now = RUN_RESOURCES_UNKNOWN,
                                   .memory_now = RUN_RESOURCE_UNKNOWN };
                if (c && podman_container_inspect(c, list[i]->container_id, &st, NULL) >= 0 && st.pid > 1)
                        w[k].probing = resource_probe_init(&w[k].probe, st.pid) >= 0;
                podman_container_state_free(&st);
                k++;
        }
        free(list);
        *ret = w;
        *ret_n = k;
        return 0;
}

static void watched_free(watched *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                resource_probe_done(&w[i].probe);
                run_record_free(w[i].rec);
        }
        free(w);
}

static double cpu_percent(const watched *w, uint64_t elapsed_usec) {
        if (w->now.cpu_usec == RUN_RESOURCE_UNKNOWN || w->before.cpu_usec == RUN_RESOURCE_UNKNOWN || elapsed_usec == 0)
                return -1;
        return 100.0 * (double) (w->now.cpu_usec - w->before.cpu_usec) / (double) elapsed_usec;
}

static int print_json(const watched *w, size_t n, uint64_t elapsed) {
        _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
        _cleanup_free_ char *text = NULL;

        if (!a)
                return cli_fail("out of memory");
        for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();
                double cpu = cpu_percent(&w[i], elapsed);
                const struct {
                        const char *key;
                        uint64_t v;
                } f[] = {
                        { "cpu_usec", w[i].now.cpu_usec },       { "memory_bytes", w[i].memory_now },
                        { "memory_peak_bytes", w[i].now.memory_peak_bytes }, { "tasks", w[i].now.tasks_peak },
                        { "io_read_bytes", w[i].now.io_read_bytes }, { "io_write_bytes", w[i].now.io_write_bytes },
                };

                if (!o || !cJSON_AddItemToArray(a, o))
                        return cli_fail("out of memory");
                cJSON_AddStringToObject(o, "id", w[i].rec->id);
                cJSON_AddStringToObject(o, "name", w[i].rec->name ?: "");
                if (cpu >= 0)
                        cJSON_AddNumberToObject(o, "cpu_percent", cpu);
                else
                        cJSON_AddNullToObject(o, "cpu_percent");
                for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
                        if (f[k].v == RUN_RESOURCE_UNKNOWN)
                                cJSON_AddNullToObject(o, f[k].key);
                        else
                                cJSON_AddNumberToObject(o, f[k].key, (double) f[k].v);
        }
        text = cJSON_Print(a);
        if (!text)
                return cli_fail("out of memory");
        puts(text);
        return 0;
}

static void print_table(const watched *w, size_t n, uint64_t elapsed) {
        printf("%-24s %-12s %7s %9s %9s %6s %9s %9s\n", "NAME", "ID", "CPU%", "MEM", "PEAK", "TASKS", "READ", "WRITTEN");
        for (size_t i = 0; i < n; i++) {
                char cpu[16] = "-", mem[16], peak[16], rd[16], wr[16], tasks[24] = "-";
                double pc = cpu_percent(&w[i], elapsed);

                if (pc >= 0)
                        snprintf(cpu, sizeof(cpu), "%.1f", pc);
                if (w[i].now.tasks_peak != RUN_RESOURCE_UNKNOWN)
                        snprintf(tasks, sizeof(tasks), "%" PRIu64, w[i].now.tasks_peak);
                format_bytes(w[i].memory_now, mem);
                format_bytes(w[i].now.memory_peak_bytes, peak);
                format_bytes(w[i].now.io_read_bytes, rd);
                format_bytes(w[i].now.io_write_bytes, wr);
                printf("%-24s %-12s %7s %9s %9s %6s %9s %9s\n", w[i].rec->name ?: "-", w[i].rec->id, cpu, mem, peak,
                       tasks, rd, wr);
        }
        if (n == 0)
                printf("(no running runs)\n");
}

int cmd_top(int argc, char **argv) {
        enum { OPT_JSON = OPT_OWN };
        static const struct option options[] = {
                { "iterations", required_argument, NULL, 'n' },
                { "json", no_argument, NULL, OPT_JSON },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        cli_manager_flags mf = {};
        bool as_json = false, screen = isatty(STDOUT_FILENO);
        long iterations = -1;
        char *end;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":n:h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        errno = 0;
                        iterations = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || iterations < 1)
                                return cli_fail("invalid --iterations '%s': use a number from 1", optarg);
                        break;
                case OPT_JSON:
                        as_json = true;
                        break;
                case 'h':
                        fputs("Usage: moat top [-n N] [--json] [--user|--system]\n"
                              "\n"
                              "Show what the running runs' containers use now, from their cgroups: CPU\n"
                              "(over the last second or two), memory now and at its peak, tasks, IO;\n"
                              "refreshed every 2 seconds until Ctrl+C.\n"
                              "  -n, --iterations N  stop after N refreshes\n"
                              "      --json          one JSON array, once\n"
                              "See moat-top(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "top");
                }
        if (optind < argc)
                return cli_fail("unexpected argument '%s'; usage: moat top [-n N] [--json]", argv[optind]);
        if (as_json)
                iterations = 1;
        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;

        for (long round = 0; iterations < 0 || round < iterations; round++) {
                watched *w = NULL;
                size_t n = 0;
                uint64_t t0, elapsed;
                int r;

                r = watch_running(&ctx, &w, &n);
                if (r != 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (w[i].probing)
                                resource_probe_sample(&w[i].probe, &w[i].before);
                t0 = now_usec();
                usleep(round == 0 && !as_json ? 1000000 : as_json ? 1000000 : 2000000);
                elapsed = now_usec() - t0;
                for (size_t i = 0; i < n; i++)
                        if (w[i].probing) {
                                w[i].now = w[i].before;
                                resource_probe_sample(&w[i].probe, &w[i].now);
                                w[i].memory_now = resource_probe_memory_now(&w[i].probe);
                        }
                if (as_json)
                        r = print_json(w, n, elapsed);
                else {
                        if (screen)
                                fputs("\033[H\033[J", stdout);
                        print_table(w, n, elapsed);
                        fflush(stdout);
                }
                watched_free(w, n);
                if (r != 0)
                        return r;
        }
        return 0;
}
