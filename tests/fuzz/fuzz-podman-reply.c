/* Every reply parser on the same bytes: no crash, no leak, and the contracts of the header
 * hold — output written only on success, an error always explained, IDs well-formed. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podman-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(int r, const moat_error *err) {
        if (r != -EBADMSG || err->code != r || !err->msg)
                abort();
}

static void check_id(const char *id) {
        size_t n;

        if (!id)
                abort();
        n = strspn(id, "0123456789abcdef");
        if (n == 0 || n > 64 || id[n] != '\0')
                abort();
}

static void check_error_message(const uint8_t *data, size_t size) {
        char *msg = podman_reply_error_message(500, (const char *) data, size);
        size_t n;

        if (!msg)
                abort();
        n = strlen(msg);
        if (n == 0 || (n > size && strcmp(msg, "HTTP 500") != 0))
                abort();
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) msg[i] < 0x20 || msg[i] == 0x7f)
                        abort();
        free(msg);
}

static void check_inspect(const char *body, size_t size) {
        podman_container_state s, untouched;
        moat_error err = {};
        int r;

        /* Byte patterns, not values: the bools in it are only ever compared as bytes. */
        memset(&s, 0xaa, sizeof s);
        memcpy(&untouched, &s, sizeof s);
        r = podman_reply_parse_inspect(body, size, &s, &err);
        if (r < 0) {
                check_failure(r, &err);
                if (memcmp(&s, &untouched, sizeof s) != 0)
                        abort();
        } else {
                check_id(s.id);
                if (r != 0 || err.code != 0 || !s.status || !s.started_at || !s.finished_at || s.pid < 0)
                        abort();
                podman_container_state_free(&s);
                if (s.id || s.status)
                        abort();
        }
        moat_error_clear(&err);
}

static void check_wait(const char *body, size_t size) {
        moat_error err = {};
        int code = 12345678, r;

        r = podman_reply_parse_wait(body, size, &code, &err);
        if (r < 0) {
                check_failure(r, &err);
                if (code != 12345678)
                        abort();
        } else if (r != 0 || err.code != 0)
                abort();
        moat_error_clear(&err);
}

static void check_list(const char *body, size_t size) {
        podman_container_summary *list = (void *) 0x1, *untouched = list;
        size_t n = 777;
        moat_error err = {};
        int r;

        r = podman_reply_parse_list(body, size, &list, &n, &err);
        if (r < 0) {
                check_failure(r, &err);
                if (list != untouched || n != 777)
                        abort();
        } else {
                if (r != 0 || err.code != 0 || (n == 0) != (list == NULL))
                        abort();
                for (size_t i = 0; i < n; i++) {
                        check_id(list[i].id);
                        if (!list[i].state)
                                abort();
                }
                podman_container_summaries_free(list, n);
        }
        moat_error_clear(&err);
}

static void check_images(const char *body, size_t size) {
        podman_image_summary *list = (void *) 0x1, *untouched = list;
        size_t n = 777;
        moat_error err = {};
        int r;

        r = podman_reply_parse_images(body, size, "io.moat.provider", &list, &n, &err);
        if (r < 0) {
                check_failure(r, &err);
                if (list != untouched || n != 777)
                        abort();
        } else {
                if (r != 0 || err.code != 0 || (n == 0) != (list == NULL))
                        abort();
                for (size_t i = 0; i < n; i++) {
                        check_id(list[i].id);
                        if (!list[i].tags)
                                abort();
                }
                podman_image_summaries_free(list, n);
        }
        moat_error_clear(&err);
}

static void check_create(const char *body, size_t size) {
        char *id = (char *) 0x1;
        moat_error err = {};
        int r;

        r = podman_reply_parse_create(body, size, &id, &err);
        if (r < 0) {
                check_failure(r, &err);
                if (id != (char *) 0x1)
                        abort();
        } else {
                check_id(id);
                free(id);
        }
        moat_error_clear(&err);
}

static void check_exec_inspect(const char *body, size_t size) {
        bool running = true;
        int code = 12345678, r;
        moat_error err = {};

        r = podman_reply_parse_exec_inspect(body, size, &running, &code, &err);
        if (r < 0) {
                check_failure(r, &err);
                if (!running || code != 12345678)
                        abort();
        } else if (r != 0 || err.code != 0)
                abort();
        moat_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *) data;

        check_error_message(data, size);
        check_inspect(body, size);
        check_wait(body, size);
        check_list(body, size);
        check_create(body, size);
        check_exec_inspect(body, size);
        check_images(body, size);
        return 0;
}
