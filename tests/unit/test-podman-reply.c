#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "podman-reply.h"
#include "strv.h"
#include "tap.h"

#define ID "4e4c9d64ee4c0e6f7cd0f1e7c8e2d0b0a9c9d6b4e1f2a3b4c5d6e7f8091a2b3c"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void error_message_is(long status, const char *body, size_t len, const char *want, const char *what) {
        _cleanup_free_ char *msg = podman_reply_error_message(status, body, len);

        is_str(msg, want, "error message: %s", what);
}

#define ERROR_MESSAGE_IS(status, body, want, what) error_message_is(status, body, strlen(body), want, what)

static void test_error_message(void) {
        _cleanup_free_ char *long_body = malloc(2001), *msg = NULL;

        ERROR_MESSAGE_IS(404,
                         "{\"cause\":\"no such container\",\"message\":\"no container with name or ID \\\"x\\\" "
                         "found: no such container\",\"response\":404}\n",
                         "no container with name or ID \"x\" found: no such container", "podman's message");
        ERROR_MESSAGE_IS(500, "{\"cause\":\"no such image\",\"response\":500}", "no such image",
                         "the cause when the message is missing");
        ERROR_MESSAGE_IS(500, "{\"cause\":\"the cause\",\"message\":\"\"}", "the cause",
                         "the cause when the message is empty");
        ERROR_MESSAGE_IS(500, "{\"cause\":\"the cause\",\"message\":\"  \\n\"}", "the cause",
                         "the cause when the message is blank");
        ERROR_MESSAGE_IS(500, "{\"cause\":\"c\",\"message\":42}", "c", "the cause when the message is not a string");
        ERROR_MESSAGE_IS(500, "{\"response\":500}", "{\"response\":500}", "the body when neither is there");
        ERROR_MESSAGE_IS(500, "{\"message\":\"m\"} trailing", "{\"message\":\"m\"} trailing",
                         "JSON with trailing garbage is only text");
        ERROR_MESSAGE_IS(502, "  502 Bad Gateway\r\n", "502 Bad Gateway", "a text body, trimmed");
        ERROR_MESSAGE_IS(502, "", "HTTP 502", "an empty body");
        ERROR_MESSAGE_IS(503, " \n\t ", "HTTP 503", "a blank body");
        error_message_is(504, NULL, 0, "HTTP 504", "no body");
        error_message_is(500, "a\x01" "b\xff" "c\x7f" "d\0e", 9, "a?b?c?d?e", "non-printable bytes in a body as '?'");
        error_message_is(500, "caf\xc3\xa9", 5, "caf??", "bytes past ASCII in a raw body as '?'");
        error_message_is(500, "{\"message\":\"a\0b\"}", 17, "{\"message\":\"a?b\"}",
                         "JSON with a raw NUL is only text");
        ERROR_MESSAGE_IS(500, "{\"message\":\"\\u001b[31mred\\u0007 caf\\u00e9\"}", "?[31mred? caf\xc3\xa9",
                         "control characters in a JSON message as '?', Unicode kept");
        ERROR_MESSAGE_IS(500, "{\"message\":\" padded \\n\"}", "padded", "a JSON message trimmed");
        ERROR_MESSAGE_IS(500, "[\"message\"]", "[\"message\"]", "a JSON array is only text");

        if (!long_body)
                abort();
        memset(long_body, 'x', 2000);
        long_body[2000] = '\0';
        msg = podman_reply_error_message(500, long_body, 2000);
        is_int(msg ? strlen(msg) : 0, 512, "a long text body is cut at 512 bytes");
}

