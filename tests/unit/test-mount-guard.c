/* What a container may be given of the host: lexical paths, resolution through symbolic
 * links, moat's places refused or hidden, and the workspace's git protected. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git-guard.h"
#include "mount-guard.h"
#include "strv.h"
#include "tap.h"

static void test_normalize(void) {
        static const char *const cases[][2] = {
                { "/", "/" },           { "//", "/" },         { "/a/b/", "/a/b" },      { "/a//b", "/a/b" },
                { "/a/./b", "/a/b" },   { "/a/../b", "/b" },   { "/../..", "/" },        { "/a/b/../../..", "/" },
                { "/a/..b/c", "/a/..b/c" }, { "/.../x", "/.../x" }, { "/a/b/..", "/a" },
        };
        char *out = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ok(path_normalize(cases[i][0], &out) == 0, "normalizes %s", cases[i][0]);
                is_str(out, cases[i][1], "%s is %s", cases[i][0], cases[i][1]);
                free(out);
                out = NULL;
        }
        is_int(path_normalize("a/b", &out), -EINVAL, "a relative path is refused");
        is_int(path_normalize("", &out), -EINVAL, "an empty path is refused");
}

static void test_within(void) {
        ok(path_is_within("/home/me/.moat", "/home/me/.moat"), "a path is within itself");
        ok(path_is_within("/home/me/.moat/grants", "/home/me/.moat"), "below");
        ok(!path_is_within("/home/me/.moatx", "/home/me/.moat"), "a longer name is not below");
        ok(!path_is_within("/home/me", "/home/me/.moat"), "above is not within");
        ok(path_is_within("/anything", "/"), "everything is within /");
}

static void test_check_and_inside(void) {
        char *protected[] = { (char *) "/home/me/.moat", (char *) "/home/me/.config/moat", NULL };
        _cleanup_(strv_freep) char **inside = NULL;
        moat_error err = {};

        is_int(mount_source_check("/home/me/.moat/grants", "mount source", protected, &err), -EPERM,
               "the grant store is refused");
        contains(moat_error_message(&err), "is inside /home/me/.moat", "the error names the place");
        moat_error_clear(&err);
        is_int(mount_source_check("/home/me/.moat", "mount source", protected, &err), -EPERM, "MOAT_HOME itself");
        moat_error_clear(&err);
        is_int(mount_source_check("/home/me/src", "mount source", protected, &err), 0, "a project is fine");
        is_int(mount_source_check("/home/me", "the workspace", protected, &err), 0, "a parent is not refused");

        ok(mount_source_protected_inside("/home/me", protected, &inside) == 0, "places inside ~");
        ok(strv_length(inside) == 2 && strcmp(inside[0], ".moat") == 0 && strcmp(inside[1], ".config/moat") == 0,
           "~ holds .moat and .config/moat, relative");
        strv_free(inside);
        ok(mount_source_protected_inside("/", protected, &inside) == 0 && strv_length(inside) == 2 &&
                   strcmp(inside[0], "home/me/.moat") == 0,
           "/ holds them below it, relative without a leading slash");
        strv_free(inside);
        ok(mount_source_protected_inside("/home/me/src", protected, &inside) == 0 && strv_length(inside) == 0,
           "a project holds none");
}

/* A temporary tree: DIR/home/.moat/grants, DIR/ws with a link to the grants. */
static void test_resolve(void) {
        char dir[] = "/tmp/test-mount-guard-XXXXXX", path[512], link[512];
        _cleanup_free_ char *real = NULL, *want = NULL;
        moat_error err = {};

        ok(mkdtemp(dir) != NULL, "a temporary directory");
        snprintf(path, sizeof(path), "%s/home", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/home/.moat", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/home/.moat/grants", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/ws", dir);
        mkdir(path, 0700);
        snprintf(link, sizeof(link), "%s/ws/.cache-link", dir);
        snprintf(path, sizeof(path), "%s/home/.moat/grants", dir);
        ok(symlink(path, link) == 0, "a link planted in the workspace");
        want = realpath(path, NULL);

        snprintf(path, sizeof(path), "%s/ws", dir);
        ok(mount_source_resolve(".cache-link", path, &real, &err) == 0, "a relative source resolves");
        is_str(real, want, "through the link, to where it leads");
        free(real);
        real = NULL;
        snprintf(path, sizeof(path), "%s/ws/../home/./.moat/grants", dir);
        ok(mount_source_resolve(path, NULL, &real, &err) == 0, "a path with .. resolves");
        is_str(real, want, "to the grants");
        free(real);
        real = NULL;
        snprintf(path, sizeof(path), "%s/ws/missing", dir);
        ok(mount_source_resolve(path, NULL, &real, &err) < 0, "a missing source is an error");
        contains(moat_error_message(&err), "does not exist", "saying so");
        moat_error_clear(&err);

        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        ok(system(path) == 0, "cleaned up");
}

static void test_git(void) {
        char dir[] = "/tmp/test-git-guard-XXXXXX", path[512];
        git_guard_mount *m = NULL;
        size_t n = 0;
        moat_error err = {};
        struct stat st;

        ok(mkdtemp(dir) != NULL, "a temporary workspace");
        ok(git_guard_plan(dir, &m, &n, &err) == 0 && n == 0, "no .git: nothing to protect");

        snprintf(path, sizeof(path), "%s/.git", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/.git/config", dir);
        close(open(path, O_WRONLY | O_CREAT, 0644));
        ok(git_guard_plan(dir, &m, &n, &err) == 0 && n == 4, "a repository: .git, hooks, config, modules");
        ok(n == 4 && strcmp(m[0].path, ".git") == 0 && !m[0].read_only, ".git first, writable (a mount point)");
        ok(n == 4 && strcmp(m[1].path, ".git/hooks") == 0 && m[1].read_only, "hooks read-only");
        ok(n == 4 && strcmp(m[2].path, ".git/config") == 0 && m[2].read_only, "config read-only");
        ok(n == 4 && strcmp(m[3].path, ".git/modules") == 0 && m[3].read_only, "submodules' git directories read-only");
        snprintf(path, sizeof(path), "%s/.git/hooks", dir);
        ok(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "a missing hooks directory is made");
        git_guard_mounts_free(m, n);

        snprintf(path, sizeof(path), "printf '[extensions]\\n\\tworktreeConfig = true\\n' > %s/.git/config", dir);
        ok(system(path) == 0, "the config reads config.worktree");
        ok(git_guard_plan(dir, &m, &n, &err) == 0 && n == 5 && strcmp(m[4].path, ".git/config.worktree") == 0,
           "config.worktree made and read-only too");
        git_guard_mounts_free(m, n);

        snprintf(path, sizeof(path), "rm -rf %s/.git/hooks && ln -s /tmp %s/.git/hooks", dir, dir);
        ok(system(path) == 0, "hooks made a link");
        is_int(git_guard_plan(dir, &m, &n, &err), -ELOOP, "a linked hooks directory is refused");
        contains(moat_error_message(&err), ".git/hooks", "naming it");
        moat_error_clear(&err);

        snprintf(path, sizeof(path), "rm -rf %s/.git && echo 'gitdir: /elsewhere' > %s/.git", dir, dir);
        ok(system(path) == 0, "a linked worktree's .git file");
        ok(git_guard_plan(dir, &m, &n, &err) == 0 && n == 1 && m[0].read_only, "the .git file is read-only");
        git_guard_mounts_free(m, n);

        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        ok(system(path) == 0, "cleaned up");
}

int main(void) {
        test_normalize();
        test_within();
        test_check_and_inside();
        test_resolve();
        test_git();
        return tap_done();
}
