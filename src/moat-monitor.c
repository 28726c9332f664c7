/* moat-monitor: the main process of a run's unit (`moat-monitor run ID`) and its
 * ExecStopPost (`moat-monitor cleanup ID`).  Started by systemd, never by hand; the run store
 * is $MOAT_HOME, which moat puts into the unit's environment. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "podman.h"

int main(int argc, char **argv) {
        _cleanup_(moat_error_clear) moat_error err = {};
        const char *home = getenv("MOAT_HOME");
        int r;

        if (argc != 3 || !run_id_valid(argv[2]) || (strcmp(argv[1], "run") && strcmp(argv[1], "cleanup"))) {
                fputs("usage: moat-monitor run|cleanup RUN-ID (started by systemd for moat)\n", stderr);
                return 2;
        }
        if (!home || home[0] != '/') {
                fputs("moat-monitor: MOAT_HOME is not set to an absolute path\n", stderr);
                return 2;
        }

        podman_global_init();
        r = strcmp(argv[1], "run") == 0 ? monitor_run(home, argv[2], &err) : monitor_cleanup(home, argv[2], &err);
        if (r < 0) {
                /* stderr is the unit's journal */
                fprintf(stderr, "moat-monitor: %s\n", moat_error_message(&err));
                return 125;
        }
        return r;
}