static const char inspect_full[] =
        "{\"Id\":\"" ID "\",\"Created\":\"2024-05-01T10:00:00.123456789Z\",\"Path\":\"sh\",\"Args\":[\"-c\",\"exit 3\"],"
        "\"State\":{\"OciVersion\":\"1.1.0\",\"Status\":\"exited\",\"Running\":false,\"Paused\":false,"
        "\"Restarting\":false,\"OOMKilled\":true,\"Dead\":false,\"Pid\":0,\"ExitCode\":137,\"Error\":\"\","
        "\"StartedAt\":\"2024-05-01T10:00:01.5+02:00\",\"FinishedAt\":\"2024-05-01T10:00:09Z\","
        "\"Health\":{\"Status\":\"\",\"FailingStreak\":0,\"Log\":null},\"CheckpointedAt\":\"0001-01-01T00:00:00Z\"},"
        "\"Image\":\"abc\",\"Name\":\"moat-x\",\"Mounts\":[],\"Config\":{\"Labels\":{\"moat.run-id\":\"x\"}}}\n";

/* The State members of a good reply, each "KEY":VALUE; tests drop or replace one. */
static const char *const state_fields[] = {
        "\"Status\":\"running\"", "\"Running\":true",           "\"OOMKilled\":false",
        "\"Pid\":4242",           "\"ExitCode\":0",             "\"StartedAt\":\"2024-05-01T10:00:01Z\"",
        "\"FinishedAt\":\"0001-01-01T00:00:00Z\"",
};
static const char *const state_wrong[] = {
        "\"Status\":null", "\"Running\":\"true\"", "\"OOMKilled\":0", "\"Pid\":\"4242\"",
        "\"ExitCode\":true", "\"StartedAt\":123",   "\"FinishedAt\":{}",
};

/* An inspect reply with state field SKIP left out, or replaced by REPLACEMENT. */
static char *inspect_body(const char *id_member, size_t skip, const char *replacement) {
        char buf[4096];
        size_t len;

        len = (size_t) snprintf(buf, sizeof buf, "{%s%s\"State\":{", id_member, id_member[0] ? "," : "");
        for (size_t i = 0, n = 0; i < ELEMENTSOF(state_fields); i++) {
                const char *f = i == skip ? replacement : state_fields[i];

                if (!f)
                        continue;
                len += (size_t) snprintf(buf + len, sizeof buf - len, "%s%s", n++ ? "," : "", f);
        }
        snprintf(buf + len, sizeof buf - len, "}}");
        return strdup(buf);
}

static void expect_inspect_fails(const char *body, size_t len, const char *needle, const char *what) {
        podman_container_state s = { .exit_code = 4711 };
        moat_error err = {};

        is_int(podman_reply_parse_inspect(body, len, &s, &err), -EBADMSG, "inspect rejects %s", what);
        ok(s.exit_code == 4711 && s.id == NULL, "  output untouched");
        contains(err.msg, needle, "  the error says what");
        moat_error_clear(&err);
}

#define EXPECT_INSPECT_FAILS(body, needle, what) expect_inspect_fails(body, strlen(body), needle, what)

