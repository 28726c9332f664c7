#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

int strv_push(char ***v, char *s) {
        size_t n = strv_length(*v);
        char **p;

        if (!s)
                return -ENOMEM;
        p = realloc(*v, (n + 2) * sizeof(char *));
        if (!p) {
                free(s);
                return -ENOMEM;
        }
        p[n] = s;
        p[n + 1] = NULL;
        *v = p;
        return 0;
}

size_t strv_length(char *const *v) {
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

bool strv_equal(char *const *a, char *const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (strcmp(*a, *b) != 0)
                        return false;
        return !*a && !*b;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void strv_sort(char **v) {
        if (v)
                qsort(v, strv_length(v), sizeof(char *), compare_strings);
}

char *strv_join(char *const *v, const char *sep) {
        size_t len = 1, n = 0;
        char *out;

        for (char *const *p = v; p && *p; p++)
                len += strlen(*p) + strlen(sep);
        out = malloc(len);
        if (!out)
                return NULL;
        for (char *const *p = v; p && *p; p++) {
                if (p != v) {
                        memcpy(out + n, sep, strlen(sep));
                        n += strlen(sep);
                }
                memcpy(out + n, *p, strlen(*p));
                n += strlen(*p);
        }
        out[n] = '\0';
        return out;
}

/* Edits from A to B: insertions, deletions, substitutions and swaps of neighbours (the
 * optimal string alignment distance), capped at LIMIT + 1 for long words. */
static size_t typo_distance(const char *a, const char *b, size_t limit) {
        size_t la = strlen(a), lb = strlen(b), d;
        _cleanup_free_ size_t *m = NULL;

        if (la > 64 || lb > 64 || (la > lb ? la - lb : lb - la) > limit)
                return limit + 1;
        m = calloc((la + 1) * (lb + 1), sizeof(*m));
        if (!m)
                return limit + 1;
#define M(i, j) m[(i) * (lb + 1) + (j)]
        for (size_t i = 0; i <= la; i++)
                M(i, 0) = i;
        for (size_t j = 0; j <= lb; j++)
                M(0, j) = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t best = M(i - 1, j - 1) + (a[i - 1] != b[j - 1]);

                        if (M(i - 1, j) + 1 < best)
                                best = M(i - 1, j) + 1;
                        if (M(i, j - 1) + 1 < best)
                                best = M(i, j - 1) + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && M(i - 2, j - 2) + 1 < best)
                                best = M(i - 2, j - 2) + 1;
                        M(i, j) = best;
                }
        d = M(la, lb);
#undef M
        return d;
}

const char *strv_closest(char *const *v, const char *word) {
        const char *best = NULL;
        size_t best_d = 3, len = word ? strlen(word) : 0;

        for (char *const *p = v; p && *p && word; p++) {
                size_t d = typo_distance(word, *p, 2);

                if (d < best_d && d < len) {
                        best = *p;
                        best_d = d;
                }
        }
        return best;
}
