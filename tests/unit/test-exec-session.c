/* Finding an exec session's conmons in /proc: the argument and stat parsers, malformed input,
 * and a made-up /proc with two sessions and other processes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-session.h"
#include "tap.h"

#define SESSION "0ff5a0f0619f251d250f6bcb17183516c981f16c2e367923249997ef19bcb900"
#define OTHER "92a1142dcb836d23b6d149d9f1895d3f733f01b032e36467006e9c516c33e830"
#define CTR "d9146fe193b24712db950995d02b96eb94f469560c8351a770c777e79cd33d4e"

#define CMDLINE(s) s, sizeof(s) /* the terminating NUL counts, as in /proc */

static void test_cmdline(void) {
        ok(conmon_cmdline_is_session(CMDLINE("/usr/bin/conmon\0--api-version\0001\0-c\0" CTR "\0-u\0" SESSION "\0-e"),
                                     SESSION),
           "a session's conmon");
        ok(conmon_cmdline_is_session(CMDLINE("conmon\0-u\0" SESSION), SESSION), "conmon without a path");
        ok(!conmon_cmdline_is_session(CMDLINE("/usr/bin/conmon\0-c\0" CTR "\0-u\0" CTR), SESSION),
           "the container's own conmon");
        ok(!conmon_cmdline_is_session(CMDLINE("/usr/bin/conmon\0-c\0" SESSION "\0-u\0" OTHER), SESSION),
           "the ID after another option");
        ok(!conmon_cmdline_is_session(CMDLINE("/usr/bin/podman\0-u\0" SESSION), SESSION), "not conmon");
        ok(!conmon_cmdline_is_session(CMDLINE("/usr/bin/notconmon\0-u\0" SESSION), SESSION), "a longer name");
        ok(!conmon_cmdline_is_session(CMDLINE("/usr/bin/conmon\0-u\0" SESSION "x"), SESSION), "a longer ID");
        ok(!conmon_cmdline_is_session(CMDLINE("/usr/bin/conmon\0-u"), SESSION), "-u at the end");
        ok(!conmon_cmdline_is_session("/usr/bin/conmon\0-u\0" SESSION, 20, SESSION), "not NUL-terminated");
        ok(!conmon_cmdline_is_session("", 0, SESSION), "empty (a kernel thread)");
        ok(!conmon_cmdline_is_session(CMDLINE("conmon\0-u\0"), ""), "an empty ID matches nothing");
}

static void test_stat(void) {
        const char *good = "409 (conmon) S 393 409 393 0 -1 4194624";
        const char *paren = "77 (a) b) (c) R 12 77";
        pid_t ppid = -1;

        is_int(proc_stat_parent(good, strlen(good), &ppid), 0, "a stat line");
        is_int(ppid, 393, "its parent");
        is_int(proc_stat_parent(paren, strlen(paren), &ppid), 0, "a name with parentheses");
        is_int(ppid, 12, "the parent after the last ')'");
        is_int(proc_stat_parent("1 (init) S 0", 12, &ppid), 0, "at the end of the text");
        is_int(ppid, 0, "parent 0");
        is_int(proc_stat_parent("409 (conmon) S", 14, &ppid), -EINVAL, "cut before the parent");
        is_int(proc_stat_parent("409 (conmon) S x1", 17, &ppid), -EINVAL, "a parent that is no number");
        is_int(proc_stat_parent("409 (conmon) S 1x", 17, &ppid), -EINVAL, "a number with a tail");
        is_int(proc_stat_parent("409 (conmon) S -1 2", 19, &ppid), -EINVAL, "a negative parent");
        is_int(proc_stat_parent("409 (conmon) S 99999999999 2", 28, &ppid), -EINVAL, "an overflowing parent");
        is_int(proc_stat_parent("409 conmon S 1 2", 16, &ppid), -EINVAL, "no parentheses");
        is_int(proc_stat_parent("", 0, &ppid), -EINVAL, "empty");
}

