/* Sits between moat and podman's REST socket in the e2e tests and pauses their talk at a chosen
 * point, so a test can act (stop moat, kill podman, ...) while a call is in flight:
 *
 *   podman-gate LISTEN-SOCKET UPSTREAM-SOCKET PATTERN request|response DIR
 *
 * Bytes pass through unchanged.  The first time the client->upstream bytes of any connection
 * contain PATTERN, the gate holds that chunk (request) or the next bytes upstream sends back on
 * that connection (response): it creates DIR/held, waits until DIR/release exists, then carries
 * on.  Only the first match is held.  Prints "podman-gate: ready" once listening; errors go to
 * stderr.  libc only, so the test sandbox needs nothing else. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_SIZE (64 * 1024) /* per direction and connection: the most we ever buffer */

static const char *listen_path, *upstream_path, *pattern, *gate_dir;
static size_t pattern_len;
static bool hold_request;        /* false: hold the response to the matching request */
static atomic_bool pattern_seen; /* set by the one connection that matched first */

typedef struct connection {
        int client_fd, upstream_fd;
        atomic_bool hold_next_response;
} connection;

/* One direction of a connection; each runs in its own thread so holding one direction (or a
 * long-lived stream in it) never stalls the other. */
typedef struct direction {
        connection *conn;
        int from_fd, to_fd;
        bool is_request; /* client -> upstream, the only direction searched for PATTERN */
} direction;

static int write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Tells the test we hold, then waits for it to let go.  Files keep the test side to `test -e`
 * and `touch`, with no protocol to speak. */
static void gate_wait(void) {
        char held[PATH_MAX], release[PATH_MAX];
        const struct timespec interval = { .tv_nsec = 5 * 1000 * 1000 };
        int fd;

        snprintf(held, sizeof held, "%s/held", gate_dir);
        snprintf(release, sizeof release, "%s/release", gate_dir);
        fd = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                fprintf(stderr, "podman-gate: cannot create %s: %m\n", held);
        else
                close(fd);
        while (access(release, F_OK) < 0)
                nanosleep(&interval, NULL);
}

/* True once for the whole process: the first chunk whose bytes (with the tail of the previous
 * read, as PATTERN may straddle two reads) contain PATTERN. */
static bool claim_match(const char *window, size_t len) {
        if (atomic_load(&pattern_seen) || !memmem(window, len, pattern, pattern_len))
                return false;
        return !atomic_exchange(&pattern_seen, true);
}

static void *pump(void *userdata) {
        direction *d = userdata;
        size_t keep = pattern_len - 1, tail_len = 0;
        bool broken = false;
        char *buf = malloc(keep + CHUNK_SIZE); /* [tail of previous read][this chunk] */

        if (!buf) {
                fprintf(stderr, "podman-gate: out of memory\n");
                broken = true;
        }
        while (!broken) {
                char *chunk = buf + tail_len;
                ssize_t n = read(d->from_fd, chunk, CHUNK_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        broken = n < 0; /* a reset aborts the connection, EOF half-closes it */
                        break;
                }
                if (d->is_request && claim_match(buf, tail_len + (size_t) n)) {
                        if (hold_request)
                                gate_wait();
                        else /* before forwarding, so the reply cannot slip past the gate */
                                atomic_store(&d->conn->hold_next_response, true);
                }
                if (!d->is_request && atomic_exchange(&d->conn->hold_next_response, false))
                        gate_wait();
                if (write_all(d->to_fd, chunk, (size_t) n) < 0) {
                        broken = true;
                        break;
                }
                if (d->is_request) {
                        size_t total = tail_len + (size_t) n;
                        tail_len = total < keep ? total : keep;
                        memmove(buf, buf + total - tail_len, tail_len);
                }
        }
        if (broken) {
                /* One side is gone: end both directions so the other thread wakes up too. */
                shutdown(d->from_fd, SHUT_RDWR);
                shutdown(d->to_fd, SHUT_RDWR);
        } else
                shutdown(d->to_fd, SHUT_WR); /* pass the EOF on; the other way may still flow */
        free(buf);
        return NULL;
}

static int unix_address(const char *path, struct sockaddr_un *ret) {
        if (strlen(path) >= sizeof ret->sun_path)
                return -ENAMETOOLONG;
        *ret = (struct sockaddr_un) { .sun_family = AF_UNIX };
        strcpy(ret->sun_path, path);
        return 0;
}