static void test_inspect(void) {
        podman_container_state s = {};
        moat_error err = {};
        _cleanup_free_ char *running = inspect_body("\"Id\":\"" ID "\"", SIZE_MAX, NULL);

        is_int(podman_reply_parse_inspect(inspect_full, strlen(inspect_full), &s, &err), 0, "inspect: a full reply");
        is_str(s.id, ID, "Id");
        is_str(s.status, "exited", "State.Status");
        ok(!s.running, "State.Running false");
        is_int(s.exit_code, 137, "State.ExitCode");
        ok(s.oom_killed, "State.OOMKilled true");
        is_int(s.pid, 0, "State.Pid");
        is_str(s.started_at, "2024-05-01T10:00:01.5+02:00", "State.StartedAt as given");
        is_str(s.finished_at, "2024-05-01T10:00:09Z", "State.FinishedAt as given");
        podman_container_state_free(&s);
        ok(s.id == NULL && s.status == NULL, "free resets the state");
        podman_container_state_free(&s);
        podman_container_state_free(NULL);

        is_int(podman_reply_parse_inspect(running, strlen(running), &s, &err), 0, "inspect: a running container");
        ok(s.running && s.pid == 4242 && !s.oom_killed && s.exit_code == 0, "running, pid 4242");
        podman_container_state_free(&s);
        ok(err.code == 0, "no error set on success");

        for (size_t i = 0; i < ELEMENTSOF(state_fields); i++) {
                _cleanup_free_ char *missing = inspect_body("\"Id\":\"" ID "\"", i, NULL),
                                    *wrong = inspect_body("\"Id\":\"" ID "\"", i, state_wrong[i]);
                char key[32];

                snprintf(key, sizeof key, "%.*s", (int) (strchr(state_fields[i] + 1, '"') - state_fields[i] + 1),
                         state_fields[i]);
                expect_inspect_fails(missing, strlen(missing), key, "a missing field");
                expect_inspect_fails(wrong, strlen(wrong), key, "a field of the wrong type");
        }

        {
                static const struct {
                        const char *value, *what;
                } ints[] = {
                        { "\"ExitCode\":1.5", "a fractional exit code" },
                        { "\"ExitCode\":1e10", "an exit code out of range" },
                        { "\"ExitCode\":-1e300", "a hugely negative exit code" },
                        { "\"ExitCode\":1e999", "an infinite exit code" },
                };

                for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
                        _cleanup_free_ char *body = inspect_body("\"Id\":\"" ID "\"", 4, ints[i].value);

                        expect_inspect_fails(body, strlen(body), "ExitCode", ints[i].what);
                }
        }
        {
                _cleanup_free_ char *body = inspect_body("\"Id\":\"" ID "\"", 3, "\"Pid\":-1");

                expect_inspect_fails(body, strlen(body), "Pid", "a negative pid");
        }
        {
                _cleanup_free_ char *body = inspect_body("\"Id\":\"" ID "\"", 4, "\"ExitCode\":-1");

                is_int(podman_reply_parse_inspect(body, strlen(body), &s, &err), 0, "an exit code of -1 is podman's own");
                is_int(s.exit_code, -1, "and kept");
                podman_container_state_free(&s);
        }

        {
                static const struct {
                        const char *member, *needle, *what;
                } ids[] = {
                        { "", "Id", "a missing Id" },
                        { "\"Id\":42", "Id", "a numeric Id" },
                        { "\"Id\":\"\"", "Id", "an empty Id" },
                        { "\"Id\":\"" ID "0\"", "Id", "a 65-character Id" },
                        { "\"Id\":\"ABCDEF\"", "Id", "an upper-case Id" },
                        { "\"Id\":\"../../images/x\"", "Id", "an Id that is a path" },
                        { "\"Id\":\"abc?x=1\"", "Id", "an Id with a query" },
                        /* cJSON would read it as "abc", a valid ID. */
                        { "\"Id\":\"abc\\u0000def\"", "not JSON", "an Id with an escaped NUL" },
                };

                for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                        _cleanup_free_ char *body = inspect_body(ids[i].member, SIZE_MAX, NULL);

                        expect_inspect_fails(body, strlen(body), ids[i].needle, ids[i].what);
                }
        }

        EXPECT_INSPECT_FAILS("{\"Id\":\"" ID "\"}", "State", "a missing State");
        EXPECT_INSPECT_FAILS("{\"Id\":\"" ID "\",\"State\":\"running\"}", "State", "a State that is a string");
        EXPECT_INSPECT_FAILS("", "empty", "an empty body");
        EXPECT_INSPECT_FAILS("<html>502</html>", "not JSON", "HTML");
        EXPECT_INSPECT_FAILS("{\"Id\":", "not JSON", "a truncated body");
        EXPECT_INSPECT_FAILS("[]", "object", "an array");
        EXPECT_INSPECT_FAILS("null", "object", "null");
        expect_inspect_fails(running, strlen(running) - 1, "not JSON", "a body one byte short");
        {
                _cleanup_free_ char *trailing = NULL, *nul = NULL;

                if (asprintf(&trailing, "%s{}", running) < 0 || asprintf(&nul, "%s", running) < 0)
                        abort();
                EXPECT_INSPECT_FAILS(trailing, "not JSON", "a second object after the first");
                nul[strlen(nul) - 1] = '\0';
                expect_inspect_fails(nul, strlen(running), "not JSON", "a NUL byte in the body");
        }
}

