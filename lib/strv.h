/* NULL-terminated vectors of strings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

void strv_free(char **v);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

/* Appends S (taking it; NULL is -ENOMEM) and keeps *V NULL-terminated. */
int strv_push(char ***v, char *s);

size_t strv_length(char *const *v);

/* V's strings joined by SEP, "" for none; NULL when out of memory. */
char *strv_join(char *const *v, const char *sep);

/* Sorts V in place (strcmp order). */
void strv_sort(char **v);

/* The same strings in the same order; two NULLs are equal, NULL and a vector are not. */
bool strv_equal(char *const *a, char *const *b);

/* The string of V closest to WORD when WORD looks like a typo of it (one or two edits,
 * a swap of neighbours counting as one, and fewer edits than WORD has characters), for
 * "did you mean"; NULL when none is.  The first of equally close ones wins. */
const char *strv_closest(char *const *v, const char *word);
