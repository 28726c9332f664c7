#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "json-util.h"
#include "run.h"
#include "strv.h"
#include "tap.h"

#define T_2026 UINT64_C(1795501800) /* 2026-11-24T06:30:00Z, from `date -ud @1795501800` */

static char **strv_make(const char *const *v) {
        size_t n = 0;
        char **copy;

        while (v[n])
                n++;
        copy = calloc(n + 1, sizeof *copy);
        if (!copy)
                abort();
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(v[i])))
                        abort();
        return copy;
}

/* A record with every field set, and strings that need escaping. */
static run_record *record_full(void) {
        static const char *const command[] = {
                "sh", "-c", "echo \"quoted\" 'single' \\backslash\\\nsecond line\ttab", "",
                "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\xa6", "\x01\x1f\x7f", "/*/", NULL,
        };
        static const char *const env_keys[] = { "TERM", "ANTHROPIC_API_KEY", "lower_case", NULL };
        static const char *const allow[] = { "registry.npmjs.org", "*.pypi.org", NULL };
        static const char *const grant_env[] = { "GH_TOKEN", "GITHUB_TOKEN", NULL };
        static const char *const api_hosts[] = { "api.github.com", NULL }, *const git_hosts[] = { "github.com", NULL };
        run_record *r = calloc(1, sizeof *r);

        if (!r)
                abort();
        memcpy(r->id, "0123456789ab", RUN_ID_LEN + 1);
        r->name = strdup("brave-otter");
        r->image = strdup("ghcr.io/majorcontext/moat-claude:1.2 \"x\"");
        r->command = strv_make(command);
        r->workspace = strdup("/home/u/my \"project\"\n\xc3\xbc");
        r->env_keys = strv_make(env_keys);
        r->n_mounts = 2;
        r->mounts = calloc(2, sizeof *r->mounts);
        r->mounts[0] = (run_mount) { strdup("/host/a b"), strdup("/ctr/\"a\""), true };
        r->mounts[1] = (run_mount) { strdup("/host/\xe2\x9c\x93"), strdup("/ctr/b\n"), false };
        r->container_id = strdup("4f2c1b8a9d0e3f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c");
        r->unit = strdup("moat-0123456789ab.service");
        r->manager = RUN_MANAGER_USER;
        r->state = RUN_EXITED;
        r->interactive = true;
        r->tty = true;
        r->keep = true;
        r->memory_bytes = (INT64_C(1) << 40) + 1;
        r->cpus = 0.1 + 0.2; /* 0.30000000000000004: a printf("%.15g") would lose it */
        r->created_at = T_2026 * 1000000 + 123456;
        r->started_at = T_2026 * 1000000 + 123457;
        r->stopped_at = (T_2026 + 3600) * 1000000 + 999999;
        r->has_exit_code = true;
        r->exit_code = 0;
        r->has_output_lines = true;
        r->output_lines = (UINT64_C(1) << 53) - 1;
        r->network = NET_STRICT;
        r->allow = strv_make(allow);
        r->n_grants = 1;
        r->grants = calloc(1, sizeof *r->grants);
        r->grants[0].name = strdup("github");
        r->grants[0].optional = true;
        r->grants[0].env = strv_make(grant_env);
        r->grants[0].n_rules = 2;
        r->grants[0].rules = calloc(2, sizeof *r->grants[0].rules);
        r->grants[0].rules[0] = (grant_rule) { strv_make(api_hosts), strdup("Authorization"), strdup("Bearer {secret}") };
        r->grants[0].rules[1] = (grant_rule) { strv_make(git_hosts), strdup("Authorization"),
                                               strdup("Basic {basic:x-access-token}") };
        r->error = strdup("line one\nline \"two\"\t\\ \xe2\x80\x94 done");
        if (!r->name || !r->image || !r->workspace || !r->mounts || !r->mounts[0].source || !r->container_id ||
            !r->unit || !r->error)
                abort();
        return r;
}

