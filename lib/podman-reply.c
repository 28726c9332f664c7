#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "podman-reply.h"
#include "strv.h"

#define ERROR_TEXT_MAX 512
#define CONTAINER_ID_MAX 64

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A copy of at most MAX bytes of S, trimmed; control bytes become '?', and so do bytes past
 * ASCII unless KEEP_UTF8 (text podman decoded from JSON is meant to be Unicode; a raw body
 * may be anything, and cutting it at MAX must not split a character). */
static char *text_sanitize(const char *s, size_t len, size_t max, bool keep_utf8) {
        char *copy;

        while (len > 0 && is_space(s[0])) {
                s++;
                len--;
        }
        while (len > 0 && is_space(s[len - 1]))
                len--;
        if (len > max)
                len = max;

        copy = malloc(len + 1);
        if (!copy)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];

                copy[i] = c < 0x20 || c == 0x7f || (c >= 0x80 && !keep_utf8) ? '?' : (char) c;
        }
        copy[len] = '\0';
        return copy;
}

char *podman_reply_error_message(long http_status, const char *body, size_t len) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        char *msg;

        if (!body)
                len = 0;

        if (len > 0 && json_parse_exact(body, len, &o) >= 0 && cJSON_IsObject(o)) {
                static const char *const keys[] = { "message", "cause" };

                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, keys[i]);

                        if (!cJSON_IsString(item))
                                continue;
                        msg = text_sanitize(item->valuestring, strlen(item->valuestring), SIZE_MAX, true);
                        if (!msg || msg[0] != '\0')
                                return msg;
                        free(msg);
                }
        }

        if (len > 0) {
                msg = text_sanitize(body, len, ERROR_TEXT_MAX, false);
                if (!msg || msg[0] != '\0')
                        return msg;
                free(msg);
        }

        if (asprintf(&msg, "HTTP %ld", http_status) < 0)
                return NULL;
        return msg;
}

/* Container IDs go into URL paths: only podman's own form, lowercase hex, is accepted. */
static bool container_id_is_valid(const char *id) {
        size_t n = strspn(id, "0123456789abcdef");

        return n > 0 && n <= CONTAINER_ID_MAX && id[n] == '\0';
}

static int reply_parse_root(const char *what, const char *body, size_t len, int type, cJSON **ret,
                            moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        int r;

        if (!body || len == 0)
                return moat_error_set(err, -EBADMSG, "invalid %s reply: empty", what);
        r = json_parse_exact(body, len, &o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return moat_error_set(err, -EBADMSG, "invalid %s reply: not JSON", what);
        /* Go encodes an empty list it never allocated as null. */
        if (type == cJSON_Array && cJSON_IsNull(o)) {
                *ret = TAKE_PTR(o);
                return 0;
        }
        if (type == cJSON_Array ? !cJSON_IsArray(o) : !cJSON_IsObject(o))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: not a JSON %s", what,
                                      type == cJSON_Array ? "array" : "object");
        *ret = TAKE_PTR(o);
        return 0;
}

static int reply_get_string(const char *what, const cJSON *o, const char *key, const char **ret,
                            moat_error *err) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!item)
                return moat_error_set(err, -EBADMSG, "invalid %s reply: no \"%s\"", what, key);
        if (!cJSON_IsString(item))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: \"%s\" is not a string", what, key);
        *ret = item->valuestring;
        return 0;
}

static int reply_get_id(const char *what, const cJSON *o, const char **ret, moat_error *err) {
        const char *id;
        int r;

        r = reply_get_string(what, o, "Id", &id, err);
        if (r < 0)
                return r;
        if (!container_id_is_valid(id))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: \"Id\" is not a container ID",
                                      what);
        *ret = id;
        return 0;
}

static int reply_get_bool(const char *what, const cJSON *o, const char *key, bool *ret,
                          moat_error *err) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!item)
                return moat_error_set(err, -EBADMSG, "invalid %s reply: no \"%s\"", what, key);
        if (!cJSON_IsBool(item))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: \"%s\" is not a boolean", what, key);
        *ret = cJSON_IsTrue(item);
        return 0;
}

