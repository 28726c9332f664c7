#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "json-util.h"
#include "podman-spec.h"
#include "tap.h"

/* A NULL-terminated list of literals, as the spec's char *const * fields take them. */
#define STRV(...) ((char **) (const char *[]) { __VA_ARGS__, NULL })

static char *const empty_strv[] = { NULL };

/* Builds the JSON and parses it back; NULL (and a failed check) when either fails. */
static cJSON *spec_round_trip(const podman_spec *spec, char **ret_text) {
        moat_error err = {};
        char *json = NULL;
        cJSON *o;
        int r;

        r = podman_spec_to_json(spec, &json, &err);
        if (!ok(r == 0 && json, "spec built")) {
                printf("#   %d: %s\n", r, err.code ? moat_error_message(&err) : "");
                moat_error_clear(&err);
                return NULL;
        }
        o = cJSON_Parse(json);
        ok(o != NULL, "the JSON parses back");
        if (ret_text)
                *ret_text = json;
        else
                free(json);
        return o;
}

static const char *get_string(const cJSON *o, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        const cJSON *item = o;

        for (char *key = strtok(copy, "."); key && item; key = strtok(NULL, "."))
                item = cJSON_GetObjectItemCaseSensitive(item, key);
        return cJSON_IsString(item) ? item->valuestring : NULL;
}

static const cJSON *get(const cJSON *o, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        const cJSON *item = o;

        for (char *key = strtok(copy, "."); key && item; key = strtok(NULL, "."))
                item = cJSON_GetObjectItemCaseSensitive(item, key);
        return item;
}

static void test_minimal(void) {
        podman_spec spec = { .image = "busybox" };
        _cleanup_free_ char *text = NULL;

        cJSON_Delete(spec_round_trip(&spec, &text));

        is_str(text, "{\"image\":\"busybox\"}", "only the image: every unset field left out");

        spec = (podman_spec) {
                .image = "busybox",
                .name = "",
                .work_dir = "",
                .user = "",
                .command = empty_strv,
                .env = empty_strv,
                .labels = empty_strv,
        };
        free(text);
        text = NULL;
        cJSON_Delete(spec_round_trip(&spec, &text));
        is_str(text, "{\"image\":\"busybox\"}", "empty strings and empty lists are unset too");
}

static void test_full(void) {
        const podman_mount mounts[] = {
                { .source = "/home/me/src", .destination = "/work", .read_only = false },
                { .source = "/etc/hosts", .destination = "/etc/hosts", .read_only = true },
        };
        podman_spec spec = {
                .name = "moat-abc123",
                .image = "docker.io/library/busybox:latest",
                .command = STRV("sh", "-c", "echo hi"),
                .env = STRV("A=1", "PATH=/usr/bin:/bin"),
                .mounts = mounts,
                .n_mounts = ELEMENTSOF(mounts),
                .work_dir = "/work",
                .labels = STRV("moat.run-id=abc123", "moat=1"),
                .terminal = true,
                .stdin_open = true,
                .user = "1000:1000",
                .memory_bytes = 512 * 1024 * 1024,
                .cpus = 1.5,
                .network = "none",
                .keep_id = true,
                .log_driver = "k8s-file",
        };
        _cleanup_free_ char *text = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = spec_round_trip(&spec, &text);
        const cJSON *a, *m;

        if (!o)
                return;
        is_str(get_string(o, "name"), "moat-abc123", "name");
        is_str(get_string(o, "image"), "docker.io/library/busybox:latest", "image");
        a = get(o, "command");
        ok(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 3, "command is an array of 3");
        is_str(cJSON_GetStringValue(cJSON_GetArrayItem(a, 2)), "echo hi", "command argument kept whole");
        is_str(get_string(o, "env.A"), "1", "env is an object");
        is_str(get_string(o, "env.PATH"), "/usr/bin:/bin", "env value");
        is_str(get_string(o, "work_dir"), "/work", "work_dir");
        is_str(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(get(o, "labels"), "moat.run-id")), "abc123",
               "labels is an object");
        ok(cJSON_IsTrue(get(o, "terminal")), "terminal");
        ok(cJSON_IsTrue(get(o, "stdin")), "stdin");
        is_str(get_string(o, "user"), "1000:1000", "user");

        a = get(o, "mounts");
        ok(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 2, "two mounts");
        m = cJSON_GetArrayItem(a, 0);
        is_str(get_string(m, "destination"), "/work", "mount destination");
        is_str(get_string(m, "source"), "/home/me/src", "mount source");
        is_str(get_string(m, "type"), "bind", "mount type bind");
        a = get(m, "options");
        ok(cJSON_GetArraySize(a) == 1 && strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(a, 0)), "rbind") == 0,
           "a writable mount: options [rbind]");
        a = get(cJSON_GetArrayItem(get(o, "mounts"), 1), "options");
        ok(cJSON_GetArraySize(a) == 2 && strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(a, 1)), "ro") == 0,
           "a read-only mount: options [rbind, ro]");

        is_int(cJSON_GetNumberValue(get(o, "resource_limits.memory.limit")), 512 * 1024 * 1024, "memory limit");
        is_int(cJSON_GetNumberValue(get(o, "resource_limits.cpu.quota")), 150000, "1.5 CPUs: quota 150000");
        is_int(cJSON_GetNumberValue(get(o, "resource_limits.cpu.period")), 100000, "period 100000");
        is_str(get_string(o, "netns.nsmode"), "none", "network namespace mode");
        is_str(get_string(o, "userns.nsmode"), "keep-id", "user namespace keep-id");
        ok(!get(o, "userns.value"), "keep-id to the caller's own uid: no value");
        is_str(get_string(o, "log_configuration.driver"), "k8s-file", "log driver");
        is_int(cJSON_GetArraySize(o), 14, "nothing else");
}

