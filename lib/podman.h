/* A client of podman's libpod REST API (v4.0.0 paths) over its unix socket.  One client
 * per socket, no global state; requests on one client reuse its connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "podman-frames.h"
#include "podman-pull.h"
#include "podman-reply.h"
#include "podman-spec.h"

typedef struct podman_client podman_client;

/* How long moat waits for podman to take a connection or to answer an attach: a host that
 * starts hundreds of containers at once serialises them in podman, for minutes (200 runs at
 * once: 80 s for podman run -d alone on the test host). */
#define PODMAN_ANSWER_TIMEOUT_SEC 300

/* Once per program, before any client: sets libcurl up without TLS (moat talks to a unix
 * socket only), which keeps OpenSSL's initialisation — megabytes of resident memory in
 * every monitor — out of the process. */
void podman_global_init(void);

/* The socket to use: CONTAINER_HOST=unix://PATH when set (other schemes are refused), else
 * $XDG_RUNTIME_DIR/podman/podman.sock when ROOTLESS, else /run/podman/podman.sock. */
int podman_socket_path(bool rootless, char **ret_path, moat_error *err);

/* What to do when nothing answers on SOCKET, for a caller of effective uid EUID:
 * CONTAINER_HOST (the variable's value, or NULL) is said to be where SOCKET came from when it
 * names it; the system's socket needs root; a rootless one is the user manager's to start. */
const char *podman_socket_hint(const char *socket, const char *container_host, uid_t euid);

int podman_client_new(const char *socket_path, podman_client **ret, moat_error *err);

/* A client of podman_socket_path(ROOTLESS)'s podman. */
int podman_client_open(bool rootless, podman_client **ret, moat_error *err);
void podman_client_free(podman_client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(podman_client *, podman_client_free);

const char *podman_client_socket(const podman_client *c);

/* GET /_ping. Refuses (-EPROTONOSUPPORT) a server whose Libpod-API-Version is below 4.0.
 * *ret_version (may be NULL) gets that version. */
int podman_ping(podman_client *c, char **ret_version, moat_error *err);

/* 1 when the image exists locally, 0 when not. */
/* The storage driver podman stores images and containers with ("overlay", "vfs", ...). */
int podman_storage_driver(podman_client *c, char **ret_driver, moat_error *err);

int podman_image_exists(podman_client *c, const char *image, moat_error *err);

/* Pulls REFERENCE, reading podman's progress as it arrives; fails on an error reported
 * after the HTTP 200. *ret_image_id may be NULL. */
int podman_image_pull(podman_client *c, const char *reference, podman_pull_progress_fn progress,
                      void *userdata, char **ret_image_id, moat_error *err);

/* Builds an image through POST /build: each message of podman's stream goes to PROGRESS as
 * it comes, newlines and all.  -EIO with podman's error when a step failed; the tag is set
 * only when every step succeeded. */
int podman_image_build(podman_client *c, const podman_build_request *req, podman_pull_progress_fn progress,
                       void *userdata, moat_error *err);

int podman_container_create(podman_client *c, const podman_spec *spec, char **ret_id,
                            moat_error *err);

/* Prepares the container to start (the OCI runtime's create, the network) without starting
 * it; 0 also when already done (HTTP 304). */
int podman_container_init(podman_client *c, const char *id, moat_error *err);

/* 0 when started, also when it was already running (HTTP 304). */
int podman_container_start(podman_client *c, const char *id, moat_error *err);

/* Blocks until the container has exited and returns its exit code in *ret_exit_code.  A lost
 * connection to podman is -ECONNRESET, never an exit. */
int podman_container_wait(podman_client *c, const char *id, int *ret_exit_code, moat_error *err);

typedef struct podman_logs_options {
        bool follow;
        bool no_stdout;
        bool no_stderr;
        const char *since; /* RFC 3339 or UNIX seconds, or NULL */
} podman_logs_options;

/* Streams the container's logs through FN, demultiplexed.  With follow, returns when the
 * container has exited and all its output was delivered. */
int podman_container_logs(podman_client *c, const char *id, const podman_logs_options *opts,
                          podman_frame_fn fn, void *userdata, moat_error *err);

/* Stops with TIMEOUT seconds of grace before SIGKILL; 0 also when already stopped. */
int podman_container_stop(podman_client *c, const char *id, unsigned timeout, moat_error *err);

/* Sends SIGNAL (a name such as "SIGTERM" or a number). */
int podman_container_kill(podman_client *c, const char *id, const char *signal, moat_error *err);

int podman_container_resize(podman_client *c, const char *id, unsigned rows, unsigned cols,
                            moat_error *err);

/* An exec session in running container ID; started with podman_exec_start_open()
 * (podman-attach.h).  -ENOENT when there is no such container, -EBUSY when it is not
 * running. */
int podman_exec_create(podman_client *c, const char *id, const podman_exec_spec *spec, char **ret_exec_id,
                       moat_error *err);
int podman_exec_inspect(podman_client *c, const char *exec_id, bool *ret_running, int *ret_exit_code,
                        moat_error *err);
int podman_exec_resize(podman_client *c, const char *exec_id, unsigned rows, unsigned cols, moat_error *err);

/* Removes the container and its anonymous volumes; FORCE stops it first.  -ENOENT when
 * there is no such container. */
int podman_container_remove(podman_client *c, const char *id, bool force, moat_error *err);

/* -ENOENT when there is no such container. */
int podman_container_inspect(podman_client *c, const char *id, podman_container_state *ret,
                             moat_error *err);

/* All containers (running or not) carrying LABEL ("KEY" or "KEY=VALUE"). */
int podman_container_list(podman_client *c, const char *label, podman_container_summary **ret,
                          size_t *ret_n, moat_error *err);

/* Images that carry LABEL, with its value. */
int podman_image_list(podman_client *c, const char *label, podman_image_summary **ret, size_t *ret_n,
                      moat_error *err);

/* Removes image NAME (a tag removes that tag; the image goes with its last one).  -EBUSY when
 * a container uses it, -ENOENT when there is none. */
int podman_image_remove(podman_client *c, const char *name, moat_error *err);
