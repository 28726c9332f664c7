/* The host's git stays the host's: what a workspace's .git needs mounted read-only, and
 * that a .git/commondir (which would send git to config the container wrote) is refused
 * before a run and moved aside after one. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git-guard.h"
#include "macro.h"
#include "tap.h"

static char top[] = "/tmp/test-git-guard-XXXXXX";

/* TOP/NAME, in one of a few static buffers. */
static const char *at(const char *name) {
        static char buf[8][4096];
        static unsigned next;
        char *p = buf[next++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", top, name);
        return p;
}

static void touch(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, "../evil\n", 8) != 8)
                abort();
        close(fd);
}

static bool has(const git_guard_mount *m, size_t n, const char *path, bool read_only) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(m[i].path, path) == 0 && m[i].read_only == read_only)
                        return true;
        return false;
}

static void test_plan(void) {
        git_guard_mount *m = NULL;
        size_t n = 0;
        moat_error err = {};

        if (mkdir(at("plain"), 0755) < 0 || mkdir(at("repo"), 0755) < 0 || mkdir(at("repo/.git"), 0755) < 0)
                abort();
        is_int(git_guard_plan(at("plain"), &m, &n, &err), 0, "no .git: nothing to protect");
        is_int((int) n, 0, "no mounts");

        is_int(git_guard_plan(at("repo"), &m, &n, &err), 0, "a repository");
        ok(n >= 3 && strcmp(m[0].path, ".git") == 0 && !m[0].read_only, ".git first, a mount point of its own");
        ok(has(m, n, ".git/hooks", true) && has(m, n, ".git/config", true), "hooks and config read-only");
        ok(access(at("repo/.git/hooks"), F_OK) == 0 && access(at("repo/.git/config"), F_OK) == 0,
           "made where missing, so that there is something to mount");
        git_guard_mounts_free(m, n);

        touch(at("repo/.git/commondir"));
        is_int(git_guard_plan(at("repo"), &m, &n, &err), -ELOOP, "a .git/commondir is refused");
        ok(strstr(moat_error_message(&err), ".git/commondir") && strstr(moat_error_message(&err), "remove it"),
           "saying which file and what to do: %s", moat_error_message(&err));
        moat_error_clear(&err);
}

static void test_sweep(void) {
        _cleanup_free_ char *msg = NULL, *none = NULL, *plain = NULL;

        /* left by test_plan: repo/.git/commondir, as a run would have made it */
        is_int(git_guard_sweep(at("repo"), &msg), 1, "a commondir the run made is found");
        ok(msg && strstr(msg, "commondir.moat-refused"), "and said to be moved aside: %s", msg);
        ok(access(at("repo/.git/commondir"), F_OK) < 0 && errno == ENOENT, "it is gone");
        ok(access(at("repo/.git/commondir.moat-refused"), F_OK) == 0, "kept aside for the user to see");
        is_int(git_guard_sweep(at("repo"), &none), 0, "nothing the second time");
        ok(!none, "and no message");
        is_int(git_guard_sweep(at("plain"), &plain), 0, "nothing without .git");
        if (mkdir(at("ws"), 0755) < 0 || symlink("../repo/.git", at("ws/.git")) < 0)
                abort();
        touch(at("repo/.git/commondir"));
        is_int(git_guard_sweep(at("ws"), &plain), 0, "a .git that is a link is not followed");
        ok(access(at("repo/.git/commondir"), F_OK) == 0, "what it points to is left alone");
}

int main(void) {
        char cmd[128];

        if (!mkdtemp(top))
                abort();
        test_plan();
        test_sweep();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
        (void) system(cmd);
        return tap_done();
}
