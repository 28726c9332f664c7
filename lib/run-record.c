/* metadata.json: a run record as one JSON object.
 *
 *     {"id": "ab12cd34ef56", "name": "brave-otter", "image": "...", "command": ["sh", "-c", "..."],
 *      "workspace": "/home/u/src", "env_keys": ["TERM"],
 *      "mounts": [{"source": "/a", "destination": "/b", "read_only": true}],
 *      "container_id": "...", "unit": "moat-ab12cd34ef56.service", "manager": "user",
 *      "state": "exited", "interactive": false, "keep": false, "memory_bytes": 0, "cpus": 0,
 *      "created_at": "2026-11-24T06:30:00.123456Z", "started_at": ..., "stopped_at": null,
 *      "exit_code": 0, "output_lines": 12, "error": null, "network": "strict",
 *      "allow": ["*.npmjs.org"], "grants": [{"name": "anthropic", "optional": false,
 *      "env": ["ANTHROPIC_API_KEY"], "inject": [{"hosts": ["api.anthropic.com"],
 *      "header": "x-api-key", "value": "{secret}"}]}]}
 *
 * id, manager and state are required.  Any other field that is missing or null takes its
 * default (NULL, 0, false, no exit code), so that records written by an older or newer moat
 * still load; unknown fields are ignored.  A field of the wrong type, or a value the writer
 * would never write, makes the whole record invalid: the writer refuses exactly what the
 * reader refuses, so every record moat writes reads back equal. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "run.h"
#include "strv.h"

/* Integers past 2^53 do not survive a JSON reader that keeps numbers as doubles. */
#define JSON_INT_MAX (INT64_C(1) << 53)
#define CONTAINER_ID_MAX 64
#define UNIT_NAME_MAX 255
/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" */
/* 9999-12-31T23:59:59.999999Z: four digits of year are all RFC 3339 allows. */
#define TIMESTAMP_MAX UINT64_C(253402300799999999)
#define USEC_PER_SEC UINT64_C(1000000)

void run_record_free(run_record *r) {
        if (!r)
                return;
        free(r->name);
        free(r->image);
        strv_free(r->command);
        free(r->workspace);
        free(r->branch);
        free(r->repository);
        strv_free(r->env_keys);
        for (size_t i = 0; i < r->n_mounts; i++) {
                free(r->mounts[i].source);
                free(r->mounts[i].destination);
        }
        free(r->mounts);
        free(r->container_id);
        free(r->unit);
        free(r->error);
        free(r->stop_reason);
        free(r->agent);
        strv_free(r->allow);
        grant_defs_free(r->grants, r->n_grants);
        free(r);
}

bool run_has_proxy(const run_record *r) {
        return r->network == NET_STRICT || (r->network == NET_OPEN && r->n_grants > 0);
}

/* Container IDs go into libpod URL paths: only podman's own form, lowercase hex. */
static bool container_id_valid(const char *s) {
        size_t n = strspn(s, "0123456789abcdef");

        return n > 0 && n <= CONTAINER_ID_MAX && s[n] == '\0';
}

/* Unit names go to systemd: its character set and length. */
static bool unit_name_valid(const char *s) {
        size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@");

        return n > 0 && n <= UNIT_NAME_MAX && s[n] == '\0';
}

/* The last time a record can write: 9999-12-31T23:59:59.999999Z, four digits of year. */
#define TIMESTAMP_MAX_SEC INT64_C(253402300799)

void run_timestamp_format(uint64_t usec, char buf[static RUN_TIMESTAMP_LEN + 1]) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        unsigned frac = (unsigned) (usec % USEC_PER_SEC);
        struct tm tm;

        if (usec / USEC_PER_SEC > (uint64_t) TIMESTAMP_MAX_SEC) {
                t = (time_t) TIMESTAMP_MAX_SEC;
                frac = 999999;
        }
        if (!gmtime_r(&t, &tm) || strftime(buf, RUN_TIMESTAMP_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
                strcpy(buf, "1970-01-01T00:00:00.000000Z");
                return;
        }
        snprintf(buf + 19, RUN_TIMESTAMP_LEN + 1 - 19, ".%06uZ", frac);
}

