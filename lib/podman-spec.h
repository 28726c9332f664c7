/* A container to create, and its libpod "SpecGenerator" JSON for POST /containers/create. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct podman_mount {
        const char *source;      /* host path, absolute */
        const char *destination; /* container path, absolute */
        bool read_only;
} podman_mount;

typedef struct podman_spec {
        const char *name;        /* container name, or NULL for podman's own */
        const char *image;       /* required */
        char *const *command;    /* NULL-terminated argv, or NULL for the image's */
        char *const *env;        /* NULL-terminated KEY=VALUE */
        const podman_mount *mounts;
        size_t n_mounts;
        const char *work_dir;
        char *const *labels;     /* NULL-terminated KEY=VALUE */
        bool terminal;
        bool stdin_open;
        const char *user;        /* "UID[:GID]" or a name, or NULL */
        int64_t memory_bytes;    /* 0: no limit */
        double cpus;             /* 0: no limit */
        const char *network;     /* "none", "host", "bridge", "slirp4netns", or NULL: default */
        bool keep_id;            /* rootless: map the caller's uid to the same uid inside, */
        unsigned keep_id_uid;    /* or to this uid and gid, when not 0 */
        unsigned keep_id_gid;
        const char *log_driver;  /* "k8s-file", "journald", "none", or NULL: podman's default */
} podman_spec;

/* A command to run in a running container: POST /libpod/containers/{id}/exec. */
typedef struct podman_exec_spec {
        char *const *command;    /* NULL-terminated argv, required */
        char *const *env;        /* NULL-terminated KEY=VALUE, added to the container's */
        bool terminal;
        bool stdin_open;
} podman_exec_spec;

/* Its JSON; -EINVAL (err names the field) for no command, or an env entry without '='. */
int podman_exec_spec_to_json(const podman_exec_spec *spec, char **ret_json, moat_error *err);

/* Builds the JSON. -EINVAL (err names the field) when the spec is invalid: no image, an
 * env or label entry without '=' or with an empty key, a mount path that is not absolute,
 * negative limits, an unknown network mode. */
int podman_spec_to_json(const podman_spec *spec, char **ret_json, moat_error *err);

typedef struct podman_build_request {
        const char *tag;           /* what the image is called once built */
        const char *context;       /* a tar archive */
        size_t context_len;
        const char *containerfile; /* its name in the context */
        char *const *labels;       /* KEY=VALUE, set on the image */
        bool pull;                 /* pull the base image even when present */
        bool no_cache;             /* build every step anew */
} podman_build_request;

/* The query of POST /build for REQ: the Containerfile, the tag, the labels (a JSON object),
 * intermediate containers removed even after a failed step, and pull and nocache when asked
 * (without pull, podman pulls the base image only when it lacks it). */
int podman_build_query(const podman_build_request *req, char **ret, moat_error *err);
