/* The floor of bench/proxy.sh's memory figure: the private memory (USS, KiB) of a process that
 * does no more than the proxy must before it serves anything TLS.  Prints two figures: with
 * libssl and libcrypto only loaded (their relocated tables are private to every process that
 * loads them), then with OpenSSL initialised, one client context with the host's trust looked
 * up lazily and one server context.
 *   cc -O2 -o tls-floor tls-floor.c -lssl -lcrypto */
#include <openssl/ssl.h>
#include <stdio.h>

static long uss(void) {
        FILE *f = fopen("/proc/self/smaps_rollup", "r");
        char line[256];
        long kib, sum = 0;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if ((sscanf(line, "Private_Clean: %ld kB", &kib) == 1) || (sscanf(line, "Private_Dirty: %ld kB", &kib) == 1))
                        sum += kib;
        fclose(f);
        return sum;
}

int main(void) {
        long loaded = uss();
        SSL_CTX *client = SSL_CTX_new(TLS_client_method()), *server = SSL_CTX_new(TLS_server_method());

        if (!client || !server || SSL_CTX_load_verify_dir(client, "/etc/ssl/certs") != 1 || loaded < 0)
                return 1;
        printf("%ld %ld\n", loaded, uss());
        SSL_CTX_free(server);
        SSL_CTX_free(client);
        return 0;
}