static int reply_get_int(const char *what, const cJSON *o, const char *key, int min, int *ret,
                         moat_error *err) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
        long long v;

        if (!item)
                return moat_error_set(err, -EBADMSG, "invalid %s reply: no \"%s\"", what, key);
        if (!json_get_int(item, min, INT_MAX, &v))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: \"%s\" is not an integer from %d",
                                      what, key, min);
        *ret = (int) v;
        return 0;
}

void podman_container_state_free(podman_container_state *s) {
        if (!s)
                return;
        free(s->id);
        free(s->status);
        free(s->started_at);
        free(s->finished_at);
        *s = (podman_container_state) {};
}

int podman_reply_parse_inspect(const char *body, size_t len, podman_container_state *ret,
                               moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_(podman_container_state_free) podman_container_state s = {};
        const char *id, *status, *started_at, *finished_at;
        const cJSON *state;
        int r;

        r = reply_parse_root("inspect", body, len, cJSON_Object, &o, err);
        if (r < 0)
                return r;
        r = reply_get_id("inspect", o, &id, err);
        if (r < 0)
                return r;
        state = cJSON_GetObjectItemCaseSensitive(o, "State");
        if (!cJSON_IsObject(state))
                return moat_error_set(err, -EBADMSG, "invalid inspect reply: no \"State\" object");

        r = reply_get_string("inspect", state, "Status", &status, err);
        if (r < 0)
                return r;
        r = reply_get_bool("inspect", state, "Running", &s.running, err);
        if (r < 0)
                return r;
        r = reply_get_int("inspect", state, "ExitCode", INT_MIN, &s.exit_code, err);
        if (r < 0)
                return r;
        r = reply_get_bool("inspect", state, "OOMKilled", &s.oom_killed, err);
        if (r < 0)
                return r;
        r = reply_get_int("inspect", state, "Pid", 0, &s.pid, err);
        if (r < 0)
                return r;
        r = reply_get_string("inspect", state, "StartedAt", &started_at, err);
        if (r < 0)
                return r;
        r = reply_get_string("inspect", state, "FinishedAt", &finished_at, err);
        if (r < 0)
                return r;

        s.id = strdup(id);
        s.status = strdup(status);
        s.started_at = strdup(started_at);
        s.finished_at = strdup(finished_at);
        if (!s.id || !s.status || !s.started_at || !s.finished_at)
                return -ENOMEM;

        *ret = s;
        s = (podman_container_state) {};
        return 0;
}

int podman_reply_parse_wait(const char *body, size_t len, int *ret_exit_code, moat_error *err) {
        size_t i = 0, start;
        bool negative = false;
        long long v = 0;

        /* Not through cJSON, which would take 1.5 or 1e2 where an integer must be. */
        while (i < len && is_space(body[i]))
                i++;
        if (i < len && body[i] == '-') {
                negative = true;
                i++;
        }
        for (start = i; i < len && body[i] >= '0' && body[i] <= '9'; i++) {
                v = v * 10 + (body[i] - '0');
                if (v > (long long) INT_MAX + 1)
                        return moat_error_set(err, -EBADMSG, "invalid wait reply: exit code out of range");
        }
        if (i == start || (i - start > 1 && body[start] == '0'))
                return moat_error_set(err, -EBADMSG, "invalid wait reply: not a JSON integer");
        while (i < len && is_space(body[i]))
                i++;
        if (i != len)
                return moat_error_set(err, -EBADMSG, "invalid wait reply: not a JSON integer");

        if (negative)
                v = -v;
        if (v > INT_MAX)
                return moat_error_set(err, -EBADMSG, "invalid wait reply: exit code out of range");

        *ret_exit_code = (int) v;
        return 0;
}

/* An array reply: each entry filled by PARSE into a list of ELEM_SIZE-byte entries (NULL when
 * empty).  An entry is counted as used before it is filled, so that FREE_LIST frees a
 * half-filled one too when a later check fails. */
