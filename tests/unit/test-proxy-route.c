/* The proxy's policy without its sockets: where a host goes under each network policy, the
 * destinations it never dials, which Host a credential may go to, the grant's header and what
 * a refusal says. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proxy-route.h"
#include "tap.h"

static char *hosts_api[] = { (char *) "api.test", NULL };
static grant_rule rule_key = { .hosts = hosts_api, .header = (char *) "x-api-key", .value = (char *) "{secret}" };
static grant_def grant_api = { .name = (char *) "api", .rules = &rule_key, .n_rules = 1 };
static char *allow[] = { (char *) "allowed.test", (char *) "*.wild.test", (char *) "localhost", NULL };

static run_record record(net_mode m) {
        return (run_record) { .id = "0123456789ab", .network = m, .allow = allow, .grants = &grant_api,
                              .n_grants = 1 };
}

static proxy_verdict verdict(const run_record *rec, const char *host) {
        proxy_route r = {};
        proxy_verdict v;

        if (proxy_route_host(rec, host, &r) < 0)
                return (proxy_verdict) -1;
        v = r.verdict;
        proxy_route_done(&r);
        return v;
}

static void test_route(void) {
        run_record strict = record(NET_STRICT), open = record(NET_OPEN);
        proxy_route r = {};

        is_int(verdict(&strict, "API.test."), PROXY_INJECT, "strict: a grant's host, any case, trailing dot, is intercepted");
        is_int(verdict(&strict, "allowed.test"), PROXY_TUNNEL, "strict: an allowed host is tunnelled");
        is_int(verdict(&strict, "a.wild.test"), PROXY_TUNNEL, "strict: below a wildcard too");
        is_int(verdict(&strict, "wild.test"), PROXY_DENY, "strict: not the wildcard's base");
        is_int(verdict(&strict, "denied.test"), PROXY_DENY, "strict: any other host is refused");
        is_int(verdict(&strict, "10.0.0.1"), PROXY_DENY, "strict: an address is refused");
        is_int(verdict(&strict, "a b"), PROXY_DENY, "strict: garbage is refused");
        is_int(verdict(&open, "api.test"), PROXY_INJECT, "open: a grant's host is intercepted");
        is_int(verdict(&open, "denied.test"), PROXY_TUNNEL, "open: any other host is tunnelled");
        is_int(verdict(&open, "10.0.0.1"), PROXY_TUNNEL, "open: an address too");
        is_int(verdict(&open, "a\r\nb"), PROXY_DENY, "open: but nothing unprintable");
        ok(proxy_route_host(&strict, "Api.Test", &r) == 0 && r.grant == &grant_api && r.rule == &rule_key &&
                   strcmp(r.host, "api.test") == 0,
           "the route names the grant, its rule and the normalized host");
        proxy_route_done(&r);
}

static void test_header_value(void) {
        grant_rule bearer = { .header = (char *) "Authorization", .value = (char *) "Bearer {secret}" };
        grant_rule basic = { .header = (char *) "Authorization", .value = (char *) "Basic {basic:x-access-token}" };
        grant_rule broken = { .header = (char *) "Authorization", .value = (char *) "no placeholder" };
        char *v = NULL;

        ok(grant_header_value(&bearer, "s3cret", 6, &v) == 0, "a bearer value");
        is_str(v, "Bearer s3cret", "the secret in place of {secret}");
        free(v);
        ok(grant_header_value(&basic, "tok", 3, &v) == 0, "a basic value");
        /* base64("x-access-token:tok") */
        is_str(v, "Basic eC1hY2Nlc3MtdG9rZW46dG9r", "base64 of USER:SECRET");
        free(v);
        v = NULL;
        is_int(grant_header_value(&broken, "s", 1, &v), -EINVAL, "a template without a placeholder is refused");
        ok(v == NULL, "and gives nothing");
}

static void test_denial_text(void) {
        run_record strict = record(NET_STRICT);
        char *t = NULL;

        ok(proxy_denial_text(&strict, "Denied.Test", &t) == 0, "a denial");
        is_str(t, "moat: denied.test is not allowed by this run's network policy (strict); allow it with "
                  "'--allow denied.test' or under network: allow: in moat.yaml\n",
               "names the host and what would allow it");
        free(t);
        ok(proxy_denial_text(&strict, "1.2.3.4", &t) == 0 && strstr(t, "'1.2.3.4' is not a host name"), "an address");
        free(t);
        ok(proxy_denial_text(&strict, "a\nb", &t) == 0 && strstr(t, "'?'") && !strchr(t, '\r') &&
                   strchr(t, '\n') == t + strlen(t) - 1,
           "nothing unprintable echoed back");
        free(t);
        ok(proxy_local_denial_text("localhost", &t) == 0 && strstr(t, "localhost is this host itself"),
           "a host that is the host itself");
        free(t);
        ok(proxy_misdirected_text("api.test", "its Host is other.test", &t) == 0 &&
                   strstr(t, "for api.test") && strstr(t, "its Host is other.test"),
           "a misdirected request says why");
        free(t);
}

