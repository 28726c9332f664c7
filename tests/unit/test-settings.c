#include "config.h"

#include <errno.h>
#include <string.h>

#include "settings.h"
#include "tap.h"
#include "yaml-doc.h"

#define PARSE(text, cfg, err) moat_config_parse("moat.yaml", text, strlen(text), "/ws", cfg, err)

static void test_full_config(void) {
        static const char text[] =
                "name: my-run\n"
                "image: localhost/img:1\n"
                "command: [make, test]\n"
                "env:\n"
                "  A: \"x y\"\n"
                "  B: 'q\"uote'\n"
                "mounts: [data:/data:ro, /abs:/abs]\n"
                "interactive: yes\n"
                "container:\n"
                "  memory: 512m\n"
                "  cpus: \"1.5\"\n"
                "agent: claude\n"
                "branch: fix-1\n";
        moat_config c = {};
        moat_error err = {};

        is_int(PARSE(text, &c, &err), 0, "a full moat.yaml parses");
        is_str(c.name, "my-run", "name");
        is_str(c.branch, "fix-1", "branch");
        is_str(c.image, "localhost/img:1", "image");
        ok(c.command && strv_length(c.command) == 2 && strcmp(c.command[1], "test") == 0, "command list");
        ok(c.env && strcmp(c.env[0], "A=x y") == 0 && strcmp(c.env[1], "B=q\"uote") == 0, "env as KEY=VALUE");
        ok(c.mounts && strcmp(c.mounts[0], "/ws/data:/data:ro") == 0, "relative mount source against the workspace");
        ok(c.mounts && strcmp(c.mounts[1], "/abs:/abs") == 0, "absolute mount source kept");
        is_int(c.interactive, 1, "interactive yes");
        is_str(c.memory, "512m", "container.memory");
        is_str(c.cpus, "1.5", "container.cpus");
        is_str(c.agent, "claude", "agent");
        ok(!c.warnings, "no warnings");
        moat_config_done(&c);
        moat_error_clear(&err);
}

static void test_shell_command_and_empty(void) {
        moat_config c = {};
        moat_error err = {};

        is_int(PARSE("command: make test && echo ok\n", &c, &err), 0, "a command string parses");
        ok(c.command && strcmp(c.command[0], "/bin/sh") == 0 && strcmp(c.command[1], "-c") == 0 &&
                   strcmp(c.command[2], "make test && echo ok") == 0,
           "a command string runs with /bin/sh -c");
        moat_config_done(&c);
        is_int(PARSE("", &c, &err), 0, "an empty file is an empty config");
        is_int(c.interactive, -1, "interactive unset");
        ok(!c.name && !c.image && !c.command, "nothing set");
        moat_config_done(&c);
        moat_error_clear(&err);
}

static void test_warnings(void) {
        moat_config c = {};
        moat_error err = {};

        is_int(PARSE("name: a\nimgae: x\ncontainer:\n  memroy: 1g\n", &c, &err), 0, "unknown keys are not errors");
        ok(c.warnings && strv_length(c.warnings) == 2, "two warnings");
        if (c.warnings) {
                is_str(c.warnings[0], "moat.yaml:2: unknown key 'imgae' (ignored)", "warning names key and line");
                is_str(c.warnings[1], "moat.yaml:4: unknown key 'memroy' (ignored)", "nested unknown key and line");
        }
        moat_config_done(&c);
        moat_error_clear(&err);
}

static void check_error(const char *text, const char *want, const char *what) {
        moat_config c = {};
        moat_error err = {};

        is_int(PARSE(text, &c, &err), -EINVAL, "%s: refused", what);
        contains(err.msg, want, "%s: message", what);
        moat_config_done(&c);
        moat_error_clear(&err);
}

