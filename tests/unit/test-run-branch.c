/* A run's branch: names, git's -z formats, the disarmed config, and a checkout made, used the
 * way an agent that wants its code run on the host would use it, and brought back. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "run-branch.h"
#include "strv.h"
#include "tap.h"

static char top[] = "/tmp/test-run-branch-XXXXXX";

/* TOP/NAME, in one of a few static buffers. */
static const char *at_top(const char *name) {
        static char buf[4][4096];
        static unsigned next;
        char *p = buf[next++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", top, name);
        return p;
}

static void test_names(void) {
        static const char *const good[] = { "a", "fix-login", "Feature_2", "v1.2", "x.y-z_0" };
        static const char *const bad[] = { "",     "-a",    ".a",  "a..b",   "a/b",  "a.",  "a.lock", "a b",
                                           "a~1",  "a^",    "a:b", "a?",     "a*",   "a[", "a\\b",   "@{x}",
                                           "é",    "a\n" };
        char longest[102];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ok(run_branch_name_valid(good[i]), "valid: '%s'", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(!run_branch_name_valid(bad[i]), "invalid: '%s'", bad[i]);
        ok(!run_branch_name_valid(NULL), "invalid: NULL");
        memset(longest, 'a', sizeof(longest) - 1);
        longest[101] = '\0';
        ok(!run_branch_name_valid(longest), "invalid: 101 characters");
        longest[100] = '\0';
        ok(run_branch_name_valid(longest), "valid: 100 characters");
}

static void test_status(void) {
        static const char two[] = " M a.c\0?? new file\0";
        static const char renamed[] = "R  new\0old\0 M b\0";
        static const char copied[] = " C new\0old\0";
        size_t n = 99;

        is_int(git_status_count("", 0, &n), 0, "empty status");
        is_int((int) n, 0, "nothing to commit");
        is_int(git_status_count(two, sizeof(two) - 1, &n), 0, "two entries");
        is_int((int) n, 2, "counted");
        is_int(git_status_count(renamed, sizeof(renamed) - 1, &n), 0, "a rename takes two paths");
        is_int((int) n, 2, "a rename and a change");
        is_int(git_status_count(copied, sizeof(copied) - 1, &n), 0, "a copy takes two paths");
        is_int((int) n, 1, "one copy");
        is_int(git_status_count(" M a", 4, &n), -EBADMSG, "no terminating NUL");
        is_int(git_status_count("M\0", 2, &n), -EBADMSG, "too short");
        is_int(git_status_count("MM_a\0", 5, &n), -EBADMSG, "no space after the status");
        is_int(git_status_count("R  new\0", 7, &n), -EBADMSG, "a rename without its source");
        is_int(git_status_count("R  new\0\0", 8, &n), -EBADMSG, "a rename with an empty source");
}

static const char *pair(char **pairs, const char *key) {
        for (char **p = pairs; p && p[0] && p[1]; p += 2)
                if (strcmp(p[0], key) == 0)
                        return p[1];
        return NULL;
}

static void test_disarm(void) {
        static const char list[] = "core.fsmonitor\n/tmp/evil\0"
                                   "core.hookspath\n/tmp/hooks\0"
                                   "filter.lfs.clean\nevil %f\0"
                                   "filter.a=b.c.smudge\nevil\0"
                                   "filter.x.required\ntrue\0"
                                   "diff.pdf.textconv\nevil\0"
                                   "diff.x.command\nevil\0"
                                   "merge.ours.driver\nevil\0"
                                   "credential.https://h.helper\nevil\0"
                                   "core.sshcommand\nevil\0"
                                   "core.pager\nevil\0"
                                   "gpg.ssh.program\nevil\0"
                                   "user.name\nA\0"
                                   "core.bare\0"
                                   "diff.x.xfuncname\n^a\0";
        _cleanup_(strv_freep) char **pairs = NULL;

        is_int(git_config_disarm(list, sizeof(list) - 1, &pairs), 0, "a config list");
        is_str(pair(pairs, "core.fsmonitor"), "false", "fsmonitor off");
        is_str(pair(pairs, "core.hookspath"), "/dev/null", "no hooks");
        is_str(pair(pairs, "filter.lfs.clean"), "", "a clean filter emptied");
        is_str(pair(pairs, "filter.a=b.c.smudge"), "", "a filter whose name has '=' and '.'");
        is_str(pair(pairs, "filter.x.required"), "false", "a required filter no longer required");
        is_str(pair(pairs, "diff.pdf.textconv"), "", "textconv emptied");
        is_str(pair(pairs, "diff.x.command"), "", "an external diff emptied");
        is_str(pair(pairs, "merge.ours.driver"), "", "a merge driver emptied");
        is_str(pair(pairs, "credential.https://h.helper"), "", "a credential helper emptied");
        is_str(pair(pairs, "core.sshcommand"), "", "ssh");
        is_str(pair(pairs, "core.pager"), "", "pager");
        is_str(pair(pairs, "gpg.ssh.program"), "", "a signing program");
        ok(!pair(pairs, "user.name") && !pair(pairs, "core.bare") && !pair(pairs, "diff.x.xfuncname"),
           "harmless keys are left");
        is_int(git_config_disarm("a.b\nc", 5, &pairs), -EBADMSG, "no terminating NUL");
        is_int(git_config_disarm("\0", 1, &pairs), -EBADMSG, "an empty entry");
}

/* Runs the shell command FMT in TOP; aborts when it fails. */
_printf_(1, 2) static void sh(const char *fmt, ...) {
        char *cmd, *full;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&cmd, fmt, ap) < 0)
                abort();
        va_end(ap);
        if (asprintf(&full, "cd %s && { %s; } >/dev/null 2>&1", top, cmd) < 0)
                abort();
        if (system(full) != 0) {
                printf("# failed: %s\n", cmd);
                abort();
        }
        free(cmd);
        free(full);
}

