#include "config.h"

#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json-util.h"
#include "podman.h"

#define API "http://d/v4.0.0/libpod"
/* Error bodies are read for their message only; a runaway one is cut here. */
#define ERROR_BODY_MAX (64 * 1024)

struct podman_client {
        char *socket_path;
        CURL *curl; /* kept across requests: its connection is reused */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(char *, curl_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);

/* One request and what came back.  A 2xx body goes to CONSUME as it arrives when one is
 * given, else into BODY; any other body goes into BODY for its error message only, so an
 * error reply never reaches a stream parser. */
typedef struct podman_call {
        const char *method;
        const char *url;
        const char *json;
        /* a body of another type, instead of json */
        const char *content_type;
        const char *data;
        size_t data_len;
        int (*consume)(const char *data, size_t len, void *userdata);
        void *userdata;

        CURL *curl;
        long status;
        char *body;
        size_t body_len;
        int consume_r;
        /* the Libpod-API-Version header, when asked for */
        char *api_version;
        bool want_version;
        char *owned_url; /* freed with the call */
} podman_call;

static void podman_call_done(podman_call *call) {
        free(call->owned_url);
        free(call->body);
        free(call->api_version);
}

static bool status_ok(long status) {
        return status >= 200 && status < 300;
}

static int body_append(podman_call *call, const char *data, size_t len) {
        char *p;

        if (!status_ok(call->status) && call->body_len + len > ERROR_BODY_MAX)
                len = call->body_len < ERROR_BODY_MAX ? ERROR_BODY_MAX - call->body_len : 0;
        if (len == 0)
                return 0;
        p = realloc(call->body, call->body_len + len + 1);
        if (!p)
                return -ENOMEM;
        memcpy(p + call->body_len, data, len);
        call->body = p;
        call->body_len += len;
        call->body[call->body_len] = '\0';
        return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        podman_call *call = userdata;
        size_t len = size * nmemb;
        int r;

        if (call->status == 0)
                curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &call->status);

        if (call->consume && status_ok(call->status))
                r = call->consume(data, len, call->userdata);
        else
                r = body_append(call, data, len);
        if (r < 0) {
                call->consume_r = r;
                return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        }
        return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata) {
        static const char name[] = "Libpod-API-Version:";
        podman_call *call = userdata;
        size_t len = size * nmemb, n;
        const char *v;

        if (!call->want_version || len <= strlen(name) || strncasecmp(data, name, strlen(name)) != 0)
                return len;
        v = data + strlen(name);
        n = len - strlen(name);
        while (n > 0 && (*v == ' ' || *v == '\t'))
                v++, n--;
        while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
                n--;
        free(call->api_version);
        call->api_version = strndup(v, n);
        return len;
}

#define ROOTFUL_SOCKET "/run/podman/podman.sock"

const char *podman_socket_hint(const char *socket, const char *container_host, uid_t euid) {
        if (container_host && strncmp(container_host, "unix://", 7) == 0 && strcmp(container_host + 7, socket) == 0)
                return "this socket comes from CONTAINER_HOST: start the podman service that serves it, or unset "
                       "CONTAINER_HOST";
        /* podman.socket of the system manager is root's (0660 root:root): starting it would not
         * let a user in */
        if (strcmp(socket, ROOTFUL_SOCKET) == 0 && euid != 0)
                return "the system's podman needs root: run moat as root (sudo) for --system, or leave out "
                       "--system to use your own rootless podman";
        if (strcmp(socket, ROOTFUL_SOCKET) == 0)
                return "start it with 'systemctl enable --now podman.socket'";
        return "start it with 'systemctl --user enable --now podman.socket'";
}