/* An agent's user: the caller's uid mapped to the agent's, as --userns=keep-id:uid=,gid= */
static void test_keep_id_as(void) {
        const podman_spec spec = {
                .image = "img", .user = "1000:1001", .keep_id = true, .keep_id_uid = 1000, .keep_id_gid = 1001,
        };
        _cleanup_(cJSON_Deletep) cJSON *o = spec_round_trip(&spec, NULL);

        is_str(get_string(o, "user"), "1000:1001", "the agent's user");
        is_str(get_string(o, "userns.nsmode"), "keep-id", "keep-id");
        is_str(get_string(o, "userns.value"), "uid=1000,gid=1001", "mapped to the agent's uid and gid");
}

static void test_escaping(void) {
        static const char nasty[] = "q\"uo'te \\back\\slash\\ new\nline tab\t cr\r bell\a esc\x1b[31m "
                                    "\x01\x02\x1f del\x7f caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80 </script> %s %n";
        _cleanup_free_ char *env = NULL, *label = NULL, *text = NULL;
        char all_controls[32];
        podman_spec spec;
        cJSON *o;
        bool raw_control = false;

        for (size_t i = 0; i < 31; i++)
                all_controls[i] = (char) (i + 1);
        all_controls[31] = '\0';

        if (asprintf(&env, "NASTY=%s", nasty) < 0 || asprintf(&label, "l\"a\\b\ne\xc3\xa9=%s", nasty) < 0)
                abort();
        spec = (podman_spec) {
                .name = nasty,
                .image = nasty,
                .command = STRV(nasty, all_controls, ""),
                .env = STRV(env, "EQ=a=b==c", "EMPTY=", "CTL=\x01\x1f"),
                .work_dir = nasty,
                .labels = STRV(label),
                .user = nasty,
                .mounts = (podman_mount[]) { { .source = "/a \"b\"\n", .destination = "/c\\d\xc3\xa9" } },
                .n_mounts = 1,
        };
        o = spec_round_trip(&spec, &text);
        if (!o)
                return;

        for (const char *p = text; *p; p++)
                if ((unsigned char) *p < 0x20)
                        raw_control = true;
        ok(!raw_control, "no raw control byte in the JSON text");
        is_str(get_string(o, "name"), nasty, "name round-trips exactly");
        is_str(get_string(o, "image"), nasty, "image round-trips exactly");
        is_str(get_string(o, "work_dir"), nasty, "work_dir round-trips exactly");
        is_str(get_string(o, "user"), nasty, "user round-trips exactly");
        is_str(cJSON_GetStringValue(cJSON_GetArrayItem(get(o, "command"), 0)), nasty,
               "command argument round-trips exactly");
        is_str(cJSON_GetStringValue(cJSON_GetArrayItem(get(o, "command"), 1)), all_controls,
               "every control byte 0x01..0x1f round-trips");
        is_str(cJSON_GetStringValue(cJSON_GetArrayItem(get(o, "command"), 2)), "", "an empty argument is kept");
        is_str(get_string(o, "env.NASTY"), nasty, "env value round-trips exactly");
        is_str(get_string(o, "env.EQ"), "a=b==c", "env split at the first '='");
        is_str(get_string(o, "env.EMPTY"), "", "an empty env value is kept");
        is_str(get_string(o, "env.CTL"), "\x01\x1f", "control bytes in an env value");
        is_str(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(get(o, "labels"), "l\"a\\b\ne\xc3\xa9")), nasty,
               "label key and value round-trip exactly");
        is_str(get_string(cJSON_GetArrayItem(get(o, "mounts"), 0), "source"), "/a \"b\"\n", "mount source escaped");
        is_str(get_string(cJSON_GetArrayItem(get(o, "mounts"), 0), "destination"), "/c\\d\xc3\xa9",
               "mount destination escaped");
        cJSON_Delete(o);
}

