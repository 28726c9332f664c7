#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "podman-attach.h"

/* The end of the status line and headers podman sends before the stream. */
#define HEADER_MAX 8192

struct podman_attach {
        CURL *curl;
        curl_socket_t fd;
        podman_demux demux;
        /* stream bytes that came in with the headers */
        char *pending;
        size_t pending_len;
};

static int wait_fd(curl_socket_t fd, short events) {
        struct pollfd p = { .fd = fd, .events = events };

        return poll(&p, 1, PODMAN_ANSWER_TIMEOUT_SEC * 1000) > 0 ? 0 : -ETIMEDOUT;
}

static int send_all(podman_attach *a, const char *data, size_t len, moat_error *err) {
        while (len > 0) {
                size_t n = 0;
                CURLcode cr = curl_easy_send(a->curl, data, len, &n);

                if (cr == CURLE_AGAIN) {
                        if (wait_fd(a->fd, POLLOUT) < 0)
                                return moat_error_set(err, -ETIMEDOUT, "podman did not take the input within %d s",
                                                              PODMAN_ANSWER_TIMEOUT_SEC);
                        continue;
                }
                if (cr != CURLE_OK)
                        return moat_error_set(err, -ECONNRESET, "connection to podman lost (%s)", curl_easy_strerror(cr));
                data += n;
                len -= n;
        }
        return 0;
}

/* Reads up to the blank line that ends podman's headers; keeps what follows it. */
static int read_headers(podman_attach *a, moat_error *err) {
        char buf[HEADER_MAX + 1];
        size_t len = 0;
        char *end;
        int status;

        for (;;) {
                size_t n = 0;
                CURLcode cr = curl_easy_recv(a->curl, buf + len, HEADER_MAX - len, &n);

                if (cr == CURLE_AGAIN) {
                        if (wait_fd(a->fd, POLLIN) < 0)
                                return moat_error_set(err, -ETIMEDOUT, "podman did not answer the attach within %d s; "
                                                              "see 'systemctl status podman.socket'",
                                                              PODMAN_ANSWER_TIMEOUT_SEC);
                        continue;
                }
                if (cr != CURLE_OK || n == 0)
                        return moat_error_set(err, -ECONNRESET, "podman closed the connection before it answered the attach");
                len += n;
                buf[len] = '\0';
                end = strstr(buf, "\r\n\r\n");
                if (end)
                        break;
                if (len == HEADER_MAX)
                        return moat_error_set(err, -EBADMSG, "podman's answer to the attach has no end of headers");
        }
        if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1)
                return moat_error_set(err, -EBADMSG, "podman's answer to the attach is not HTTP");
        if (status != 101 && status != 200) {
                _cleanup_free_ char *msg = podman_reply_error_message(status, end + 4, len - (size_t) (end + 4 - buf));

                /* 409: podman's attach found the container new and set about its set-up, which
                 * someone else's init had begun meanwhile (its handler reads the state unlocked) */
                return moat_error_set(err, status == 404 ? -ENOENT : status == 409 ? -EBUSY : -EIO, "cannot attach: %s",
                                      msg ? msg : "error");
        }
        a->pending_len = len - (size_t) (end + 4 - buf);
        if (a->pending_len > 0) {
                a->pending = malloc(a->pending_len);
                if (!a->pending)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                memcpy(a->pending, end + 4, a->pending_len);
        }
        return 0;
}

/* Opens a connection to podman, sends POST PREFIX ID SUFFIX (with BODY, a JSON object, if
 * any) as an upgrade to a raw stream, and reads podman's answer: the stream follows it on
 * the same connection. */