static bool parse_digits(const char **p, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                char c = (*p)[i];

                if (c < '0' || c > '9')
                        return false; /* also stops at the terminating NUL */
                v = v * 10 + (unsigned) (c - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

static bool parse_char(const char **p, char c) {
        if (**p != c)
                return false;
        (*p)++;
        return true;
}

/* The inverse of run_timestamp_format(); the fraction may have 1 to 6 digits or be left out.
 * Nothing else is accepted: no offsets other than Z, no leap seconds, no year before 1970. */
static bool timestamp_parse(const char *s, uint64_t *ret) {
        static const char shape[] = "dddd-dd-ddTdd:dd:dd";
        const size_t len = sizeof(shape) - 1;
        struct tm tm = {}, back;
        unsigned frac = 0;
        const char *p;
        time_t t;

        /* strptime() takes fewer digits and leading blanks: the shape is checked first */
        for (size_t i = 0; i < len; i++)
                if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
                        return false;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (p != s + len)
                return false;
        if (parse_char(&p, '.')) {
                size_t n = strspn(p, "0123456789");

                if (n < 1 || n > 6 || !parse_digits(&p, n, &frac))
                        return false;
                for (; n < 6; n++)
                        frac *= 10;
        }
        if (!parse_char(&p, 'Z') || *p != '\0')
                return false;
        /* timegm() normalizes what is no time (February 30, second 60) into another, in its
         * argument too: such a time does not come back as written */
        back = tm;
        t = timegm(&back);
        if (t < 0 || !gmtime_r(&t, &back) || back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon ||
            back.tm_mday != tm.tm_mday || back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min ||
            back.tm_sec != tm.tm_sec)
                return false;
        *ret = (uint64_t) t * USEC_PER_SEC + frac;
        return true;
}

/* Writing. */

static int add_string(cJSON *o, const char *key, const char *value) {
        if (!(value ? cJSON_AddStringToObject(o, key, value) : cJSON_AddNullToObject(o, key)))
                return -ENOMEM;
        return 0;
}

static int add_strv(cJSON *o, const char *key, char *const *v) {
        cJSON *a;

        if (!v)
                return cJSON_AddNullToObject(o, key) ? 0 : -ENOMEM;
        a = cJSON_AddArrayToObject(o, key);
        if (!a)
                return -ENOMEM;
        for (char *const *p = v; *p; p++) {
                cJSON *item = cJSON_CreateString(*p);

                if (!item || !cJSON_AddItemToArray(a, item)) {
                        cJSON_Delete(item);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* cJSON prints numbers as doubles ("1e+18", rounded past 2^53, and a double only to within an
 * epsilon of its value): integers go out as digits, doubles in the fewest digits that read
 * back exactly. */
static int add_int(cJSON *o, const char *key, int64_t value) {
        char buf[32];

        snprintf(buf, sizeof buf, "%" PRId64, value);
        return cJSON_AddRawToObject(o, key, buf) ? 0 : -ENOMEM;
}

static int add_double(cJSON *o, const char *key, double value) {
        char buf[64], *comma;

        for (int precision = 15; precision <= 17; precision++) {
                snprintf(buf, sizeof buf, "%.*g", precision, value);
                if (strtod(buf, NULL) == value)
                        break;
        }
        /* printf follows LC_NUMERIC; JSON does not. cJSON's reader copes with either. */
        comma = strchr(buf, ',');
        if (comma)
                *comma = '.';
        return cJSON_AddRawToObject(o, key, buf) ? 0 : -ENOMEM;
}

static int add_timestamp(cJSON *o, const char *key, uint64_t usec) {
        char buf[RUN_TIMESTAMP_LEN + 1];

        if (usec == 0)
                return cJSON_AddNullToObject(o, key) ? 0 : -ENOMEM;
        run_timestamp_format(usec, buf);
        return cJSON_AddStringToObject(o, key, buf) ? 0 : -ENOMEM;
}

static int add_mounts(cJSON *o, const run_record *r) {
        cJSON *a = cJSON_AddArrayToObject(o, "mounts");

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_mounts; i++) {
                cJSON *m = cJSON_CreateObject();

                if (!m || !cJSON_AddItemToArray(a, m)) {
                        cJSON_Delete(m);
                        return -ENOMEM;
                }
                if (!cJSON_AddStringToObject(m, "source", r->mounts[i].source) ||
                    !cJSON_AddStringToObject(m, "destination", r->mounts[i].destination) ||
                    !cJSON_AddBoolToObject(m, "read_only", r->mounts[i].read_only))
                        return -ENOMEM;
        }
        return 0;
}

static bool env_name_valid(const char *s) {
        if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

/* The network policy as the proxy will use it: anything else is not a record of moat's. */
static int network_check(const run_record *r, int code, moat_error *err) {
        if (!net_mode_to_string(r->network))
                return moat_error_set(err, code, "invalid run record %s: unknown network policy", r->id);
        for (char **p = r->allow; p && *p; p++) {
                _cleanup_free_ char *norm = NULL;

                if (host_pattern_normalize(*p, &norm, NULL) < 0 || strcmp(norm, *p) != 0)
                        return moat_error_set(err, code, "invalid run record %s: '%.64s' is not an allow pattern",
                                              r->id, *p);
        }
        if (r->n_grants > 0 && !r->grants)
                return moat_error_set(err, code, "invalid run record %s: grants without a list", r->id);
        for (size_t i = 0; i < r->n_grants; i++) {
                const grant_def *g = &r->grants[i];

                if (!g->name || !data_name_valid(g->name))
                        return moat_error_set(err, code, "invalid run record %s: a grant's name is not valid", r->id);
                for (char **e = g->env; e && *e; e++)
                        if (!env_name_valid(*e))
                                return moat_error_set(err, code,
                                                      "invalid run record %s: grant %s: '%.64s' is not a variable name",
                                                      r->id, g->name, *e);
                if (g->n_rules == 0 || !g->rules)
                        return moat_error_set(err, code, "invalid run record %s: grant %s injects nothing", r->id,
                                              g->name);
                for (size_t k = 0; k < g->n_rules; k++) {
                        moat_error e = {};

                        if (grant_rule_check(&g->rules[k], g->name, &e) < 0) {
                                moat_error_set(err, code, "invalid run record %s: %s", r->id, moat_error_message(&e));
                                moat_error_clear(&e);
                                return code;
                        }
                }
        }
        return 0;
}

static int record_check(const run_record *r, moat_error *err) {
        if (!run_id_valid(r->id))
                return moat_error_set(err, -EINVAL, "invalid run record: ID '%.*s' is not %d lowercase hex characters",
                                      RUN_ID_LEN, r->id, RUN_ID_LEN);
        if (!run_state_to_string(r->state))
                return moat_error_set(err, -EINVAL, "invalid run record %s: unknown state %d", r->id, (int) r->state);
        if (!run_manager_to_string(r->manager))
                return moat_error_set(err, -EINVAL, "invalid run record %s: unknown manager %d", r->id,
                                      (int) r->manager);
        if (r->name && !run_name_valid(r->name))
                return moat_error_set(err, -EINVAL, "invalid run record %s: '%s' is not a valid run name", r->id,
                                      r->name);
        if (r->container_id && !container_id_valid(r->container_id))
                return moat_error_set(err, -EINVAL, "invalid run record %s: container ID '%s' is not lowercase hex",
                                      r->id, r->container_id);
        if (r->unit && !unit_name_valid(r->unit))
                return moat_error_set(err, -EINVAL, "invalid run record %s: '%s' is not a unit name", r->id, r->unit);
        if (r->memory_bytes < 0 || r->memory_bytes > JSON_INT_MAX)
                return moat_error_set(err, -EINVAL, "invalid run record %s: memory limit %" PRId64 " is out of range",
                                      r->id, r->memory_bytes);
        if (!isfinite(r->cpus) || r->cpus < 0)
                return moat_error_set(err, -EINVAL, "invalid run record %s: CPU limit %g is not a number from 0",
                                      r->id, r->cpus);
        if (r->has_output_lines && r->output_lines > JSON_INT_MAX)
                return moat_error_set(err, -EINVAL, "invalid run record %s: %" PRIu64 " lines of output are out of range",
                                      r->id, r->output_lines);
        if (r->timeout_usec / 1000 > JSON_INT_MAX / 1000)
                return moat_error_set(err, -EINVAL, "invalid run record %s: time limit out of range", r->id);
        if (r->stop_reason && strcmp(r->stop_reason, RUN_STOP_REASON_TIMEOUT) != 0)
                return moat_error_set(err, -EINVAL, "invalid run record %s: unknown stop reason", r->id);
        if (r->agent && !data_name_valid(r->agent))
                return moat_error_set(err, -EINVAL, "invalid run record %s: '%s' is not a provider's name", r->id,
                                      r->agent);
        if (r->created_at > TIMESTAMP_MAX || r->started_at > TIMESTAMP_MAX || r->stopped_at > TIMESTAMP_MAX)
                return moat_error_set(err, -EINVAL, "invalid run record %s: a time is past the year 9999", r->id);
        if (r->n_mounts > 0 && !r->mounts)
                return moat_error_set(err, -EINVAL, "invalid run record %s: %zu mounts but no list of them", r->id,
                                      r->n_mounts);
        for (size_t i = 0; i < r->n_mounts; i++)
                if (!r->mounts[i].source || !r->mounts[i].destination)
                        return moat_error_set(err, -EINVAL, "invalid run record %s: mount %zu lacks a path", r->id, i);
        return network_check(r, -EINVAL, err);
}

static int add_grants(cJSON *o, const run_record *r) {
        cJSON *a;

        if (r->n_grants == 0)
                return cJSON_AddNullToObject(o, "grants") ? 0 : -ENOMEM;
        a = cJSON_AddArrayToObject(o, "grants");
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_grants; i++) {
                const grant_def *g = &r->grants[i];
                cJSON *go = cJSON_CreateObject(), *inject;

                if (!go || !cJSON_AddItemToArray(a, go)) {
                        cJSON_Delete(go);
                        return -ENOMEM;
                }
                if (add_string(go, "name", g->name) < 0 || !cJSON_AddBoolToObject(go, "optional", g->optional) ||
                    add_strv(go, "env", g->env) < 0 || !(inject = cJSON_AddArrayToObject(go, "inject")))
                        return -ENOMEM;
                for (size_t k = 0; k < g->n_rules; k++) {
                        cJSON *ro = cJSON_CreateObject();

                        if (!ro || !cJSON_AddItemToArray(inject, ro)) {
                                cJSON_Delete(ro);
                                return -ENOMEM;
                        }
                        if (add_strv(ro, "hosts", g->rules[k].hosts) < 0 ||
                            add_string(ro, "header", g->rules[k].header) < 0 ||
                            add_string(ro, "value", g->rules[k].value) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static const struct resource_field {
        const char *key;
        size_t offset;
} resource_fields[] = {
        { "cpu_usec", offsetof(run_resources, cpu_usec) },
        { "memory_peak_bytes", offsetof(run_resources, memory_peak_bytes) },
        { "io_read_bytes", offsetof(run_resources, io_read_bytes) },
        { "io_write_bytes", offsetof(run_resources, io_write_bytes) },
        { "tasks_peak", offsetof(run_resources, tasks_peak) },
};

static uint64_t *resource_at(run_resources *res, size_t i) {
        return (uint64_t *) ((char *) res + resource_fields[i].offset);
}

/* "resources": {"cpu_usec": N, ...}, null for what was not measured; null before the end. */
static int add_resources(cJSON *o, const run_record *r) {
        run_resources res = r->resources;
        cJSON *ro;

        if (!r->has_resources)
                return cJSON_AddNullToObject(o, "resources") ? 0 : -ENOMEM;
        ro = cJSON_AddObjectToObject(o, "resources");
        if (!ro)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(resource_fields); i++) {
                uint64_t v = *resource_at(&res, i);

                if (v == RUN_RESOURCE_UNKNOWN || v > JSON_INT_MAX ? !cJSON_AddNullToObject(ro, resource_fields[i].key)
                                                                  : add_int(ro, resource_fields[i].key, (int64_t) v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int run_record_to_json(const run_record *r, char **ret_json, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        char *json;
        int k;

        k = record_check(r, err);
        if (k < 0)
                return k;

        o = cJSON_CreateObject();
        if (!o)
                return -ENOMEM;
        if (add_string(o, "id", r->id) < 0 || add_string(o, "name", r->name) < 0 ||
            add_string(o, "image", r->image) < 0 || add_strv(o, "command", r->command) < 0 ||
            add_string(o, "workspace", r->workspace) < 0 || add_string(o, "branch", r->branch) < 0 ||
            add_string(o, "repository", r->repository) < 0 || add_strv(o, "env_keys", r->env_keys) < 0 ||
            add_mounts(o, r) < 0 || add_string(o, "container_id", r->container_id) < 0 ||
            add_string(o, "unit", r->unit) < 0 ||
            add_string(o, "manager", run_manager_to_string(r->manager)) < 0 ||
            add_string(o, "state", run_state_to_string(r->state)) < 0 ||
            !cJSON_AddBoolToObject(o, "interactive", r->interactive) ||
            !cJSON_AddBoolToObject(o, "tty", r->tty) ||
            !cJSON_AddBoolToObject(o, "keep", r->keep) || add_int(o, "memory_bytes", r->memory_bytes) < 0 ||
            add_double(o, "cpus", r->cpus) < 0 || add_timestamp(o, "created_at", r->created_at) < 0 ||
            add_timestamp(o, "started_at", r->started_at) < 0 ||
            add_timestamp(o, "stopped_at", r->stopped_at) < 0 ||
            !(r->has_exit_code ? cJSON_AddNumberToObject(o, "exit_code", r->exit_code)
                               : cJSON_AddNullToObject(o, "exit_code")) ||
            (r->has_output_lines ? add_int(o, "output_lines", (int64_t) r->output_lines) < 0
                                 : !cJSON_AddNullToObject(o, "output_lines")) ||
            add_string(o, "error", r->error) < 0 ||
            add_string(o, "network", net_mode_to_string(r->network)) < 0 || add_strv(o, "allow", r->allow) < 0 ||
            add_grants(o, r) < 0 || add_int(o, "timeout_ms", (int64_t) (r->timeout_usec / 1000)) < 0 ||
            add_string(o, "stop_reason", r->stop_reason) < 0 || add_resources(o, r) < 0 ||
            add_string(o, "agent", r->agent) < 0)
                return -ENOMEM;

        json = cJSON_Print(o);
        if (!json)
                return -ENOMEM;
        *ret_json = json;
        return 0;
}

/* Reading.  Every helper leaves its output alone when the field is missing or null. */

static const cJSON *field_get(const cJSON *o, const char *key) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNull(item) ? NULL : item;
}

static int wrong_type(const char *key, const char *type, moat_error *err) {
        return moat_error_set(err, -EBADMSG, "invalid run record: \"%s\" is not %s", key, type);
}

static int read_string(const cJSON *o, const char *key, char **ret, moat_error *err) {
        const cJSON *item = field_get(o, key);
        char *s;

        if (!item)
                return 0;
        if (!cJSON_IsString(item))
                return wrong_type(key, "a string", err);
        s = strdup(item->valuestring);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int read_strv(const cJSON *o, const char *key, char ***ret, moat_error *err) {
        const cJSON *a = field_get(o, key), *item;
        _cleanup_(strv_freep) char **v = NULL;
        size_t n = 0;

        if (!a)
                return 0;
        if (!cJSON_IsArray(a))
                return wrong_type(key, "an array of strings", err);
        v = calloc((size_t) cJSON_GetArraySize(a) + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach(item, a) {
                if (!cJSON_IsString(item))
                        return wrong_type(key, "an array of strings", err);
                v[n] = strdup(item->valuestring);
                if (!v[n])
                        return -ENOMEM;
                n++;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static int read_bool(const cJSON *o, const char *key, bool *ret, moat_error *err) {
        const cJSON *item = field_get(o, key);

        if (!item)
                return 0;
        if (!cJSON_IsBool(item))
                return wrong_type(key, "true or false", err);
        *ret = cJSON_IsTrue(item);
        return 0;
}

static int read_timestamp(const cJSON *o, const char *key, uint64_t *ret, moat_error *err) {
        const cJSON *item = field_get(o, key);

        if (!item)
                return 0;
        if (!cJSON_IsString(item) || !timestamp_parse(item->valuestring, ret))
                return wrong_type(key, "an RFC 3339 UTC time like \"2026-11-24T06:30:00.123456Z\"", err);
        return 0;
}

static int read_mounts(const cJSON *o, run_record *r, moat_error *err) {
        const cJSON *a = field_get(o, "mounts"), *item;
        int n;

        if (!a)
                return 0;
        if (!cJSON_IsArray(a))
                return wrong_type("mounts", "an array", err);
        n = cJSON_GetArraySize(a);
        if (n == 0)
                return 0;
        r->mounts = calloc((size_t) n, sizeof *r->mounts);
        if (!r->mounts)
                return -ENOMEM;
        cJSON_ArrayForEach(item, a) {
                run_mount *m = &r->mounts[r->n_mounts];
                const cJSON *source = cJSON_GetObjectItemCaseSensitive(item, "source");
                const cJSON *destination = cJSON_GetObjectItemCaseSensitive(item, "destination");
                int k;

                if (!cJSON_IsObject(item) || !cJSON_IsString(source) || !cJSON_IsString(destination))
                        return wrong_type("mounts", "an array of {\"source\", \"destination\"} objects", err);
                m->source = strdup(source->valuestring);
                m->destination = strdup(destination->valuestring);
                /* Counted before the check: run_record_free() frees what is there. */
                r->n_mounts++;
                if (!m->source || !m->destination)
                        return -ENOMEM;
                k = read_bool(item, "read_only", &m->read_only, err);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int read_required(const cJSON *o, const char *key, const char **ret, moat_error *err) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!item || cJSON_IsNull(item))
                return moat_error_set(err, -EBADMSG, "invalid run record: no \"%s\"", key);
        if (!cJSON_IsString(item))
                return wrong_type(key, "a string", err);
        *ret = item->valuestring;
        return 0;
}

static int read_identity(const cJSON *o, run_record *r, moat_error *err) {
        const char *id, *state, *manager;
        int k;

        k = read_required(o, "id", &id, err);
        if (k < 0)
                return k;
        if (!run_id_valid(id))
                return moat_error_set(err, -EBADMSG, "invalid run record: \"id\" is not %d lowercase hex characters",
                                      RUN_ID_LEN);
        memcpy(r->id, id, sizeof r->id);

        k = read_required(o, "state", &state, err);
        if (k < 0)
                return k;
        r->state = run_state_from_string(state);
        if (r->state == _RUN_STATE_INVALID)
                return moat_error_set(err, -EBADMSG, "invalid run record %s: unknown state \"%.32s\"", r->id, state);

        k = read_required(o, "manager", &manager, err);
        if (k < 0)
                return k;
        if (run_manager_from_string(manager, &r->manager) < 0)
                return moat_error_set(err, -EBADMSG,
                                      "invalid run record %s: \"manager\" is neither \"user\" nor \"system\"", r->id);
        return 0;
}

static int read_checked_strings(const cJSON *o, run_record *r, moat_error *err) {
        int k;

        k = read_string(o, "name", &r->name, err);
        if (k < 0)
                return k;
        if (r->name && !run_name_valid(r->name))
                return moat_error_set(err, -EBADMSG, "invalid run record %s: \"name\" is not a valid run name", r->id);
        k = read_string(o, "container_id", &r->container_id, err);
        if (k < 0)
                return k;
        if (r->container_id && !container_id_valid(r->container_id))
                return moat_error_set(err, -EBADMSG, "invalid run record %s: \"container_id\" is not lowercase hex",
                                      r->id);
        k = read_string(o, "unit", &r->unit, err);
        if (k < 0)
                return k;
        if (r->unit && !unit_name_valid(r->unit))
                return moat_error_set(err, -EBADMSG, "invalid run record %s: \"unit\" is not a unit name", r->id);
        return 0;
}

static int read_numbers(const cJSON *o, run_record *r, moat_error *err) {
        const cJSON *item;
        long long v;

        item = field_get(o, "memory_bytes");
        if (item) {
                if (!json_get_int(item, 0, JSON_INT_MAX, &v))
                        return wrong_type("memory_bytes", "an integer from 0 to 2^53", err);
                r->memory_bytes = v;
        }
        item = field_get(o, "cpus");
        if (item) {
                if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < 0)
                        return wrong_type("cpus", "a number from 0", err);
                r->cpus = item->valuedouble;
        }
        item = field_get(o, "exit_code");
        if (item) {
                if (!json_get_int(item, INT_MIN, INT_MAX, &v))
                        return wrong_type("exit_code", "an integer or null", err);
                r->has_exit_code = true;
                r->exit_code = (int) v;
        }
        item = field_get(o, "output_lines");
        if (item) {
                if (!json_get_int(item, 0, JSON_INT_MAX, &v))
                        return wrong_type("output_lines", "an integer from 0 to 2^53, or null", err);
                r->has_output_lines = true;
                r->output_lines = (uint64_t) v;
        }
        return 0;
}

/* timeout_ms, stop_reason and resources (issue 25). */
static int read_accounting(const cJSON *o, run_record *r, moat_error *err) {
        const cJSON *item, *ro;
        long long v;
        int k;

        item = field_get(o, "timeout_ms");
        if (item) {
                if (!json_get_int(item, 0, JSON_INT_MAX / 1000, &v))
                        return wrong_type("timeout_ms", "an integer from 0", err);
                r->timeout_usec = (uint64_t) v * 1000;
        }
        k = read_string(o, "stop_reason", &r->stop_reason, err);
        if (k < 0)
                return k;
        if (r->stop_reason && strcmp(r->stop_reason, RUN_STOP_REASON_TIMEOUT) != 0)
                return wrong_type("stop_reason", "\"timeout\" or null", err);
        k = read_string(o, "agent", &r->agent, err);
        if (k < 0)
                return k;
        if (r->agent && !data_name_valid(r->agent))
                return wrong_type("agent", "a provider's name or null", err);
        ro = field_get(o, "resources");
        if (!ro)
                return 0;
        if (!cJSON_IsObject(ro))
                return wrong_type("resources", "an object or null", err);
        r->has_resources = true;
        r->resources = RUN_RESOURCES_UNKNOWN;
        for (size_t i = 0; i < ELEMENTSOF(resource_fields); i++) {
                item = field_get(ro, resource_fields[i].key);
                if (!item)
                        continue;
                if (!json_get_int(item, 0, JSON_INT_MAX, &v))
                        return wrong_type(resource_fields[i].key, "an integer from 0, or null", err);
                *resource_at(&r->resources, i) = (uint64_t) v;
        }
        return 0;
}

static int read_rule(const cJSON *item, grant_rule *rule, moat_error *err) {
        const cJSON *header = cJSON_GetObjectItemCaseSensitive(item, "header"),
                    *value = cJSON_GetObjectItemCaseSensitive(item, "value");
        int k;

        if (!cJSON_IsObject(item) || !cJSON_IsString(header) || !cJSON_IsString(value))
                return wrong_type("grants", "a list of {name, env, inject: [{hosts, header, value}]}", err);
        k = read_strv(item, "hosts", &rule->hosts, err);
        if (k < 0)
                return k;
        rule->header = strdup(header->valuestring);
        rule->value = strdup(value->valuestring);
        return rule->header && rule->value ? 0 : -ENOMEM;
}

static int read_grants(const cJSON *o, run_record *r, moat_error *err) {
        const cJSON *a = field_get(o, "grants"), *item;
        int k;

        if (!a)
                return 0;
        if (!cJSON_IsArray(a))
                return wrong_type("grants", "an array", err);
        r->grants = calloc((size_t) cJSON_GetArraySize(a) + 1, sizeof(*r->grants));
        if (!r->grants)
                return -ENOMEM;
        cJSON_ArrayForEach(item, a) {
                grant_def *g = &r->grants[r->n_grants++];
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name"),
                            *inject = cJSON_GetObjectItemCaseSensitive(item, "inject"), *ri;

                if (!cJSON_IsObject(item) || !cJSON_IsString(name) || !cJSON_IsArray(inject))
                        return wrong_type("grants", "a list of {name, env, inject: [{hosts, header, value}]}", err);
                g->name = strdup(name->valuestring);
                g->rules = calloc((size_t) cJSON_GetArraySize(inject) + 1, sizeof(*g->rules));
                if (!g->name || !g->rules)
                        return -ENOMEM;
                if ((k = read_bool(item, "optional", &g->optional, err)) < 0 ||
                    (k = read_strv(item, "env", &g->env, err)) < 0)
                        return k;
                cJSON_ArrayForEach(ri, inject) {
                        k = read_rule(ri, &g->rules[g->n_rules++], err);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

static int read_network(const cJSON *o, run_record *r, moat_error *err) {
        const cJSON *item = field_get(o, "network");
        int k;

        if (item) {
                if (!cJSON_IsString(item) || net_mode_from_string(item->valuestring) == _NET_MODE_INVALID)
                        return wrong_type("network", "\"open\", \"strict\" or \"none\"", err);
                r->network = net_mode_from_string(item->valuestring);
        }
        k = read_strv(o, "allow", &r->allow, err);
        if (k < 0)
                return k;
        k = read_grants(o, r, err);
        if (k < 0)
                return k;
        return network_check(r, -EBADMSG, err);
}

int run_record_from_json(const char *json, size_t len, run_record **ret, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_(run_record_freep) run_record *r = NULL;
        int k;

        if (!json || len == 0)
                return moat_error_set(err, -EBADMSG, "invalid run record: empty");
        k = json_parse_exact(json, len, &o);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return moat_error_set(err, -EBADMSG, "invalid run record: not JSON");
        if (!cJSON_IsObject(o))
                return moat_error_set(err, -EBADMSG, "invalid run record: not a JSON object");

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;

        if ((k = read_identity(o, r, err)) < 0 || (k = read_checked_strings(o, r, err)) < 0 ||
            (k = read_string(o, "image", &r->image, err)) < 0 ||
            (k = read_strv(o, "command", &r->command, err)) < 0 ||
            (k = read_string(o, "workspace", &r->workspace, err)) < 0 ||
            (k = read_string(o, "branch", &r->branch, err)) < 0 ||
            (k = read_string(o, "repository", &r->repository, err)) < 0 ||
            (k = read_strv(o, "env_keys", &r->env_keys, err)) < 0 || (k = read_mounts(o, r, err)) < 0 ||
            (k = read_bool(o, "interactive", &r->interactive, err)) < 0 ||
            (k = read_bool(o, "tty", &r->tty, err)) < 0 ||
            (k = read_bool(o, "keep", &r->keep, err)) < 0 || (k = read_numbers(o, r, err)) < 0 ||
            (k = read_timestamp(o, "created_at", &r->created_at, err)) < 0 ||
            (k = read_timestamp(o, "started_at", &r->started_at, err)) < 0 ||
            (k = read_timestamp(o, "stopped_at", &r->stopped_at, err)) < 0 ||
            (k = read_string(o, "error", &r->error, err)) < 0 || (k = read_network(o, r, err)) < 0 ||
            (k = read_accounting(o, r, err)) < 0)
                return k;

        *ret = TAKE_PTR(r);
        return 0;
}