static void test_errors(void) {
        check_error("name: [unclosed\n", "moat.yaml:", "malformed flow sequence");
        check_error("a: b\n c: d\n", "moat.yaml:2:", "bad indentation: line given");
        check_error("key: \"unterminated\n", "moat.yaml:", "unterminated quote");
        check_error("- a\n- b\n", "the file must be a mapping", "a list at the top");
        check_error("name: [a, b]\n", "moat.yaml:1:7: name must be a scalar", "name of the wrong type, line:column");
        check_error("command: {a: b}\n", "command must be a list", "command of the wrong type");
        check_error("command: [a, [b]]\n", "the items of command must be strings", "nested command item");
        check_error("env: [A=b]\n", "env must be a mapping", "env as a list");
        check_error("env:\n  A: [x]\n", "the value of env A must be a string", "env value of the wrong type");
        check_error("interactive: maybe\n", "interactive must be true or false, not 'maybe'", "bad boolean");
        check_error("name: a\nname: b\n", "moat.yaml:2: the key 'name' is given twice", "duplicate key");
        check_error("a: &x 1\nb: *x\n", "aliases are not supported", "alias");
        check_error("name: a\n---\nname: b\n", "only one YAML document", "two documents");
        check_error("container: 5\n", "container must be a mapping", "container scalar");
        check_error("? [a]\n: b\n", "a key must be a plain name", "complex key");
        check_error("branch: a..b\n", "moat.yaml:1: 'a..b' is not a branch name", "a bad branch name");
        check_error("branch: ../up\n", "is not a branch name", "a branch name that is a path");
}

static void test_provider(void) {
        static const char text[] =
                "image: img\n"
                "command: [agent, --yes]\n"
                "prompt: [-p, \"{prompt}\"]\n"
                "interactive_command: [agent]\n"
                "env: [API_KEY]\n"
                "colour: blue\n";
        static const char *const tricky[] = {
                "fix the tests", "a \"quoted\" 'thing'", "line one\nline two", "ünïcödé ✓", "-leading-dash", "",
                "$(rm -rf /); `x`", "{prompt}",
        };
        provider p = {};
        moat_error err = {};
        char **argv = NULL;
        char *extra[] = { (char *) "--model", (char *) "x", NULL };

        is_int(provider_parse("t", "t.yaml", text, strlen(text), &p, &err), 0, "a provider parses");
        is_str(p.image, "img", "provider image");
        ok(p.warnings && strcmp(p.warnings[0], "t.yaml:6: unknown key 'colour' (ignored)") == 0, "unknown key warned");
        for (size_t i = 0; i < ELEMENTSOF(tricky); i++) {
                is_int(provider_argv(&p, tricky[i], NULL, &argv, &err), 0, "argv for prompt %zu", i);
                ok(argv && strv_length(argv) == 4 && strcmp(argv[0], "agent") == 0 && strcmp(argv[2], "-p") == 0 &&
                           strcmp(argv[3], tricky[i]) == 0,
                   "prompt %zu is one argument, exactly as typed", i);
                strv_free(argv);
                argv = NULL;
        }
        is_int(provider_argv(&p, NULL, extra, &argv, &err), 0, "argv without a prompt");
        ok(argv && strv_length(argv) == 3 && strcmp(argv[0], "agent") == 0 && strcmp(argv[1], "--model") == 0,
           "no prompt: the interactive command, then the extra arguments");
        strv_free(argv);
        provider_done(&p);

        is_int(provider_parse("t", "t.yaml", "image: x\n", 9, &p, &err), -EINVAL, "a provider without a command");
        moat_error_clear(&err);
}

static void test_network_config(void) {
        static const char text[] =
                "network:\n"
                "  policy: strict\n"
                "  allow: [github.com, '*.npmjs.org']\n"
                "grants: [github]\n";
        moat_config c = {};
        moat_error err = {};

        is_int(PARSE(text, &c, &err), 0, "network and grants parse");
        is_str(c.network, "strict", "network.policy");
        ok(c.allow && strv_length(c.allow) == 2 && strcmp(c.allow[1], "*.npmjs.org") == 0, "network.allow");
        ok(c.grants && strv_length(c.grants) == 1 && strcmp(c.grants[0], "github") == 0, "grants");
        moat_config_done(&c);
        check_error("network:\n  policy: closed\n", "network.policy must be open, strict or none, not 'closed'",
                    "an unknown policy");
        check_error("network:\n  allow: [10.0.0.1]\n", "moat.yaml:2: invalid allow pattern '10.0.0.1'",
                    "an IP address as a pattern, with its line");
        check_error("network:\n  allow: ['*']\n", "invalid allow pattern '*'", "a bare wildcard");
        check_error("grants: [../x]\n", "'../x' is not a grant name", "a grant name with a path");
        check_error("network: strict\n", "network must be a mapping", "network as a string");
}

