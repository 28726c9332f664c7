/* Load for a run's egress proxy, for the e2e tests and bench/proxy.sh: run in the container's
 * network namespace (nsenter -n), it speaks to the proxy at $PROXY (default 127.0.0.1:3128)
 * with raw sockets, so that a thousand connections cost nothing to make.
 *   proxy-load burst N TARGET
 *       N connections at once, each a CONNECT TARGET; waits for every answer and holds the
 *       tunnels open meanwhile: "served=S busy=B reset=R other=O"
 *   proxy-load slow N TARGET INTERVAL_MS
 *       N clients that send a CONNECT head one byte each INTERVAL_MS; once every one has sent
 *       its first, one normal CONNECT TARGET: "normal=STATUS held=H" (H: slow clients not yet
 *       cut when it was answered), then, once all are cut: "cut=C status408=T completed=W
 *       first_ms=F last_ms=L" (W: heads sent whole, which no deadline cut)
 *   proxy-load stall SINK TARGET
 *       a CONNECT SINK (a server that never reads), then bytes without reading until none
 *       goes for a second: "stalled=BYTES"; then, with it held, a normal CONNECT TARGET:
 *       "normal=STATUS held=1|0"
 *   proxy-load hold N TARGET SECONDS
 *       N tunnels, held SECONDS once all are answered: "held=N" (for memory figures)
 *   proxy-load fetch TARGET BYTES
 *       a CONNECT TARGET (a source), then its bytes read with a pause after each MiB, so that
 *       the proxy's queues fill and drain: "fetched=N" at the source's end
 *   proxy-load sink IPV4:PORT
 *       a server that accepts and never reads: "sink: ready"
 *   proxy-load source IPV4:PORT BYTES
 *       a server that sends BYTES to each client, one at a time, then closes: "source: ready"
 * Exit 0 when it could run, whatever the figures; 2 on bad usage, 1 on a failure of its own. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, READING, ANSWERED, DONE };

typedef struct client {
        int fd;
        int state;
        int status;
        bool reset;
        size_t sent;
        char buf[256];
        size_t len;
        long cut_ms;
} client;

static struct sockaddr_in proxy_addr;

static long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void parse_addr(const char *spec, struct sockaddr_in *sa) {
        char host[64];
        const char *colon = strrchr(spec, ':');

        if (!colon || (size_t) (colon - spec) >= sizeof(host)) {
                fprintf(stderr, "proxy-load: bad address %s\n", spec);
                exit(2);
        }
        memcpy(host, spec, (size_t) (colon - spec));
        host[colon - spec] = '\0';
        *sa = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(colon + 1)) };
        if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
                fprintf(stderr, "proxy-load: bad address %s\n", spec);
                exit(2);
        }
}

static int dial(bool nonblocking) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);

        if (fd < 0) {
                perror("proxy-load: socket");
                exit(1);
        }
        if (connect(fd, (struct sockaddr *) &proxy_addr, sizeof(proxy_addr)) < 0 && errno != EINPROGRESS) {
                close(fd);
                return -errno;
        }
        return fd;
}

static char *connect_head(const char *target) {
        static char head[512];

        snprintf(head, sizeof(head), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
        return head;
}

/* Reads what C has; sets its status once the status line is in, reset on ECONNRESET.
 * Returns false at its end (EOF or error). */
static bool client_read(client *c) {
        char tmp[4096];
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return true;
        if (n < 0) {
                c->reset = errno == ECONNRESET;
                return false;
        }
        if (n == 0)
                return false;
        if (c->status == 0) {
                size_t take = (size_t) n < sizeof(c->buf) - 1 - c->len ? (size_t) n : sizeof(c->buf) - 1 - c->len;

                memcpy(c->buf + c->len, tmp, take);
                c->len += take;
                c->buf[c->len] = '\0';
                if (strstr(c->buf, "\r\n") && strncmp(c->buf, "HTTP/1.", 7) == 0 && c->len >= 12)
                        c->status = atoi(c->buf + 9);
        }
        return true;
}

