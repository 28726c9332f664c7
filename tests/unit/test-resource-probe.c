/* lib/resource-probe.c: which cgroups are a container's own, the figures' argument both ways,
 * and a sample of a fake cgroup tree; lib/runner.c: --timeout's durations. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resource-probe.h"
#include "run-plan.h"
#include "tap.h"

#define CID "0de97707f8c99c88144fc886882324893eb6b08d0f19e4a4c6bafcb86312a07f"

static void test_parse_rootful_hybrid(void) {
        const char *text = "13:net_cls,net_prio:/machine.slice/libpod-" CID ".scope\n"
                           "9:name=systemd:/machine.slice/libpod-" CID ".scope\n"
                           "8:pids:/machine.slice/libpod-" CID ".scope\n"
                           "7:blkio:/machine.slice/libpod-" CID ".scope\n"
                           "4:memory:/process_api/fb6a/machine.slice/libpod-" CID ".scope\n"
                           "2:cpuacct:/machine.slice/libpod-" CID ".scope\n"
                           "1:cpu:/machine.slice/libpod-" CID ".scope\n"
                           "0::/machine.slice/libpod-" CID ".scope\n";
        resource_probe p;

        is_int(resource_probe_parse(&p, text, "/cg"), 0, "a rootful container on a hybrid host");
        is_str(p.v2, "/cg/unified/machine.slice/libpod-" CID ".scope", "its unified cgroup");
        is_str(p.cpuacct, "/cg/cpuacct/machine.slice/libpod-" CID ".scope", "cpuacct");
        is_str(p.memory, "/cg/memory/process_api/fb6a/machine.slice/libpod-" CID ".scope", "memory, as nested");
        is_str(p.pids, "/cg/pids/machine.slice/libpod-" CID ".scope", "pids");
        is_str(p.blkio, "/cg/blkio/machine.slice/libpod-" CID ".scope", "blkio");
        ok(p.own != NULL, "its own cgroup for its processes");
        resource_probe_done(&p);
}

static void test_parse_rootless_hybrid(void) {
        const char *text = "9:name=systemd:/user.slice/user-1001.slice/user@1001.service/user.slice/podman-415.scope/" CID "\n"
                           "8:pids:/user.slice/user-1001.slice/user@1001.service\n"
                           "7:blkio:/user.slice\n"
                           "4:memory:/user.slice/user-1001.slice/user@1001.service\n"
                           "2:cpuacct:/\n"
                           "1:cpu:/user.slice/user-1001.slice\n"
                           "0::/user.slice/user-1001.slice/user@1001.service/user.slice/podman-415.scope\n";
        resource_probe p;

        is_int(resource_probe_parse(&p, text, "/cg"), 0, "a rootless container on a hybrid host");
        ok(!p.memory && !p.pids && !p.blkio && !p.cpuacct, "the user manager's controllers are not its own");
        is_str(p.v2, "/cg/unified/user.slice/user-1001.slice/user@1001.service/user.slice/podman-415.scope",
               "podman's scope on the unified hierarchy");
        resource_probe_done(&p);
}

static void test_parse_nothing_own(void) {
        resource_probe p;

        is_int(resource_probe_parse(&p, "0::/\n", "/cg"), -ENOENT, "the root is nobody's own");
        is_int(resource_probe_parse(&p, "0::/user.slice/user-1000.slice/session-3.scope/../..\n", "/cg"), -ENOENT,
               "a path with .. is refused");
        is_int(resource_probe_parse(&p, "garbage\nmore:\n::\n", "/cg"), -ENOENT, "garbage");
        is_int(resource_probe_parse(&p, "", "/cg"), -ENOENT, "nothing");
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void test_sample_fake_tree(void) {
        char root[] = "/tmp/test-resource-probe-XXXXXX", dir[256], cmd[300];
        run_resources acc = RUN_RESOURCES_UNKNOWN;
        resource_probe p;

        if (!mkdtemp(root)) {
                ok(0, "mkdtemp");
                return;
        }
        snprintf(dir, sizeof(dir), "%s/unified/libpod-x.scope", root);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
        if (system(cmd) != 0)
                ok(0, "mkdir");
        write_file(dir, "cpu.stat", "usage_usec 2000123\nuser_usec 1900000\nsystem_usec 100123\n");
        write_file(dir, "memory.peak", "104857600\n");
        write_file(dir, "io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n");
        write_file(dir, "pids.current", "3\n");
        is_int(resource_probe_parse(&p, "0::/libpod-x.scope\n", root), 0, "a v2 tree");
        resource_probe_sample(&p, &acc);
        ok(acc.cpu_usec == 2000123, "CPU from cpu.stat");
        ok(acc.memory_peak_bytes == 104857600, "memory.peak");
        ok(acc.io_read_bytes == 4097 && acc.io_write_bytes == 8194, "io.stat summed over devices");
        ok(acc.tasks_peak == 3, "tasks");
        write_file(dir, "pids.current", "1\n");
        write_file(dir, "cpu.stat", "usage_usec 5\n");
        resource_probe_sample(&p, &acc);
        ok(acc.tasks_peak == 3 && acc.cpu_usec == 2000123, "a later, lower figure does not replace a higher one");
        resource_probe_done(&p);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        (void) system(cmd);
}

static void test_format_parse(void) {
        run_resources r = { 1, 2, RUN_RESOURCE_UNKNOWN, 4, 5 }, back;
        char buf[RESOURCES_ARG_MAX];

        run_resources_format(&r, buf);
        is_str(buf, "1,2,-,4,5", "formatted");
        is_int(run_resources_parse(buf, &back), 0, "parsed");
        ok(memcmp(&r, &back, sizeof(r)) == 0, "reads back equal");
        r = RUN_RESOURCES_UNKNOWN;
        run_resources_format(&r, buf);
        is_str(buf, "-,-,-,-,-", "all unknown");
        r = (run_resources) { UINT64_MAX - 1, 0, 0, 0, 0 };
        run_resources_format(&r, buf);
        is_int(run_resources_parse(buf, &back), 0, "the largest figure");
        ok(back.cpu_usec == UINT64_MAX - 1, "to the last digit");
        is_int(run_resources_parse("1,2,3,4", &back), -EINVAL, "four figures");
        is_int(run_resources_parse("1,2,3,4,5,6", &back), -EINVAL, "six figures");
        is_int(run_resources_parse("1,2,x,4,5", &back), -EINVAL, "not a number");
        is_int(run_resources_parse("1,2,-3,4,5", &back), -EINVAL, "negative");
        is_int(run_resources_parse("18446744073709551615,0,0,0,0", &back), -EINVAL, "the unknown value itself");
        is_int(run_resources_parse("99999999999999999999,0,0,0,0", &back), -EINVAL, "out of range");
        is_int(run_resources_parse("", &back), -EINVAL, "empty");
}

static void test_duration(void) {
        uint64_t u = 0;

        ok(parse_duration("2s", &u) == 0 && u == 2000000, "2s");
        ok(parse_duration("90", &u) == 0 && u == 90000000, "a bare number is seconds");
        ok(parse_duration("500ms", &u) == 0 && u == 500000, "500ms");
        ok(parse_duration("5m", &u) == 0 && u == 300000000, "5m");
        ok(parse_duration("1h30m", &u) == 0 && u == 5400000000ULL, "1h30m");
        ok(parse_duration("1d", &u) == 0 && u == 86400000000ULL, "1d");
        is_int(parse_duration("", &u), -EINVAL, "empty");
        is_int(parse_duration("0", &u), -EINVAL, "zero");
        is_int(parse_duration("0s", &u), -EINVAL, "0s");
        is_int(parse_duration("-1s", &u), -EINVAL, "negative");
        is_int(parse_duration("1x", &u), -EINVAL, "an unknown unit");
        is_int(parse_duration("1h30", &u), -EINVAL, "a bare number after a unit");
        is_int(parse_duration("s", &u), -EINVAL, "no number");
        is_int(parse_duration("400d", &u), -EINVAL, "more than a year");
        is_int(parse_duration("99999999999999999999s", &u), -EINVAL, "out of range");
}

int main(void) {
        test_parse_rootful_hybrid();
        test_parse_rootless_hybrid();
        test_parse_nothing_own();
        test_sample_fake_tree();
        test_format_parse();
        test_duration();
        return tap_done();
}
