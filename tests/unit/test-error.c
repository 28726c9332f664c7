#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "tap.h"

int main(void) {
        moat_error err = {};

        is_int(moat_error_set(&err, -ENOENT, "no %s", "thing"), -ENOENT, "set returns the code");
        is_str(moat_error_message(&err), "no thing", "message formatted");
        is_int(moat_error_set(&err, -EIO, "second"), -EIO, "second set returns its code");
        is_str(moat_error_message(&err), "no thing", "the first error wins");
        is_int(err.code, -ENOENT, "code of the first error kept");
        moat_error_prefix(&err, "reading %s", "x");
        is_str(moat_error_message(&err), "reading x: no thing", "prefix added");
        moat_error_clear(&err);
        is_int(err.code, 0, "cleared");
        ok(err.msg == NULL, "message freed");
        is_int(moat_error_set(&err, 5, "positive"), -EINVAL, "a positive code becomes -EINVAL");
        moat_error_clear(&err);
        is_int(moat_error_set(NULL, -EPERM, "x"), -EPERM, "NULL error only returns the code");
        is_int(moat_error_prefix(&err, "nothing set"), 0, "prefix of no error is a no-op");
        ok(err.msg == NULL, "prefix of no error allocates nothing");
        moat_error_clear(&err);
        is_int(moat_error_oom(&err), -ENOMEM, "oom returns -ENOMEM");
        is_str(moat_error_message(&err), "out of memory", "oom says so");
        moat_error_clear(&err);
        err.exit_status = 127;
        moat_error_clear(&err);
        is_int(err.exit_status, 0, "clear resets the exit status");
        ok(strcmp(moat_error_message(&err), "Success") != 0, "an error nobody set never reads 'Success'");
        ok(strstr(moat_error_message(&err), "unknown error") != NULL, "it says the reason is unknown");
        err.code = -ENOENT;
        is_str(moat_error_message(&err), strerror(ENOENT), "a code without a message: its errno's text");
        err.code = 0;
        return tap_done();
}