static void test_wait(void) {
        static const struct {
                const char *body;
                int code;
        } good[] = {
                { "0", 0 },           { "137\n", 137 },     { " \t1 \r\n", 1 },          { "-1", -1 },
                { "255", 255 },       { "-0", 0 },          { "2147483647", 2147483647 }, { "-2147483648", -2147483647 - 1 },
        };
        static const char *const bad[] = {
                "",      "\n",  "abc",  "1.5",        "1e2",          "\"0\"",        "007",  "-",
                "--1",   "+1",  "0x10", "2147483648", "-2147483649", "99999999999999999999", "1 2", "{}",
                "[0]",   "null", "true", "0,",
        };
        moat_error err = {};
        int code;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                code = 4711;
                is_int(podman_reply_parse_wait(good[i].body, strlen(good[i].body), &code, &err), 0, "wait: \"%s\"",
                       good[i].body);
                is_int(code, good[i].code, "  exit code");
        }
        ok(err.code == 0, "no error set on success");

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                code = 4711;
                is_int(podman_reply_parse_wait(bad[i], strlen(bad[i]), &code, &err), -EBADMSG, "wait rejects \"%s\"",
                       bad[i]);
                ok(code == 4711 && err.msg, "  output untouched, error explained");
                moat_error_clear(&err);
        }

        code = 4711;
        is_int(podman_reply_parse_wait("0\0", 2, &code, &err), -EBADMSG, "wait rejects a NUL after the number");
        moat_error_clear(&err);
        is_int(podman_reply_parse_wait("12", 1, &code, &err), 0, "wait reads only LEN bytes");
        is_int(code, 1, "  exit code 1, not 12");
        is_int(podman_reply_parse_wait(NULL, 0, &code, &err), -EBADMSG, "wait rejects no body");
        moat_error_clear(&err);
}

static const char list_body[] =
        "[{\"AutoRemove\":false,\"Command\":[\"sh\"],\"Created\":\"2024-05-01T10:00:00Z\",\"Exited\":false,"
        "\"Id\":\"" ID "\",\"Image\":\"busybox\",\"Labels\":{\"moat.run-id\":\"r1\",\"other\":\"x\"},"
        "\"Names\":[\"moat-r1\",\"alias\"],\"Pid\":7,\"State\":\"running\",\"Status\":\"Up 3 seconds\"},"
        "{\"Id\":\"" ID2 "\",\"Labels\":null,\"Names\":[\"plain\"],\"State\":\"exited\"},"
        "{\"Id\":\"abc\",\"Labels\":{\"x\":\"y\"},\"Names\":[],\"State\":\"created\"},"
        "{\"Id\":\"def\",\"Names\":[\"nolabels\"],\"State\":\"configured\"}]";

static void expect_list_fails(const char *body, const char *needle, const char *what) {
        podman_container_summary *list = (podman_container_summary *) 0x1;
        size_t n = 4711;
        moat_error err = {};

        is_int(podman_reply_parse_list(body, strlen(body), &list, &n, &err), -EBADMSG, "list rejects %s", what);
        ok(list == (podman_container_summary *) 0x1 && n == 4711, "  output untouched");
        contains(err.msg, needle, "  the error says what");
        moat_error_clear(&err);
}

