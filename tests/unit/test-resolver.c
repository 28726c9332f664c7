/* Name lookups handed back to an sd-event loop: each done once, a cancelled one never, a
 * burst all done, the resolver freed with lookups still in its threads. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "resolver.h"
#include "tap.h"

typedef struct seen {
        int calls, error;
        bool loopback;
} seen;

static void on_done(int error, struct addrinfo *result, void *userdata) {
        seen *s = userdata;

        s->calls++;
        s->error = error;
        for (struct addrinfo *a = result; a; a = a->ai_next)
                if (a->ai_family == AF_INET &&
                    ((struct sockaddr_in *) a->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
                        s->loopback = true;
        if (result)
                freeaddrinfo(result);
}

/* Runs the loop until every one of N has been called back, or 10 s went by. */
static bool run_until(sd_event *e, seen *s, size_t n) {
        for (int i = 0; i < 1000; i++) {
                size_t done = 0;

                for (size_t k = 0; k < n; k++)
                        done += s[k].calls > 0;
                if (done == n)
                        return true;
                (void) sd_event_run(e, 10 * 1000);
        }
        return false;
}

int main(void) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        resolver *r = NULL;
        struct addrinfo numeric = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
        seen one = {}, bad = {}, cancelled = {}, after = {}, burst[40] = {};
        resolver_query *q = NULL;

        ok(sd_event_new(&e) >= 0, "a loop");
        is_int(resolver_new(e, &r), 0, "a resolver on it");

        is_int(resolver_lookup(r, "127.0.0.1", "443", &numeric, on_done, &one, NULL), 0, "a lookup is asked");
        is_int(one.calls, 0, "and not answered in the caller's call");
        ok(run_until(e, &one, 1), "it is handed back through the loop");
        ok(one.calls == 1 && one.error == 0 && one.loopback, "once, with its address");

        is_int(resolver_lookup(r, "no such address", "443", &numeric, on_done, &bad, NULL), 0, "a bad name is asked");
        ok(run_until(e, &bad, 1), "handed back");
        ok(bad.error == EAI_NONAME, "with getaddrinfo()'s error");

        is_int(resolver_lookup(r, "127.0.0.1", "443", &numeric, on_done, &cancelled, &q), 0, "another");
        resolver_cancel(r, q);
        is_int(resolver_lookup(r, "127.0.0.1", "80", &numeric, on_done, &after, NULL), 0, "and one after it");
        ok(run_until(e, &after, 1), "the one after it is handed back");
        usleep(100 * 1000);
        (void) sd_event_run(e, 100 * 1000);
        is_int(cancelled.calls, 0, "the cancelled one never is");

        for (size_t i = 0; i < ELEMENTSOF(burst); i++)
                if (resolver_lookup(r, "127.0.0.1", "443", &numeric, on_done, &burst[i], NULL) < 0)
                        break;
        ok(run_until(e, burst, ELEMENTSOF(burst)), "a burst of %zu, more than the threads, is all handed back",
           ELEMENTSOF(burst));
        ok(burst[0].calls == 1 && burst[ELEMENTSOF(burst) - 1].calls == 1, "each once");

        /* freed with lookups in its threads: they finish them and free them (the sanitizer
         * build would see a use after free) */
        for (int i = 0; i < 8; i++)
                (void) resolver_lookup(r, "localhost", "443", &numeric, on_done, &cancelled, NULL);
        resolver_free(r);
        usleep(200 * 1000);
        is_int(cancelled.calls, 0, "nothing is called back after the resolver is freed");
        return tap_done();
}
