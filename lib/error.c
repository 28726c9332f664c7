#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int moat_error_set(moat_error *err, int code, const char *fmt, ...) {
        va_list ap;

        if (code >= 0)
                code = -EINVAL;
        if (!err || err->code != 0)
                return code;

        err->code = code;
        va_start(ap, fmt);
        if (vasprintf(&err->msg, fmt, ap) < 0)
                err->msg = NULL;
        va_end(ap);
        return code;
}

int moat_error_prefix(moat_error *err, const char *fmt, ...) {
        _cleanup_free_ char *prefix = NULL;
        char *joined = NULL;
        va_list ap;
        int r;

        if (!err || err->code == 0)
                return 0;

        va_start(ap, fmt);
        r = vasprintf(&prefix, fmt, ap);
        va_end(ap);
        if (r < 0)
                return err->code;

        if (asprintf(&joined, "%s: %s", prefix, moat_error_message(err)) < 0)
                return err->code;
        free(err->msg);
        err->msg = joined;
        return err->code;
}

int moat_error_oom(moat_error *err) {
        return moat_error_set(err, -ENOMEM, "out of memory");
}

void moat_error_clear(moat_error *err) {
        if (!err)
                return;
        free(err->msg);
        err->msg = NULL;
        err->code = 0;
        err->exit_status = 0;
}

const char *moat_error_message(const moat_error *err) {
        if (err->msg)
                return err->msg;
        /* a failure that returned a code without setting the error: say that much, not
         * strerror(0) */
        if (err->code == 0)
                return "unknown error (a failure left no reason; please report it)";
        return strerror(-err->code);
}
