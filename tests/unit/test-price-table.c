/* lib/price-table.c: the YAML price table, its longest-prefix lookup and costs; the table
 * moat installs parses. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file-util.h"
#include "price-table.h"
#include "tap.h"

static int parse(const char *text, price_table *t) {
        moat_error err = {};
        int r = price_table_parse("prices.yaml", text, strlen(text), t, &err);

        if (r < 0)
                printf("# %s\n", moat_error_message(&err));
        moat_error_clear(&err);
        return r;
}

static void test_parse_and_find(void) {
        price_table t = {};
        const price *p;

        is_int(parse("currency: EUR\nmodels:\n  claude-sonnet-4:\n    input: 3\n    output: 15\n    cache_read: 0.3\n"
                     "    cache_write: 3.75\n  claude-sonnet-4-5:\n    input: 4\n    output: 16\n  gpt-5:\n    input: 1.25\n"
                     "    output: 10\n",
                     &t),
               0, "a table");
        is_str(t.currency, "EUR", "its currency");
        is_int((int) t.n, 3, "three models");
        p = price_table_find(&t, "claude-sonnet-4-5-20250929");
        ok(p && strcmp(p->model, "claude-sonnet-4-5") == 0, "the longest prefix wins");
        p = price_table_find(&t, "claude-sonnet-4-20250514");
        ok(p && strcmp(p->model, "claude-sonnet-4") == 0, "a shorter prefix");
        ok(price_table_find(&t, "claude-opus-4") == NULL, "no price");
        ok(price_table_find(&t, NULL) == NULL, "no model");
        p = price_table_find(&t, "claude-sonnet-4");
        ok(p && fabs(price_cost(p, 1000000, 1000000, 1000000, 1000000) - 22.05) < 1e-9, "a cost: %g",
           p ? price_cost(p, 1000000, 1000000, 1000000, 1000000) : -1);
        price_table_done(&t);
}

static void test_errors(void) {
        price_table t = {};

        is_int(parse("models: []\n", &t), -EINVAL, "models must be a mapping");
        is_int(parse("currency: USD\n", &t), -EINVAL, "no models");
        is_int(parse("models:\n  m:\n    input: cheap\n", &t), -EINVAL, "not a number");
        is_int(parse("models:\n  m:\n    input: -1\n", &t), -EINVAL, "negative");
        is_int(parse("models:\n  m:\n    inptu: 1\n", &t), -EINVAL, "an unknown key");
        is_int(parse("models:\n  m: 3\n", &t), -EINVAL, "a model without a mapping");
        is_int(parse("[", &t), -EINVAL, "not YAML");
        is_int(parse("models:\n  m:\n    input: nan\n", &t), -EINVAL, "not finite");
}

static void test_installed(void) {
        const char *top = getenv("top_srcdir");
        char path[4096];
        char *data = NULL;
        size_t len = 0;
        price_table t = {};

        snprintf(path, sizeof(path), "%s/data/prices.yaml", top ? top : ".");
        if (file_read_all(path, 1 << 20, &data, &len) < 0) {
                ok(0, "cannot read %s", path);
                return;
        }
        is_int(price_table_parse(path, data, len, &t, NULL), 0, "the installed table parses");
        ok(t.n >= 5 && price_table_find(&t, "claude-sonnet-4-5-20250929") && price_table_find(&t, "gpt-5") &&
                   price_table_find(&t, "gemini-2.5-pro"),
           "it prices the shipped agents' models");
        price_table_done(&t);
        free(data);
}

int main(void) {
        test_parse_and_find();
        test_errors();
        test_installed();
        return tap_done();
}
