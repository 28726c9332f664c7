/* moat-relay: a run's main process while the container runs (lib/relay.h).  moat-monitor
 * execs it once the container has started:
 *   moat-relay RUN-ID NAME user|system tty|notty ATTACH-FD
 * It links no libcurl and no cJSON: it stays resident for the whole run. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

int main(int argc, char **argv) {
        run_record rec = {};
        _cleanup_free_ char *unit = NULL;
        char *end;
        long fd;

        if (argc != 6 || !run_id_valid(argv[1]) || !run_name_valid(argv[2]) ||
            run_manager_from_string(argv[3], &rec.manager) < 0 ||
            (strcmp(argv[4], "tty") != 0 && strcmp(argv[4], "notty") != 0)) {
                fputs("usage: moat-relay RUN-ID NAME user|system tty|notty ATTACH-FD (started by moat-monitor)\n", stderr);
                return 2;
        }
        errno = 0;
        fd = strtol(argv[5], &end, 10);
        if (errno != 0 || *end != '\0' || fd < 3 || fd > 65535) {
                fputs("moat-relay: ATTACH-FD must be an open descriptor above 2\n", stderr);
                return 2;
        }
        snprintf(rec.id, sizeof(rec.id), "%s", argv[1]);
        unit = run_unit_name(rec.id);
        if (!unit) {
                fputs("moat-relay: out of memory\n", stderr);
                return 125;
        }
        rec.name = argv[2];
        rec.unit = unit;
        rec.tty = strcmp(argv[4], "tty") == 0;
        rec.state = RUN_RUNNING;
        relay_hand_over();
        return relay_run(&rec, (int) fd);
}