static int burst(int n, const char *target) {
        client *cl = calloc((size_t) n, sizeof(*cl));
        struct pollfd *pfd = calloc((size_t) n, sizeof(*pfd));
        const char *head = connect_head(target);
        int served = 0, busy = 0, reset = 0, other = 0, left = n;
        long end = now_ms() + 60000;

        if (!cl || !pfd)
                return 1;
        for (int i = 0; i < n; i++) {
                cl[i].fd = dial(true);
                if (cl[i].fd < 0) {
                        cl[i].reset = cl[i].fd == -ECONNRESET || cl[i].fd == -ECONNREFUSED;
                        cl[i].state = DONE;
                        left--;
                }
        }
        while (left > 0 && now_ms() < end) {
                for (int i = 0; i < n; i++)
                        pfd[i] = (struct pollfd) { .fd = cl[i].state == DONE || cl[i].state == ANSWERED ? -1 : cl[i].fd,
                                                   .events = cl[i].state == CONNECTING ? POLLOUT : POLLIN };
                if (poll(pfd, (nfds_t) n, 1000) < 0)
                        return 1;
                for (int i = 0; i < n; i++) {
                        client *c = &cl[i];
                        int err = 0;
                        socklen_t len = sizeof(err);

                        if (!pfd[i].revents)
                                continue;
                        if (c->state == CONNECTING) {
                                (void) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                                if (err || send(c->fd, head, strlen(head), MSG_NOSIGNAL) != (ssize_t) strlen(head)) {
                                        c->reset = err == ECONNRESET || err == ECONNREFUSED || errno == ECONNRESET;
                                        c->state = DONE;
                                        left--;
                                } else
                                        c->state = READING;
                                continue;
                        }
                        if (!client_read(c)) {
                                c->state = DONE;
                                left--;
                        } else if (c->status == 200) {
                                c->state = ANSWERED; /* the tunnel stays open, taking its place */
                                left--;
                        }
                }
        }
        for (int i = 0; i < n; i++) {
                if (cl[i].reset)
                        reset++;
                else if (cl[i].status == 200)
                        served++;
                else if (cl[i].status == 503)
                        busy++;
                else
                        other++;
        }
        printf("served=%d busy=%d reset=%d other=%d\n", served, busy, reset, other);
        fflush(stdout);
        for (int i = 0; i < n; i++)
                if (cl[i].fd >= 0)
                        close(cl[i].fd);
        return 0;
}

static int slow(int n, const char *target, int interval_ms) {
        client *cl = calloc((size_t) n, sizeof(*cl));
        struct pollfd *pfd = calloc((size_t) n + 1, sizeof(*pfd));
        const char *head = connect_head(target);
        size_t head_len = strlen(head);
        int open = n, cut = 0, s408 = 0, completed = 0, held = -1;
        long start = now_ms(), next = start, end = start + 120000, first = -1, last = -1;
        client normal = { .fd = -1 };
        bool normal_sent = false;

        if (!cl || !pfd)
                return 1;
        for (int i = 0; i < n; i++) {
                cl[i].fd = dial(false);
                if (cl[i].fd < 0) {
                        fprintf(stderr, "proxy-load: connect: %s\n", strerror(-cl[i].fd));
                        return 1;
                }
                (void) fcntl(cl[i].fd, F_SETFL, O_NONBLOCK);
        }
        while ((open > 0 || held < 0) && now_ms() < end) {
                long t = now_ms();

                if (t >= next) {
                        for (int i = 0; i < n; i++) {
                                client *c = &cl[i];

                                if (c->state != CONNECTING || c->sent >= head_len)
                                        continue;
                                if (send(c->fd, head + c->sent, 1, MSG_NOSIGNAL) == 1 && ++c->sent == head_len)
                                        completed++;
                        }
                        next = t + interval_ms;
                        if (!normal_sent) {
                                /* every slow client has begun its head: now a normal one */
                                normal.fd = dial(false);
                                if (normal.fd < 0 || send(normal.fd, head, head_len, MSG_NOSIGNAL) != (ssize_t) head_len)
                                        return 1;
                                (void) fcntl(normal.fd, F_SETFL, O_NONBLOCK);
                                normal_sent = true;
                        }
                }
                for (int i = 0; i < n; i++)
                        pfd[i] = (struct pollfd) { .fd = cl[i].state == CONNECTING ? cl[i].fd : -1, .events = POLLIN };
                pfd[n] = (struct pollfd) { .fd = held < 0 ? normal.fd : -1, .events = POLLIN };
                if (poll(pfd, (nfds_t) n + 1, (int) (next - t > 0 ? next - t : 0)) < 0)
                        return 1;
                if (pfd[n].revents) {
                        bool alive = client_read(&normal);

                        if (normal.status || !alive) {
                                held = open;
                                printf("normal=%d held=%d\n", normal.status, held);
                                fflush(stdout);
                        }
                }
                for (int i = 0; i < n; i++) {
                        client *c = &cl[i];

                        if (!pfd[i].revents)
                                continue;
                        if (client_read(c) && !c->status)
                                continue;
                        /* an answer (the proxy's 408) or the end: this one was cut */
                        c->state = DONE;
                        c->cut_ms = now_ms() - start;
                        first = first < 0 || c->cut_ms < first ? c->cut_ms : first;
                        last = c->cut_ms > last ? c->cut_ms : last;
                        cut++;
                        s408 += c->status == 408;
                        open--;
                }
        }
        printf("cut=%d status408=%d completed=%d first_ms=%ld last_ms=%ld\n", cut, s408, completed, first, last);
        return 0;
}

static int read_status(int fd) {
        client c = { .fd = fd };
        struct pollfd p = { .fd = fd, .events = POLLIN };

        while (!c.status && poll(&p, 1, 10000) > 0)
                if (!client_read(&c))
                        break;
        return c.status;
}