static void check_same(const run_record *a, const run_record *b, const char *what) {
        is_str(a->id, b->id, "%s: id", what);
        is_str(a->name, b->name, "%s: name", what);
        is_str(a->image, b->image, "%s: image", what);
        ok(strv_equal(a->command, b->command), "%s: command", what);
        is_str(a->workspace, b->workspace, "%s: workspace", what);
        ok(strv_equal(a->env_keys, b->env_keys), "%s: env_keys", what);
        is_int(a->n_mounts, b->n_mounts, "%s: number of mounts", what);
        for (size_t i = 0; i < a->n_mounts && i < b->n_mounts; i++) {
                is_str(a->mounts[i].source, b->mounts[i].source, "%s: mount %zu source", what, i);
                is_str(a->mounts[i].destination, b->mounts[i].destination, "%s: mount %zu destination", what, i);
                is_int(a->mounts[i].read_only, b->mounts[i].read_only, "%s: mount %zu read_only", what, i);
        }
        is_str(a->container_id, b->container_id, "%s: container_id", what);
        is_str(a->unit, b->unit, "%s: unit", what);
        is_int(a->manager, b->manager, "%s: manager", what);
        is_int(a->state, b->state, "%s: state", what);
        is_int(a->interactive, b->interactive, "%s: interactive", what);
        is_int(a->tty, b->tty, "%s: tty", what);
        is_int(a->keep, b->keep, "%s: keep", what);
        is_int(a->memory_bytes, b->memory_bytes, "%s: memory_bytes", what);
        ok(memcmp(&a->cpus, &b->cpus, sizeof a->cpus) == 0, "%s: cpus exactly (%.17g, %.17g)", what, a->cpus,
           b->cpus);
        is_int(a->created_at, b->created_at, "%s: created_at to the microsecond", what);
        is_int(a->started_at, b->started_at, "%s: started_at to the microsecond", what);
        is_int(a->stopped_at, b->stopped_at, "%s: stopped_at to the microsecond", what);
        is_int(a->has_exit_code, b->has_exit_code, "%s: has_exit_code", what);
        is_int(a->exit_code, b->exit_code, "%s: exit_code", what);
        is_int(a->has_output_lines, b->has_output_lines, "%s: has_output_lines", what);
        ok(a->output_lines == b->output_lines, "%s: output_lines", what);
        is_int(a->network, b->network, "%s: network", what);
        ok(strv_equal(a->allow, b->allow), "%s: allow", what);
        is_int(a->n_grants, b->n_grants, "%s: number of grants", what);
        for (size_t i = 0; i < a->n_grants && i < b->n_grants; i++) {
                const grant_def *ga = &a->grants[i], *gb = &b->grants[i];

                is_str(ga->name, gb->name, "%s: grant %zu name", what, i);
                is_int(ga->optional, gb->optional, "%s: grant %zu optional", what, i);
                ok(strv_equal(ga->env, gb->env), "%s: grant %zu env", what, i);
                is_int(ga->n_rules, gb->n_rules, "%s: grant %zu rules", what, i);
                for (size_t k = 0; k < ga->n_rules && k < gb->n_rules; k++) {
                        ok(strv_equal(ga->rules[k].hosts, gb->rules[k].hosts), "%s: grant %zu rule %zu hosts", what, i, k);
                        is_str(ga->rules[k].header, gb->rules[k].header, "%s: grant %zu rule %zu header", what, i, k);
                        is_str(ga->rules[k].value, gb->rules[k].value, "%s: grant %zu rule %zu value", what, i, k);
                }
        }
        is_str(a->error, b->error, "%s: error", what);
}

/* Serialises R and parses it back; the result must equal R. Returns the JSON. */
static char *round_trip(const run_record *r, const char *what) {
        _cleanup_(run_record_freep) run_record *back = NULL;
        moat_error err = {};
        char *json = NULL;
        int k;

        k = run_record_to_json(r, &json, &err);
        is_int(k, 0, "%s: serialised", what);
        if (k < 0) {
                printf("#   %s\n", moat_error_message(&err));
                moat_error_clear(&err);
                return NULL;
        }
        k = run_record_from_json(json, strlen(json), &back, &err);
        is_int(k, 0, "%s: parsed back", what);
        if (k < 0) {
                printf("#   %s\n#   %s\n", moat_error_message(&err), json);
                moat_error_clear(&err);
                return json;
        }
        check_same(r, back, what);
        return json;
}

