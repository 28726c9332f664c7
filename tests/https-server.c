/* HTTPS origin server for the egress-proxy e2e tests and benchmarks.  Each request appends one
 * line to the --log file with every header exactly as received, so tests can check what a
 * proxy injected:  <SNI or -> <METHOD> <TARGET> <name>: <value> | <name>: <value> | ...
 * GET /bytes/N sends N bytes (throughput), GET /echo-headers sends the request head back,
 * GET /tls-resumed says "resumed" when the connection's TLS session was resumed, else "full",
 * GET /conn-seq says which request of its connection it is (1 on a new connection),
 * GET /upgrade with an Upgrade field answers 101 and then "upgraded\n" in the new protocol
 * before it closes, anything else gets "ok\n".  One detached thread per connection, HTTP/1.1 keep-alive.
 * Prints "https-server: ready" once every socket listens; exits 0 on SIGTERM or SIGINT.
 * Errors at startup: one message on stderr and exit 1. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_LISTEN 8
#define MAX_CERT2 8
#define HEAD_MAX (64 * 1024)

typedef struct {
        const char *host;
        SSL_CTX *ctx;
} alt_cert;

typedef struct {
        SSL *ssl;
        int fd;
        size_t len;                     /* bytes held in head: a request head, then pipelined data */
        char head[HEAD_MAX];
        char log[2 * HEAD_MAX + 512];   /* a header line grows by at most 2 bytes when logged */
        size_t log_len;
        unsigned served;                /* requests on this connection so far */
} connection;

static alt_cert alt_certs[MAX_CERT2];
static size_t n_alt_certs;
static int log_fd = -1;
static char filler[64 * 1024];

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("https-server: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        ERR_print_errors_fp(stderr);
        exit(1);
}

static int servername_select(SSL *ssl, int *alert, void *arg) {
        const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

        (void) alert, (void) arg;
        for (size_t i = 0; name && i < n_alt_certs; i++)
                if (strcasecmp(name, alt_certs[i].host) == 0) {
                        SSL_set_SSL_CTX(ssl, alt_certs[i].ctx);
                        break;
                }
        return SSL_TLSEXT_ERR_OK;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
        static const unsigned char http11[] = "\x08http/1.1";
        unsigned char *selected;

        (void) ssl, (void) arg;
        if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11 - 1, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_NOACK;
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_context_new(const char *cert, const char *key) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

        if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
                die("cannot create a TLS context");
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
                die("cannot load certificate %s", cert);
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
                die("cannot load key %s for %s", key, cert);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        return ctx;
}

/* A non-blocking socket listening on "IPV4:PORT", so that accept() never stalls the poll loop. */
static int listen_on(const char *spec) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        char host[INET_ADDRSTRLEN];
        unsigned int port;
        int fd, one = 1, end = 0;

        if (sscanf(spec, "%15[0-9.]:%5u%n", host, &port, &end) != 2 || spec[end] || port == 0 || port > 65535 ||
            inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                die("bad --listen %s: want IPV4:PORT", spec);
        sa.sin_port = htons((uint16_t) port);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 512) < 0)
                die("cannot listen on %s: %s", spec, strerror(errno));
        return fd;
}

typedef struct {
        const char *method, *target;    /* both point into connection.head, not NUL-terminated */
        size_t method_len, target_len, head_len;
        unsigned long long content_length;
        bool chunked, close, upgrade;
} request;

static void log_append(connection *c, const char *s, size_t n) {
        size_t room = sizeof c->log - 1 - c->log_len;   /* keep one byte for the newline */

        if (n > room)
                n = room;
        memcpy(c->log + c->log_len, s, n);
        c->log_len += n;
}

/* One write() per line: with O_APPEND, lines from concurrent connections do not interleave. */
static void log_write(connection *c) {
        if (write(log_fd, c->log, c->log_len) != (ssize_t) c->log_len)
                fprintf(stderr, "https-server: cannot write the log: %s\n", strerror(errno));
}

