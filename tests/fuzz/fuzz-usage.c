/* Model APIs' answers as the proxy reads them for token usage: any bytes, for any API, fed at
 * once or split anywhere, give the same figures; no crash, and what is known is printable. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static usage_tokens parse(usage_api api, const char *data, size_t size, size_t split) {
        usage_parser *u = usage_parser_new(api, "/v1beta/models/fuzz:streamGenerateContent");
        usage_tokens t;

        if (!u)
                abort();
        usage_parser_feed(u, data, split);
        usage_parser_feed(u, data + split, size - split);
        usage_parser_finish(u, &t);
        usage_parser_free(u);
        return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;

        for (usage_api api = USAGE_API_NONE + 1; api < _USAGE_API_MAX; api++) {
                usage_tokens whole = parse(api, text, size, 0), split = parse(api, text, size, size / 2);

                if (whole.known != split.known || memcmp(&whole, &split, sizeof(whole)) != 0)
                        abort();
                for (const char *m = whole.model; *m; m++)
                        if (*m <= 0x20 || *m >= 0x7f)
                                abort();
                if (!whole.known && (whole.input || whole.output || whole.model[0]))
                        abort();
        }
        return 0;
}