static int reply_parse_array(const char *what, const char *body, size_t len, size_t elem_size,
                             int (*parse)(const cJSON *c, void *entry, const char *arg, moat_error *err),
                             const char *arg, void (*free_list)(void *list, size_t n), void **ret, size_t *ret_n,
                             moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        const cJSON *c;
        char *list;
        size_t n = 0;
        int r;

        r = reply_parse_root(what, body, len, cJSON_Array, &o, err);
        if (r < 0)
                return r;
        list = calloc((size_t) cJSON_GetArraySize(o) + 1, elem_size);
        if (!list)
                return -ENOMEM;
        cJSON_ArrayForEach(c, o) {
                r = parse(c, list + elem_size * n++, arg, err);
                if (r < 0) {
                        free_list(list, n);
                        return r;
                }
        }
        if (n == 0)
                list = mfree(list);
        *ret = list;
        *ret_n = n;
        return 0;
}

/* The value of label KEY of entry C ("Labels", null when there are none), or NULL. */
static int reply_get_label(const char *what, const cJSON *c, const char *key, const char **ret, moat_error *err) {
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels"), *v;

        *ret = NULL;
        if (!labels || cJSON_IsNull(labels))
                return 0;
        if (!cJSON_IsObject(labels))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: \"Labels\" is not an object", what);
        v = cJSON_GetObjectItemCaseSensitive(labels, key);
        if (v && !cJSON_IsString(v))
                return moat_error_set(err, -EBADMSG, "invalid %s reply: label \"%s\" is not a string", what, key);
        if (v)
                *ret = v->valuestring;
        return 0;
}

void podman_container_summaries_free(podman_container_summary *list, size_t n) {
        if (!list)
                return;
        for (size_t i = 0; i < n; i++) {
                free(list[i].id);
                free(list[i].name);
                free(list[i].state);
                free(list[i].run_id);
        }
        free(list);
}

static int summary_parse(const cJSON *c, void *entry, const char *arg, moat_error *err) {
        podman_container_summary *ret = entry;
        const char *id, *state, *name = NULL, *run_id = NULL;
        const cJSON *names;
        int r;

        (void) arg;
        if (!cJSON_IsObject(c))
                return moat_error_set(err, -EBADMSG, "invalid list reply: an entry is not an object");

        r = reply_get_id("list", c, &id, err);
        if (r < 0)
                return r;
        r = reply_get_string("list", c, "State", &state, err);
        if (r < 0)
                return r;

        names = cJSON_GetObjectItemCaseSensitive(c, "Names");
        if (!cJSON_IsArray(names))
                return moat_error_set(err, -EBADMSG, "invalid list reply: \"Names\" is not an array");
        if (cJSON_GetArraySize(names) > 0) {
                const cJSON *first = cJSON_GetArrayItem(names, 0);

                if (!cJSON_IsString(first))
                        return moat_error_set(err, -EBADMSG, "invalid list reply: a name is not a string");
                name = first->valuestring;
        }

        r = reply_get_label("list", c, "moat.run-id", &run_id, err);
        if (r < 0)
                return r;

        *ret = (podman_container_summary) {
                .id = strdup(id),
                .name = name ? strdup(name) : NULL,
                .state = strdup(state),
                .run_id = run_id ? strdup(run_id) : NULL,
        };
        if (!ret->id || (name && !ret->name) || !ret->state || (run_id && !ret->run_id))
                return -ENOMEM;
        return 0;
}

static void container_summaries_free(void *list, size_t n) {
        podman_container_summaries_free(list, n);
}

int podman_reply_parse_list(const char *body, size_t len, podman_container_summary **ret,
                            size_t *ret_n, moat_error *err) {
        return reply_parse_array("list", body, len, sizeof(**ret), summary_parse, NULL, container_summaries_free,
                                 (void **) ret, ret_n, err);
}

void podman_image_summaries_free(podman_image_summary *list, size_t n) {
        if (!list)
                return;
        for (size_t i = 0; i < n; i++) {
                free(list[i].id);
                strv_free(list[i].tags);
                free(list[i].label);
        }
        free(list);
}