static bool equals(const char *s, size_t n, const char *word) {
        return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

/* Parses a decimal number that fills [s, end) exactly. */
static int parse_size(const char *s, const char *end, unsigned long long *ret) {
        char *num_end;

        errno = 0;
        unsigned long long v = strtoull(s, &num_end, 10);
        if (s == end || *s < '0' || *s > '9' || num_end != end || errno)
                return -1;
        *ret = v;
        return 0;
}

/* Reads until c->head holds a whole request head.  Returns its length, 0 at end of stream, -1 if
 * it does not fit. */
static ssize_t read_head(connection *c) {
        const char *end;

        while (!(end = memmem(c->head, c->len, "\r\n\r\n", 4))) {
                if (c->len == sizeof c->head)
                        return -1;
                int n = SSL_read(c->ssl, c->head + c->len, (int) (sizeof c->head - c->len));
                if (n <= 0)
                        return 0;
                c->len += (size_t) n;
        }
        return end + 4 - c->head;
}

/* Parses the head in c->head into req and builds its log line in c->log; -1 if malformed. */
static int parse_head(connection *c, request *req) {
        const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name), *end = c->head + req->head_len - 2;
        const char *eol = memmem(c->head, req->head_len, "\r\n", 2), *sp1, *sp2 = NULL, *line, *first = eol + 2;

        /* METHOD SP TARGET SP HTTP/1.x */
        sp1 = memchr(c->head, ' ', (size_t) (eol - c->head));
        if (sp1)
                sp2 = memchr(sp1 + 1, ' ', (size_t) (eol - sp1 - 1));
        if (!sp2 || sp1 == c->head || sp2 == sp1 + 1 || eol - sp2 != 9 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
                return -1;
        *req = (request) { .method = c->head, .method_len = (size_t) (sp1 - c->head), .target = sp1 + 1,
                           .target_len = (size_t) (sp2 - sp1 - 1), .head_len = req->head_len,
                           .close = sp2[8] == '0' };

        c->log_len = 0;
        log_append(c, sni ? sni : "-", sni ? strlen(sni) : 1);
        log_append(c, " ", 1);
        log_append(c, c->head, (size_t) (sp2 - c->head));   /* METHOD TARGET */
        for (line = first; line < end; line = eol + 2) {
                eol = memmem(line, (size_t) (end - line) + 2, "\r\n", 2);
                const char *colon = memchr(line, ':', (size_t) (eol - line)), *value, *value_end = eol;
                if (!colon || colon == line)
                        return -1;
                for (value = colon + 1; value < value_end && (*value == ' ' || *value == '\t'); value++)
                        ;
                while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
                        value_end--;
                size_t name_len = (size_t) (colon - line), value_len = (size_t) (value_end - value);
                log_append(c, line == first ? " " : " | ", line == first ? 1 : 3);
                log_append(c, line, name_len);
                log_append(c, ": ", 2);
                log_append(c, value, value_len);

                if (equals(line, name_len, "Content-Length") && parse_size(value, value_end, &req->content_length) < 0)
                        return -1;
                if (equals(line, name_len, "Transfer-Encoding"))
                        req->chunked = true;
                if (equals(line, name_len, "Upgrade"))
                        req->upgrade = true;
                if (equals(line, name_len, "Connection"))
                        req->close = req->close ? !equals(value, value_len, "keep-alive") : equals(value, value_len, "close");
        }
        c->log[c->log_len++] = '\n';
        return 0;
}

/* Reads and drops the body: first what is buffered after the head, then the rest from the wire.
 * Returns how many buffered bytes it took, or -1. */
static ssize_t discard_body(connection *c, const request *req) {
        size_t buffered = c->len - req->head_len;
        char sink[16 * 1024];

        if (buffered >= req->content_length)
                return (ssize_t) req->content_length;
        for (unsigned long long left = req->content_length - buffered; left > 0;) {
                int n = SSL_read(c->ssl, sink, left < sizeof sink ? (int) left : (int) sizeof sink);
                if (n <= 0)
                        return -1;
                left -= (unsigned long long) n;
        }
        return (ssize_t) buffered;
}

/* Writes a whole response; body NULL means body_len bytes of filler. */
static int respond(connection *c, const char *status, const char *body, unsigned long long body_len, bool close) {
        char head[256];
        int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %llu\r\n%s\r\n",
                         status, body_len, close ? "Connection: close\r\n" : "");

        if (SSL_write(c->ssl, head, n) <= 0)
                return -1;
        if (body)
                return body_len == 0 || SSL_write(c->ssl, body, (int) body_len) > 0 ? 0 : -1;
        for (unsigned long long left = body_len; left > 0;) {
                int chunk = left < sizeof filler ? (int) left : (int) sizeof filler;
                if (SSL_write(c->ssl, filler, chunk) <= 0)
                        return -1;
                left -= (unsigned long long) chunk;
        }
        return 0;
}

