/* moat-proxy: a run's egress proxy (lib/proxy.h), started by moat-monitor inside the run's
 * unit before the container starts, never by hand:
 *   moat-proxy RUN-ID CONTAINER-PID READY-FD LIFELINE-FD
 * It reads the run's record from $MOAT_HOME, the values of its grants from systemd's
 * credentials ($CREDENTIALS_DIRECTORY/grant-NAME), listens in the container's network
 * namespace, has the run's CA made for the container (in a child that loads the TLS module:
 * this process never maps OpenSSL, lib/proxy-tls.h), gives up every privilege
 * (lib/proxy-confine.h), says "ready" on READY-FD and serves until LIFELINE-FD ends: its write
 * end is held by the unit's main process.  Connections to grants' hosts it hands to a TLS
 * worker it forks when they come ("moat-proxy-tls RUN-ID", lib/proxy-worker.c).
 * MOAT_PROXY_TEST_TIMEOUTS ("head=MS,setup=MS,idle=MS,linger=MS", proxy_timeouts_parse())
 * shortens its deadlines for the end-to-end tests, which set it in the service manager's
 * environment; nothing of moat sets it. */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "file-util.h"
#include "netns-listen.h"
#include "proxy-confine.h"
#include "proxy-tls.h"
#include "proxy.h"
#include "strv.h"

/* The value of every grant of REC, from the credentials systemd loaded for the unit. */
static int read_secrets(const run_record *rec, proxy_secret **ret, moat_error *err) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        proxy_secret *s = calloc(rec->n_grants + 1, sizeof(*s));

        if (!s)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = s;
        for (size_t i = 0; i < rec->n_grants; i++) {
                _cleanup_free_ char *path = NULL;
                size_t len;
                int r;

                if (!dir || asprintf(&path, "%s/grant-%s", dir, rec->grants[i].name) < 0)
                        return moat_error_set(err, -ENOENT, "the unit has no credential for the grant %s",
                                              rec->grants[i].name);
                s[i].grant = strdup(rec->grants[i].name);
                r = file_read_all(path, GRANT_VALUE_MAX, &s[i].value, &len);
                if (r < 0 || !s[i].grant)
                        return moat_error_set(err, r < 0 ? r : -ENOMEM, "cannot read the credential of the grant %s: %s",
                                              rec->grants[i].name, strerror(r < 0 ? -r : ENOMEM));
                s[i].len = len;
        }
        return 0;
}

typedef struct make_ca_args {
        run_store *store;
        const run_record *rec;
} make_ca_args;

/* In a child that loads the TLS module (the proxy never maps OpenSSL itself): the run's CA,
 * limited to its grants' hosts, and what the container trusts: the CA alone
 * (NODE_EXTRA_CA_CERTS adds it) and the host's trust store with it (SSL_CERT_FILE and the
 * like replace theirs, and tunnelled hosts show their real certificates).  The CA whole
 * comes back in *OUT, for the proxy's TLS worker. */