static void test_env_duplicates(void) {
        podman_spec spec = {
                .image = "x",
                .env = STRV("A=1", "B=2", "A=3"),
                .labels = STRV("k=old", "k=new"),
        };
        _cleanup_free_ char *text = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = spec_round_trip(&spec, &text);

        is_str(get_string(o, "env.A"), "3", "a repeated env name takes its last value");
        is_int(cJSON_GetArraySize(get(o, "env")), 2, "and appears once");
        is_str(text, "{\"image\":\"x\",\"env\":{\"A\":\"3\",\"B\":\"2\"},\"labels\":{\"k\":\"new\"}}",
               "exact JSON: no duplicate keys");
}

static void test_limits(void) {
        podman_spec spec = { .image = "x", .memory_bytes = INT64_C(1) << 60, .cpus = 0.5 };
        _cleanup_free_ char *text = NULL;

        cJSON_Delete(spec_round_trip(&spec, &text));

        contains(text, "\"limit\":1152921504606846976", "a huge memory limit goes out as exact digits");
        contains(text, "\"quota\":50000", "0.5 CPUs: quota 50000");

        spec = (podman_spec) { .image = "x", .memory_bytes = INT64_MAX };
        free(text);
        text = NULL;
        cJSON_Delete(spec_round_trip(&spec, &text));
        contains(text, "\"limit\":9223372036854775807", "INT64_MAX is exact, not 9.2233720368547758e+18");
        ok(!strstr(text, "cpu"), "no CPU limit when cpus is 0");

        spec = (podman_spec) { .image = "x", .cpus = 0.01 };
        free(text);
        text = NULL;
        cJSON_Delete(spec_round_trip(&spec, &text));
        contains(text, "\"cpu\":{\"quota\":1000,\"period\":100000}", "0.01 CPUs: the smallest quota, 1 ms");
        ok(!strstr(text, "memory"), "no memory limit when memory_bytes is 0");

        spec = (podman_spec) { .image = "x", .cpus = 2.0 / 3.0 };
        free(text);
        text = NULL;
        cJSON_Delete(spec_round_trip(&spec, &text));
        contains(text, "\"quota\":66667", "2/3 CPU rounds to the nearest microsecond");
}

static void test_namespaces(void) {
        static const char *const modes[] = { "none", "host", "bridge", "slirp4netns" };

        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                podman_spec spec = { .image = "x", .network = modes[i] };
                _cleanup_(cJSON_Deletep) cJSON *o = spec_round_trip(&spec, NULL);

                is_str(get_string(o, "netns.nsmode"), modes[i], "network %s", modes[i]);
                ok(!get(o, "userns"), "no userns without keep_id");
                ok(!get(o, "log_configuration"), "no log_configuration without a driver");
        }
}

static void expect_invalid(const podman_spec *spec, const char *needle, const char *what) {
        moat_error err = {};
        char *json = (char *) 0x1;

        is_int(podman_spec_to_json(spec, &json, &err), -EINVAL, "invalid: %s", what);
        ok(json == (char *) 0x1, "  output untouched");
        contains(err.msg, needle, "  the error names the field");
        moat_error_clear(&err);
}

