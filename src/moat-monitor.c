/* moat-monitor: a run's podman side, started by systemd and by the relay, never by hand.
 *   run ID                  the unit's main process until the container runs (then the relay)
 *   stop ID                 the relay's helper on SIGTERM/SIGINT
 *   finish ID OUT ERR LINES whole|cut [RESOURCES]   the relay's helper once the output ended
 *   cleanup ID              the unit's ExecStopPost
 * The run store is $MOAT_HOME, which moat puts into the unit's environment. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"
#include "podman.h"
#include "resource-probe.h"

static int usage(void) {
        fputs("usage: moat-monitor run|stop|cleanup RUN-ID\n"
              "       moat-monitor finish RUN-ID STDOUT-BYTES STDERR-BYTES LINES whole|cut [RESOURCES]\n"
              "(started by systemd and moat-relay for moat)\n",
              stderr);
        return 2;
}

/* The e2e tests' hold on a run after its unit was loaded and before its monitor runs: with
 * MOAT_TEST_MONITOR_GATE=DIR (which moat run passes on from its own environment), `run` makes
 * DIR/held and waits for DIR/release before anything else, stop signals not yet held, as a
 * monitor that a loaded host has not scheduled yet. */
static void test_gate(void) {
        const char *dir = getenv("MOAT_TEST_MONITOR_GATE");
        char held[4096], release[4096];
        FILE *f;

        if (!dir || dir[0] != '/')
                return;
        snprintf(held, sizeof(held), "%s/held", dir);
        snprintf(release, sizeof(release), "%s/release", dir);
        f = fopen(held, "we");
        if (f)
                fclose(f);
        while (access(release, F_OK) < 0)
                usleep(5000);
}

static bool parse_count(const char *s, uint64_t *ret) {
        char *end;

        errno = 0;
        *ret = strtoull(s, &end, 10);
        return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

int main(int argc, char **argv) {
        _cleanup_(moat_error_clear) moat_error err = {};
        const char *home = getenv("MOAT_HOME");
        uint64_t relayed[2], lines;
        run_resources used = RUN_RESOURCES_UNKNOWN;
        int r;

        if (argc < 3 || !run_id_valid(argv[2]))
                return usage();
        if (!home || home[0] != '/') {
                fputs("moat-monitor: MOAT_HOME is not set to an absolute path\n", stderr);
                return 2;
        }

        podman_global_init();
        if (argc == 3 && strcmp(argv[1], "run") == 0) {
                test_gate();
                r = monitor_run(home, argv[2], &err);
        }
        else if (argc == 3 && strcmp(argv[1], "stop") == 0)
                r = monitor_stop(home, argv[2], &err);
        else if (argc == 3 && strcmp(argv[1], "cleanup") == 0)
                r = monitor_cleanup(home, argv[2], &err);
        else if ((argc == 7 || (argc == 8 && run_resources_parse(argv[7], &used) >= 0)) &&
                 strcmp(argv[1], "finish") == 0 && parse_count(argv[3], &relayed[0]) &&
                 parse_count(argv[4], &relayed[1]) && parse_count(argv[5], &lines) &&
                 (strcmp(argv[6], "whole") == 0 || strcmp(argv[6], "cut") == 0))
                r = monitor_finish(home, argv[2], relayed, lines, strcmp(argv[6], "cut") == 0,
                                   argc == 8 ? &used : NULL, &err);
        else
                return usage();
        if (r < 0) {
                /* stderr is the unit's journal */
                fprintf(stderr, "moat-monitor: %s\n", moat_error_message(&err));
                return 125;
        }
        return r;
}
