/* moat trace: where a run connected, from its proxy's records in the journal. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli-util.h"
#include "cli.h"
#include "follow.h"
#include "json-util.h"

typedef struct trace_output {
        bool json;
        bool header_done;
} trace_output;

static const char *event_word(journal_event_kind k) {
        return k == JOURNAL_EVENT_REQUEST ? "request" : k == JOURNAL_EVENT_TUNNEL ? "tunnel" : "denied";
}

static void format_time(uint64_t usec, char buf[static 32]) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "-");
        else
                snprintf(buf + 19, 13, ".%03uZ", (unsigned) (usec / 1000 % 1000));
}

static int print_json(const journal_event *ev) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL;
        char when[32];

        if (!o)
                return -ENOMEM;
        format_time(ev->realtime, when);
        cJSON_AddStringToObject(o, "time", when);
        cJSON_AddStringToObject(o, "event", event_word(ev->kind));
        cJSON_AddStringToObject(o, "host", ev->host);
        if (ev->kind != JOURNAL_EVENT_DENIED)
                cJSON_AddNumberToObject(o, "port", ev->port);
        else
                cJSON_AddStringToObject(o, "reason", net_refusal_to_string(ev->reason));
        if (ev->kind == JOURNAL_EVENT_REQUEST) {
                cJSON_AddStringToObject(o, "method", ev->method);
                cJSON_AddStringToObject(o, "path", ev->path);
                cJSON_AddNumberToObject(o, "status", ev->status);
        }
        if (ev->kind != JOURNAL_EVENT_DENIED) {
                cJSON_AddNumberToObject(o, "bytes_up", (double) ev->bytes_up);
                cJSON_AddNumberToObject(o, "bytes_down", (double) ev->bytes_down);
                cJSON_AddNumberToObject(o, "duration_ms", (double) (ev->duration_usec / 1000));
        }
        if (ev->api != USAGE_API_NONE) {
                cJSON *u;

                cJSON_AddStringToObject(o, "api", usage_api_to_string(ev->api));
                if (!ev->usage.known)
                        cJSON_AddNullToObject(o, "usage");
                else if ((u = cJSON_AddObjectToObject(o, "usage"))) {
                        cJSON_AddStringToObject(u, "model", ev->usage.model);
                        cJSON_AddNumberToObject(u, "input_tokens", (double) ev->usage.input);
                        cJSON_AddNumberToObject(u, "output_tokens", (double) ev->usage.output);
                        cJSON_AddNumberToObject(u, "cache_read_tokens", (double) ev->usage.cache_read);
                        cJSON_AddNumberToObject(u, "cache_write_tokens", (double) ev->usage.cache_write);
                }
        }
        text = cJSON_PrintUnformatted(o);
        if (!text)
                return -ENOMEM;
        puts(text);
        return 0;
}

static void print_text(trace_output *t, const journal_event *ev) {
        char when[32], status[8] = "-", up[24] = "-", down[24] = "-", ms[24] = "-", tokens[160] = "";

        if (!t->header_done) {
                printf("%-24s %-7s %-6s %-40s %6s %10s %10s %8s %s\n", "TIME", "EVENT", "METHOD", "TARGET", "STATUS",
                       "UP", "DOWN", "MS", "TOKENS");
                t->header_done = true;
        }
        format_time(ev->realtime, when);
        if (ev->kind == JOURNAL_EVENT_REQUEST)
                snprintf(status, sizeof(status), "%d", ev->status);
        if (ev->kind != JOURNAL_EVENT_DENIED) {
                snprintf(up, sizeof(up), "%" PRIu64, ev->bytes_up);
                snprintf(down, sizeof(down), "%" PRIu64, ev->bytes_down);
                snprintf(ms, sizeof(ms), "%" PRIu64, ev->duration_usec / 1000);
        }
        if (ev->api != USAGE_API_NONE && ev->usage.known)
                snprintf(tokens, sizeof(tokens), "%s in=%" PRIu64 " out=%" PRIu64 " cache_read=%" PRIu64
                                                 " cache_write=%" PRIu64,
                         ev->usage.model[0] ? ev->usage.model : "?", ev->usage.input, ev->usage.output,
                         ev->usage.cache_read, ev->usage.cache_write);
        else if (ev->api != USAGE_API_NONE)
                snprintf(tokens, sizeof(tokens), "unknown");
        if (ev->kind == JOURNAL_EVENT_REQUEST) {
                char target[600];

                snprintf(target, sizeof(target), "%s%s", ev->host, ev->path);
                printf("%-24s %-7s %-6s %-40s %6s %10s %10s %8s %s\n", when, "request", ev->method, target, status, up,
                       down, ms, tokens);
        } else if (ev->kind == JOURNAL_EVENT_TUNNEL) {
                char target[300];

                snprintf(target, sizeof(target), "%s:%u", ev->host, ev->port);
                printf("%-24s %-7s %-6s %-40s %6s %10s %10s %8s\n", when, "tunnel", "-", target, status, up, down, ms);
        } else
                printf("%-24s %-7s %-6s %-40s %6s %10s %10s %8s %s\n", when, "denied", "-", ev->host, "-", "-", "-", "-",
                       net_refusal_to_string(ev->reason));
}

static int on_event(const journal_event *ev, void *userdata) {
        trace_output *t = userdata;

        if (t->json)
                return print_json(ev);
        print_text(t, ev);
        return 0;
}

int cmd_trace(int argc, char **argv) {
        enum { OPT_JSON = OPT_OWN };
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "json", no_argument, NULL, OPT_JSON },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(follow_end_done) follow_end ended = {};
        trace_output t = {};
        follow_options o = { .tail = -1, .event = on_event, .userdata = &t };
        cli_manager_flags mf = {};
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":fh", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        o.follow = true;
                        break;
                case OPT_JSON:
                        t.json = true;
                        break;
                case 'h':
                        fputs("Usage: moat trace [-f] [--json] [--user|--system] RUN\n"
                              "\n"
                              "Print where RUN connected through its proxy, from the journal: each request\n"
                              "inside an intercepted connection (method, host, path without the query,\n"
                              "status, bytes each way, time, tokens of a model API), each tunnel and each\n"
                              "refused connection with why (policy, host-itself, misdirected), in order.\n"
                              "  -f, --follow  keep printing until the run ends\n"
                              "      --json    one JSON object per line\n"
                              "See moat-trace(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "trace");
                }
        if (argc - optind != 1)
                return cli_fail("give exactly one run; usage: moat trace [-f] [--json] RUN");

        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        rec = cli_resolve(&ctx, argv[optind]);
        if (!rec)
                return EXIT_MOAT_ERROR;
        if (!run_has_proxy(rec) && !o.follow)
                return 0; /* no proxy, nothing to trace: its network was open or none */
        r = follow_run(rec, &o, &ended);
        if (r == -EPIPE)
                return 0;
        return r < 0 ? EXIT_MOAT_ERROR : 0;
}
