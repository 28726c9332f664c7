/* An agent's kept home: its key, its seeds, and that nothing the agent leaves in it (links
 * above all) makes moat write or remove anything outside it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-state.h"
#include "file-util.h"
#include "idmap-mount.h"
#include "macro.h"
#include "tap.h"

/* A/B, in one of a few static buffers: enough for the paths of one expression. */
static const char *at(const char *a, const char *b) {
        static char buf[8][4096];
        static unsigned next;
        char *p = buf[next++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", a, b);
        return p;
}

static char *read_text(const char *path) {
        char *text = NULL;
        size_t len;

        return file_read_all(path, 1 << 20, &text, &len) < 0 ? NULL : text;
}

static void test_key(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        is_int(agent_state_key("/home/u/project", &a), 0, "a key");
        ok(a && strncmp(a, "project-", 8) == 0 && strlen(a) == 8 + 16, "the basename and 16 hex digits: %s", a);
        is_int(agent_state_key("/srv/project", &b), 0, "another workspace of the same name");
        ok(a && b && strcmp(a, b) != 0, "differs by the path: %s %s", a, b);
        is_int(agent_state_key("/home/u/project", &c), 0, "the same workspace again");
        is_str(c, a, "the same key for the same path");
        is_int(agent_state_key("/", &d), 0, "the root directory");
        ok(d && strncmp(d, "root-", 5) == 0, "is named root: %s", d);
        is_int(agent_state_key("/x/we ird/..名前 $(x)", &e), 0, "an odd name");
        ok(e && strspn(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(e),
           "keeps only safe characters: %s", e);
}

static void test_seed_paths(void) {
        ok(agent_seed_path_valid(".claude.json"), "a dot file");
        ok(agent_seed_path_valid(".codex/config.toml"), "a nested file");
        ok(!agent_seed_path_valid(""), "empty");
        ok(!agent_seed_path_valid("/etc/passwd"), "absolute");
        ok(!agent_seed_path_valid("../x"), "parent");
        ok(!agent_seed_path_valid("a/../../x"), "parent inside");
        ok(!agent_seed_path_valid("a/./b"), "dot component");
        ok(!agent_seed_path_valid("a//b"), "empty component");
        ok(!agent_seed_path_valid("a/"), "trailing slash");
}

static void test_prepare(const char *top) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *moat_home = strdup(at(top, "moat")), *victim = strdup(at(top, "victim")), *home = NULL,
                            *other = NULL, *text = NULL, *link = NULL, *ws_file = NULL;
        char *home2 = NULL;
        agent_seed seeds[] = {
                { .path = (char *) ".claude.json", .content = (char *) "{\"seeded\": true}\n" },
                { .path = (char *) ".config/tool/settings.json", .content = (char *) "{}" },
        };
        agent_state_entry *list = NULL;
        size_t n = 0;
        bool created = false;
        struct stat st;

        is_int(agent_state_prepare(moat_home, "claude", "/work/ws", seeds, 2, &home, &created, &err), 0,
               "a new home");
        ok(created, "says it is new");
        ok(home && strstr(home, "/moat/agents/claude/ws-") && strstr(home, "/home"), "under MOAT_HOME: %s", home);
        ok(home && stat(home, &st) == 0 && (st.st_mode & 0777) == 0700, "private (0700)");
        text = read_text(at(home, ".claude.json"));
        is_str(text, "{\"seeded\": true}\n", "the seed is written");
        text = mfree(text);
        text = read_text(at(home, ".config/tool/settings.json"));
        is_str(text, "{}", "a nested seed, with its directories");
        text = mfree(text);

        /* the agent changes its copy: the next run keeps it */
        FILE *f = fopen(at(home, ".claude.json"), "w");
        fputs("{\"agent\": 1}", f);
        fclose(f);
        is_int(agent_state_prepare(moat_home, "claude", "/work/ws", seeds, 2, &home2, &created, &err), 0,
               "the same home again");
        ok(!created, "not new");
        is_str(home2, home, "the same path");
        home2 = mfree(home2);
        text = read_text(at(home, ".claude.json"));
        is_str(text, "{\"agent\": 1}", "the agent's copy wins over the seed");
        text = mfree(text);

        /* a link the agent left where a seed goes is not followed */
        unlink(at(home, ".config/tool/settings.json"));
        link = strdup(at(home, ".config/tool/settings.json"));
        ok(symlink(victim, link) == 0, "the agent leaves a link where a seed goes");
        is_int(agent_state_prepare(moat_home, "claude", "/work/ws", seeds, 2, &home2, &created, &err), 0,
               "prepared again");
        home2 = mfree(home2);
        ok(access(victim, F_OK) < 0 && errno == ENOENT, "nothing was written through the link");
        /* nor a link in place of a directory on the way */
        ok(rename(at(home, ".config"), at(home, "moved")) == 0 &&
                   symlink(top, at(home, ".config")) == 0,
           "the agent swaps a directory for a link to the host");
        ok(agent_state_prepare(moat_home, "claude", "/work/ws", seeds, 2, &home2, &created, &err) < 0,
           "refused: %s", err.msg ? err.msg : "(no message)");
        ok(access(at(top, "tool/settings.json"), F_OK) < 0, "nothing was written outside");
        moat_error_clear(&err);

        is_int(agent_state_prepare(moat_home, "claude", "/other/ws", NULL, 0, &other, NULL, &err), 0,
               "another workspace");
        ok(other && strcmp(other, home) != 0, "gets its own home");
        is_int(agent_state_prepare(moat_home, "codex", "/work/ws", NULL, 0, &home2, NULL, &err), 0, "another agent");
        home2 = mfree(home2);

        is_int(agent_state_list(moat_home, &list, &n, &err), 0, "list");
        is_int(n, 3, "three homes");
        if (n == 3) {
                is_str(list[0].agent, "claude", "sorted by agent");
                is_str(list[0].workspace, "/other/ws", "then by workspace");
                is_str(list[1].workspace, "/work/ws", "the workspace is recorded");
                is_str(list[2].agent, "codex", "the other agent");
                ok(list[1].used_at > 0, "a time of use");
        }
        agent_state_entries_free(list, n);

        /* removal does not follow the agent's links: the target outside survives */
        ws_file = strdup(at(top, "keep-me"));
        f = fopen(ws_file, "w");
        fputs("precious", f);
        fclose(f);
        ok(symlink(top, at(home, "link-to-top")) == 0, "a link to outside the home");
        is_int(agent_state_remove(moat_home, "claude", "/work/ws", &err), 0, "remove");
        ok(access(ws_file, F_OK) == 0, "the link's target is left alone");
        ok(access(home, F_OK) < 0, "the home is gone");
        is_int(agent_state_remove(moat_home, "claude", "/work/ws", &err), -ENOENT, "again: there is none");
        ok(err.msg && strstr(err.msg, "claude keeps no state for /work/ws"), "says so: %s", err.msg);
        moat_error_clear(&err);
        is_int(agent_state_list(moat_home, &list, &n, &err), 0, "list again");
        is_int(n, 2, "two homes left");
        agent_state_entries_free(list, n);
}

/* The maps of a rootful agent's mounts: the two ids swapped, every other one kept. */
static void test_swap_map(void) {
        char buf[256];

        is_int(idmap_swap_map(0, 1000, buf, sizeof(buf)), 0, "root and 1000");
        is_str(buf, "0 1000 1\n1000 0 1\n1 1 999\n1001 1001 4294966294\n", "swapped; below, between, above kept");
        is_int(idmap_swap_map(1000, 0, buf, sizeof(buf)), 0, "either order");
        is_str(buf, "1000 0 1\n0 1000 1\n1 1 999\n1001 1001 4294966294\n", "the same ranges");
        is_int(idmap_swap_map(5, 6, buf, sizeof(buf)), 0, "neighbours");
        is_str(buf, "5 6 1\n6 5 1\n0 0 5\n7 7 4294967288\n", "nothing between");
        is_int(idmap_swap_map(7, 7, buf, sizeof(buf)), 0, "the same id");
        is_str(buf, "0 0 4294967295\n", "identity");
        is_int(idmap_swap_map(0, 4294967294U, buf, sizeof(buf)), 0, "the last id");
        is_str(buf, "0 4294967294 1\n4294967294 0 1\n1 1 4294967293\n", "nothing above");
        is_int(idmap_swap_map(0, 4294967295U, buf, sizeof(buf)), -EINVAL, "(uid_t) -1 refused");
        is_int(idmap_swap_map(0, 1000, buf, 20), -ENOBUFS, "a short buffer");
}

int main(void) {
        char top[] = "/tmp/test-agent-state-XXXXXX";
        char cmd[128];

        test_key();
        test_seed_paths();
        test_swap_map();
        if (!mkdtemp(top))
                abort();
        test_prepare(top);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
        (void) system(cmd);
        return tap_done();
}