static void test_round_trip_full(void) {
        _cleanup_(run_record_freep) run_record *r = record_full();
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_free_ char *json = NULL;
        static const char *const keys[] = {
                "id",    "name",        "image",       "command",      "workspace",  "env_keys",   "mounts",
                "container_id", "unit", "manager",     "state",        "interactive", "tty", "keep", "memory_bytes",
                "cpus",  "created_at",  "started_at",  "stopped_at",   "exit_code",  "output_lines", "error", "network", "allow", "grants",
        };
        const cJSON *m;

        json = round_trip(r, "every field");
        o = json ? cJSON_Parse(json) : NULL;
        ok(o != NULL, "the output is JSON");
        if (!o)
                return;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                ok(cJSON_HasObjectItem(o, keys[i]), "field \"%s\" written", keys[i]);
        is_str(cJSON_GetStringValue(cJSON_GetObjectItem(o, "created_at")), "2026-11-24T06:30:00.123456Z",
               "created_at is RFC 3339 UTC with microseconds");
        is_str(cJSON_GetStringValue(cJSON_GetObjectItem(o, "stopped_at")), "2026-11-24T07:30:00.999999Z",
               "stopped_at is RFC 3339 UTC with microseconds");
        is_str(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")), "exited", "state by name");
        is_str(cJSON_GetStringValue(cJSON_GetObjectItem(o, "manager")), "user", "manager by name");
        ok(cJSON_IsNumber(cJSON_GetObjectItem(o, "exit_code")) &&
                   cJSON_GetObjectItem(o, "exit_code")->valuedouble == 0,
           "exit code 0 is the number 0, not null");
        ok(cJSON_IsNull(cJSON_GetObjectItem(o, "error")) == false, "a set error is not null");
        m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "mounts"), 0);
        ok(cJSON_IsString(cJSON_GetObjectItem(m, "source")) && cJSON_IsString(cJSON_GetObjectItem(m, "destination")) &&
                   cJSON_IsTrue(cJSON_GetObjectItem(m, "read_only")),
           "a mount is {source, destination, read_only}");
        contains(json, "\"memory_bytes\":\t1099511627777", "memory_bytes written as exact digits");
        contains(json, "0.30000000000000004", "cpus written in enough digits to read back exactly");
}

static void test_round_trip_empty(void) {
        _cleanup_(run_record_freep) run_record *r = calloc(1, sizeof *r);
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_free_ char *json = NULL;
        static const char *const null_keys[] = { "name",       "image",      "command",    "workspace",
                                                 "env_keys",   "container_id", "unit",     "created_at",
                                                 "started_at", "stopped_at", "exit_code",  "output_lines", "error" };

        memcpy(r->id, "ffffffffffff", RUN_ID_LEN + 1);
        r->state = RUN_CREATED;
        json = round_trip(r, "no optional field set");
        o = json ? cJSON_Parse(json) : NULL;
        ok(o != NULL, "the output is JSON");
        if (!o)
                return;
        for (size_t i = 0; i < ELEMENTSOF(null_keys); i++)
                ok(cJSON_IsNull(cJSON_GetObjectItem(o, null_keys[i])), "unset \"%s\" is null", null_keys[i]);
        is_str(cJSON_GetStringValue(cJSON_GetObjectItem(o, "manager")), "system", "manager 0 is system");
        ok(cJSON_IsArray(cJSON_GetObjectItem(o, "mounts")) &&
                   cJSON_GetArraySize(cJSON_GetObjectItem(o, "mounts")) == 0,
           "no mounts is []");
}