/* A provider's grants: which header goes to which host, as data. */
static void test_provider_grants(void) {
        static const char text[] =
                "image: img\n"
                "command: [agent]\n"
                "allow: [statsig.example.com]\n"
                "grants:\n"
                "  anthropic:\n"
                "    env: [ANTHROPIC_API_KEY]\n"
                "    inject:\n"
                "      - hosts: [API.Anthropic.com]\n"
                "        header: x-api-key\n"
                "  github:\n"
                "    optional: true\n"
                "    env: [GH_TOKEN, GITHUB_TOKEN]\n"
                "    inject:\n"
                "      - hosts: [api.github.com]\n"
                "        header: Authorization\n"
                "        value: 'Bearer {secret}'\n"
                "      - hosts: [github.com]\n"
                "        header: Authorization\n"
                "        value: 'Basic {basic:x-access-token}'\n";
        provider p = {};
        moat_error err = {};

        is_int(provider_parse("t", "t.yaml", text, strlen(text), &p, &err), 0, "a provider with grants parses");
        is_int((int) p.n_grants, 2, "two grants");
        ok(p.allow && strcmp(p.allow[0], "statsig.example.com") == 0, "its own allow list");
        if (p.n_grants == 2) {
                is_str(p.grants[0].name, "anthropic", "the first grant's name");
                ok(!p.grants[0].optional, "not optional by default");
                is_str(p.grants[0].env[0], "ANTHROPIC_API_KEY", "its placeholder variable");
                is_str(p.grants[0].rules[0].hosts[0], "api.anthropic.com", "its host, lowercased");
                is_str(p.grants[0].rules[0].header, "x-api-key", "its header");
                is_str(p.grants[0].rules[0].value, "{secret}", "the value is the secret by default");
                ok(p.grants[1].optional, "github is optional");
                is_int((int) p.grants[1].n_rules, 2, "github injects for two hosts");
                is_str(p.grants[1].rules[1].value, "Basic {basic:x-access-token}", "Basic for git over HTTPS");
                ok(grant_rule_for_host(&p.grants[1], "github.com") == &p.grants[1].rules[1], "the rule for github.com");
                ok(grant_rule_for_host(&p.grants[1], "gist.github.com") == NULL, "none for another host");
        }
        provider_done(&p);

        static const struct {
                const char *grants, *message, *what;
        } bad[] = {
                { "  a:\n    inject: []\n", "grant a injects nothing", "no inject entry" },
                { "  a:\n    inject:\n      - hosts: [10.1.1.1]\n        header: h\n", "'10.1.1.1' is not a host name",
                  "an IP address" },
                { "  a:\n    inject:\n      - hosts: ['*.x.test']\n        header: h\n", "'*.x.test' is not a host name",
                  "a wildcard host" },
                { "  a:\n    inject:\n      - hosts: [x.test]\n        header: 'x y'\n",
                  "header 'x y' is not an HTTP header name", "a header name with a space" },
                { "  a:\n    inject:\n      - hosts: [x.test]\n        header: h\n        value: plain\n",
                  "must hold {secret} or {basic:USER} once", "a value without the secret" },
                { "  a:\n    inject:\n      - hosts: [x.test]\n        header: h\n        value: '{secret}{secret}'\n",
                  "must hold {secret} or {basic:USER} once", "the secret twice" },
                { "  a:\n    inject:\n      - hosts: [x.test]\n        header: h\n        value: '{env}'\n",
                  "may hold only {secret} or {basic:USER}", "another placeholder" },
                { "  a:\n    inject:\n      - header: h\n", "each inject entry needs hosts", "no hosts" },
                { "  A/b:\n    inject: []\n", "'A/b' is not a grant name", "a bad grant name" },
                { "  a:\n    env: [1X]\n    inject: []\n", "'1X' is not a variable name", "a bad variable" },
                { "  a: [x]\n", "a must be a mapping", "a grant that is a list" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *t = NULL;

                if (asprintf(&t, "image: x\ncommand: [y]\ngrants:\n%s", bad[i].grants) < 0)
                        abort();
                p = (provider) {};
                is_int(provider_parse("t", "t.yaml", t, strlen(t), &p, &err), -EINVAL, "refused: %s", bad[i].what);
                ok(err.msg && strstr(err.msg, bad[i].message) && strstr(err.msg, "t.yaml:"),
                   "with the file, the line and why: %s", err.msg ? err.msg : "(none)");
                provider_done(&p);
                moat_error_clear(&err);
        }
}

/* The agent's user, home, fixed environment and seeds. */
static void test_provider_agent(void) {
        _cleanup_(moat_error_clear) moat_error err = {};
        const char *text = "image: x\ncommand: [y]\nuser: 1001:1002\nhome: /home/node\n"
                           "environment:\n  DISABLE_AUTOUPDATER: '1'\n  EMPTY: ''\n"
                           "seed:\n  .claude.json: '{\"a\": 1}'\n  .config/x/settings.json: |\n    {}\n";
        provider p = {};
        const struct {
                const char *text, *message, *what;
        } bad[] = {
                { "user: 0\n", "an agent never runs as root", "uid 0" },
                { "user: 1000:0\n", "an agent never runs as root", "gid 0" },
                { "user: node\n", "user must be UID or UID:GID", "a name" },
                { "user: 70000\n", "user must be UID or UID:GID", "past 65535" },
                { "user: -5\n", "user must be UID or UID:GID", "negative" },
                { "user: '1000:'\n", "user must be UID or UID:GID", "empty gid" },
                { "home: relative\n", "home must be an absolute path", "relative home" },
                { "home: /\n", "home must be an absolute path other than /", "home at /" },
                { "seed:\n  ../escape: x\n", "seed '../escape' must be a path inside the home", "seed with .." },
                { "seed:\n  /etc/passwd: x\n", "must be a path inside the home", "absolute seed" },
                { "seed:\n  a//b: x\n", "must be a path inside the home", "empty component" },
                { "seed:\n  a: [x]\n", "the content of seed a must be a string", "seed list" },
                { "environment: [A=b]\n", "environment must be a mapping", "environment as a list" },
        };

        is_int(provider_parse("t", "t.yaml", text, strlen(text), &p, &err), 0, "a provider with an agent user parses");
        is_int(p.uid, 1001, "uid");
        is_int(p.gid, 1002, "gid");
        is_str(p.home, "/home/node", "home");
        ok(strv_equal(p.environment, (char *[]) { (char *) "DISABLE_AUTOUPDATER=1", (char *) "EMPTY=", NULL }),
           "fixed environment");
        is_int(p.n_seeds, 2, "two seeds");
        if (p.n_seeds == 2) {
                is_str(p.seeds[0].path, ".claude.json", "seed path");
                is_str(p.seeds[0].content, "{\"a\": 1}", "seed content");
                is_str(p.seeds[1].path, ".config/x/settings.json", "nested seed path");
                is_str(p.seeds[1].content, "{}\n", "block scalar content");
        }
        provider_done(&p);

        text = "image: x\ncommand: [y]\nuser: 4242\n";
        is_int(provider_parse("t", "t.yaml", text, strlen(text), &p, &err), 0, "user with a uid alone");
        is_int(p.gid, 4242, "the gid is the uid");
        provider_done(&p);
        text = "image: x\ncommand: [y]\n";
        is_int(provider_parse("t", "t.yaml", text, strlen(text), &p, &err), 0, "no user given");
        is_int(p.uid, PROVIDER_DEFAULT_UID, "an agent is not root by default");
        is_str(p.home, PROVIDER_DEFAULT_HOME, "default home");
        provider_done(&p);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *t = NULL;

                if (asprintf(&t, "image: x\ncommand: [y]\n%s", bad[i].text) < 0)
                        abort();
                moat_error_clear(&err);
                p = (provider) {};
                is_int(provider_parse("t", "t.yaml", t, strlen(t), &p, &err), -EINVAL, "refused: %s", bad[i].what);
                ok(err.msg && strstr(err.msg, bad[i].message) && strstr(err.msg, "t.yaml:"),
                   "with the file, the line and why: %s", err.msg ? err.msg : "(none)");
                provider_done(&p);
        }
}

int main(void) {
        test_full_config();
        test_shell_command_and_empty();
        test_warnings();
        test_errors();
        test_provider();
        test_network_config();
        test_provider_grants();
        test_provider_agent();
        return tap_done();
}
