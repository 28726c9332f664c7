/* moat.yaml obeyed only as approved: the digest, the approval's round trip, and what a
 * change widens. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-trust.h"
#include "strv.h"
#include "tap.h"

static void parse(const char *text, moat_config *c) {
        moat_error err = {};

        int r = moat_config_parse("moat.yaml", text, strlen(text), "/ws", c, &err);

        ok(r == 0, "parses (%s)", r < 0 ? moat_error_message(&err) : "ok");
        moat_error_clear(&err);
}

static void test_digest(void) {
        char d[CONFIG_DIGEST_HEX + 1];

        ok(config_digest("", 0, d) == 0, "digests nothing");
        is_str(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "SHA-256 of nothing");
        ok(config_digest("network: open\n", 14, d) == 0 && strlen(d) == CONFIG_DIGEST_HEX, "64 hex digits");
}

static void test_widening(void) {
        moat_config old = { .interactive = -1 }, new = { .interactive = -1 };
        _cleanup_(strv_freep) char **lines = NULL;

        parse("image: a\nnetwork:\n  policy: strict\n  allow: [good.example]\nenv: {A: '1'}\nmounts: ['/x:/x']\n", &old);
        ok(moat_config_widening(&old, &old, &lines) == 0 && strv_length(lines) == 0, "the same file widens nothing");
        strv_free(lines);
        parse("image: b\nnetwork:\n  policy: open\n  allow: [good.example, '*.evil.example']\nenv: {A: '1', B: '2'}\n"
              "mounts: ['/x:/x', '/etc:/e:ro']\ngrants: [anthropic]\ncommand: [sh, -c, evil]\n",
              &new);
        ok(moat_config_widening(&old, &new, &lines) == 0, "a widened file");
        is_int(strv_length(lines), 7, "seven lines, one per widening");
        is_str(lines[0], "network: open (was: strict)", "the network");
        is_str(lines[1], "allow: *.evil.example", "a new host, the old one not repeated");
        is_str(lines[2], "mount: /etc:/e:ro", "a new mount");
        is_str(lines[3], "env: B=2", "a new variable");
        is_str(lines[4], "grant: anthropic", "a grant");
        is_str(lines[5], "image: b (was: a)", "the image");
        is_str(lines[6], "command: sh -c evil (was: the default)", "the command");
        strv_free(lines);
        ok(moat_config_widening(NULL, &old, &lines) == 0 && strv_length(lines) == 5, "from nothing, all of it");
        is_str(lines[0], "network: strict (was: the default)", "the network from the default");
        moat_config_done(&old);
        moat_config_done(&new);
}

static void test_store(void) {
        char dir[] = "/tmp/test-config-trust-XXXXXX", path[200], home[300];
        config_approval a = {};
        moat_error err = {};
        FILE *f;

        ok(mkdtemp(dir) != NULL, "a temporary directory");
        snprintf(home, sizeof(home), "%s/home", dir);
        ok(config_approval_load(home, dir, &a, &err) == 0 && a.approved && !a.text, "no moat.yaml: nothing to obey");
        config_approval_done(&a);
        snprintf(path, sizeof(path), "%s/moat.yaml", dir);
        f = fopen(path, "w");
        fputs("env: {A: '1'}\n", f);
        fclose(f);
        ok(config_approval_load(home, dir, &a, &err) == 0 && !a.approved && !a.approved_text, "a new file is not approved");
        ok(config_approval_store(home, dir, &a, &err) == 0, "approved");
        config_approval_done(&a);
        ok(config_approval_load(home, dir, &a, &err) == 0 && a.approved, "and obeyed");
        config_approval_done(&a);
        f = fopen(path, "a");
        fputs("network:\n  policy: open\n", f);
        fclose(f);
        ok(config_approval_load(home, dir, &a, &err) == 0 && !a.approved && a.approved_text, "a changed file is not");
        {
                _cleanup_(strv_freep) char **lines = NULL;

                ok(config_approval_widening(&a, dir, &lines, &err) == 0 && strv_length(lines) == 1, "one widening");
                is_str(lines[0], "network: open (was: the default)", "against the approved content");
        }
        config_approval_done(&a);
        snprintf(path, sizeof(path), "%s/home/trust", dir);
        snprintf(home, sizeof(home), "stat -c %%a %s | grep -qx 700", path);
        ok(system(home) == 0, "the approvals' directory is private");
        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        ok(system(path) == 0, "cleaned up");
}

int main(void) {
        test_digest();
        test_widening();
        test_store();
        return tap_done();
}