static void test_round_trip_values(void) {
        static const char *const empty[] = { NULL };
        _cleanup_(run_record_freep) run_record *r = record_full();

        free(r->mounts[0].source);
        free(r->mounts[0].destination);
        free(r->mounts[1].source);
        free(r->mounts[1].destination);
        free(TAKE_PTR(r->mounts));
        r->n_mounts = 0;
        for (char **p = r->command; *p; p++)
                free(*p);
        free(r->command);
        r->command = strv_make(empty);
        free(round_trip(r, "an empty command stays [] (not the image's)"));

        r->has_exit_code = false;
        r->exit_code = 0;
        free(round_trip(r, "no exit code"));
        r->has_exit_code = true;
        r->exit_code = -1;
        free(round_trip(r, "exit code -1"));
        r->exit_code = 255;
        free(round_trip(r, "exit code 255"));
        r->exit_code = INT32_MIN;
        free(round_trip(r, "exit code INT_MIN"));
        r->memory_bytes = INT64_C(1) << 53;
        free(round_trip(r, "memory 2^53"));
        r->memory_bytes = (INT64_C(1) << 53) - 1;
        r->cpus = 1.5;
        free(round_trip(r, "memory 2^53-1, 1.5 CPUs"));
        r->cpus = 1.0 / 3.0;
        free(round_trip(r, "1/3 CPU"));
        r->cpus = 1e-7;
        free(round_trip(r, "a tiny CPU share"));
        r->created_at = 1;
        r->started_at = UINT64_C(253402300799999999);
        r->stopped_at = 0;
        free(round_trip(r, "first and last representable times, and none"));
        r->state = RUN_FAILED;
        r->manager = RUN_MANAGER_SYSTEM;
        r->interactive = r->keep = false;
        free(round_trip(r, "failed, system, no flags"));
}

/* Timestamps against an independent clock: gmtime_r() and strftime(). */
static void test_timestamps(void) {
        uint64_t samples[4000];
        size_t bad_format = 0, bad_parse = 0;
        moat_error err = {};

        if (getrandom(samples, sizeof samples, 0) != (ssize_t) sizeof samples)
                abort();
        samples[0] = 1;
        samples[1] = UINT64_C(253402300799999999);
        samples[2] = UINT64_C(951782400) * 1000000;     /* 2000-02-29 */
        samples[3] = UINT64_C(4107542399) * 1000000 + 1; /* 2100-02-28T23:59:59 */

        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                _cleanup_(run_record_freep) run_record *r = calloc(1, sizeof *r), *back = NULL;
                _cleanup_(cJSON_Deletep) cJSON *o = NULL;
                _cleanup_free_ char *json = NULL;
                char want[64];
                struct tm tm;
                time_t t;

                if (i >= 4)
                        samples[i] = samples[i] % UINT64_C(253402300799999999) + 1;
                t = (time_t) (samples[i] / 1000000);
                gmtime_r(&t, &tm);
                strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
                snprintf(want + strlen(want), sizeof want - strlen(want), ".%06uZ",
                         (unsigned) (samples[i] % 1000000));

                memcpy(r->id, "0123456789ab", RUN_ID_LEN + 1);
                r->created_at = samples[i];
                if (run_record_to_json(r, &json, &err) < 0 || !(o = cJSON_Parse(json)))
                        abort();
                if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "created_at")), want) != 0) {
                        if (bad_format++ == 0)
                                printf("# %" PRIu64 ": got %s, want %s\n", samples[i],
                                       cJSON_GetStringValue(cJSON_GetObjectItem(o, "created_at")), want);
                }
                if (run_record_from_json(json, strlen(json), &back, &err) < 0 || back->created_at != samples[i])
                        bad_parse++;
        }
        is_int(bad_format, 0, "%zu times formatted as gmtime_r() says", ELEMENTSOF(samples));
        is_int(bad_parse, 0, "%zu times parsed back to the microsecond", ELEMENTSOF(samples));
        {
                char buf[RUN_TIMESTAMP_LEN + 1];

                run_timestamp_format(UINT64_MAX, buf);
                is_str(buf, "9999-12-31T23:59:59.999999Z", "a time past year 9999 is written as the last one");
                run_timestamp_format(0, buf);
                is_str(buf, "1970-01-01T00:00:00.000000Z", "0 is the epoch");
        }
}

static run_record *parse_ok(const char *json, const char *what) {
        run_record *r = NULL;
        moat_error err = {};
        int k;

        k = run_record_from_json(json, strlen(json), &r, &err);
        is_int(k, 0, "%s: accepted", what);
        if (k < 0)
                printf("#   %s\n", moat_error_message(&err));
        moat_error_clear(&err);
        return r;
}

#define BASE "\"id\": \"0123456789ab\", \"state\": \"running\", \"manager\": \"user\""
#define RULE "{\"hosts\": [\"a.test\"], \"header\": \"h\", \"value\": \"{secret}\"}"

