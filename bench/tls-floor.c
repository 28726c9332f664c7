/* The floor of bench/proxy.sh's memory figure: the private memory (USS, KiB) of a process that
 * does no more than the proxy must before it serves anything TLS: OpenSSL initialised, one
 * client context with the host's trust looked up lazily, one server context.  Prints it.
 *   cc -O2 -o tls-floor tls-floor.c -lssl -lcrypto */
#include <openssl/ssl.h>
#include <stdio.h>

int main(void) {
        SSL_CTX *client = SSL_CTX_new(TLS_client_method()), *server = SSL_CTX_new(TLS_server_method());
        FILE *f = fopen("/proc/self/smaps_rollup", "r");
        char line[256];
        long kib, uss = 0;

        if (!client || !server || SSL_CTX_load_verify_dir(client, "/etc/ssl/certs") != 1 || !f)
                return 1;
        while (fgets(line, sizeof(line), f))
                if ((sscanf(line, "Private_Clean: %ld kB", &kib) == 1) || (sscanf(line, "Private_Dirty: %ld kB", &kib) == 1))
                        uss += kib;
        fclose(f);
        printf("%ld\n", uss);
        SSL_CTX_free(server);
        SSL_CTX_free(client);
        return 0;
}