static void test_invalid(void) {
        const podman_mount relative_src[] = { { .source = "src", .destination = "/work" } };
        const podman_mount relative_dst[] = { { .source = "/src", .destination = "work" } };
        const podman_mount null_src[] = { { .source = NULL, .destination = "/work" } };
        const podman_mount empty_dst[] = { { .source = "/src", .destination = "" } };

        expect_invalid(&(podman_spec) {}, "image", "no image");
        expect_invalid(&(podman_spec) { .image = "" }, "image", "empty image");
        expect_invalid(&(podman_spec) { .image = "x", .env = STRV("A=1", "NOEQUALS") },
                       "NOEQUALS", "env entry without '='");
        expect_invalid(&(podman_spec) { .image = "x", .env = STRV("=value") }, "empty name",
                       "env entry with an empty name");
        expect_invalid(&(podman_spec) { .image = "x", .labels = STRV("nolabel") }, "label",
                       "label without '='");
        expect_invalid(&(podman_spec) { .image = "x", .labels = STRV("=v") }, "label",
                       "label with an empty key");
        expect_invalid(&(podman_spec) { .image = "x", .mounts = relative_src, .n_mounts = 1 }, "source",
                       "relative mount source");
        expect_invalid(&(podman_spec) { .image = "x", .mounts = relative_dst, .n_mounts = 1 }, "destination",
                       "relative mount destination");
        expect_invalid(&(podman_spec) { .image = "x", .mounts = null_src, .n_mounts = 1 }, "source",
                       "NULL mount source");
        expect_invalid(&(podman_spec) { .image = "x", .mounts = empty_dst, .n_mounts = 1 }, "destination",
                       "empty mount destination");
        expect_invalid(&(podman_spec) { .image = "x", .n_mounts = 2 }, "mounts", "mount count without mounts");
        expect_invalid(&(podman_spec) { .image = "x", .memory_bytes = -1 }, "memory", "negative memory limit");
        expect_invalid(&(podman_spec) { .image = "x", .cpus = -0.5 }, "CPU", "negative CPU limit");
        expect_invalid(&(podman_spec) { .image = "x", .cpus = NAN }, "CPU", "NaN CPU limit");
        expect_invalid(&(podman_spec) { .image = "x", .cpus = INFINITY }, "CPU", "infinite CPU limit");
        expect_invalid(&(podman_spec) { .image = "x", .cpus = 0.001 }, "CPU", "a CPU limit under 1 ms per period");
        expect_invalid(&(podman_spec) { .image = "x", .network = "pasta" }, "network", "unknown network mode");
        expect_invalid(&(podman_spec) { .image = "x", .network = "" }, "network", "empty network mode");
        expect_invalid(&(podman_spec) { .image = "x", .network = "bridge:ip=1.2.3.4" }, "network",
                       "network mode with options");
        expect_invalid(&(podman_spec) { .image = "x", .env = STRV("A=\xff") }, "UTF-8",
                       "env value not UTF-8");
        expect_invalid(&(podman_spec) { .image = "x", .command = STRV("a\xc0\xaf" "b") }, "UTF-8",
                       "overlong UTF-8 in a command argument");
        expect_invalid(&(podman_spec) { .image = "x", .user = "\xed\xa0\x80" }, "UTF-8",
                       "a UTF-16 surrogate encoded as UTF-8");
        expect_invalid(&(podman_spec) { .image = "x", .name = "cut\xe2\x82" }, "UTF-8",
                       "a truncated UTF-8 sequence");
        expect_invalid(&(podman_spec) { .image = "x", .work_dir = "\xf4\x90\x80\x80" }, "UTF-8",
                       "a code point past U+10FFFF");
}

static void test_exec(void) {
        char *cmd[] = { (char *) "sh", (char *) "-c", (char *) "echo \"$X\"", NULL };
        char *env[] = { (char *) "X=a=b", NULL }, *bad_env[] = { (char *) "NOEQ", NULL };
        podman_exec_spec spec = { .command = cmd, .env = env, .terminal = true, .stdin_open = false };
        _cleanup_free_ char *json = NULL;
        moat_error err = {};

        is_int(podman_exec_spec_to_json(&spec, &json, &err), 0, "an exec spec");
        is_str(json,
               "{\"Cmd\":[\"sh\",\"-c\",\"echo \\\"$X\\\"\"],\"Env\":[\"X=a=b\"],\"AttachStdin\":false,"
               "\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":true}",
               "argv as given, env as KEY=VALUE, the streams and the terminal");
        free(json);
        json = NULL;
        spec = (podman_exec_spec) { .command = empty_strv };
        is_int(podman_exec_spec_to_json(&spec, &json, &err), -EINVAL, "no command: refused");
        contains(err.msg, "no command", "and said");
        moat_error_clear(&err);
        spec = (podman_exec_spec) { .command = cmd, .env = bad_env };
        is_int(podman_exec_spec_to_json(&spec, &json, &err), -EINVAL, "an env entry without '=': refused");
        contains(err.msg, "NOEQ", "naming it");
        moat_error_clear(&err);
        ok(json == NULL, "nothing returned");
}

int main(void) {
        test_keep_id_as();
        test_minimal();
        test_full();
        test_escaping();
        test_env_duplicates();
        test_limits();
        test_namespaces();
        test_invalid();
        test_exec();
        return tap_done();
}