static void test_accepted(void) {
        run_record *r;

        r = parse_ok("{" BASE "}", "only id, state and manager");
        if (r) {
                ok(!r->name && !r->image && !r->command && !r->env_keys && r->n_mounts == 0 && !r->mounts &&
                           !r->has_exit_code && r->created_at == 0 && !r->error && r->cpus == 0 &&
                           r->memory_bytes == 0 && !r->interactive,
                   "missing fields take their defaults");
                is_int(r->state, RUN_RUNNING, "state read");
                is_int(r->manager, RUN_MANAGER_USER, "manager read");
        }
        run_record_free(r);

        r = parse_ok("{" BASE ", \"name\": null, \"command\": null, \"mounts\": null, \"exit_code\": null, "
                     "\"created_at\": null, \"keep\": null}",
                     "null for optional fields");
        if (r)
                ok(!r->name && !r->command && !r->has_exit_code && r->created_at == 0, "null is the default");
        run_record_free(r);

        r = parse_ok("{" BASE ", \"future_field\": {\"x\": [1, 2]}, \"name\": \"x\"}", "unknown fields");
        if (r)
                is_str(r->name, "x", "unknown fields ignored, known ones read");
        run_record_free(r);

        r = parse_ok(" \n\t{" BASE ", \"exit_code\": 0}\n\n", "whitespace around the object; exit code 0");
        if (r)
                ok(r->has_exit_code && r->exit_code == 0, "exit code 0 is known and 0");
        run_record_free(r);

        r = parse_ok("{" BASE ", \"created_at\": \"2026-11-24T06:30:00Z\", \"started_at\": \"2026-11-24T06:30:00.5Z\", "
                     "\"stopped_at\": \"2028-02-29T23:59:59.000001Z\"}",
                     "times without a fraction, with a short one, on a leap day");
        if (r) {
                is_int(r->created_at, T_2026 * 1000000, "no fraction: whole second");
                is_int(r->started_at, T_2026 * 1000000 + 500000, "\".5\" is 500000 us");
                is_int(r->stopped_at, UINT64_C(1835481599) * 1000000 + 1, "2028-02-29T23:59:59.000001Z");
        }
        run_record_free(r);

        r = parse_ok("{" BASE ", \"command\": [], \"env_keys\": [], \"mounts\": [{\"source\": \"/a\", "
                     "\"destination\": \"/b\"}]}",
                     "empty arrays; a mount without read_only");
        if (r) {
                ok(r->command && !r->command[0], "[] is an empty command, not NULL");
                ok(r->n_mounts == 1 && !r->mounts[0].read_only, "read_only defaults to false");
        }
        run_record_free(r);

        r = parse_ok("{" BASE ", \"error\": \"caf\\u00e9 \\ud83e\\udda6 \\\"q\\\"\\n\\t\\\\ \\/\"}",
                     "escapes, a surrogate pair among them");
        if (r)
                is_str(r->error, "caf\xc3\xa9 \xf0\x9f\xa6\xa6 \"q\"\n\t\\ /", "escapes decoded to UTF-8");
        run_record_free(r);

        r = parse_ok("{" BASE ", \"id\": \"ffffffffffff\"}", "a duplicate key: the first wins");
        if (r)
                is_str(r->id, "0123456789ab", "the first id");
        run_record_free(r);
}

static void reject(const char *json, size_t len, const char *what) {
        run_record *r = (run_record *) 0x1;
        moat_error err = {};
        int k;

        k = run_record_from_json(json, len, &r, &err);
        is_int(k, -EBADMSG, "%s: rejected", what);
        ok(err.code == k && err.msg && strlen(err.msg) > 0, "%s: explained (%s)", what, err.msg ? err.msg : "-");
        ok(r == (run_record *) 0x1, "%s: output untouched", what);
        if (k == 0 && r != (run_record *) 0x1)
                run_record_free(r);
        moat_error_clear(&err);
}

static void reject_str(const char *json, const char *what) {
        reject(json, strlen(json), what);
}