static int stream_open(const char *socket_path, bool tty, const char *prefix, const char *id, const char *suffix,
                       const char *body, podman_attach **ret, moat_error *err) {
        _cleanup_(podman_attach_closep) podman_attach *a = NULL;
        _cleanup_free_ char *request = NULL;
        char *escaped;
        curl_socket_t fd;
        CURLcode cr;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a || !(a->curl = curl_easy_init()))
                return moat_error_set(err, -ENOMEM, "out of memory");
        podman_demux_init(&a->demux, tty);

        curl_easy_setopt(a->curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        curl_easy_setopt(a->curl, CURLOPT_URL, "http://d/");
        curl_easy_setopt(a->curl, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
        cr = curl_easy_perform(a->curl);
        if (cr != CURLE_OK)
                return moat_error_set(err, -ECONNREFUSED, "cannot connect to podman at %s: %s", socket_path,
                                      curl_easy_strerror(cr));
        if (curl_easy_getinfo(a->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
                return moat_error_set(err, -EIO, "cannot get podman's connection");
        a->fd = fd;

        escaped = curl_easy_escape(a->curl, id, 0);
        if (!escaped)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = asprintf(&request,
                     "POST /v4.0.0/libpod%s%s%s HTTP/1.1\r\n"
                     "Host: d\r\n"
                     "Upgrade: tcp\r\n"
                     "Connection: Upgrade\r\n"
                     "%s"
                     "Content-Length: %zu\r\n"
                     "\r\n%s",
                     prefix, escaped, suffix, body ? "Content-Type: application/json\r\n" : "", body ? strlen(body) : 0,
                     body ?: "");
        curl_free(escaped);
        if (r < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = send_all(a, request, strlen(request), err);
        if (r < 0)
                return r;
        r = read_headers(a, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int podman_attach_open(const char *socket_path, const char *id, bool tty, bool input, podman_attach **ret,
                       moat_error *err) {
        return stream_open(socket_path, tty, "/containers/", id,
                           input ? "/attach?stream=true&stdin=true&stdout=true&stderr=true&logs=false"
                                 : "/attach?stream=true&stdin=false&stdout=true&stderr=true&logs=false",
                           NULL, ret, err);
}

int podman_exec_start_open(const char *socket_path, const char *exec_id, bool tty, podman_attach **ret,
                           moat_error *err) {
        return stream_open(socket_path, tty, "/exec/", exec_id, "/start",
                           tty ? "{\"Detach\":false,\"Tty\":true}" : "{\"Detach\":false,\"Tty\":false}", ret, err);
}

void podman_attach_close(podman_attach *a) {
        if (!a)
                return;
        if (a->curl)
                curl_easy_cleanup(a->curl);
        free(a->pending);
        free(a);
}

int podman_attach_fd(const podman_attach *a) {
        return (int) a->fd;
}

int podman_attach_take_fd(podman_attach *a, moat_error *err) {
        int fd;

        /* the receiver starts at a frame boundary: nothing of the stream may be ours alone */
        if (a->pending_len > 0)
                return moat_error_set(err, -EBUSY, "the container's output began before the attach was handed on");
        fd = fcntl((int) a->fd, F_DUPFD, 3);
        if (fd < 0)
                return moat_error_set(err, -errno, "cannot hand on the attach: %m");
        return fd;
}

static int deliver(podman_attach *a, const char *data, size_t len, podman_frame_fn fn, void *userdata,
                   moat_error *err) {
        return podman_demux_feed(&a->demux, data, len, fn, userdata, err);
}

int podman_attach_read(podman_attach *a, podman_frame_fn fn, void *userdata, moat_error *err) {
        char buf[65536];
        size_t n = 0;
        CURLcode cr;
        int r;

        if (a->pending) {
                _cleanup_free_ char *p = TAKE_PTR(a->pending);

                r = deliver(a, p, a->pending_len, fn, userdata, err);
                if (r < 0)
                        return r;
        }
        cr = curl_easy_recv(a->curl, buf, sizeof(buf), &n);
        if (cr == CURLE_AGAIN)
                return 1;
        if (cr != CURLE_OK || n == 0)
                return 0; /* the container has exited, or podman went away */
        r = deliver(a, buf, n, fn, userdata, err);
        return r < 0 ? r : 1;
}

int podman_attach_write(podman_attach *a, const void *data, size_t len, moat_error *err) {
        return send_all(a, data, len, err);
}

int podman_attach_close_stdin(podman_attach *a, moat_error *err) {
        if (shutdown(a->fd, SHUT_WR) < 0)
                return moat_error_set(err, -errno, "cannot close the container's input: %m");
        return 0;
}
