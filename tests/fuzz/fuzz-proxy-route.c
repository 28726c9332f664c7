/* The proxy's policy on what a container sends: the first line is a host to route, the rest a
 * Host header to check against the grant's host.  Nothing is routed to interception but a
 * grant's host; an authority that names the host names it in any case and with a trailing dot;
 * no text the container sees echoes a byte it could not print. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy-route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *hosts_api[] = { (char *) "api.test", NULL };
static grant_rule rule_key = { .hosts = hosts_api, .header = (char *) "x-api-key", .value = (char *) "{secret}" };
static grant_def grant_api = { .name = (char *) "api", .rules = &rule_key, .n_rules = 1 };
static char *allow[] = { (char *) "allowed.test", (char *) "*.wild.test", NULL };

static void check_text(const char *t) {
        for (const char *p = t; *p; p++)
                if (!isprint((unsigned char) *p) && !(*p == '\n' && p[1] == '\0'))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1), *nl, *body = NULL;
        const char *rest;
        size_t rest_len;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        nl = memchr(text, '\n', size);
        rest = nl ? nl + 1 : "";
        rest_len = nl ? size - (size_t) (nl + 1 - text) : 0;
        if (nl)
                *nl = '\0';
        for (net_mode m = NET_OPEN; m <= NET_STRICT; m++) {
                run_record rec = { .id = "0123456789ab", .network = m, .allow = allow, .grants = &grant_api,
                                   .n_grants = 1 };
                proxy_route r = {};

                if (proxy_route_host(&rec, text, &r) < 0)
                        abort();
                if (r.verdict == PROXY_INJECT && (strcmp(r.host, "api.test") != 0 || r.grant != &grant_api))
                        abort();
                if (r.verdict != PROXY_DENY && !proxy_host_printable(r.host))
                        abort();
                proxy_route_done(&r);
                if (proxy_denial_text(&rec, text, &body) < 0)
                        abort();
                check_text(body);
                free(body);
        }
        if (proxy_local_denial_text(text, &body) < 0)
                abort();
        check_text(body);
        free(body);
        if (proxy_authority_names(rest, rest_len, "api.test", 443)) {
                /* what names api.test:443 holds the name, in some case, and nothing before it
                 * but blanks or a bracket */
                const char *at = strcasestr(rest, "api.test");

                if (!at || strspn(rest, " \t[") != (size_t) (at - rest))
                        abort();
        }
        free(text);
        return 0;
}
