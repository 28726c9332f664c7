/* Host names and allow patterns: every line of the input is one.  Anything accepted is
 * normalized to a fixed point that still matches itself. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net-policy.h"
#include "each-line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *s) {
        _cleanup_free_ char *host = NULL, *again = NULL, *pattern = NULL, *pattern2 = NULL;
        moat_error err = {};

        if (host_name_normalize(s, &host) == 0) {
                if (host_name_normalize(host, &again) != 0 || strcmp(host, again) != 0)
                        abort();
                if (!host_pattern_match(host, host) || strchr(host, '*') || strchr(host, ':'))
                        abort();
        }
        if (host_pattern_normalize(s, &pattern, &err) == 0) {
                if (host_pattern_normalize(pattern, &pattern2, NULL) != 0 || strcmp(pattern, pattern2) != 0)
                        abort();
                /* a wildcard matches what is below it, never its own base */
                if (strncmp(pattern, "*.", 2) == 0 && host_pattern_match(pattern, pattern + 2))
                        abort();
        } else if (!err.msg)
                abort();
        moat_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_each_line(data, size, one);
}