static int podman_perform(podman_client *c, podman_call *call, moat_error *err) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        CURLcode cr;
        long os_errno = 0;

        curl_easy_reset(c->curl);
        call->curl = c->curl;
        curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
        curl_easy_setopt(c->curl, CURLOPT_URL, call->url);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, (long) PODMAN_ANSWER_TIMEOUT_SEC);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, call);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, call);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, call->method);
        if (strcmp(call->method, "POST") == 0) {
                _cleanup_free_ char *type = NULL;
                const char *body = call->data ? call->data : call->json ? call->json : "";
                size_t len = call->data ? call->data_len : strlen(body);

                if (asprintf(&type, "Content-Type: %s", call->data ? call->content_type : "application/json") < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                headers = curl_slist_append(headers, type);
                /* Podman answers a streamed request at once: no "Expect: 100-continue" wait. */
                if (headers)
                        headers = curl_slist_append(headers, "Expect:");
                if (!headers)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        } else if (strcmp(call->method, "HEAD") == 0)
                curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);

        cr = curl_easy_perform(c->curl);
        if (call->status == 0)
                curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &call->status);

        switch (cr) {
        case CURLE_OK:
                break;
        case CURLE_WRITE_ERROR:
                if (call->consume_r < 0)
                        return call->consume_r == -ENOMEM
                                       ? moat_error_set(err, -ENOMEM, "out of memory")
                                       : call->consume_r; /* the consumer set err */
                return moat_error_set(err, -EIO, "podman request failed: %s", curl_easy_strerror(cr));
        case CURLE_COULDNT_CONNECT:
                curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno <= 0)
                        os_errno = ECONNREFUSED;
                /* Always -ECONNREFUSED, so that it never reads as a 404's -ENOENT. */
                return moat_error_set(err, -ECONNREFUSED, "cannot connect to podman at %s: %s; %s", c->socket_path,
                                      strerror((int) os_errno),
                                      podman_socket_hint(c->socket_path, getenv("CONTAINER_HOST"), geteuid()));
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return moat_error_set(err, -ECONNRESET, "connection to podman at %s lost (%s)",
                                      c->socket_path, curl_easy_strerror(cr));
        case CURLE_OUT_OF_MEMORY:
                return moat_error_set(err, -ENOMEM, "out of memory");
        default:
                return moat_error_set(err, -EIO, "podman request to %s failed: %s", c->socket_path,
                                      curl_easy_strerror(cr));
        }
        return 0;
}

/* The negative errno for a non-2xx reply, with podman's message in err. */
static int podman_reply_error(const podman_call *call, moat_error *err) {
        _cleanup_free_ char *msg = podman_reply_error_message(call->status, call->body, call->body_len);
        int code;

        switch (call->status) {
        case 400:
                code = -EINVAL;
                break;
        case 404:
                code = -ENOENT;
                break;
        case 409:
                code = -EBUSY;
                break;
        default:
                code = -EIO;
        }
        return moat_error_set(err, code, "%s", msg ? msg : "podman returned an error");
}

/* Performs CALL and fails unless the status is 2xx or one of the EXTRA_OK statuses. */
static int podman_call_expect(podman_client *c, podman_call *call, long extra_ok, moat_error *err) {
        int r = podman_perform(c, call, err);

        if (r < 0)
                return r;
        if (status_ok(call->status) || (extra_ok && call->status == extra_ok))
                return 0;
        return podman_reply_error(call, err);
}

/* A user-given name as one URL path segment: percent-escaped, and never "." or "..", which
 * curl would resolve as dot segments into another endpoint. */
static int url_segment(podman_client *c, const char *s, char **ret, moat_error *err) {
        char *e;

        if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return moat_error_set(err, -EINVAL, "invalid container or image name '%s'", s ? s : "");
        e = curl_easy_escape(c->curl, s, 0);
        if (!e)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = strdup(e);
        curl_free(e);
        return *ret ? 0 : moat_error_set(err, -ENOMEM, "out of memory");
}