static void add_process(const char *root, int pid, int ppid, const char *cmdline, size_t len) {
        char path[512], stat[128];
        FILE *f;

        snprintf(path, sizeof path, "%s/%d", root, pid);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%d/stat", root, pid);
        snprintf(stat, sizeof stat, "%d (x) S %d 1 1 0", pid, ppid);
        f = fopen(path, "w");
        fputs(stat, f);
        fclose(f);
        snprintf(path, sizeof path, "%s/%d/cmdline", root, pid);
        f = fopen(path, "w");
        fwrite(cmdline, 1, len, f);
        fclose(f);
}

static void test_find(void) {
        char root[] = "/tmp/moat-test-proc-XXXXXX";
        const char conmon[] = "/usr/bin/conmon\0-c\0" CTR "\0-u\0" SESSION "\0--exit-delay\0" "300";
        const char other[] = "/usr/bin/conmon\0-c\0" CTR "\0-u\0" OTHER;
        const char ctr_conmon[] = "/usr/bin/conmon\0-c\0" CTR "\0-u\0" CTR;
        const char sh[] = "sh\0-c\0sleep 9";
        exec_processes p;
        char path[600];

        ok(mkdtemp(root) != NULL, "a made-up /proc");
        add_process(root, 1, 0, CMDLINE("/sbin/init"));
        add_process(root, 367, 1, CMDLINE(ctr_conmon));
        add_process(root, 380, 367, CMDLINE(sh)); /* the container's process, not the session's */
        add_process(root, 393, 1, CMDLINE(conmon));
        add_process(root, 400, 393, CMDLINE(sh));
        add_process(root, 412, 1, CMDLINE(other));
        add_process(root, 428, 412, CMDLINE(other));
        snprintf(path, sizeof path, "%s/self", root);
        mkdir(path, 0755); /* not a PID */
        snprintf(path, sizeof path, "%s/500", root);
        mkdir(path, 0755); /* gone meanwhile: no files */

        is_int(exec_processes_find(root, SESSION, &p), 0, "a running session");
        is_int(p.monitor, 393, "its monitor");
        is_int(p.waiter, 0, "no waiter while the command runs");
        is_int(p.command, 400, "its command");

        is_int(exec_processes_find(root, OTHER, &p), 0, "an ended session");
        is_int(p.monitor, 412, "its monitor");
        is_int(p.waiter, 428, "the child waiting to clean up");
        is_int(p.command, 0, "no command");

        is_int(exec_processes_find(root, "feedface", &p), 0, "an unknown session");
        ok(!p.monitor && !p.waiter && !p.command, "has no processes");
        is_int(exec_session_signal(root, "feedface", SIGTERM), -ESRCH, "an unknown session cannot be signalled");
        is_int(exec_session_signal(root, OTHER, SIGTERM), -ESRCH, "nor an ended one");
        is_int(exec_session_release(root, "feedface", 1000000), 0, "nothing to release returns at once");
        is_int(exec_processes_find("/nonexistent", SESSION, &p), -ENOENT, "no /proc");

        snprintf(path, sizeof path, "rm -rf '%s'", root);
        ok(system(path) == 0, "cleaned up");
}

/* A real guard over a made-up session: it leaves at once when told the session ended, and
 * its caller's output pipe is not held open by it. */
static void test_guard(void) {
        int fd = -1, out[2], saved;
        char c;

        ok(pipe(out) == 0, "a pipe for stdout");
        saved = dup(STDOUT_FILENO);
        fflush(stdout);
        dup2(out[1], STDOUT_FILENO);
        close(out[1]);
        is_int(exec_guard_start("feedface", 1000, &fd, NULL), 0, "a guard starts");
        dup2(saved, STDOUT_FILENO);
        close(saved);
        ok(fd >= 0, "with a pipe to it");
        /* the guard keeps no copy of stdout: its reader sees the end */
        is_int(read(out[0], &c, 1), 0, "stdout's reader sees its end");
        close(out[0]);
        exec_guard_done(fd);
        exec_guard_done(-1);
        ok(true, "done, and done on nothing");
}

int main(void) {
        test_cmdline();
        test_stat();
        test_find();
        test_guard();
        return tap_done();
}
