/* Errors: a function that can fail returns a negative errno and, where the caller needs to
 * know why, fills a moat_error with one human sentence.  Library code never prints; the
 * program that owns the error reports it once. */
#pragma once

#include "macro.h"

typedef struct moat_error {
        int code; /* negative errno; 0 when no error is set */
        char *msg;
        /* the exit status the error calls for, as podman's: 126 when the command could not be
         * run, 127 when it was not found; 0 for moat's own 125 */
        int exit_status;
} moat_error;

/* Sets *err (when err is not NULL) and returns code, which must be negative. The first error
 * wins: a second set on an error that is already set only returns code. */
int moat_error_set(moat_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prefixes the message of a set error with "PREFIX: ", to say what was being done. */
int moat_error_prefix(moat_error *err, const char *fmt, ...) _printf_(2, 3);

/* Sets *err to "out of memory" and returns -ENOMEM: every allocation failure says so. */
int moat_error_oom(moat_error *err);

void moat_error_clear(moat_error *err);

/* The message of a set error, or strerror of code when no message was given; never
 * strerror(0)'s "Success" for an error nobody set. */
const char *moat_error_message(const moat_error *err);