/* URL of API + "/" + KIND + "/" + escaped ID + SUFFIX. */
static int object_url(podman_client *c, const char *kind, const char *id, const char *suffix,
                      char **ret, moat_error *err) {
        _cleanup_free_ char *seg = NULL;
        int r;

        r = url_segment(c, id, &seg, err);
        if (r < 0)
                return r;
        if (asprintf(ret, API "/%s/%s%s", kind, seg, suffix ? suffix : "") < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

void podman_global_init(void) {
        curl_global_init(CURL_GLOBAL_NOTHING);
}

int podman_socket_path(bool rootless, char **ret_path, moat_error *err) {
        const char *host = getenv("CONTAINER_HOST");
        const char *runtime_dir;
        char *p;

        if (host && *host) {
                if (strncmp(host, "unix://", 7) != 0 || host[7] != '/')
                        return moat_error_set(err, -EINVAL,
                                              "CONTAINER_HOST=%s is not supported: moat talks to podman over "
                                              "a local socket only (unix:///path/to/podman.sock)",
                                              host);
                p = strdup(host + 7);
        } else if (rootless) {
                runtime_dir = getenv("XDG_RUNTIME_DIR");
                if (runtime_dir && *runtime_dir == '/') {
                        if (asprintf(&p, "%s/podman/podman.sock", runtime_dir) < 0)
                                p = NULL;
                } else if (asprintf(&p, "/run/user/%u/podman/podman.sock", (unsigned) getuid()) < 0)
                        p = NULL;
        } else
                p = strdup(ROOTFUL_SOCKET);

        if (!p)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret_path = p;
        return 0;
}

int podman_client_new(const char *socket_path, podman_client **ret, moat_error *err) {
        podman_client *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return moat_error_set(err, -ENOMEM, "out of memory");
        c->socket_path = strdup(socket_path);
        c->curl = curl_easy_init();
        if (!c->socket_path || !c->curl) {
                podman_client_free(c);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = c;
        return 0;
}

void podman_client_free(podman_client *c) {
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->socket_path);
        free(c);
}

const char *podman_client_socket(const podman_client *c) {
        return c->socket_path;
}

int podman_client_open(bool rootless, podman_client **ret, moat_error *err) {
        _cleanup_free_ char *socket = NULL;
        int r;

        r = podman_socket_path(rootless, &socket, err);
        if (r < 0)
                return r;
        return podman_client_new(socket, ret, err);
}

int podman_ping(podman_client *c, char **ret_version, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {
                .method = "GET",
                .url = "http://d/_ping",
                .want_version = true,
        };
        int r, major;

        r = podman_call_expect(c, &call, 0, err);
        if (r < 0)
                return r;
        if (!call.api_version)
                return moat_error_set(err, -EPROTONOSUPPORT,
                                      "%s answers, but not as podman's libpod API (no Libpod-API-Version); "
                                      "moat needs podman 4.0 or newer",
                                      c->socket_path);
        major = atoi(call.api_version);
        if (major < 4)
                return moat_error_set(err, -EPROTONOSUPPORT,
                                      "podman at %s has libpod API %s; moat needs podman 4.0 or newer",
                                      c->socket_path, call.api_version);
        if (ret_version)
                *ret_version = TAKE_PTR(call.api_version);
        return 0;
}

int podman_storage_driver(podman_client *c, char **ret_driver, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = { .method = "GET", .url = API "/info" };
        int r;

        r = podman_call_expect(c, &call, 0, err);
        if (r < 0)
                return r;
        return podman_reply_parse_info(call.body, call.body_len, ret_driver, err);
}

int podman_image_exists(podman_client *c, const char *image, moat_error *err) {
        _cleanup_free_ char *url = NULL;
        _cleanup_(podman_call_done) podman_call call = { .method = "GET" };
        int r;

        r = object_url(c, "images", image, "/exists", &url, err);
        if (r < 0)
                return r;
        call.url = url;
        r = podman_perform(c, &call, err);
        if (r < 0)
                return r;
        if (call.status == 404)
                return 0;
        if (status_ok(call.status))
                return 1;
        return podman_reply_error(&call, err);
}

typedef struct pull_ctx {
        podman_pull_stream stream;
        podman_pull_progress_fn progress;
        void *userdata;
        moat_error *err;
} pull_ctx;

static int pull_consume(const char *data, size_t len, void *userdata) {
        pull_ctx *p = userdata;

        return podman_pull_stream_feed(&p->stream, data, len, p->progress, p->userdata, p->err);
}

int podman_image_pull(podman_client *c, const char *reference, podman_pull_progress_fn progress,
                      void *userdata, char **ret_image_id, moat_error *err) {
        _cleanup_(curl_freep) char *ref = NULL;
        _cleanup_free_ char *url = NULL;
        pull_ctx ctx = { .progress = progress, .userdata = userdata, .err = err };
        _cleanup_(podman_call_done) podman_call call = {
                .method = "POST",
                .consume = pull_consume,
                .userdata = &ctx,
        };
        int r;

        if (!reference || !*reference)
                return moat_error_set(err, -EINVAL, "no image to pull");
        ref = curl_easy_escape(c->curl, reference, 0);
        if (!ref || asprintf(&url, API "/images/pull?reference=%s&policy=always", ref) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        call.url = url;

        podman_pull_stream_init(&ctx.stream);
        r = podman_call_expect(c, &call, 0, err);
        if (r >= 0)
                r = podman_pull_stream_end(&ctx.stream, ret_image_id, err);
        podman_pull_stream_free(&ctx.stream);
        if (r < 0)
                return moat_error_prefix(err, "cannot pull %s", reference);
        return 0;
}

int podman_image_build(podman_client *c, const podman_build_request *req, podman_pull_progress_fn progress,
                       void *userdata, moat_error *err) {
        _cleanup_free_ char *query = NULL, *url = NULL;
        pull_ctx ctx = { .progress = progress, .userdata = userdata, .err = err };
        _cleanup_(podman_call_done) podman_call call = {
                .method = "POST",
                .content_type = "application/x-tar",
                .data = req->context,
                .data_len = req->context_len,
                .consume = pull_consume,
                .userdata = &ctx,
        };
        int r;

        r = podman_build_query(req, &query, err);
        if (r < 0)
                return r;
        if (asprintf(&url, API "/build?%s", query) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        call.url = url;

        podman_pull_stream_init(&ctx.stream);
        ctx.stream.build = true;
        r = podman_call_expect(c, &call, 0, err);
        if (r >= 0)
                r = podman_pull_stream_end(&ctx.stream, NULL, err);
        podman_pull_stream_free(&ctx.stream);
        return r;
}

int podman_container_create(podman_client *c, const podman_spec *spec, char **ret_id,
                            moat_error *err) {
        _cleanup_free_ char *json = NULL;
        _cleanup_(podman_call_done) podman_call call = {
                .method = "POST",
                .url = API "/containers/create",
        };
        int r;

        r = podman_spec_to_json(spec, &json, err);
        if (r < 0)
                return r;
        call.json = json;
        r = podman_call_expect(c, &call, 0, err);
        if (r < 0)
                return moat_error_prefix(err, "cannot create the container");
        return podman_reply_parse_create(call.body, call.body_len, ret_id, err);
}

/* METHOD to /KIND/ID + SUFFIX, into CALL (whose reply the caller may read); fails unless
 * podman answers 2xx or EXTRA_OK. */
static int object_call(podman_client *c, const char *method, const char *kind, const char *id, const char *suffix,
                       long extra_ok, podman_call *call, moat_error *err) {
        int r;

        r = object_url(c, kind, id, suffix, &call->owned_url, err);
        if (r < 0)
                return r;
        call->method = method;
        call->url = call->owned_url;
        return podman_call_expect(c, call, extra_ok, err);
}

static int container_call(podman_client *c, const char *method, const char *id, const char *suffix, long extra_ok,
                          podman_call *call, moat_error *err) {
        return object_call(c, method, "containers", id, suffix, extra_ok, call, err);
}

/* A POST to /containers/ID/ACTION with no body, where podman answers 2xx or EXTRA_OK. */
static int container_action(podman_client *c, const char *id, const char *action, long extra_ok,
                            moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};

        return container_call(c, "POST", id, action, extra_ok, &call, err);
}

int podman_container_init(podman_client *c, const char *id, moat_error *err) {
        /* 304: already initialised (or running). */
        return container_action(c, id, "/init", 304, err);
}

int podman_container_start(podman_client *c, const char *id, moat_error *err) {
        /* 304: already running. */
        return container_action(c, id, "/start", 304, err);
}

int podman_container_wait(podman_client *c, const char *id, int *ret_exit_code, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};
        int r;

        /* podman polls the state; its default interval (250 ms) would delay every exit, and
         * every poll asks the OCI runtime, so 5 ms polls cost more than they save. */
        r = container_call(c, "POST", id, "/wait?condition=stopped&condition=exited&interval=20ms", 0, &call, err);
        if (r < 0)
                return r;
        return podman_reply_parse_wait(call.body, call.body_len, ret_exit_code, err);
}

/* How a stream's body reaches its consumer. */
typedef struct stream_ctx {
        podman_demux demux;
        podman_frame_fn fn;
        void *userdata;
        moat_error *err;
} stream_ctx;

static int stream_consume(const char *data, size_t len, void *userdata) {
        stream_ctx *l = userdata;

        return podman_demux_feed(&l->demux, data, len, l->fn, l->userdata, l->err);
}

/* A request whose 2xx body is a stream of frames, handed to FN as it arrives. */
static int stream_call(podman_client *c, const char *method, const char *url, podman_frame_fn fn, void *userdata,
                       moat_error *err) {
        stream_ctx ctx = { .fn = fn, .userdata = userdata, .err = err };
        _cleanup_(podman_call_done) podman_call call = {
                .method = method,
                .url = url,
                .consume = stream_consume,
                .userdata = &ctx,
        };
        int r;

        podman_demux_init(&ctx.demux, false);
        r = podman_call_expect(c, &call, 0, err);
        if (r < 0)
                return r;
        return podman_demux_end(&ctx.demux, err);
}

int podman_container_logs(podman_client *c, const char *id, const podman_logs_options *opts,
                          podman_frame_fn fn, void *userdata, moat_error *err) {
        static const podman_logs_options defaults = {};
        _cleanup_(curl_freep) char *since = NULL;
        _cleanup_free_ char *suffix = NULL, *url = NULL;
        int r;

        if (!opts)
                opts = &defaults;
        if (opts->since) {
                since = curl_easy_escape(c->curl, opts->since, 0);
                if (!since)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (asprintf(&suffix, "/logs?follow=%s&stdout=%s&stderr=%s%s%s", opts->follow ? "true" : "false",
                     opts->no_stdout ? "false" : "true", opts->no_stderr ? "false" : "true",
                     since ? "&since=" : "", since ? since : "") < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = object_url(c, "containers", id, suffix, &url, err);
        if (r < 0)
                return r;
        return stream_call(c, "GET", url, fn, userdata, err);
}

int podman_container_stop(podman_client *c, const char *id, unsigned timeout, moat_error *err) {
        char suffix[64];

        snprintf(suffix, sizeof(suffix), "/stop?timeout=%u", timeout);
        /* 304: already stopped. */
        return container_action(c, id, suffix, 304, err);
}

int podman_container_kill(podman_client *c, const char *id, const char *signal, moat_error *err) {
        _cleanup_(curl_freep) char *sig = NULL;
        _cleanup_free_ char *suffix = NULL;

        sig = curl_easy_escape(c->curl, signal ? signal : "SIGKILL", 0);
        if (!sig || asprintf(&suffix, "/kill?signal=%s", sig) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return container_action(c, id, suffix, 0, err);
}

int podman_container_resize(podman_client *c, const char *id, unsigned rows, unsigned cols,
                            moat_error *err) {
        char suffix[64];

        snprintf(suffix, sizeof(suffix), "/resize?h=%u&w=%u", rows, cols);
        return container_action(c, id, suffix, 0, err);
}

int podman_exec_create(podman_client *c, const char *id, const podman_exec_spec *spec, char **ret_exec_id,
                       moat_error *err) {
        _cleanup_free_ char *json = NULL;
        _cleanup_(podman_call_done) podman_call call = {};
        int r;

        r = podman_exec_spec_to_json(spec, &json, err);
        if (r < 0)
                return r;
        call.json = json;
        r = container_call(c, "POST", id, "/exec", 0, &call, err);
        if (r < 0)
                return moat_error_prefix(err, "cannot run a command in the container");
        return podman_reply_parse_create(call.body, call.body_len, ret_exec_id, err);
}

int podman_exec_inspect(podman_client *c, const char *exec_id, bool *ret_running, int *ret_exit_code,
                        moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};
        int r;

        r = object_call(c, "GET", "exec", exec_id, "/json", 0, &call, err);
        if (r < 0)
                return r;
        return podman_reply_parse_exec_inspect(call.body, call.body_len, ret_running, ret_exit_code, err);
}

int podman_exec_resize(podman_client *c, const char *exec_id, unsigned rows, unsigned cols, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};
        char suffix[64];

        snprintf(suffix, sizeof(suffix), "/resize?h=%u&w=%u", rows, cols);
        return object_call(c, "POST", "exec", exec_id, suffix, 0, &call, err);
}

int podman_container_remove(podman_client *c, const char *id, bool force, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};

        return container_call(c, "DELETE", id, force ? "?force=true&v=true" : "?v=true", 0, &call, err);
}

int podman_container_inspect(podman_client *c, const char *id, podman_container_state *ret,
                             moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};
        int r;

        r = container_call(c, "GET", id, "/json", 0, &call, err);
        if (r < 0)
                return r;
        return podman_reply_parse_inspect(call.body, call.body_len, ret, err);
}

/* GET PATH (a path and the start of its query) with filters= for objects that carry LABEL,
 * into CALL. */
static int get_labelled(podman_client *c, const char *path, const char *label, podman_call *call, moat_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *filters = cJSON_CreateObject();
        _cleanup_free_ char *json = NULL;
        _cleanup_(curl_freep) char *escaped = NULL;
        cJSON *labels = filters ? cJSON_AddArrayToObject(filters, "label") : NULL;

        if (!labels || !cJSON_AddItemToArray(labels, cJSON_CreateString(label)) ||
            !(json = cJSON_PrintUnformatted(filters)) || !(escaped = curl_easy_escape(c->curl, json, 0)) ||
            asprintf(&call->owned_url, API "%sfilters=%s", path, escaped) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        call->method = "GET";
        call->url = call->owned_url;
        return podman_call_expect(c, call, 0, err);
}

int podman_container_list(podman_client *c, const char *label, podman_container_summary **ret,
                          size_t *ret_n, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};
        int r;

        r = get_labelled(c, "/containers/json?all=true&", label, &call, err);
        if (r < 0)
                return r;
        return podman_reply_parse_list(call.body, call.body_len, ret, ret_n, err);
}

int podman_image_list(podman_client *c, const char *label, podman_image_summary **ret, size_t *ret_n,
                      moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};
        int r;

        r = get_labelled(c, "/images/json?", label, &call, err);
        if (r < 0)
                return r;
        return podman_reply_parse_images(call.body, call.body_len, label, ret, ret_n, err);
}

int podman_image_remove(podman_client *c, const char *name, moat_error *err) {
        _cleanup_(podman_call_done) podman_call call = {};

        return object_call(c, "DELETE", "images", name, "", 0, &call, err);
}