static void test_rejected(void) {
        static const struct {
                const char *json, *what;
        } cases[] = {
                { "", "empty" },
                { "   \n", "blank" },
                { "not json", "not JSON" },
                { "{", "an open brace" },
                { "null", "null" },
                { "[]", "an array" },
                { "42", "a number" },
                { "\"0123456789ab\"", "a string" },
                { "{" BASE "} {}", "two objects" },
                { "{" BASE "} x", "trailing garbage" },
                { "{\"state\": \"running\", \"manager\": \"user\"}", "no id" },
                { "{\"id\": null, \"state\": \"running\", \"manager\": \"user\"}", "a null id" },
                { "{\"id\": 123456789012, \"state\": \"running\", \"manager\": \"user\"}", "a numeric id" },
                { "{\"id\": \"0123456789AB\", \"state\": \"running\", \"manager\": \"user\"}", "an uppercase id" },
                { "{\"id\": \"0123456789a\", \"state\": \"running\", \"manager\": \"user\"}", "an 11-character id" },
                { "{\"id\": \"0123456789abc\", \"state\": \"running\", \"manager\": \"user\"}", "a 13-character id" },
                { "{\"id\": \"../../etc/pas\", \"state\": \"running\", \"manager\": \"user\"}", "a path as id" },
                { "{\"id\": \"0123456789ab\\u0000/x\", \"state\": \"running\", \"manager\": \"user\"}",
                  "an id that cJSON alone would cut at an escaped NUL" },
                { "{" BASE ", \"name\": \"ok\\u0000Bad\"}", "a name with an escaped NUL" },
                { "{\"id\": \"0123456789ab\", \"manager\": \"user\"}", "no state" },
                { "{\"id\": \"0123456789ab\", \"state\": \"paused\", \"manager\": \"user\"}", "an unknown state" },
                { "{\"id\": \"0123456789ab\", \"state\": \"Running\", \"manager\": \"user\"}", "state in capitals" },
                { "{\"id\": \"0123456789ab\", \"state\": 2, \"manager\": \"user\"}", "a numeric state" },
                { "{\"id\": \"0123456789ab\", \"state\": \"running\"}", "no manager" },
                { "{\"id\": \"0123456789ab\", \"state\": \"running\", \"manager\": \"root\"}", "an unknown manager" },
                { "{" BASE ", \"name\": 5}", "a numeric name" },
                { "{" BASE ", \"name\": \"Bad Name\"}", "an invalid name" },
                { "{" BASE ", \"name\": \"\\u001b[2J\"}", "a name with an escape sequence" },
                { "{" BASE ", \"image\": [\"x\"]}", "an image that is an array" },
                { "{" BASE ", \"command\": \"sh -c x\"}", "a command that is a string" },
                { "{" BASE ", \"command\": [\"sh\", 1]}", "a command with a number" },
                { "{" BASE ", \"command\": [\"sh\", null]}", "a command with null" },
                { "{" BASE ", \"workspace\": true}", "a boolean workspace" },
                { "{" BASE ", \"env_keys\": {\"A\": \"1\"}}", "env_keys that is an object" },
                { "{" BASE ", \"mounts\": \"/a:/b\"}", "mounts that is a string" },
                { "{" BASE ", \"mounts\": [\"/a:/b\"]}", "a mount that is a string" },
                { "{" BASE ", \"mounts\": [{\"source\": \"/a\"}]}", "a mount without destination" },
                { "{" BASE ", \"mounts\": [{\"source\": 1, \"destination\": \"/b\"}]}", "a numeric mount source" },
                { "{" BASE ", \"mounts\": [{\"source\": \"/a\", \"destination\": \"/b\", \"read_only\": \"yes\"}]}",
                  "read_only that is a string" },
                { "{" BASE ", \"mounts\": [{\"source\": \"/a\", \"destination\": \"/b\"}, 7]}",
                  "a second mount that is a number" },
                { "{" BASE ", \"container_id\": 5}", "a numeric container_id" },
                { "{" BASE ", \"container_id\": \"../x\"}", "a container_id that is a path" },
                { "{" BASE ", \"container_id\": \"\"}", "an empty container_id" },
                { "{" BASE ", \"unit\": \"a/b.service\"}", "a unit with '/'" },
                { "{" BASE ", \"unit\": 1}", "a numeric unit" },
                { "{" BASE ", \"interactive\": \"true\"}", "interactive that is a string" },
                { "{" BASE ", \"tty\": 1}", "tty that is a number" },
                { "{" BASE ", \"keep\": 1}", "keep that is a number" },
                { "{" BASE ", \"memory_bytes\": -1}", "negative memory" },
                { "{" BASE ", \"memory_bytes\": 1.5}", "fractional memory" },
                { "{" BASE ", \"memory_bytes\": \"1g\"}", "memory that is a string" },
                { "{" BASE ", \"memory_bytes\": 1e300}", "memory past 2^53" },
                { "{" BASE ", \"cpus\": \"2\"}", "cpus that is a string" },
                { "{" BASE ", \"cpus\": -0.5}", "negative cpus" },
                { "{" BASE ", \"exit_code\": 1.5}", "a fractional exit code" },
                { "{" BASE ", \"exit_code\": \"0\"}", "an exit code that is a string" },
                { "{" BASE ", \"exit_code\": 2147483648}", "an exit code past INT_MAX" },
                { "{" BASE ", \"exit_code\": false}", "an exit code that is false" },
                { "{" BASE ", \"error\": false}", "an error that is false" },
                { "{" BASE ", \"output_lines\": -1}", "negative output lines" },
                { "{" BASE ", \"network\": \"closed\"}", "an unknown network policy" },
                { "{" BASE ", \"network\": 1}", "a numeric network policy" },
                { "{" BASE ", \"allow\": [\"10.0.0.1\"]}", "an IP address as an allow pattern" },
                { "{" BASE ", \"allow\": [\"GitHub.com\"]}", "an allow pattern that is not normalized" },
                { "{" BASE ", \"allow\": \"github.com\"}", "allow that is a string" },
                { "{" BASE ", \"grants\": {}}", "grants that are an object" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"inject\": []}]}", "a grant that injects nothing" },
                { "{" BASE ", \"grants\": [{\"name\": \"../a\", \"inject\": [" RULE "]}]}", "a grant name with '/'" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"env\": [\"1X\"], \"inject\": [" RULE "]}]}",
                  "a placeholder variable that is no variable name" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"inject\": [{\"hosts\": [\"1.2.3.4\"], "
                  "\"header\": \"h\", \"value\": \"{secret}\"}]}]}", "a grant host that is an IP address" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"inject\": [{\"hosts\": [\"a.test\"], "
                  "\"header\": \"x y\", \"value\": \"{secret}\"}]}]}", "a header name with a space" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"inject\": [{\"hosts\": [\"a.test\"], "
                  "\"header\": \"h\", \"value\": \"plain\"}]}]}", "a value without {secret}" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"inject\": [{\"hosts\": [\"a.test\"], "
                  "\"header\": \"h\", \"value\": \"{secret}\\r\\nX: {secret}\"}]}]}", "a value with a line break" },
                { "{" BASE ", \"grants\": [{\"name\": \"a\", \"inject\": [{\"hosts\": [], "
                  "\"header\": \"h\", \"value\": \"{secret}\"}]}]}", "a rule without hosts" },
                { "{" BASE ", \"output_lines\": 2.5}", "fractional output lines" },
                { "{" BASE ", \"output_lines\": 1e16}", "output lines past 2^53" },
                { "{" BASE ", \"output_lines\": \"7\"}", "output lines that are a string" },
                { "{" BASE ", \"created_at\": 1795501800123456}", "a numeric time" },
                { "{" BASE ", \"created_at\": \"\"}", "an empty time" },
                { "{" BASE ", \"created_at\": \"2026-11-24 06:30:00Z\"}", "a space for T" },
                { "{" BASE ", \"created_at\": \"2026-11-24T06:30:00\"}", "a time without Z" },
                { "{" BASE ", \"created_at\": \"2026-11-24T06:30:00z\"}", "a lowercase z" },
                { "{" BASE ", \"created_at\": \"2026-11-24T06:30:00+00:00\"}", "an offset" },
                { "{" BASE ", \"created_at\": \"2026-11-24T06:30:00.1234567Z\"}", "7 fraction digits" },
                { "{" BASE ", \"created_at\": \"2026-11-24T06:30:00.Z\"}", "an empty fraction" },
                { "{" BASE ", \"created_at\": \"2026-02-29T00:00:00Z\"}", "29 February of a common year" },
                { "{" BASE ", \"created_at\": \"2100-02-29T00:00:00Z\"}", "29 February 2100" },
                { "{" BASE ", \"created_at\": \"2026-04-31T00:00:00Z\"}", "31 April" },
                { "{" BASE ", \"created_at\": \"2026-13-01T00:00:00Z\"}", "month 13" },
                { "{" BASE ", \"created_at\": \"2026-00-01T00:00:00Z\"}", "month 0" },
                { "{" BASE ", \"created_at\": \"2026-01-00T00:00:00Z\"}", "day 0" },
                { "{" BASE ", \"created_at\": \"2026-01-01T24:00:00Z\"}", "hour 24" },
                { "{" BASE ", \"created_at\": \"2026-01-01T00:60:00Z\"}", "minute 60" },
                { "{" BASE ", \"created_at\": \"2016-12-31T23:59:60Z\"}", "a leap second" },
                { "{" BASE ", \"created_at\": \"1969-12-31T23:59:59Z\"}", "a time before 1970" },
                { "{" BASE ", \"created_at\": \"+2026-11-24T06:30:00Z\"}", "a sign before the year" },
                { "{" BASE ", \"created_at\": \"2026-1-24T06:30:00Z\"}", "a one-digit month" },
                { "{" BASE ", \"created_at\": \" 026-11-24T06:30:00Z\"}", "a blank in the year (strptime takes one)" },
                { "{" BASE ", \"created_at\": \"2026-11-24T 6:30:00Z\"}", "a blank in the hour" },
                { "{" BASE ", \"created_at\": \"2026-02-30T00:00:00Z\"}", "30 February (timegm would roll it over)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                reject_str(cases[i].json, cases[i].what);
        reject("{" BASE "}", strlen("{" BASE "}") - 1, "a length that cuts the closing brace");
        reject("{" BASE "}\0", strlen("{" BASE "}") + 1, "an embedded NUL after the object");
        reject(NULL, 0, "NULL");
}

/* Every proper prefix of a real record, as a reader would see a file cut short. */
static void test_truncated(void) {
        _cleanup_(run_record_freep) run_record *r = record_full();
        _cleanup_free_ char *json = NULL;
        size_t len, accepted = 0;

        if (run_record_to_json(r, &json, NULL) < 0)
                abort();
        len = strlen(json);
        for (size_t n = 0; n < len; n++) {
                run_record *back = NULL;

                if (run_record_from_json(json, n, &back, NULL) >= 0) {
                        if (accepted++ == 0)
                                printf("# accepted a record cut at %zu of %zu bytes\n", n, len);
                        run_record_free(back);
                }
        }
        is_int(accepted, 0, "all %zu truncations of a record rejected", len);
}

static void test_writer_refuses(void) {
        static const char *const bad[] = {
                "bad id", "invalid state", "invalid manager", "invalid name", "negative memory",
                "memory past 2^53", "NaN cpus", "infinite cpus", "negative cpus", "time past 9999",
                "container ID not hex", "unit with '/'", "mount without a path",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(run_record_freep) run_record *r = record_full();
                moat_error err = {};
                char *json = (char *) 0x1;
                int k;

                switch (i) {
                case 0: memcpy(r->id, "0123456789AB", RUN_ID_LEN + 1); break;
                case 1: r->state = _RUN_STATE_MAX; break;
                case 2: r->manager = (run_manager) 7; break;
                case 3: free(r->name); r->name = strdup("-x"); break;
                case 4: r->memory_bytes = -1; break;
                case 5: r->memory_bytes = (INT64_C(1) << 53) + 1; break;
                case 6: r->cpus = NAN; break;
                case 7: r->cpus = INFINITY; break;
                case 8: r->cpus = -1; break;
                case 9: r->stopped_at = UINT64_C(253402300800000000); break;
                case 10: r->container_id[0] = 'X'; break;
                case 11: free(r->unit); r->unit = strdup("a/b"); break;
                case 12: free(r->mounts[1].source); r->mounts[1].source = NULL; break;
                }
                k = run_record_to_json(r, &json, &err);
                is_int(k, -EINVAL, "writer refuses a record with %s", bad[i]);
                ok(err.msg && json == (char *) 0x1, "%s: explained, output untouched (%s)", bad[i],
                   err.msg ? err.msg : "-");
                moat_error_clear(&err);
        }
}

int main(void) {
        test_round_trip_full();
        test_round_trip_empty();
        test_round_trip_values();
        test_timestamps();
        test_accepted();
        test_rejected();
        test_truncated();
        test_writer_refuses();
        return tap_done();
}
