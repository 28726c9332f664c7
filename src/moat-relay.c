/* moat-relay: a run's main process while the container runs (lib/relay.h).  moat-monitor
 * execs it once the container has started:
 *   moat-relay RUN-ID NAME user|system tty|notty ATTACH-FD PROXY-LIFELINE-FD PROXY-PIDFD
 * the last two -1 for a run without a proxy (or a kernel without pidfds).
 * It links no libcurl and no cJSON: it stays resident for the whole run. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

/* A descriptor above 2 from ARG, or -1 for "-1"; -EINVAL otherwise. */
static int parse_fd(const char *arg, bool may_be_none) {
        char *end;
        long fd;

        errno = 0;
        fd = strtol(arg, &end, 10);
        if (errno != 0 || *end != '\0' || end == arg)
                return -EINVAL;
        if (fd == -1 && may_be_none)
                return -1;
        return fd >= 3 && fd <= 65535 ? (int) fd : -EINVAL;
}

int main(int argc, char **argv) {
        run_record rec = {};
        _cleanup_free_ char *unit = NULL;
        helper_lifeline proxy = HELPER_LIFELINE_NONE;
        long container_pid = 0;
        int fd;

        if (argc != 9 || !run_id_valid(argv[1]) || !run_name_valid(argv[2]) ||
            run_manager_from_string(argv[3], &rec.manager) < 0 ||
            (strcmp(argv[4], "tty") != 0 && strcmp(argv[4], "notty") != 0)) {
                fputs("usage: moat-relay RUN-ID NAME user|system tty|notty ATTACH-FD PROXY-LIFELINE-FD PROXY-PIDFD "
                      "CONTAINER-PID (started by moat-monitor)\n",
                      stderr);
                return 2;
        }
        fd = parse_fd(argv[5], false);
        proxy.fd = parse_fd(argv[6], true);
        proxy.pidfd = parse_fd(argv[7], true);
        if (fd < 0 || proxy.fd < -1 || proxy.pidfd < -1) {
                fputs("moat-relay: ATTACH-FD must be an open descriptor above 2, the proxy's ones too or -1\n", stderr);
                return 2;
        }
        container_pid = strtol(argv[8], NULL, 10); /* 0: unknown, nothing is measured */
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
        return relay_run(&rec, fd, &proxy, container_pid > 1 && container_pid < INT32_MAX ? (pid_t) container_pid : 0);
}
