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
