#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "podman-spec.h"

#define CPU_PERIOD_USEC 100000
/* The kernel refuses a CFS quota under 1 ms. */
#define CPU_QUOTA_MIN_USEC 1000

/* JSON strings are Unicode: podman's decoder would silently turn invalid UTF-8 into U+FFFD,
 * so such a string is refused here instead of being changed on the way. */
static bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned c = *p;
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return false;

                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false; /* also stops at the terminating NUL */
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

static int check_string(const char *s, const char *field, moat_error *err) {
        if (!utf8_is_valid(s))
                return moat_error_set(err, -EINVAL, "invalid %s: not valid UTF-8", field);
        return 0;
}

static int add_string(cJSON *o, const char *key, const char *value, const char *field,
                      moat_error *err) {
        int r;

        r = check_string(value, field, err);
        if (r < 0)
                return r;
        if (!cJSON_AddStringToObject(o, key, value))
                return -ENOMEM;
        return 0;
}

/* cJSON prints numbers as doubles ("1e+18", or rounded past 2^53), which podman's decoder
 * refuses for its int64 fields: integers go out as raw digits. */
static int add_int(cJSON *o, const char *key, int64_t value) {
        char buf[32];

        snprintf(buf, sizeof buf, "%" PRId64, value);
        if (!cJSON_AddRawToObject(o, key, buf))
                return -ENOMEM;
        return 0;
}

static int add_true(cJSON *o, const char *key) {
        if (!cJSON_AddTrueToObject(o, key))
                return -ENOMEM;
        return 0;
}

static int add_nsmode(cJSON *o, const char *key, const char *mode) {
        cJSON *ns = cJSON_AddObjectToObject(o, key);

        if (!ns || !cJSON_AddStringToObject(ns, "nsmode", mode))
                return -ENOMEM;
        return 0;
}

static int array_add_string(cJSON *a, const char *value) {
        cJSON *s = cJSON_CreateString(value);

        if (!s || !cJSON_AddItemToArray(a, s)) {
                cJSON_Delete(s);
                return -ENOMEM;
        }
        return 0;
}

