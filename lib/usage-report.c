#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "usage-report.h"

int usage_report_add(usage_report *rep, const char *agent, const usage_tokens *u) {
        const char *model = u->known ? u->model : "";
        usage_row *row = NULL;

        for (size_t i = 0; i < rep->n && !row; i++)
                if (strcmp(rep->rows[i].agent, agent) == 0 && strcmp(rep->rows[i].model, model) == 0)
                        row = &rep->rows[i];
        if (!row) {
                usage_row *rows = realloc(rep->rows, (rep->n + 1) * sizeof(*rows));

                if (!rows)
                        return -ENOMEM;
                rep->rows = rows;
                row = &rows[rep->n++];
                *row = (usage_row) {};
                snprintf(row->agent, sizeof(row->agent), "%s", agent);
                snprintf(row->model, sizeof(row->model), "%s", model);
        }
        row->requests++;
        if (!u->known) {
                row->unknown++;
                return 0;
        }
        row->input += u->input;
        row->output += u->output;
        row->cache_read += u->cache_read;
        row->cache_write += u->cache_write;
        return 0;
}

typedef struct reading {
        usage_report *rep;
        const char *agent;
} reading;

static int on_event(const journal_event *ev, void *userdata) {
        reading *rd = userdata;

        if (ev->kind != JOURNAL_EVENT_REQUEST || ev->api == USAGE_API_NONE)
                return 0;
        return usage_report_add(rd->rep, rd->agent, &ev->usage);
}

static int no_line(const journal_line *line, void *userdata) {
        (void) line, (void) userdata;
        return 0;
}

int usage_report_add_run(usage_report *rep, const run_record *rec, moat_error *err) {
        reading rd = { .rep = rep, .agent = rec->agent ?: "" };
        journal_read_options o = { .tail = -1, .line = no_line, .event = on_event, .userdata = &rd };
        int r;

        if (!run_has_proxy(rec))
                return 0; /* no proxy, no records */
        r = journal_read_run(rec, &o, NULL, err);
        if (r == -ENOMEM && !err->code)
                moat_error_set(err, r, "out of memory");
        if (r >= 0)
                rep->runs++;
        return r;
}

void usage_report_total(const usage_report *rep, usage_row *ret) {
        *ret = (usage_row) {};
        for (size_t i = 0; i < rep->n; i++) {
                ret->requests += rep->rows[i].requests;
                ret->unknown += rep->rows[i].unknown;
                ret->input += rep->rows[i].input;
                ret->output += rep->rows[i].output;
                ret->cache_read += rep->rows[i].cache_read;
                ret->cache_write += rep->rows[i].cache_write;
        }
}

void usage_report_done(usage_report *rep) {
        free(rep->rows);
        *rep = (usage_report) {};
}

double usage_row_cost(const usage_row *row, const price_table *prices) {
        const price *p = row->model[0] ? price_table_find(prices, row->model) : NULL;

        return p ? price_cost(p, row->input, row->output, row->cache_read, row->cache_write) : -1;
}
