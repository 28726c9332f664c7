#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "tap.h"

#define N_IDS 10000
#define N_NAMES 10000

static int compare_ids(const void *a, const void *b) {
        return memcmp(a, b, RUN_ID_LEN + 1);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static size_t count_distinct(char **v, size_t n) {
        size_t distinct = 0;

        qsort(v, n, sizeof *v, compare_strings);
        for (size_t i = 0; i < n; i++)
                if (i == 0 || strcmp(v[i - 1], v[i]) != 0)
                        distinct++;
        return distinct;
}

static void test_id_new(void) {
        static char ids[N_IDS][RUN_ID_LEN + 1];
        moat_error err = {};
        bool all_valid = true, seen[256] = {}, at[RUN_ID_LEN][256] = {};
        size_t dups = 0, n_seen = 0, full_positions = 0;
        int r = 0;

        for (size_t i = 0; i < N_IDS && r >= 0; i++) {
                memset(ids[i], 'x', sizeof ids[i]);
                r = run_id_new(ids[i], &err);
                all_valid = all_valid && run_id_valid(ids[i]);
                for (size_t j = 0; j < RUN_ID_LEN; j++) {
                        seen[(unsigned char) ids[i][j]] = true;
                        at[j][(unsigned char) ids[i][j]] = true;
                }
        }
        is_int(r, 0, "%d IDs made", N_IDS);
        is_int(err.code, 0, "no error set");
        ok(all_valid, "every ID is 12 lowercase hex characters");
        is_int(strlen(ids[0]), RUN_ID_LEN, "an ID is NUL-terminated after 12 characters");

        for (size_t c = 0; c < 256; c++)
                n_seen += seen[c];
        is_int(n_seen, 16, "all 16 hex digits and nothing else occur");
        ok(seen['0'] && seen['9'] && seen['a'] && seen['f'], "0-9 and a-f among them");
        /* Each position on its own: a lost bit of randomness in one place shows here. */
        for (size_t j = 0; j < RUN_ID_LEN; j++) {
                size_t n = 0;

                for (const char *c = "0123456789abcdef"; *c; c++)
                        n += at[j][(unsigned char) *c];
                full_positions += n == 16;
        }
        is_int(full_positions, RUN_ID_LEN, "every position takes all 16 digits");

        qsort(ids, N_IDS, sizeof ids[0], compare_ids);
        for (size_t i = 1; i < N_IDS; i++)
                dups += strcmp(ids[i - 1], ids[i]) == 0;
        is_int(dups, 0, "%d IDs are all different", N_IDS);
}

static void test_id_valid(void) {
        ok(run_id_valid("0123456789ab"), "12 hex digits");
        ok(run_id_valid("ffffffffffff"), "all f");
        ok(run_id_valid("000000000000"), "all 0");
        ok(!run_id_valid("0123456789a"), "11 characters");
        ok(!run_id_valid("0123456789abc"), "13 characters");
        ok(!run_id_valid("0123456789AB"), "uppercase");
        ok(!run_id_valid("0123456789ag"), "a non-hex letter");
        ok(!run_id_valid("0123456789a "), "a space");
        ok(!run_id_valid("0123456789ab\n"), "a trailing newline");
        ok(!run_id_valid("../456789abc"), "a path");
        ok(!run_id_valid(""), "empty");
        ok(!run_id_valid(NULL), "NULL");
}

static void test_name_valid(void) {
        char name[80];

        ok(run_name_valid("a"), "one letter");
        ok(run_name_valid("7"), "one digit");
        ok(run_name_valid("brave-otter"), "adjective-animal");
        ok(run_name_valid("a_b.c-d"), "'_', '.' and '-' inside");
        ok(run_name_valid("a-"), "a trailing '-'");
        ok(run_name_valid("a..b"), "'..' inside a name that starts with a letter is only a name");
        ok(run_name_valid("0123456789ab"), "12 hex digits make a valid name too");

        memset(name, 'a', 63);
        name[63] = '\0';
        ok(run_name_valid(name), "63 characters");
        name[63] = 'a';
        name[64] = '\0';
        ok(!run_name_valid(name), "64 characters");

        ok(!run_name_valid(""), "empty");
        ok(!run_name_valid(NULL), "NULL");
        ok(!run_name_valid("Brave"), "uppercase first");
        ok(!run_name_valid("braVe"), "uppercase inside");
        ok(!run_name_valid("-a"), "a leading '-' (would read as an option)");
        ok(!run_name_valid(".a"), "a leading '.'");
        ok(!run_name_valid("_a"), "a leading '_'");
        ok(!run_name_valid(".."), "..");
        ok(!run_name_valid("."), ".");
        ok(!run_name_valid("a/b"), "a '/'");
        ok(!run_name_valid("/"), "/");
        ok(!run_name_valid("a b"), "a space");
        ok(!run_name_valid("a\n"), "a newline");
        ok(!run_name_valid("a\tb"), "a tab");
        ok(!run_name_valid("caf\xc3\xa9"), "Unicode (é)");
        ok(!run_name_valid("\xe2\x80\x8b" "a"), "Unicode (a zero-width space first)");
        ok(!run_name_valid("a:b"), "a ':'");
        ok(!run_name_valid("a\x1b[31m"), "an escape sequence");
}

/* Provider and grant names: they become file names and credential names. */
static void test_data_name_valid(void) {
        char name[40];

        ok(data_name_valid("claude") && data_name_valid("my-agent_2") && data_name_valid("0"), "valid names");
        memset(name, 'a', 32);
        name[32] = '\0';
        ok(data_name_valid(name), "32 characters");
        name[32] = 'a';
        name[33] = '\0';
        ok(!data_name_valid(name), "33 characters");
        ok(!data_name_valid("") && !data_name_valid(NULL), "empty and NULL");
        ok(!data_name_valid("../x") && !data_name_valid("a/b") && !data_name_valid("a.b"), "no '/' or '.'");
        ok(!data_name_valid("Claude") && !data_name_valid("-x") && !data_name_valid("_x"), "no uppercase, no leading '-' or '_'");
        ok(!data_name_valid("a b") && !data_name_valid("a\n"), "no space or newline");
}

static void test_name_random(void) {
        static char *names[N_NAMES], *adjectives[N_NAMES], *animals[N_NAMES];
        moat_error err = {};
        bool all_valid = true, all_split = true;
        size_t n = 0, distinct;
        int r = 0;

        for (; n < N_NAMES; n++) {
                char *dash;

                names[n] = (char *) 0x1;
                r = run_name_random(&names[n], &err);
                if (r < 0)
                        break;
                all_valid = all_valid && run_name_valid(names[n]);
                dash = strchr(names[n], '-');
                all_split = all_split && dash && dash > names[n] && dash[1] != '\0' && !strchr(dash + 1, '-');
                adjectives[n] = strndup(names[n], dash ? (size_t) (dash - names[n]) : 0);
                animals[n] = strdup(dash ? dash + 1 : "");
        }
        is_int(r, 0, "%d random names made", N_NAMES);
        is_int(err.code, 0, "no error set");
        ok(all_valid, "every random name is a valid name");
        ok(all_split, "every random name is adjective-animal");
        distinct = count_distinct(adjectives, n);
        ok(distinct >= 32 && distinct <= 64, "about 40 adjectives (%zu)", distinct);
        distinct = count_distinct(animals, n);
        ok(distinct >= 32 && distinct <= 64, "about 40 animals (%zu)", distinct);
        distinct = count_distinct(names, n);
        ok(distinct >= 1000, "names vary (%zu distinct of %d)", distinct, N_NAMES);

        for (size_t i = 0; i < n; i++) {
                free(names[i]);
                free(adjectives[i]);
                free(animals[i]);
        }
}

static void test_unit_name(void) {
        char *unit = run_unit_name("0123456789ab");

        is_str(unit, "moat-0123456789ab.service", "a run's unit is moat-<id>.service");
        free(unit);
}

int main(void) {
        test_id_new();
        test_unit_name();
        test_id_valid();
        test_name_valid();
        test_data_name_valid();
        test_name_random();
        return tap_done();
}
