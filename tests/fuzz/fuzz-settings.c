/* moat.yaml and provider files: any bytes either parse or are refused with a message. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        moat_config c = {};
        provider p = {};
        moat_error err = {};

        if (moat_config_parse("moat.yaml", (const char *) data, size, "/ws", &c, &err) < 0) {
                if (!err.msg)
                        abort();
        } else if (c.interactive < -1 || c.interactive > 1)
                abort();
        moat_config_done(&c);
        moat_error_clear(&err);
        if (provider_parse("f", "f.yaml", (const char *) data, size, &p, &err) >= 0 && (!p.image || !p.command))
                abort();
        provider_done(&p);
        moat_error_clear(&err);
        return 0;
}