static bool exists(const char *name) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", top, name);
        return access(path, F_OK) == 0;
}

/* The agent's part, in the checkout CO: a commit, then everything that would run code on the
 * host if the host's git read it. */
static void plant(const char *co) {
        sh("cd %s && echo work > work.txt && git add work.txt && git -c user.name=a -c user.email=a@b commit -qm work",
           co);
        sh("printf '#!/bin/sh\\ntouch %s/hook-ran\\n' > %s/.git/hooks/post-commit && chmod +x %s/.git/hooks/post-commit"
           " && printf '#!/bin/sh\\ntouch %s/fsmonitor-ran\\n' > %s/evil.sh && chmod +x %s/evil.sh"
           " && git -C %s config core.fsmonitor %s/evil.sh && git -C %s config core.hooksPath %s/.git/hooks"
           " && git -C %s config filter.x.clean %s/evil.sh && git -C %s config filter.x.required true"
           " && echo '* filter=x' > %s/.gitattributes && echo dirty >> %s/work.txt",
           top, co, co, top, co, co, co, co, co, co, co, co, co, co, co);
}

static void test_checkout(void) {
        _cleanup_(run_branch_done) run_branch b = {}, again = {};
        _cleanup_free_ char *home = NULL, *head_before = NULL, *diff = NULL;
        run_branch_entry *list = NULL;
        size_t n = 0, dirty = 0;
        moat_error err = {};
        bool created = false;
        long ahead = -1;

        if (system("git --version >/dev/null 2>&1") != 0) {
                ok(1, "# SKIP no git on this host");
                return;
        }
        if (asprintf(&home, "%s/home", top) < 0)
                abort();
        sh("mkdir home notrepo && git init -q repo && cd repo && echo one > a.txt && git add a.txt && "
           "git -c user.name=u -c user.email=u@h commit -qm one && git config user.name U && "
           "git config user.email u@h");

        is_int(run_branch_plan(home, at_top("notrepo"), "a", &b, &err), -EINVAL, "not a git repository");
        contains(moat_error_message(&err), "not in a git repository", "and says so");
        moat_error_clear(&err);
        is_int(run_branch_plan(home, at_top("repo"), "a/b", &b, &err), -EINVAL, "an invalid name");
        moat_error_clear(&err);
        ok(!exists("home/" RUN_BRANCH_DIR), "nothing made for bad input");

        is_int(run_branch_plan(home, at_top("repo"), "a", &b, &err), 0, "a plan");
        is_int(run_branch_prepare(&b, "nosuchref", &created, &err), -EINVAL, "--from a ref that is not there");
        ok(!created && access(b.checkout, F_OK) < 0, "and no checkout is left");
        ok(access(b.key_dir, F_OK) < 0, "nor the repository's directory");
        moat_error_clear(&err);
        is_int(run_branch_prepare(&b, NULL, &created, &err), 0, "a checkout");
        ok(created, "made");
        ok(b.base && strlen(b.base) == 40, "with its base");

        plant(b.checkout);
        is_int(run_branch_dirty(b.checkout, &dirty, &err), 0, "status with a planted filter and fsmonitor");
        if (err.code)
                printf("# %s\n", moat_error_message(&err));
        is_int((int) dirty, 3, "a change, the attributes and evil.sh");
        is_int(run_branch_fetch(b.repo, b.checkout, "a", &err), 0, "the branch fetched back");
        if (err.code)
                printf("# %s\n", moat_error_message(&err));
        is_int(run_branch_ahead(b.repo, "a", b.base, &ahead, &err), 0, "commits counted");
        is_int(ahead, 1, "one commit ahead");
        is_int(run_branch_diff(b.repo, "a", b.base, &diff, &err), 0, "a diff");
        contains(diff, "+work", "with the run's change");
        sh("cd repo && git status && echo two > b.txt && git add b.txt && git commit -qm two");
        ok(!exists("hook-ran") && !exists("fsmonitor-ran"), "nothing the agent planted ran");

        is_int(run_branch_plan(home, at_top("repo"), "a", &again, &err), 0, "the same name again");
        is_str(again.base, b.base, "keeps its base");
        is_int(run_branch_prepare(&again, "HEAD", &created, &err), -EEXIST, "--from for a branch that exists");
        moat_error_clear(&err);
        is_int(run_branch_prepare(&again, NULL, &created, &err), 0, "reused");
        ok(!created, "not made again");

        is_int(run_branch_list(home, &list, &n, &err), 0, "a list");
        is_int((int) n, 1, "of one checkout");
        if (n == 1) {
                is_str(list[0].name, "a", "its name");
                is_str(list[0].repo, b.repo, "its repository");
                is_int(run_branch_merged(b.repo, "a", &err), 0, "not merged");
                is_int(run_branch_remove(&list[0], true, &err), 0, "removed with its branch");
                ok(access(b.checkout, F_OK) < 0, "the checkout is gone");
                ahead = 0;
                is_int(run_branch_ahead(b.repo, "a", b.base, &ahead, &err), -EIO, "the branch is gone");
                moat_error_clear(&err);
        }
        run_branch_entries_free(list, n);
        free(head_before);
}

int main(void) {
        char cmd[128];

        if (!mkdtemp(top))
                abort();
        test_names();
        test_status();
        test_disarm();
        test_checkout();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
        (void) system(cmd);
        return tap_done();
}
