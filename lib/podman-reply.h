/* Parsers of libpod's JSON replies. Every one takes untrusted bytes: malformed input is an
 * error (-EBADMSG, err says what was wrong), never a crash or a guess. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The message of a non-2xx reply: podman's {"cause","message","response"} "message", else
 * its "cause", else the body's text (trimmed, at most 512 bytes, non-printable bytes as
 * '?'), else "HTTP STATUS". Never NULL unless out of memory. */
char *podman_reply_error_message(long http_status, const char *body, size_t len);

/* The exit status podman run gives when the OCI runtime could not run a container's command,
 * read from podman's error message: 127 when the command was not found, 126 when it could not
 * be invoked; 0 for any other error. */
int podman_exec_failure_status(const char *message);

typedef struct podman_container_state {
        char *id;
        char *status;       /* "configured", "created", "running", "exited", "stopped", ... */
        bool running;
        int exit_code;
        bool oom_killed;
        int pid;
        char *started_at;   /* RFC 3339, as podman gives it */
        char *finished_at;
} podman_container_state;

void podman_container_state_free(podman_container_state *s);

/* GET /libpod/containers/{id}/json */
int podman_reply_parse_inspect(const char *body, size_t len, podman_container_state *ret,
                               moat_error *err);

/* POST /libpod/containers/{id}/wait: a bare JSON integer, the exit code. */
int podman_reply_parse_wait(const char *body, size_t len, int *ret_exit_code, moat_error *err);

typedef struct podman_container_summary {
        char *id;
        char *name;      /* the first of "Names" */
        char *state;
        char *run_id;    /* the "moat.run-id" label, or NULL */
} podman_container_summary;

void podman_container_summaries_free(podman_container_summary *list, size_t n);

/* GET /libpod/containers/json: an array of containers. */
int podman_reply_parse_list(const char *body, size_t len, podman_container_summary **ret,
                            size_t *ret_n, moat_error *err);

typedef struct podman_image_summary {
        char *id;
        char **tags;     /* "RepoTags", NULL-terminated (empty for an untagged image) */
        char *label;     /* the value of the label asked for, or NULL */
} podman_image_summary;

void podman_image_summaries_free(podman_image_summary *list, size_t n);

/* GET /libpod/images/json: an array of images; LABEL names the label whose value to take. */
int podman_reply_parse_images(const char *body, size_t len, const char *label, podman_image_summary **ret,
                              size_t *ret_n, moat_error *err);

/* GET /libpod/exec/{id}/json: whether the command still runs, and its exit code. */
int podman_reply_parse_exec_inspect(const char *body, size_t len, bool *ret_running, int *ret_exit_code,
                                    moat_error *err);

/* POST /libpod/containers/create: {"Id": "...", "Warnings": [...]}. */
int podman_reply_parse_create(const char *body, size_t len, char **ret_id, moat_error *err);

/* The storage driver (store.graphDriverName) of GET /libpod/info's reply. */
int podman_reply_parse_info(const char *body, size_t len, char **ret_driver, moat_error *err);
