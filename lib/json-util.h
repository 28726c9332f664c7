/* Helpers for the JSON of libpod's replies: cJSON on its own accepts trailing garbage after a
 * value, cuts strings short at an escaped NUL and may read a byte past the length it is
 * given, so every parser of outside input goes through json_parse_exact(). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* Parses LEN bytes holding exactly one JSON value with nothing but whitespace around it.
 * Returns -EBADMSG for anything else, including a NUL byte or a "\u0000" escape (cJSON would
 * silently cut the string there), and -ENOMEM. */
int json_parse_exact(const char *data, size_t len, cJSON **ret);

/* Whether the bytes are only JSON whitespace (space, tab, newline, carriage return). */
bool json_is_blank(const char *data, size_t len);

/* Whether ITEM is a number holding an integer in [MIN, MAX]; stores it in *ret. */
bool json_get_int(const cJSON *item, long long min, long long max, long long *ret);
