/* String vectors: the comparison the record round trips rely on, and sorting. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "tap.h"

/* The comparison the tests rely on must itself tell vectors apart. */
static void test_strv_equal(void) {
        char *ab[] = { (char *) "a", (char *) "b", NULL }, *ab2[] = { (char *) "a", (char *) "b", NULL },
             *a[] = { (char *) "a", NULL }, *ac[] = { (char *) "a", (char *) "c", NULL }, *none[] = { NULL };

        ok(strv_equal(ab, ab2), "equal vectors");
        ok(strv_equal(NULL, NULL), "two NULLs");
        ok(!strv_equal(ab, a) && !strv_equal(a, ab), "a prefix is not equal, either way");
        ok(!strv_equal(ab, ac), "a different string");
        ok(!strv_equal(NULL, none) && !strv_equal(none, NULL), "NULL is not the empty vector");
}

static void test_strv_sort(void) {
        char *v[] = { strdup("codex"), strdup("claude"), strdup("a"), strdup("claude"), NULL };
        char *want[] = { (char *) "a", (char *) "claude", (char *) "claude", (char *) "codex", NULL };

        strv_sort(v);
        ok(strv_equal(v, want), "sorted in strcmp order, duplicates kept");
        strv_sort(NULL);
        ok(true, "NULL is left alone");
        for (char **p = v; *p; p++)
                free(*p);
}

static void test_push_and_length(void) {
        _cleanup_(strv_freep) char **v = NULL;

        ok(strv_length(v) == 0, "NULL has no entries");
        ok(strv_push(&v, strdup("x")) == 0 && strv_push(&v, strdup("y")) == 0, "two pushed");
        ok(strv_length(v) == 2 && v[2] == NULL, "two entries, NULL-terminated");
        ok(strv_push(&v, NULL) < 0 && strv_length(v) == 2, "NULL (a failed strdup) is -ENOMEM and adds nothing");
}

static void test_join(void) {
        char *abc[] = { (char *) "a", (char *) "bb", (char *) "c", NULL }, *none[] = { NULL };
        _cleanup_free_ char *j1 = strv_join(abc, ", "), *j2 = strv_join(none, ", "), *j3 = strv_join(NULL, "-");

        is_str(j1, "a, bb, c", "joined with the separator between");
        is_str(j2, "", "an empty vector is the empty string");
        is_str(j3, "", "and so is NULL");
}

static void test_closest(void) {
        char *cmds[] = { (char *) "run", (char *) "list", (char *) "logs", (char *) "inspect", (char *) "claude", NULL };

        is_str(strv_closest(cmds, "lsit"), "list", "a swap of neighbours is one edit");
        is_str(strv_closest(cmds, "lst"), "list", "a missing letter");
        is_str(strv_closest(cmds, "inpsect"), "inspect", "a swap inside a longer word");
        is_str(strv_closest(cmds, "cluade"), "claude", "a provider");
        is_str(strv_closest(cmds, "rnu"), "run", "a swap at the end");
        is_str(strv_closest(cmds, "list"), "list", "the word itself");
        ok(strv_closest(cmds, "frobnicate") == NULL, "nothing close: no suggestion");
        ok(strv_closest(cmds, "xy") == NULL, "as many edits as letters is no typo");
        ok(strv_closest(cmds, "") == NULL, "empty");
        ok(strv_closest(NULL, "lsit") == NULL, "no candidates");
        ok(strv_closest(cmds, NULL) == NULL, "no word");
}

int main(void) {
        test_closest();
        test_strv_equal();
        test_strv_sort();
        test_push_and_length();
        test_join();
        return tap_done();
}