static void test_list(void) {
        podman_container_summary *list = NULL;
        size_t n = 0;
        moat_error err = {};

        is_int(podman_reply_parse_list(list_body, strlen(list_body), &list, &n, &err), 0, "list: four containers");
        is_int(n, 4, "all four");
        if (n == 4) {
                is_str(list[0].id, ID, "Id");
                is_str(list[0].name, "moat-r1", "the first of Names");
                is_str(list[0].state, "running", "State");
                is_str(list[0].run_id, "r1", "the moat.run-id label");
                is_str(list[1].run_id, NULL, "Labels null: no run ID");
                is_str(list[1].state, "exited", "second State");
                is_str(list[2].name, NULL, "empty Names: no name");
                is_str(list[2].run_id, NULL, "no moat.run-id label: no run ID");
                is_str(list[3].run_id, NULL, "no Labels at all: no run ID");
        }
        podman_container_summaries_free(list, n);
        podman_container_summaries_free(NULL, 0);

        list = (podman_container_summary *) 0x1;
        is_int(podman_reply_parse_list("[]\n", 3, &list, &n, &err), 0, "an empty list");
        ok(list == NULL && n == 0, "  gives NULL and 0");
        list = (podman_container_summary *) 0x1;
        is_int(podman_reply_parse_list("null", 4, &list, &n, &err), 0, "null, Go's empty slice");
        ok(list == NULL && n == 0, "  gives NULL and 0");
        ok(err.code == 0, "no error set on success");

        expect_list_fails("", "empty", "an empty body");
        expect_list_fails("not json", "not JSON", "text");
        expect_list_fails("[{\"Id\":\"" ID "\"", "not JSON", "a truncated body");
        expect_list_fails("{\"Id\":\"" ID "\"}", "array", "an object");
        expect_list_fails("[1]", "not an object", "a number as an entry");
        expect_list_fails("[{\"Names\":[\"a\"],\"State\":\"running\"}]", "Id", "an entry without Id");
        expect_list_fails("[{\"Id\":\"xyz\",\"Names\":[\"a\"],\"State\":\"running\"}]", "Id", "a bad Id");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":[\"a\"]}]", "State", "an entry without State");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":[\"a\"],\"State\":{\"Status\":\"running\"}}]", "State",
                          "a State that is an object (docker's compat shape)");
        expect_list_fails("[{\"Id\":\"abc\",\"State\":\"running\"}]", "Names", "an entry without Names");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":\"a\",\"State\":\"running\"}]", "Names", "Names as a string");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":[1],\"State\":\"running\"}]", "name", "a numeric name");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":[\"a\"],\"State\":\"running\",\"Labels\":[]}]", "Labels",
                          "Labels as an array");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":[\"a\"],\"State\":\"running\",\"Labels\":{\"moat.run-id\":1}}]",
                          "moat.run-id", "a numeric run ID label");
        expect_list_fails("[{\"Id\":\"abc\",\"Names\":[\"a\"],\"State\":\"running\"},{\"Id\":\"abc\"}]", "State",
                          "a bad entry after a good one");
}

static void expect_create_fails(const char *body, const char *needle, const char *what) {
        char *id = (char *) 0x1;
        moat_error err = {};

        is_int(podman_reply_parse_create(body, strlen(body), &id, &err), -EBADMSG, "create rejects %s", what);
        ok(id == (char *) 0x1, "  output untouched");
        contains(err.msg, needle, "  the error says what");
        moat_error_clear(&err);
}

static int parse_create(const char *body, char **ret_id, moat_error *err) {
        return podman_reply_parse_create(body, strlen(body), ret_id, err);
}