static void test_authority(void) {
        static const struct {
                const char *authority;
                bool names;
        } cases[] = {
                { "api.test", true },          { "API.TEST", true },        { "api.test.", true },
                { "api.test:443", true },      { "api.test.:443", true },   { "api.test:", true },
                { " api.test ", true },        { "api.test:0443", true },   { "other.test", false },
                { "api.test:8443", false },    { "api.test.evil", false },  { "evil.api.test", false },
                { "api.test..", false },       { "api.testx", false },      { "", false },
                { ":443", false },             { "api.test:44x", false },   { "api.test:443:443", false },
                { "api.test:999999", false },  { "[api.test]:443", true },  { "[api.test", false },
                { "[api.test]x", false },      { "api.test@evil", false },  { "api.test\x01", false },
                { "user@api.test", false },    { "api.test:4430", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                is_int(proxy_authority_names(cases[i].authority, strlen(cases[i].authority), "api.test", 443),
                       cases[i].names, "'%s' %s api.test:443", cases[i].authority,
                       cases[i].names ? "names" : "does not name");
        ok(proxy_authority_names("[::1]:8443", 10, "::1", 8443), "an IPv6 literal in brackets");
        ok(!proxy_authority_names("api.test", 4, "api.test", 443), "a prefix of the name is not the name");
}

static struct sockaddr_storage v4(const char *s) {
        struct sockaddr_storage ss = {};
        struct sockaddr_in *a = (struct sockaddr_in *) &ss;

        a->sin_family = AF_INET;
        inet_pton(AF_INET, s, &a->sin_addr);
        return ss;
}

static struct sockaddr_storage v6(const char *s) {
        struct sockaddr_storage ss = {};
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;

        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, s, &a->sin6_addr);
        return ss;
}

static void test_addresses(void) {
        static const struct {
                const char *address;
                bool refused;
        } cases[] = {
                { "127.0.0.1", true },       { "127.255.1.2", true },     { "0.0.0.0", true },
                { "0.1.2.3", true },         { "169.254.169.254", true }, { "169.254.0.1", true },
                { "::1", true },             { "::", true },              { "fe80::1", true },
                { "febf::1", true },         { "::ffff:127.0.0.1", true }, { "::ffff:169.254.169.254", true },
                { "10.99.0.1", false },      { "1.1.1.1", false },        { "128.0.0.1", false },
                { "169.255.0.1", false },    { "2001:db8::1", false },    { "fec0::1", false },
                { "::ffff:1.1.1.1", false }, { "192.168.1.20", true },    { "::ffff:192.168.1.20", true },
                { "2001:db8::20", true },    { "192.168.1.21", false },
        };
        struct sockaddr_storage own_v4 = v4("192.168.1.20"), own_v6 = v6("2001:db8::20");
        const struct sockaddr *own[] = { (struct sockaddr *) &own_v4, NULL, (struct sockaddr *) &own_v6 };
        struct sockaddr_storage unix_sa = { .ss_family = AF_UNIX };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct sockaddr_storage ss = strchr(cases[i].address, ':') ? v6(cases[i].address) : v4(cases[i].address);

                is_int(proxy_address_refused((struct sockaddr *) &ss, own, ELEMENTSOF(own)), cases[i].refused,
                       "%s is %s", cases[i].address, cases[i].refused ? "refused" : "dialled");
        }
        ok(proxy_address_refused((struct sockaddr *) &unix_sa, NULL, 0), "nothing but IP is dialled");
}

static void test_local_allowed(void) {
        run_record strict = record(NET_STRICT);

        ok(proxy_local_allowed(&strict, "localhost"), "an exact allow lets the host's own address through");
        ok(!proxy_local_allowed(&strict, "x.wild.test"), "a wildcard does not");
        ok(!proxy_local_allowed(&strict, "api.test"), "nor a grant's host");
        strict.allow = NULL;
        ok(!proxy_local_allowed(&strict, "localhost"), "nor no allow list");
}

int main(void) {
        test_route();
        test_header_value();
        test_denial_text();
        test_authority();
        test_addresses();
        test_local_allowed();
        return tap_done();
}
