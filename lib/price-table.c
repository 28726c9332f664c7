#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file-util.h"
#include "price-table.h"
#include "yaml-doc.h"

#define PRICES_FILE "prices.yaml"
#define PRICES_MAX (1 << 20)

void price_table_done(price_table *t) {
        for (size_t i = 0; i < t->n; i++)
                free(t->prices[i].model);
        free(t->prices);
        free(t->currency);
        free(t->source);
        *t = (price_table) {};
}

static int read_price(const char *name, const yaml_node *n, double *ret, moat_error *err) {
        char *end;
        double v;

        if (n->kind != YAML_KIND_SCALAR)
                return moat_error_set(err, -EINVAL, "%s:%u: %s must be a number", name, n->line, n->key);
        v = strtod(n->value, &end);
        if (end == n->value || *end || !isfinite(v) || v < 0)
                return moat_error_set(err, -EINVAL, "%s:%u: %s must be a number from 0, not '%s'", name, n->line, n->key,
                                      n->value);
        *ret = v;
        return 0;
}

int price_table_parse(const char *name, const char *data, size_t len, price_table *ret, moat_error *err) {
        _cleanup_(yaml_node_freep) yaml_node *doc = NULL;
        const yaml_node *models, *cur;
        price_table t = {};
        size_t n = 0;
        int r;

        r = yaml_doc_parse(name, data, len, &doc, err);
        if (r < 0)
                return r;
        if (doc->kind != YAML_KIND_MAPPING)
                return moat_error_set(err, -EINVAL, "%s: not a mapping of currency and models", name);
        cur = yaml_mapping_get(doc, "currency");
        models = yaml_mapping_get(doc, "models");
        if (cur && cur->kind != YAML_KIND_SCALAR)
                return moat_error_set(err, -EINVAL, "%s:%u: currency must be a name such as USD", name, cur->line);
        if (!models || models->kind != YAML_KIND_MAPPING)
                return moat_error_set(err, -EINVAL, "%s: models must be a mapping of model names to prices", name);
        for (const yaml_node *m = models->children; m; m = m->next)
                n++;
        t.currency = strdup(cur ? cur->value : "USD");
        t.prices = calloc(n ?: 1, sizeof(*t.prices));
        if (!t.currency || !t.prices) {
                price_table_done(&t);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        for (const yaml_node *m = models->children; m && r >= 0; m = m->next) {
                price *p = &t.prices[t.n];

                if (m->kind != YAML_KIND_MAPPING || !m->key[0]) {
                        r = moat_error_set(err, -EINVAL, "%s:%u: a model's prices must be a mapping of input, output, "
                                                         "cache_read and cache_write",
                                           name, m->key_line);
                        break;
                }
                p->model = strdup(m->key);
                if (!p->model) {
                        r = moat_error_set(err, -ENOMEM, "out of memory");
                        break;
                }
                t.n++;
                for (const yaml_node *k = m->children; k && r >= 0; k = k->next) {
                        if (strcmp(k->key, "input") == 0)
                                r = read_price(name, k, &p->input, err);
                        else if (strcmp(k->key, "output") == 0)
                                r = read_price(name, k, &p->output, err);
                        else if (strcmp(k->key, "cache_read") == 0)
                                r = read_price(name, k, &p->cache_read, err);
                        else if (strcmp(k->key, "cache_write") == 0)
                                r = read_price(name, k, &p->cache_write, err);
                        else
                                r = moat_error_set(err, -EINVAL, "%s:%u: unknown key '%s' (input, output, cache_read, "
                                                                 "cache_write)",
                                                   name, k->key_line, k->key);
                }
        }
        if (r < 0) {
                price_table_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int price_table_load(const char *home, price_table *ret, moat_error *err) {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *user = getenv("HOME");
        char *paths[3] = {};
        int r = -ENOENT;

        if (home && home[0] == '/' && asprintf(&paths[0], "%s/" PRICES_FILE, home) < 0)
                paths[0] = NULL;
        if (xdg && xdg[0] == '/') {
                if (asprintf(&paths[1], "%s/moat/" PRICES_FILE, xdg) < 0)
                        paths[1] = NULL;
        } else if (user && user[0] == '/' && asprintf(&paths[1], "%s/.config/moat/" PRICES_FILE, user) < 0)
                paths[1] = NULL;
        paths[2] = strdup(DATADIR "/" PRICES_FILE);
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *data = NULL;
                size_t len;

                if (!paths[i])
                        continue;
                r = file_read_all(paths[i], PRICES_MAX, &data, &len);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        r = moat_error_set(err, r, "cannot read %s: %s", paths[i], strerror(-r));
                        break;
                }
                r = price_table_parse(paths[i], data, len, ret, err);
                if (r >= 0) {
                        ret->source = paths[i];
                        paths[i] = NULL;
                }
                break;
        }
        if (r == -ENOENT)
                moat_error_set(err, r, "no price table: %s is missing", DATADIR "/" PRICES_FILE);
        for (size_t i = 0; i < 3; i++)
                free(paths[i]);
        return r;
}

const price *price_table_find(const price_table *t, const char *model) {
        const price *best = NULL;

        for (size_t i = 0; model && i < t->n; i++) {
                size_t n = strlen(t->prices[i].model);

                if (strncmp(model, t->prices[i].model, n) == 0 && (!best || n > strlen(best->model)))
                        best = &t->prices[i];
        }
        return best;
}

double price_cost(const price *p, uint64_t input, uint64_t output, uint64_t cache_read, uint64_t cache_write) {
        return ((double) input * p->input + (double) output * p->output + (double) cache_read * p->cache_read +
                (double) cache_write * p->cache_write) /
               1e6;
}