static void test_create(void) {
        moat_error err = {};
        char *id = NULL;

        is_int(parse_create("{\"Id\":\"" ID "\",\"Warnings\":[]}\n", &id, &err), 0, "create reply");
        is_str(id, ID, "the new container's ID");
        free(id);
        id = NULL;
        is_int(parse_create("{\"Id\":\"abc\",\"Warnings\":null}", &id, &err), 0, "Warnings null");
        free(id);
        id = NULL;
        is_int(parse_create("{\"Id\":\"abc\"}", &id, &err), 0, "Warnings missing");
        free(id);
        id = NULL;
        is_int(parse_create("{\"Id\":\"abc\",\"Warnings\":[\"memory limit ignored\"]}", &id, &err),
               0, "with warnings");
        free(id);
        ok(err.code == 0, "no error set on success");

        expect_create_fails("", "empty", "an empty body");
        expect_create_fails("Created", "not JSON", "text");
        expect_create_fails("{\"Id\":\"abc\"", "not JSON", "a truncated body");
        expect_create_fails("{\"Id\":\"abc\"}}", "not JSON", "trailing garbage");
        expect_create_fails("[\"abc\"]", "object", "an array");
        expect_create_fails("{\"Warnings\":[]}", "Id", "no Id");
        expect_create_fails("{\"Id\":7}", "Id", "a numeric Id");
        expect_create_fails("{\"Id\":\"abc def\"}", "Id", "an Id with a space");
        expect_create_fails("{\"Id\":\"abc\",\"Warnings\":\"careful\"}", "Warnings", "Warnings as a string");

        /* cJSON would stop the string at the NUL and read the Id as "abc". */
        id = (char *) 0x1;
        is_int(podman_reply_parse_create("{\"Id\":\"abc\0def\"}", 17, &id, &err), -EBADMSG,
               "create rejects a raw NUL inside the Id");
        ok(id == (char *) 0x1, "  output untouched");
        moat_error_clear(&err);
}

static void test_exec_inspect(void) {
        static const char running[] = "{\"ID\":\"abc\",\"Running\":true,\"ExitCode\":0,\"Pid\":7}",
                          done[] = "{\"ID\":\"abc\",\"Running\":false,\"ExitCode\":127,\"ProcessConfig\":{}}";
        static const char *const bad[] = {
                "{\"Running\":\"no\",\"ExitCode\":0}", "{\"Running\":false}", "{\"Running\":false,\"ExitCode\":1.5}",
                "[]", "", "{\"Running\":false,\"ExitCode\":0",
        };
        bool r = false;
        int code = -1;
        moat_error err = {};

        is_int(podman_reply_parse_exec_inspect(running, strlen(running), &r, &code, &err), 0, "exec inspect: running");
        ok(r && code == 0, "running, no code yet");
        is_int(podman_reply_parse_exec_inspect(done, strlen(done), &r, &code, &err), 0, "exec inspect: ended");
        ok(!r && code == 127, "ended with 127");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r = true;
                code = 4711;
                is_int(podman_reply_parse_exec_inspect(bad[i], strlen(bad[i]), &r, &code, &err), -EBADMSG,
                       "refused: %s", bad[i]);
                ok(r && code == 4711 && err.msg, "  output untouched, and said why");
                moat_error_clear(&err);
        }
}