static int stall(const char *sink, const char *target) {
        static char chunk[65536];
        int fd = dial(false), normal;
        long long total = 0;
        struct pollfd p;

        if (fd < 0 || send(fd, connect_head(sink), strlen(connect_head(sink)), MSG_NOSIGNAL) < 0 ||
            read_status(fd) != 200) {
                fprintf(stderr, "proxy-load: no tunnel to %s\n", sink);
                return 1;
        }
        (void) fcntl(fd, F_SETFL, O_NONBLOCK);
        memset(chunk, 'x', sizeof(chunk));
        for (;;) {
                ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

                if (n > 0) {
                        total += n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN) {
                        fprintf(stderr, "proxy-load: the stalled tunnel ended: %s\n", strerror(errno));
                        return 1;
                }
                p = (struct pollfd) { .fd = fd, .events = POLLOUT };
                if (poll(&p, 1, 1000) == 0)
                        break; /* nothing went for a second: stalled */
        }
        printf("stalled=%lld\n", total);
        fflush(stdout);
        normal = dial(false);
        if (normal < 0 || send(normal, connect_head(target), strlen(connect_head(target)), MSG_NOSIGNAL) < 0)
                return 1;
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        printf("normal=%d", read_status(normal));
        printf(" held=%d\n", poll(&p, 1, 0) == 0 ? 1 : 0);
        close(normal);
        close(fd);
        return 0;
}

static int hold(int n, const char *target, int seconds) {
        int *fds = calloc((size_t) n, sizeof(int)), held = 0;

        if (!fds)
                return 1;
        for (int i = 0; i < n; i++) {
                fds[i] = dial(false);
                if (fds[i] >= 0 && send(fds[i], connect_head(target), strlen(connect_head(target)), MSG_NOSIGNAL) > 0 &&
                    read_status(fds[i]) == 200)
                        held++;
        }
        printf("held=%d\n", held);
        fflush(stdout);
        sleep((unsigned) seconds);
        for (int i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        return 0;
}

static int fetch(const char *target, long long bytes) {
        static char buf[65536];
        int fd = dial(false);
        long long total = 0, mark = 1 << 20;
        struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
        ssize_t n;

        if (fd < 0 || send(fd, connect_head(target), strlen(connect_head(target)), MSG_NOSIGNAL) < 0)
                return 1;
        /* the status line and the empty line after it, byte by byte: what follows is the source's */
        for (char c, last[4] = { 0 }; memcmp(last, "\r\n\r\n", 4) != 0;) {
                if (recv(fd, &c, 1, 0) != 1)
                        return 1;
                memmove(last, last + 1, 3);
                last[3] = c;
        }
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
                total += n;
                if (total >= mark) {
                        nanosleep(&pause, NULL);
                        mark += 1 << 20;
                }
        }
        printf("fetched=%lld%s\n", total, total == bytes ? "" : " (short)");
        return 0;
}

static int listen_on(const char *addr) {
        struct sockaddr_in sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

        parse_addr(addr, &sa);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
                perror("proxy-load: listen");
                exit(1);
        }
        return fd;
}

static int source(const char *addr, long long bytes) {
        static char chunk[65536];
        int fd = listen_on(addr);

        memset(chunk, 's', sizeof(chunk));
        printf("source: ready\n");
        fflush(stdout);
        for (;;) {
                int c = accept(fd, NULL, NULL);

                if (c < 0 && errno != EINTR && errno != ECONNABORTED)
                        return 1;

                for (long long left = bytes; c >= 0 && left > 0;) {
                        ssize_t n = send(c, chunk, left < (long long) sizeof(chunk) ? (size_t) left : sizeof(chunk),
                                         MSG_NOSIGNAL);

                        if (n <= 0)
                                break;
                        left -= n;
                }
                if (c >= 0)
                        close(c);
        }
}

static int sink(const char *addr) {
        int fd = listen_on(addr);

        printf("sink: ready\n");
        fflush(stdout);
        for (;;)
                if (accept(fd, NULL, NULL) < 0 && errno != EINTR && errno != ECONNABORTED)
                        return 1; /* each one held, never read */
}

int main(int argc, char **argv) {
        struct rlimit rl;
        const char *proxy = getenv("PROXY");

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        parse_addr(proxy ? proxy : "127.0.0.1:3128", &proxy_addr);
        if (argc == 4 && strcmp(argv[1], "burst") == 0)
                return burst(atoi(argv[2]), argv[3]);
        if (argc == 5 && strcmp(argv[1], "slow") == 0)
                return slow(atoi(argv[2]), argv[3], atoi(argv[4]));
        if (argc == 4 && strcmp(argv[1], "stall") == 0)
                return stall(argv[2], argv[3]);
        if (argc == 5 && strcmp(argv[1], "hold") == 0)
                return hold(atoi(argv[2]), argv[3], atoi(argv[4]));
        if (argc == 4 && strcmp(argv[1], "fetch") == 0)
                return fetch(argv[2], atoll(argv[3]));
        if (argc == 3 && strcmp(argv[1], "sink") == 0)
                return sink(argv[2]);
        if (argc == 4 && strcmp(argv[1], "source") == 0)
                return source(argv[2], atoll(argv[3]));
        fputs("usage: proxy-load burst N TARGET | slow N TARGET INTERVAL_MS | stall SINK TARGET |"
              " hold N TARGET SECONDS | fetch TARGET BYTES | sink IPV4:PORT | source IPV4:PORT BYTES\n",
              stderr);
        return 2;
}