static int add_command(cJSON *o, char *const *argv, moat_error *err) {
        cJSON *a;
        int r;

        if (!argv || !argv[0])
                return 0;

        a = cJSON_AddArrayToObject(o, "command");
        if (!a)
                return -ENOMEM;
        for (char *const *arg = argv; *arg; arg++) {
                r = check_string(*arg, "command argument", err);
                if (r < 0)
                        return r;
                r = array_add_string(a, *arg);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* KEY=VALUE entries, split at the first '=' (values may hold more), into a JSON object. A
 * key given twice takes its last value, as in a shell. */
static int add_key_values(cJSON *o, const char *key, char *const *entries, const char *field,
                          moat_error *err) {
        cJSON *map;
        int r;

        if (!entries || !entries[0])
                return 0;

        map = cJSON_AddObjectToObject(o, key);
        if (!map)
                return -ENOMEM;
        for (char *const *e = entries; *e; e++) {
                _cleanup_free_ char *k = NULL;
                const char *eq = strchr(*e, '=');
                cJSON *v;

                if (!eq)
                        return moat_error_set(err, -EINVAL, "invalid %s \"%s\": no '='", field, *e);
                if (eq == *e)
                        return moat_error_set(err, -EINVAL, "invalid %s \"%s\": empty name", field, *e);
                r = check_string(*e, field, err);
                if (r < 0)
                        return r;

                k = strndup(*e, (size_t) (eq - *e));
                if (!k)
                        return -ENOMEM;
                v = cJSON_CreateString(eq + 1);
                if (!v)
                        return -ENOMEM;
                if (cJSON_GetObjectItemCaseSensitive(map, k)) {
                        if (!cJSON_ReplaceItemInObjectCaseSensitive(map, k, v)) {
                                cJSON_Delete(v);
                                return -ENOMEM;
                        }
                } else if (!cJSON_AddItemToObject(map, k, v)) {
                        cJSON_Delete(v);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int add_mounts(cJSON *o, const podman_mount *mounts, size_t n, moat_error *err) {
        cJSON *a;
        int r;

        if (n == 0)
                return 0;
        if (!mounts)
                return moat_error_set(err, -EINVAL, "invalid mounts: %zu given, none passed", n);

        a = cJSON_AddArrayToObject(o, "mounts");
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const podman_mount *m = &mounts[i];
                cJSON *mount, *options;

                if (!m->source || m->source[0] != '/')
                        return moat_error_set(err, -EINVAL, "invalid mount source \"%s\": not an absolute path",
                                              m->source ? m->source : "");
                if (!m->destination || m->destination[0] != '/')
                        return moat_error_set(err, -EINVAL,
                                              "invalid mount destination \"%s\": not an absolute path",
                                              m->destination ? m->destination : "");

                mount = cJSON_CreateObject();
                if (!mount || !cJSON_AddItemToArray(a, mount)) {
                        cJSON_Delete(mount);
                        return -ENOMEM;
                }
                r = add_string(mount, "destination", m->destination, "mount destination", err);
                if (r < 0)
                        return r;
                r = add_string(mount, "source", m->source, "mount source", err);
                if (r < 0)
                        return r;
                if (!cJSON_AddStringToObject(mount, "type", "bind"))
                        return -ENOMEM;
                options = cJSON_AddArrayToObject(mount, "options");
                if (!options)
                        return -ENOMEM;
                r = array_add_string(options, "rbind");
                if (r < 0)
                        return r;
                if (m->read_only) {
                        r = array_add_string(options, "ro");
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int add_resource_limits(cJSON *o, const podman_spec *spec, moat_error *err) {
        cJSON *limits, *x;
        int64_t quota = 0;
        int r;

        if (spec->memory_bytes < 0)
                return moat_error_set(err, -EINVAL, "invalid memory limit %" PRId64 ": negative",
                                      spec->memory_bytes);
        /* Written so that NaN fails too. */
        if (!(spec->cpus >= 0 && spec->cpus <= (double) INT64_MAX / CPU_PERIOD_USEC / 2))
                return moat_error_set(err, -EINVAL, "invalid CPU limit %g", spec->cpus);
        if (spec->cpus > 0) {
                quota = (int64_t) (spec->cpus * CPU_PERIOD_USEC + 0.5);
                if (quota < CPU_QUOTA_MIN_USEC)
                        return moat_error_set(err, -EINVAL, "invalid CPU limit %g: under %g", spec->cpus,
                                              (double) CPU_QUOTA_MIN_USEC / CPU_PERIOD_USEC);
        }

        if (spec->memory_bytes == 0 && quota == 0)
                return 0;

        limits = cJSON_AddObjectToObject(o, "resource_limits");
        if (!limits)
                return -ENOMEM;
        if (spec->memory_bytes > 0) {
                x = cJSON_AddObjectToObject(limits, "memory");
                if (!x)
                        return -ENOMEM;
                r = add_int(x, "limit", spec->memory_bytes);
                if (r < 0)
                        return r;
        }
        if (quota > 0) {
                x = cJSON_AddObjectToObject(limits, "cpu");
                if (!x)
                        return -ENOMEM;
                r = add_int(x, "quota", quota);
                if (r < 0)
                        return r;
                r = add_int(x, "period", CPU_PERIOD_USEC);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_network(const char *network, moat_error *err) {
        static const char *const modes[] = { "none", "host", "bridge", "slirp4netns" };

        for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                if (strcmp(network, modes[i]) == 0)
                        return 0;
        return moat_error_set(err, -EINVAL,
                              "invalid network \"%s\": not one of none, host, bridge, slirp4netns",
                              network);
}

static int print_json(const cJSON *o, char **ret_json) {
        char *json = cJSON_PrintUnformatted(o);

        if (!json)
                return -ENOMEM;
        *ret_json = json;
        return 0;
}

int podman_spec_to_json(const podman_spec *spec, char **ret_json, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        int r;

        if (!spec->image || spec->image[0] == '\0')
                return moat_error_set(err, -EINVAL, "invalid spec: no image");
        if (spec->network) {
                r = check_network(spec->network, err);
                if (r < 0)
                        return r;
        }

        o = cJSON_CreateObject();
        if (!o)
                return -ENOMEM;

        /* Empty strings are unset, as for podman's own "omitempty". */
        if (spec->name && spec->name[0] != '\0') {
                r = add_string(o, "name", spec->name, "container name", err);
                if (r < 0)
                        return r;
        }
        r = add_string(o, "image", spec->image, "image", err);
        if (r < 0)
                return r;
        r = add_command(o, spec->command, err);
        if (r < 0)
                return r;
        r = add_key_values(o, "env", spec->env, "environment variable", err);
        if (r < 0)
                return r;
        if (spec->work_dir && spec->work_dir[0] != '\0') {
                r = add_string(o, "work_dir", spec->work_dir, "working directory", err);
                if (r < 0)
                        return r;
        }
        r = add_key_values(o, "labels", spec->labels, "label", err);
        if (r < 0)
                return r;
        if (spec->terminal) {
                r = add_true(o, "terminal");
                if (r < 0)
                        return r;
        }
        if (spec->stdin_open) {
                r = add_true(o, "stdin");
                if (r < 0)
                        return r;
        }
        if (spec->user && spec->user[0] != '\0') {
                r = add_string(o, "user", spec->user, "user", err);
                if (r < 0)
                        return r;
        }
        r = add_mounts(o, spec->mounts, spec->n_mounts, err);
        if (r < 0)
                return r;
        r = add_resource_limits(o, spec, err);
        if (r < 0)
                return r;
        if (spec->network) {
                r = add_nsmode(o, "netns", spec->network);
                if (r < 0)
                        return r;
        }
        if (spec->keep_id) {
                r = add_nsmode(o, "userns", "keep-id");
                if (r < 0)
                        return r;
                if (spec->keep_id_uid > 0) {
                        char value[64];

                        snprintf(value, sizeof(value), "uid=%u,gid=%u", spec->keep_id_uid,
                                 spec->keep_id_gid ?: spec->keep_id_uid);
                        if (!cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(o, "userns"), "value", value))
                                return -ENOMEM;
                }
        }
        if (spec->log_driver && spec->log_driver[0] != '\0') {
                cJSON *log = cJSON_AddObjectToObject(o, "log_configuration");

                if (!log)
                        return -ENOMEM;
                r = add_string(log, "driver", spec->log_driver, "log driver", err);
                if (r < 0)
                        return r;
        }

        return print_json(o, ret_json);
}

int podman_exec_spec_to_json(const podman_exec_spec *spec, char **ret_json, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        cJSON *cmd, *env;
        int r;

        if (!spec->command || !spec->command[0])
                return moat_error_set(err, -EINVAL, "invalid exec: no command");
        o = cJSON_CreateObject();
        if (!o || !(cmd = cJSON_AddArrayToObject(o, "Cmd")) || !(env = cJSON_AddArrayToObject(o, "Env")) ||
            !cJSON_AddBoolToObject(o, "AttachStdin", spec->stdin_open) ||
            !cJSON_AddBoolToObject(o, "AttachStdout", 1) || !cJSON_AddBoolToObject(o, "AttachStderr", 1) ||
            !cJSON_AddBoolToObject(o, "Tty", spec->terminal))
                return -ENOMEM;
        for (char *const *a = spec->command; *a; a++) {
                r = check_string(*a, "command argument", err);
                if (r >= 0)
                        r = array_add_string(cmd, *a);
                if (r < 0)
                        return r;
        }
        for (char *const *e = spec->env; e && *e; e++) {
                const char *eq = strchr(*e, '=');

                if (!eq || eq == *e)
                        return moat_error_set(err, -EINVAL, "invalid environment variable \"%s\": use KEY=VALUE", *e);
                r = check_string(*e, "environment variable", err);
                if (r >= 0)
                        r = array_add_string(env, *e);
                if (r < 0)
                        return r;
        }
        return print_json(o, ret_json);
}

/* S percent-escaped for a query value, appended to F. */
static int put_escaped(FILE *f, const char *s) {
        char *e = curl_easy_escape(NULL, s, 0);

        if (!e)
                return -ENOMEM;
        fputs(e, f);
        curl_free(e);
        return 0;
}

int podman_build_query(const podman_build_request *req, char **ret, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *labels = cJSON_CreateObject();
        _cleanup_free_ char *json = NULL, *query = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (!labels)
                return -ENOMEM;
        if (!req->tag || !req->tag[0] || !req->containerfile || !req->containerfile[0])
                return moat_error_set(err, -EINVAL, "invalid build: no tag or no Containerfile");
        for (char *const *l = req->labels; l && *l; l++) {
                _cleanup_free_ char *key = NULL;
                const char *eq = strchr(*l, '=');

                if (!eq || eq == *l)
                        return moat_error_set(err, -EINVAL, "invalid label \"%s\": use KEY=VALUE", *l);
                key = strndup(*l, eq - *l);
                if (!key || !cJSON_AddStringToObject(labels, key, eq + 1))
                        return -ENOMEM;
        }
        r = print_json(labels, &json);
        if (r < 0)
                return r;

        f = open_memstream(&query, &len);
        if (!f)
                return -ENOMEM;
        fputs("dockerfile=", f);
        r = put_escaped(f, req->containerfile);
        fputs("&t=", f);
        r = r ?: put_escaped(f, req->tag);
        fputs("&labels=", f);
        r = r ?: put_escaped(f, json);
        /* the server's proxy variables reach the RUN steps, as with podman build (whose
         * --http-proxy is on by default; the endpoint's own default is off) */
        fputs("&rm=true&forcerm=true&layers=true&httpproxy=true", f);
        if (req->pull)
                fputs("&pullpolicy=always", f);
        if (req->no_cache)
                fputs("&nocache=true", f);
        if (fclose(f) != 0 || r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(query);
        return 0;
}
