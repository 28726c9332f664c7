#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "podman-pull.h"

#define PULL_LINE_MAX (1024 * 1024)

void podman_pull_stream_init(podman_pull_stream *s) {
        *s = (podman_pull_stream) {};
}

void podman_pull_stream_free(podman_pull_stream *s) {
        if (!s)
                return;
        free(s->line);
        free(s->error);
        free(s->image_id);
        podman_pull_stream_init(s);
}

static int pull_take_string(const cJSON *o, const char *key, char **dest, moat_error *err) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
        char *copy;

        if (!item || cJSON_IsNull(item))
                return 0;
        if (!cJSON_IsString(item))
                return moat_error_set(err, -EBADMSG, "pull stream: \"%s\" is not a string", key);
        /* libpod leaves empty fields out ("omitempty"): an empty one says nothing. */
        if (item->valuestring[0] == '\0')
                return 0;

        copy = strdup(item->valuestring);
        if (!copy)
                return -ENOMEM;
        free(*dest);
        *dest = copy;
        return 0;
}

static int pull_handle_line(podman_pull_stream *s, const char *line, size_t len,
                            podman_pull_progress_fn progress, void *userdata, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_free_ char *error = NULL, *id = NULL;
        const cJSON *stream, *images;
        int r;

        if (json_is_blank(line, len))
                return 0;

        r = json_parse_exact(line, len, &o);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !cJSON_IsObject(o))
                return moat_error_set(err, -EBADMSG, "pull stream: a line is not a JSON object");

        stream = cJSON_GetObjectItemCaseSensitive(o, "stream");
        if (stream && !cJSON_IsNull(stream) && !cJSON_IsString(stream))
                return moat_error_set(err, -EBADMSG, "pull stream: \"stream\" is not a string");

        r = pull_take_string(o, "error", &error, err);
        if (r < 0)
                return r;
        r = pull_take_string(o, "id", &id, err);
        if (r < 0)
                return r;

        /* libpod sets "id" to the last of "images"; take that when "id" is missing. */
        images = cJSON_GetObjectItemCaseSensitive(o, "images");
        if (images && !cJSON_IsNull(images)) {
                const cJSON *last = NULL, *i;

                if (!cJSON_IsArray(images))
                        return moat_error_set(err, -EBADMSG, "pull stream: \"images\" is not an array");
                cJSON_ArrayForEach(i, images) {
                        if (!cJSON_IsString(i))
                                return moat_error_set(err, -EBADMSG,
                                                      "pull stream: \"images\" holds a non-string");
                        last = i;
                }
                if (!id && last && last->valuestring[0] != '\0') {
                        id = strdup(last->valuestring);
                        if (!id)
                                return -ENOMEM;
                }
        }

        if (cJSON_IsString(stream) && progress && s->build) {
                if (stream->valuestring[0] != '\0')
                        progress(stream->valuestring, userdata);
        } else if (cJSON_IsString(stream) && progress) {
                size_t n = strlen(stream->valuestring);

                while (n > 0 && (stream->valuestring[n - 1] == '\n' || stream->valuestring[n - 1] == '\r'))
                        n--;
                if (n > 0) {
                        stream->valuestring[n] = '\0';
                        progress(stream->valuestring, userdata);
                }
        }

        /* The first error is the cause; later ones are consequences. */
        if (error && !s->error) {
                size_t n = strlen(error);

                while (n > 0 && (error[n - 1] == '\n' || error[n - 1] == '\r' || error[n - 1] == ' '))
                        error[--n] = '\0';
                s->error = TAKE_PTR(error);
        }
        if (id) {
                free(s->image_id);
                s->image_id = TAKE_PTR(id);
        }
        return 0;
}

static int pull_line_append(podman_pull_stream *s, const char *data, size_t len, moat_error *err) {
        size_t need;

        if (len > PULL_LINE_MAX - s->line_len) {
                s->line_len = 0;
                return moat_error_set(err, -EMSGSIZE, "pull stream: a line is longer than %d bytes",
                                      PULL_LINE_MAX);
        }

        need = s->line_len + len;
        if (need > s->line_cap) {
                size_t cap = s->line_cap > 0 ? s->line_cap : 4096;
                char *p;

                while (cap < need)
                        cap *= 2;
                if (cap > PULL_LINE_MAX)
                        cap = PULL_LINE_MAX;
                p = realloc(s->line, cap);
                if (!p)
                        return -ENOMEM;
                s->line = p;
                s->line_cap = cap;
        }

        memcpy(s->line + s->line_len, data, len);
        s->line_len += len;
        return 0;
}

int podman_pull_stream_feed(podman_pull_stream *s, const char *data, size_t len,
                            podman_pull_progress_fn progress, void *userdata, moat_error *err) {
        int r;

        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t n = nl ? (size_t) (nl - data) : len;

                if (!nl)
                        return pull_line_append(s, data, n, err);

                if (s->line_len == 0) {
                        /* The whole line is in this read: no need to copy it. */
                        if (n > PULL_LINE_MAX)
                                return moat_error_set(err, -EMSGSIZE,
                                                      "pull stream: a line is longer than %d bytes",
                                                      PULL_LINE_MAX);
                        r = pull_handle_line(s, data, n, progress, userdata, err);
                } else {
                        r = pull_line_append(s, data, n, err);
                        if (r < 0)
                                return r;
                        r = pull_handle_line(s, s->line, s->line_len, progress, userdata, err);
                        s->line_len = 0;
                }
                if (r < 0)
                        return r;

                data = nl + 1;
                len -= n + 1;
        }

        return 0;
}

int podman_pull_stream_end(podman_pull_stream *s, char **ret_image_id, moat_error *err) {
        int r;

        if (s->line_len > 0) {
                /* The last line may come without its newline. */
                r = pull_handle_line(s, s->line, s->line_len, NULL, NULL, err);
                s->line_len = 0;
                if (r < 0)
                        return r;
        }

        if (s->error)
                return moat_error_set(err, -EIO, "%s", s->error);
        if (!s->image_id && !s->build)
                return moat_error_set(err, -EBADMSG, "pull stream ended without a result");

        if (ret_image_id)
                *ret_image_id = TAKE_PTR(s->image_id);
        return 0;
}