static void test_images(void) {
        static const char body[] =
                "[{\"Id\":\"" ID "\",\"RepoTags\":[\"localhost/moat/bb:aaaaaaaaaaaa\",\"x:1\"],"
                "\"Labels\":{\"io.moat.provider\":\"bb\",\"other\":\"y\"},\"Containers\":0},"
                "{\"Id\":\"" ID2 "\",\"RepoTags\":null,\"Labels\":null},"
                "{\"Id\":\"abc\",\"Labels\":{\"x\":\"y\"}}]";
        const char *bad[] = {
                "{}", "[1]", "[{\"RepoTags\":[]}]", "[{\"Id\":\"abc\",\"RepoTags\":\"x\"}]",
                "[{\"Id\":\"abc\",\"RepoTags\":[1]}]", "[{\"Id\":\"abc\",\"Labels\":[]}]",
                "[{\"Id\":\"abc\",\"Labels\":{\"io.moat.provider\":1}}]",
        };
        podman_image_summary *list = NULL;
        moat_error err = {};
        size_t n = 0;

        is_int(podman_reply_parse_images(body, strlen(body), "io.moat.provider", &list, &n, &err), 0,
               "images: three");
        is_int(n, 3, "  three entries");
        is_str(list[0].id, ID, "  the first's id");
        ok(strv_length(list[0].tags) == 2 && strcmp(list[0].tags[0], "localhost/moat/bb:aaaaaaaaaaaa") == 0,
           "  its tags, in order");
        is_str(list[0].label, "bb", "  the value of the label asked for");
        ok(list[1].tags && !list[1].tags[0] && !list[1].label, "  RepoTags and Labels null: no tags, no label");
        ok(list[2].tags && !list[2].tags[0] && !list[2].label, "  neither given: the same");
        podman_image_summaries_free(list, n);

        is_int(podman_reply_parse_images("[]", 2, "l", &list, &n, &err), 0, "no images");
        ok(n == 0 && !list, "  none, and no list");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                list = (podman_image_summary *) 0x1;
                is_int(podman_reply_parse_images(bad[i], strlen(bad[i]), "io.moat.provider", &list, &n, &err),
                       -EBADMSG, "images rejects %s", bad[i]);
                ok(list == (podman_image_summary *) 0x1 && err.msg, "  output untouched, error explained");
                moat_error_clear(&err);
        }
}

static void test_exec_failure_status(void) {
        is_int(podman_exec_failure_status(
                       "preparing container X for attach: runc: runc create failed: unable to start container "
                       "process: exec: \"nosuchcmd\": executable file not found in $PATH: OCI runtime attempted to "
                       "invoke a command that was not found"),
               127, "runc: not in $PATH is 127");
        is_int(podman_exec_failure_status("crun: executable file `nosuchcmd` not found in $PATH: No such file or "
                                          "directory: OCI runtime attempted to invoke a command that was not found"),
               127, "crun: not in $PATH is 127");
        is_int(podman_exec_failure_status("runc: runc create failed: unable to start container process: exec: "
                                          "\"/etc/passwd\": permission denied: OCI permission denied"),
               126, "not executable is 126");
        is_int(podman_exec_failure_status("runc: runc create failed: unable to start container process: error "
                                          "during container init: error mounting \"/x\": no such file or directory"),
               0, "a mount's missing file is moat's 125, not the command's");
        is_int(podman_exec_failure_status("no container with name or ID \"x\" found: no such container"), 0,
               "'not found' alone is not the command");
        is_int(podman_exec_failure_status(""), 0, "empty");
        is_int(podman_exec_failure_status(NULL), 0, "NULL");
}

static void test_info(void) {
        static const char *const bad[] = {
                "[]", "{}", "{\"store\": 1}", "{\"store\": {}}", "{\"store\": {\"graphDriverName\": 3}}",
                "{\"store\": {\"graphDriverName\": \"\"}}", "{\"store\": {\"graphDriverName\": \"vf",
        };
        const char *body = "{\"host\": {\"arch\": \"amd64\"}, \"store\": {\"graphDriverName\": \"vfs\", "
                           "\"graphRoot\": \"/home/u/.local/share/containers/storage\"}}";
        moat_error err = {};
        char *driver = NULL;

        is_int(podman_reply_parse_info(body, strlen(body), &driver, &err), 0, "info: a reply");
        is_str(driver, "vfs", "the storage driver");
        free(driver);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                driver = NULL;
                is_int(podman_reply_parse_info(bad[i], strlen(bad[i]), &driver, &err), -EBADMSG, "info rejects %s",
                       bad[i]);
                ok(!driver, "and gives no driver");
                moat_error_clear(&err);
        }
}

int main(void) {
        test_info();
        test_exec_failure_status();
        test_images();
        test_error_message();
        test_inspect();
        test_wait();
        test_list();
        test_create();
        test_exec_inspect();
        return tap_done();
}