static int make_ca_child(const proxy_tls_ops *tls, void *userdata, char **out, size_t *out_len, moat_error *err) {
        const make_ca_args *a = userdata;
        _cleanup_(strv_freep) char **hosts = NULL;
        _cleanup_free_ char *pem = NULL, *host_store = NULL, *bundle = NULL;
        size_t store_len = 0;
        int r;

        if (proxy_grant_hosts(a->rec, &hosts) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = tls->make_ca(a->rec->id, hosts, &pem, out, out_len, err);
        if (r < 0)
                return r;
        (void) file_read_all(tls->host_trust_file(), 16 << 20, &host_store, &store_len);
        if (asprintf(&bundle, "%s%s%s", host_store ?: "", store_len && host_store[store_len - 1] != '\n' ? "\n" : "",
                     pem) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = run_store_write_tls(a->store, a->rec->id, RUN_TLS_CA, pem, strlen(pem), err);
        if (r >= 0)
                r = run_store_write_tls(a->store, a->rec->id, RUN_TLS_BUNDLE, bundle, strlen(bundle), err);
        return r;
}

/* Each connection takes two descriptors (the client's, the server's): the soft limit of
 * 1,024 would run out near 500.  The hard limit is what the unit allows; no privilege needed. */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_store_freep) run_store *store = NULL;
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(proxy_freep) proxy *p = NULL;
        _cleanup_close_ int listen_fd = -1;
        const char *home = getenv("MOAT_HOME");
        proxy_secret *secrets = NULL;
        char *ca = NULL;
        size_t ca_len = 0;
        const char *test_timeouts = getenv("MOAT_PROXY_TEST_TIMEOUTS");
        proxy_timeouts timeouts;
        char *end;
        long pid, ready, lifeline;
        int r;

        if (argc != 5 || !run_id_valid(argv[1])) {
                fputs("usage: moat-proxy RUN-ID CONTAINER-PID READY-FD LIFELINE-FD (started by moat-monitor)\n",
                      stderr);
                return 2;
        }
        errno = 0;
        pid = strtol(argv[2], &end, 10);
        if (errno || *end || pid <= 1)
                return 2;
        ready = strtol(argv[3], &end, 10);
        if (errno || *end || ready < 3)
                return 2;
        lifeline = strtol(argv[4], &end, 10);
        if (errno || *end || lifeline < 3 || lifeline == ready)
                return 2;
        if (!home || home[0] != '/') {
                fputs("moat-proxy: MOAT_HOME is not set to an absolute path\n", stderr);
                return 2;
        }
        /* the grants' values and the CA's key are in this process's memory only: no core dump,
         * no ptrace, no /proc/PID/mem for anyone but root */
        (void) prctl(PR_SET_DUMPABLE, 0);
        signal(SIGPIPE, SIG_IGN);
        /* one thread serves; the name lookups' threads need no arena of their own */
        (void) mallopt(M_ARENA_MAX, 1);
        raise_fd_limit();
        proxy_timeouts_default(&timeouts);
        if (test_timeouts && proxy_timeouts_parse(test_timeouts, &timeouts) < 0) {
                fprintf(stderr, "moat-proxy: bad MOAT_PROXY_TEST_TIMEOUTS: %s\n", test_timeouts);
                return 2;
        }

        r = run_store_open(home, &store, &err);
        if (r >= 0)
                r = run_store_load(store, argv[1], &rec, &err);
        if (r >= 0)
                r = netns_listen((pid_t) pid, PROXY_ADDRESS, PROXY_PORT, &listen_fd, &err);
        if (r >= 0)
                r = read_secrets(rec, &secrets, &err);
        if (r >= 0 && rec->n_grants > 0)
                r = proxy_tls_in_child(make_ca_child, &(make_ca_args) { .store = store, .rec = rec }, &ca, &ca_len,
                                       &err);
        if (r >= 0)
                r = proxy_new(rec, secrets, rec->n_grants, ca, ca_len, &p, &err);
        if (r >= 0) {
                secrets = NULL; /* the proxy's now */
                ca = NULL;
                /* all that needed privilege is done: the rest parses what the agent sends */
                r = proxy_confine(&err);
        }
        if (r < 0) {
                fprintf(stderr, "moat-proxy: %s\n", moat_error_message(&err));
                /* what proxy_new did not take */
                for (size_t i = 0; secrets && rec && i < rec->n_grants; i++) {
                        free(secrets[i].grant);
                        free(secrets[i].value);
                }
                free(secrets);
                if (ca)
                        explicit_bzero(ca, ca_len);
                free(ca);
                return 1;
        }
        proxy_set_timeouts(p, &timeouts);
        proxy_set_title(p, argv[0], (size_t) (argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]));
        /* what the set-up read and freed (the trust bundle, the run's record) goes back to
         * the system: the proxy idles for the whole run */
        (void) malloc_trim(0);
        if (write((int) ready, "ready\n", 6) != 6)
                return 1;
        close((int) ready);
        /* it ends once the unit's main process is gone, before systemd would have to kill it */
        r = proxy_serve(p, listen_fd, (int) lifeline, &err);
        if (r < 0) {
                fprintf(stderr, "moat-proxy: %s\n", moat_error_message(&err));
                return 1;
        }
        return 0;
}