/* Answers with an error and asks the caller to close the connection. */
static int reject(connection *c, const char *status) {
        respond(c, status, status, strlen(status), true);
        return 0;
}

/* Serves one request; returns 1 to go on with the connection, 0 to close it. */
static int serve_request(connection *c) {
        ssize_t head_len = read_head(c), body_buffered;
        request req = { .head_len = (size_t) head_len };
        unsigned long long size;
        int r;

        if (head_len <= 0)
                return head_len == 0 ? 0 : reject(c, "431 Request Header Fields Too Large");
        if (parse_head(c, &req) < 0)
                return reject(c, "400 Bad Request");
        if (req.chunked)
                return log_write(c), reject(c, "411 Length Required");
        body_buffered = discard_body(c, &req);
        if (body_buffered < 0)
                return 0;
        log_write(c);

        bool get = equals(req.method, req.method_len, "GET");
        char seq[16];

        c->served++;
        if (get && equals(req.target, req.target_len, "/conn-seq")) {
                int n = snprintf(seq, sizeof(seq), "%u\n", c->served);

                r = respond(c, "200 OK", seq, (size_t) n, req.close);
        } else if (get && req.target_len > 7 && strncmp(req.target, "/bytes/", 7) == 0)
                r = parse_size(req.target + 7, req.target + req.target_len, &size) == 0
                            ? respond(c, "200 OK", NULL, size, req.close)
                            : respond(c, "400 Bad Request", "bad size\n", 9, req.close);
        else if (get && req.upgrade && equals(req.target, req.target_len, "/upgrade")) {
                static const char switched[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                               "Upgrade: websocket\r\n\r\nupgraded\n";

                (void) SSL_write(c->ssl, switched, (int) sizeof switched - 1);
                return 0;
        } else if (get && equals(req.target, req.target_len, "/echo-headers"))
                r = respond(c, "200 OK", c->head, req.head_len, req.close);
        else if (get && equals(req.target, req.target_len, "/tls-resumed"))
                r = SSL_session_reused(c->ssl) ? respond(c, "200 OK", "resumed\n", 8, req.close)
                                               : respond(c, "200 OK", "full\n", 5, req.close);
        else
                r = respond(c, "200 OK", "ok\n", 3, req.close);
        if (r < 0 || req.close)
                return 0;
        c->len -= req.head_len + (size_t) body_buffered;   /* keep pipelined requests */
        memmove(c->head, c->head + req.head_len + (size_t) body_buffered, c->len);
        return 1;
}

static void *connection_run(void *arg) {
        connection *c = arg;

        if (SSL_accept(c->ssl) == 1) {
                while (serve_request(c) > 0)
                        ;
                SSL_shutdown(c->ssl);
        }
        SSL_free(c->ssl);
        close(c->fd);
        free(c);
        return NULL;
}

static void connection_start(int listen_fd, SSL_CTX *ctx) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC), one = 1;   /* a blocking socket */
        pthread_t thread;
        connection *c;

        if (fd < 0)
                return;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        if (!c || !(c->ssl = SSL_new(ctx)) || SSL_set_fd(c->ssl, fd) != 1)
                goto fail;
        c->fd = fd;
        if (pthread_create(&thread, NULL, connection_run, c) == 0) {
                pthread_detach(thread);
                return;
        }
