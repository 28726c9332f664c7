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
#include "strv.h"
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
        ok(has(m, n, ".git/modules", true) && access(at("repo/.git/modules"), F_OK) == 0,
           "every submodule's git directory read-only, made where missing");
        ok(!has(m, n, ".git/worktrees", true), "no linked worktrees, no mount for them");
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
        _cleanup_(strv_freep) char **msg = NULL, **none = NULL, **plain = NULL;

        /* left by test_plan: repo/.git/commondir, as a run would have made it */
        is_int(git_guard_sweep(at("repo"), &msg), 1, "a commondir the run made is found");
        ok(msg && strstr(msg[0], "commondir.moat-refused"), "and said to be moved aside: %s", msg ? msg[0] : "");
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

static void test_config_keys(void) {
        static const char plain[] = "core.repositoryformatversion\0core.bare\0remote.origin.url\0"
                                    "remote.origin.fetch\0branch.main.merge\0submodule.lib/x.url\0user.email";
        static const char *const unsafe[] = {
                "core.fsmonitor", "core.hookspath", "core.sshcommand", "core.pager", "include.path",
                "includeif.gitdir:/x/.path", "filter.lfs.smudge", "diff.x.textconv", "remote.origin.uploadpack",
                "alias.st", "core.editor", "uploadpack.packobjectshook", "branch.main.url", "core",
        };

        ok(git_config_keys_plain(plain, sizeof(plain)), "what git init and clone write is plain");
        for (size_t i = 0; i < ELEMENTSOF(unsafe); i++)
                ok(!git_config_keys_plain(unsafe[i], strlen(unsafe[i]) + 1), "%s is not plain", unsafe[i]);
}

/* sh -c CMD in TOP; aborts when it fails. */
static void sh(const char *cmd) {
        char buf[4096];

        snprintf(buf, sizeof(buf), "cd '%s' && (%s) >/dev/null 2>&1", top, cmd);
        if (system(buf) != 0) {
                fprintf(stderr, "# failed: %s\n", cmd);
                abort();
        }
}

#define GIT "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main -c protocol.file.allow=always "

static void test_sweep_submodules(void) {
        _cleanup_(strv_freep) char **msg = NULL, **none = NULL;

        /* a repository with a vendored repository registered in its index, as an agent would
         * make it (git add of an embedded repository), and an absorbed submodule */
        sh(GIT "init -q top && cd top && " GIT "init -q vendored && cd vendored && " GIT "commit -q --allow-empty -m v && "
               "cd .. && " GIT "add vendored && " GIT "commit -q -m top");
        sh("cd top && " GIT "init -q lib-src && cd lib-src && " GIT "commit -q --allow-empty -m l && cd .. && "
           GIT "submodule add -q ./lib-src lib && " GIT "commit -q -m sub");
        is_int(git_guard_sweep_submodules(at("top"), &none), 0, "a fresh repository and its submodules: nothing");
        ok(!none, "no message");

        /* the run plants an fsmonitor and a hook in the vendored repository, and the same in a
         * git directory it makes inside .git (out of .git/modules, which was read-only) */
        sh("cd top && printf '[core]\\n\\tfsmonitor = touch ../pwned\\n' >> vendored/.git/config && "
           "printf '#!/bin/sh\\ntouch ../pwned-hook\\n' > vendored/.git/hooks/post-checkout && "
           "chmod +x vendored/.git/hooks/post-checkout");
        sh("cd top && " GIT "init -q planted && cd planted && " GIT "commit -q --allow-empty -m p && "
           "mv .git ../.git/evil && echo 'gitdir: ../.git/evil' > .git && "
           "printf '[core]\\n\\tfsmonitor = touch ../pwned2\\n' >> ../.git/evil/config && cd .. && " GIT "add planted");
        is_int(git_guard_sweep_submodules(at("top"), &msg), 1, "what the run planted is found");
        is_int((int) strv_length(msg), 3, "three things, one message each");
        ok(access(at("top/vendored/.git/config.moat-refused"), F_OK) == 0 &&
                   access(at("top/vendored/.git/config"), F_OK) < 0,
           "the vendored repository's config is set aside");
        ok(access(at("top/vendored/.git/hooks.moat-refused/post-checkout"), F_OK) == 0, "and its hooks");
        ok(access(at("top/.git/evil/config.moat-refused"), F_OK) == 0, "a git directory made inside .git is swept");
        ok(access(at("top/.git/modules/lib/config"), F_OK) == 0 && access(at("top/.git/config"), F_OK) == 0,
           "the workspace's own and .git/modules are left alone");
        sh("cd top && git status >/dev/null && git -C vendored status && git -C planted status");
        ok(access(at("top/pwned"), F_OK) < 0 && access(at("top/pwned2"), F_OK) < 0, "the host's git status runs nothing");
        is_int(git_guard_sweep_submodules(at("top"), &none), 0, "nothing the second time");
}

int main(void) {
        char cmd[128];

        if (!mkdtemp(top))
                abort();
        test_plan();
        test_sweep();
        test_config_keys();
        test_sweep_submodules();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
        (void) system(cmd);
        return tap_done();
}
