/* Mount sources as paths: every line of the input is one.  A normalized path is a fixed
 * point, lies within "/" and itself, and what a protected place holds is below it. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mount-guard.h"
#include "strv.h"
#include "each-line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *s) {
        _cleanup_free_ char *norm = NULL, *again = NULL;
        _cleanup_(strv_freep) char **inside = NULL;
        char *protected[] = { NULL, NULL };
        moat_error err = {};

        if (path_normalize(s, &norm) != 0)
                return;
        if (path_normalize(norm, &again) != 0 || strcmp(norm, again) != 0)
                abort();
        if (norm[0] != '/' || strstr(norm, "//") || strstr(norm, "/./") || strstr(norm, "/../") ||
            (strlen(norm) > 1 && norm[strlen(norm) - 1] == '/'))
                abort();
        if (!path_is_within(norm, "/") || !path_is_within(norm, norm))
                abort();
        protected[0] = norm;
        if (mount_source_check(norm, "mount source", protected, &err) != -EPERM || !err.msg)
                abort();
        moat_error_clear(&err);
        /* "/" holds the path, relative and without a leading slash, unless it is "/" */
        if (mount_source_protected_inside("/", protected, &inside) != 0)
                abort();
        if (strcmp(norm, "/") == 0 ? strv_length(inside) != 0
                                   : strv_length(inside) != 1 || strcmp(inside[0], norm + 1) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_each_line(data, size, one);
}