fail:
        if (c)
                SSL_free(c->ssl);
        free(c);
        close(fd);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' }, { "cert", required_argument, NULL, 'c' },
                { "key", required_argument, NULL, 'k' },    { "cert2", required_argument, NULL, '2' },
                { "log", required_argument, NULL, 'L' },    {},
        };
        static const char usage[] = "usage: https-server [--listen IPV4:PORT]... --cert FILE --key FILE "
                                    "[--cert2 HOSTNAME:CERTFILE:KEYFILE]... --log FILE\n"
                                    "  --listen defaults to 127.0.0.1:8443";
        const char *listens[MAX_LISTEN], *cert = NULL, *key = NULL, *log_path = NULL;
        struct pollfd pfds[MAX_LISTEN + 1];
        size_t n_listens = 0;
        sigset_t stop;
        SSL_CTX *ctx;
        int opt;

        OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL);   /* exit() must not tear OpenSSL down under live threads */
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'l':
                        if (n_listens == MAX_LISTEN)
                                die("at most %d --listen", MAX_LISTEN);
                        listens[n_listens++] = optarg;
                        break;
                case 'c': cert = optarg; break;
                case 'k': key = optarg; break;
                case 'L': log_path = optarg; break;
                case '2': {
                        char *cert_file = strchr(optarg, ':'), *key_file = cert_file ? strchr(cert_file + 1, ':') : NULL;
                        if (!key_file || n_alt_certs == MAX_CERT2)
                                die("bad --cert2 %s: want HOSTNAME:CERTFILE:KEYFILE, at most %d", optarg, MAX_CERT2);
                        *cert_file++ = '\0';
                        *key_file++ = '\0';
                        alt_certs[n_alt_certs++] = (alt_cert) { optarg, tls_context_new(cert_file, key_file) };
                        break;
                }
                default: die("%s", usage);
                }
        if (!cert || !key || !log_path || optind < argc)
                die("%s", usage);
        if (n_listens == 0)
                listens[n_listens++] = "127.0.0.1:8443";

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* before any thread: only the signalfd sees them */
        pfds[n_listens] = (struct pollfd) { .fd = signalfd(-1, &stop, SFD_CLOEXEC), .events = POLLIN };
        if (pfds[n_listens].fd < 0)
                die("signalfd: %s", strerror(errno));

        memset(filler, 'x', sizeof filler);
        log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (log_fd < 0)
                die("cannot open %s: %s", log_path, strerror(errno));
        ctx = tls_context_new(cert, key);
        SSL_CTX_set_tlsext_servername_callback(ctx, servername_select);
        for (size_t i = 0; i < n_listens; i++)
                pfds[i] = (struct pollfd) { .fd = listen_on(listens[i]), .events = POLLIN };
        printf("https-server: ready\n");
        fflush(stdout);

        for (;;) {
                if (poll(pfds, n_listens + 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %s", strerror(errno));
                }
                if (pfds[n_listens].revents)
                        break;
                for (size_t i = 0; i < n_listens; i++)
                        if (pfds[i].revents & POLLIN)
                                connection_start(pfds[i].fd, ctx);
        }
        for (size_t i = 0; i <= n_listens; i++)
                close(pfds[i].fd);
        for (size_t i = 0; i < n_alt_certs; i++)
                SSL_CTX_free(alt_certs[i].ctx);
        SSL_CTX_free(ctx);   /* connections still open hold their own references */
        close(log_fd);
        return 0;
}
