/* Token usage summed from the request records of runs' proxies (journal.h), per agent and
 * model: what `moat usage` and `moat inspect` show. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "price-table.h"
#include "run.h"
#include "usage.h"

typedef struct usage_row {
        char agent[40];                /* the run's provider; "" for moat run */
        char model[USAGE_MODEL_MAX];   /* "" when unknown */
        uint64_t requests;             /* to model APIs, answered with success */
        uint64_t unknown;              /* of those, the ones whose usage could not be read */
        uint64_t input, output, cache_read, cache_write;
} usage_row;

typedef struct usage_report {
        usage_row *rows;
        size_t n;
        size_t runs;                   /* runs read */
} usage_report;

/* Adds what REC's proxy recorded: -ENOMEM, or the journal's error. */
int usage_report_add_run(usage_report *rep, const run_record *rec, moat_error *err);

/* Adds one successful request to a model API: U known or not. */
int usage_report_add(usage_report *rep, const char *agent, const usage_tokens *u);

/* All rows in one (agent and model ""). */
void usage_report_total(const usage_report *rep, usage_row *ret);
void usage_report_done(usage_report *rep);

/* What ROW's tokens cost at PRICES; negative when the table has no price for its model. */
double usage_row_cost(const usage_row *row, const price_table *prices);
