/* Two moat.yaml texts, split at the first line "---8<---": what the second widens over the
 * first.  A file widens nothing over itself; a digest is 64 hex digits and the same twice. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config-trust.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CUT "\n---8<---\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = malloc(size + 1);
        moat_config a = { .interactive = -1 }, b = { .interactive = -1 };
        char d1[CONFIG_DIGEST_HEX + 1], d2[CONFIG_DIGEST_HEX + 1];
        const char *second;
        size_t first_len;
        bool has_a, has_b;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (config_digest(text, size, d1) < 0 || config_digest(text, size, d2) < 0 || strcmp(d1, d2) != 0 ||
            strspn(d1, "0123456789abcdef") != CONFIG_DIGEST_HEX)
                abort();
        second = strstr(text, CUT);
        first_len = second ? (size_t) (second - text) : size;
        second = second ? second + strlen(CUT) : "";
        has_a = moat_config_parse("a.yaml", text, first_len, "/ws", &a, NULL) >= 0;
        has_b = moat_config_parse("b.yaml", second, strlen(second), "/ws", &b, NULL) >= 0;
        if (has_a) {
                _cleanup_(strv_freep) char **lines = NULL;

                if (moat_config_widening(&a, &a, &lines) < 0 || lines[0])
                        abort();
        }
        if (has_b) {
                _cleanup_(strv_freep) char **lines = NULL;

                if (moat_config_widening(has_a ? &a : NULL, &b, &lines) < 0)
                        abort();
                for (char **l = lines; *l; l++)
                        if (!strchr(*l, ':'))
                                abort();
        }
        if (has_a)
                moat_config_done(&a);
        if (has_b)
                moat_config_done(&b);
        return 0;
}
