/* The price table `moat usage` estimates costs with: a YAML file of prices per million tokens
 * per model (data/prices.yaml, installed with moat), which the user overrides whole with
 * $MOAT_HOME/prices.yaml or ~/.config/moat/prices.yaml. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct price {
        char *model;  /* a prefix of the model names it prices */
        double input, output, cache_read, cache_write;  /* per million tokens */
} price;

typedef struct price_table {
        char *currency;
        price *prices;
        size_t n;
        char *source;  /* the file it came from */
} price_table;

/* Parses a table (NAME for errors): -EINVAL (err says where) for a malformed one. */
int price_table_parse(const char *name, const char *data, size_t len, price_table *ret, moat_error *err);

/* The first of $MOAT_HOME/prices.yaml (HOME may be NULL), ~/.config/moat/prices.yaml
 * ($XDG_CONFIG_HOME) and the installed table; -ENOENT when there is none. */
int price_table_load(const char *home, price_table *ret, moat_error *err);
void price_table_done(price_table *t);

/* The entry of MODEL: the longest model prefix of it; NULL when none. */
const price *price_table_find(const price_table *t, const char *model);

/* What TOKENS cost at P. */
double price_cost(const price *p, uint64_t input, uint64_t output, uint64_t cache_read, uint64_t cache_write);
