/* /proc text that decides which processes moat signals: a conmon's arguments and a stat
 * line.  The input is used as both; a match needs conmon's name and the session after -u. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec-session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        pid_t ppid = -1;

        if (conmon_cmdline_is_session(text, size, "abc")) {
                const char *base = strrchr(text, '/');

                /* NUL-terminated, named conmon, and holding the ID */
                if (text[size - 1] != '\0' || strcmp(base ? base + 1 : text, "conmon") != 0 ||
                    !memmem(text, size, "abc", 4))
                        abort();
        }
        if (proc_stat_parent(text, size, &ppid) == 0 && ppid < 0)
                abort();
        return 0;
}
