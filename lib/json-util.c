#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "json-util.h"

static bool json_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool json_is_blank(const char *data, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!json_is_space(data[i]))
                        return false;
        return true;
}

/* cJSON decodes "\u0000" into a string it then cuts short there: "abc\u0000def" would be
 * read as "abc". No reply podman sends has one, so any is refused. */
static bool json_has_escaped_nul(const char *data, size_t len) {
        bool in_string = false;

        for (size_t i = 0; i < len; i++) {
                if (data[i] == '"')
                        in_string = !in_string;
                else if (in_string && data[i] == '\\') {
                        if (len - i > 5 && memcmp(data + i + 1, "u0000", 5) == 0)
                                return true;
                        i++; /* the escaped character, which may be a quote */
                }
        }
        return false;
}

int json_parse_exact(const char *data, size_t len, cJSON **ret) {
        _cleanup_free_ char *copy = NULL;
        const char *end = NULL;
        cJSON *json;

        if (len == 0 || json_is_blank(data, len) || memchr(data, '\0', len) ||
            json_has_escaped_nul(data, len))
                return -EBADMSG;

        /* cJSON_ParseWithLengthOpts() can read one byte past the length it is given
         * (DaveGamble/cJSON#804), so it only ever sees a NUL-terminated copy. */
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, len);
        copy[len] = '\0';

        json = cJSON_ParseWithLengthOpts(copy, len, &end, false);
        if (!json)
                /* cJSON does not say whether it ran out of memory or met bad input; bad
                 * input is by far the likelier. */
                return -EBADMSG;
        if (!end || end < copy || end > copy + len ||
            !json_is_blank(end, len - (size_t) (end - copy))) {
                cJSON_Delete(json);
                return -EBADMSG;
        }

        *ret = json;
        return 0;
}

bool json_get_int(const cJSON *item, long long min, long long max, long long *ret) {
        double d;

        if (!cJSON_IsNumber(item))
                return false;
        d = item->valuedouble;
        /* Written so that NaN fails too; the bounds are exact for the int32 ranges used. */
        if (!(d >= (double) min && d <= (double) max))
                return false;
        if ((double) (long long) d != d)
                return false;
        *ret = (long long) d;
        return true;
}