static int unix_connect(const char *path) {
        struct sockaddr_un addr;
        int fd, r = unix_address(path, &addr);

        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void *connection_run(void *userdata) {
        connection *c = userdata;
        pthread_t response_thread;

        c->upstream_fd = unix_connect(upstream_path);
        if (c->upstream_fd < 0) {
                fprintf(stderr, "podman-gate: cannot connect to %s: %s\n", upstream_path,
                        strerror(-c->upstream_fd));
        } else {
                direction request = { c, c->client_fd, c->upstream_fd, true };
                direction response = { c, c->upstream_fd, c->client_fd, false };
                int r = pthread_create(&response_thread, NULL, pump, &response);
                if (r != 0)
                        fprintf(stderr, "podman-gate: cannot start a thread: %s\n", strerror(r));
                else {
                        pump(&request);
                        pthread_join(response_thread, NULL);
                }
                close(c->upstream_fd);
        }
        close(c->client_fd);
        free(c);
        return NULL;
}

static int unix_listen(const char *path) {
        struct sockaddr_un addr;
        int fd, r = unix_address(path, &addr);

        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT) /* a stale socket from an earlier run */
                return -errno;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* 0666: the client under test may run as another user than the gate. */
        if (bind(fd, (struct sockaddr *) &addr, sizeof addr) < 0 || chmod(path, 0666) < 0 ||
            listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void on_stop_signal(int sig) {
        (void) sig; /* only here so the signal interrupts ppoll() instead of killing us */
}

int main(int argc, char **argv) {
        struct sigaction stop_action = { .sa_handler = on_stop_signal };
        sigset_t stop_signals, accept_mask;
        pthread_attr_t detached;
        int listen_fd, ret = 0;

        if (argc != 6 || !*argv[3] || (strcmp(argv[4], "request") && strcmp(argv[4], "response"))) {
                fprintf(stderr, "usage: podman-gate LISTEN-SOCKET UPSTREAM-SOCKET PATTERN "
                                "request|response DIR\n");
                return 2;
        }
        listen_path = argv[1], upstream_path = argv[2], pattern = argv[3], gate_dir = argv[5];
        pattern_len = strlen(pattern);
        hold_request = strcmp(argv[4], "request") == 0;

        signal(SIGPIPE, SIG_IGN); /* a peer that went away shows up as EPIPE from write() */
        /* SIGTERM/SIGINT stay blocked everywhere (threads inherit the mask) except inside
         * ppoll() below, so they always land in the accept loop, never mid-copy. */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop_signals, &accept_mask);
        sigdelset(&accept_mask, SIGTERM);
        sigdelset(&accept_mask, SIGINT);
        sigaction(SIGTERM, &stop_action, NULL);
        sigaction(SIGINT, &stop_action, NULL);

        listen_fd = unix_listen(listen_path);
        if (listen_fd < 0) {
                fprintf(stderr, "podman-gate: cannot listen on %s: %s\n", listen_path,
                        strerror(-listen_fd));
                return 1;
        }
        puts("podman-gate: ready");
        fflush(stdout);

        pthread_attr_init(&detached);
        pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
        for (;;) {
                struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
                connection *c;
                pthread_t thread;
                int fd, r;

                if (ppoll(&pfd, 1, NULL, &accept_mask) < 0) {
                        if (errno != EINTR) { /* EINTR: SIGTERM/SIGINT, the way out */
                                fprintf(stderr, "podman-gate: poll: %m\n");
                                ret = 1;
                        }
                        break;
                }
                fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "podman-gate: accept: %m\n");
                        ret = 1;
                        break;
                }
                c = calloc(1, sizeof *c);
                if (!c) {
                        fprintf(stderr, "podman-gate: out of memory\n");
                        close(fd);
                        continue;
                }
                c->client_fd = fd; /* calloc: not yet holding a response */
                c->upstream_fd = -1;
                r = pthread_create(&thread, &detached, connection_run, c);
                if (r != 0) {
                        fprintf(stderr, "podman-gate: cannot start a thread: %s\n", strerror(r));
                        close(fd);
                        free(c);
                }
        }
        pthread_attr_destroy(&detached);
        close(listen_fd);
        unlink(listen_path);
        return ret;
}
