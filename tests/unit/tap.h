/* A minimal TAP producer for the unit tests: ok()/is_int()/is_str()/is_mem(), a plan printed
 * at the end, and an exit status that fails when any check failed. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int ok(int cond, const char *fmt, ...) {
        va_list ap;

        tap_count++;
        printf("%sok %d - ", cond ? "" : "not ", tap_count);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (!cond)
                tap_failed++;
        return cond;
}

#define is_int(got, want, ...)                                                         \
        do {                                                                           \
                long long _g = (long long) (got), _w = (long long) (want);             \
                if (!ok(_g == _w, __VA_ARGS__))                                        \
                        printf("#   got %lld, want %lld\n", _g, _w);                   \
        } while (0)

#define is_str(got, want, ...)                                                         \
        do {                                                                           \
                const char *_g = (got), *_w = (want);                                  \
                if (!ok(_g && _w ? strcmp(_g, _w) == 0 : _g == _w, __VA_ARGS__))      \
                        printf("#   got \"%s\", want \"%s\"\n", _g ? _g : "(null)",    \
                               _w ? _w : "(null)");                                    \
        } while (0)

#define is_mem(got, got_len, want, want_len, ...)                                      \
        ok((size_t) (got_len) == (size_t) (want_len) &&                                \
                   ((want_len) == 0 || memcmp((got), (want), (want_len)) == 0),         \
           __VA_ARGS__)

#define contains(haystack, needle, ...)                                                \
        do {                                                                           \
                const char *_h = (haystack);                                           \
                if (!ok(_h && strstr(_h, (needle)), __VA_ARGS__))                      \
                        printf("#   \"%s\" lacks \"%s\"\n", _h ? _h : "(null)", needle); \
        } while (0)

static inline int tap_done(void) {
        printf("1..%d\n", tap_count);
        return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