static int image_summary_parse(const cJSON *c, void *entry, const char *label, moat_error *err) {
        podman_image_summary *ret = entry;
        const cJSON *tags, *t;
        const char *id, *value;
        int r;

        if (!cJSON_IsObject(c))
                return moat_error_set(err, -EBADMSG, "invalid images reply: an entry is not an object");
        r = reply_get_id("images", c, &id, err);
        if (r < 0)
                return r;
        ret->id = strdup(id);
        if (!ret->id)
                return -ENOMEM;

        /* an untagged image has "RepoTags": null (or none) */
        tags = cJSON_GetObjectItemCaseSensitive(c, "RepoTags");
        if (tags && !cJSON_IsNull(tags) && !cJSON_IsArray(tags))
                return moat_error_set(err, -EBADMSG, "invalid images reply: \"RepoTags\" is not an array");
        ret->tags = calloc(1, sizeof(char *));
        if (!ret->tags)
                return -ENOMEM;
        if (!cJSON_IsArray(tags))
                tags = NULL;
        cJSON_ArrayForEach(t, tags) {
                if (!cJSON_IsString(t))
                        return moat_error_set(err, -EBADMSG, "invalid images reply: a tag is not a string");
                if (strv_push(&ret->tags, strdup(t->valuestring)) < 0)
                        return -ENOMEM;
        }

        r = reply_get_label("images", c, label, &value, err);
        if (r < 0)
                return r;
        if (value && !(ret->label = strdup(value)))
                return -ENOMEM;
        return 0;
}

static void image_summaries_free(void *list, size_t n) {
        podman_image_summaries_free(list, n);
}

int podman_reply_parse_images(const char *body, size_t len, const char *label, podman_image_summary **ret,
                              size_t *ret_n, moat_error *err) {
        return reply_parse_array("images", body, len, sizeof(**ret), image_summary_parse, label, image_summaries_free,
                                 (void **) ret, ret_n, err);
}

int podman_reply_parse_create(const char *body, size_t len, char **ret_id, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        const cJSON *warnings;
        const char *id;
        char *copy;
        int r;

        r = reply_parse_root("create", body, len, cJSON_Object, &o, err);
        if (r < 0)
                return r;
        r = reply_get_id("create", o, &id, err);
        if (r < 0)
                return r;
        warnings = cJSON_GetObjectItemCaseSensitive(o, "Warnings");
        if (warnings && !cJSON_IsNull(warnings) && !cJSON_IsArray(warnings))
                return moat_error_set(err, -EBADMSG, "invalid create reply: \"Warnings\" is not an array");

        copy = strdup(id);
        if (!copy)
                return -ENOMEM;
        *ret_id = copy;
        return 0;
}

int podman_reply_parse_exec_inspect(const char *body, size_t len, bool *ret_running, int *ret_exit_code,
                                    moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        bool running;
        int code, r;

        r = reply_parse_root("exec inspect", body, len, cJSON_Object, &o, err);
        if (r < 0)
                return r;
        r = reply_get_bool("exec inspect", o, "Running", &running, err);
        if (r < 0)
                return r;
        r = reply_get_int("exec inspect", o, "ExitCode", INT_MIN, &code, err);
        if (r < 0)
                return r;
        *ret_running = running;
        *ret_exit_code = code;
        return 0;
}

int podman_exec_failure_status(const char *message) {
        /* podman's own words for the two errors (libpod's define.ErrOCIRuntimeNotFound and
         * ErrOCIRuntimePermissionDenied), which it wraps around whatever runc or crun said and
         * maps to 127 and 126 */
        if (!message)
                return 0;
        if (strstr(message, "OCI runtime attempted to invoke a command that was not found"))
                return 127;
        if (strstr(message, "OCI permission denied"))
                return 126;
        return 0;
}

int podman_reply_parse_info(const char *body, size_t len, char **ret_driver, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        const cJSON *store, *driver;
        int r;

        r = reply_parse_root("info", body, len, cJSON_Object, &o, err);
        if (r < 0)
                return r;
        store = cJSON_GetObjectItemCaseSensitive(o, "store");
        driver = cJSON_IsObject(store) ? cJSON_GetObjectItemCaseSensitive(store, "graphDriverName") : NULL;
        if (!cJSON_IsString(driver) || !driver->valuestring[0])
                return moat_error_set(err, -EBADMSG, "invalid info reply: no store.graphDriverName");
        *ret_driver = strdup(driver->valuestring);
        return *ret_driver ? 0 : moat_error_oom(err);
}
