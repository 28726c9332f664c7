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
                "agent: claude\n";
        moat_config c = {};
        moat_error err = {};

        is_int(PARSE(text, &c, &err), 0, "a full moat.yaml parses");
        is_str(c.name, "my-run", "name");
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

int main(void) {
        test_full_config();
        test_shell_command_and_empty();
        test_warnings();
        test_errors();
        test_provider();
        return tap_done();
}
