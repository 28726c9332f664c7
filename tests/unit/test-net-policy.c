/* Network policies: host names, allow patterns and how they match. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "net-policy.h"
#include "tap.h"

static void test_modes(void) {
        is_str(net_mode_to_string(NET_OPEN), "open", "open");
        is_str(net_mode_to_string(NET_STRICT), "strict", "strict");
        is_str(net_mode_to_string(NET_NONE), "none", "none");
        ok(net_mode_from_string("strict") == NET_STRICT, "strict parses");
        ok(net_mode_from_string("Strict") == _NET_MODE_INVALID, "names are lowercase");
        ok(net_mode_from_string("") == _NET_MODE_INVALID, "empty is no mode");
        ok(net_mode_from_string(NULL) == _NET_MODE_INVALID, "NULL is no mode");
}

static void test_host_names(void) {
        static const struct {
                const char *in, *want;
        } good[] = {
                { "api.anthropic.com", "api.anthropic.com" },
                { "API.Anthropic.COM.", "api.anthropic.com" },
                { "localhost", "localhost" },
                { "a-b.c0.test", "a-b.c0.test" },
                { "1password.com", "1password.com" },
                { "xn--bcher-kva.example", "xn--bcher-kva.example" },
                { "3com.test", "3com.test" },
        };
        static const char *const bad[] = {
                "", ".", "..", "a..b", ".a.b", "1.2.3.4", "10.99.0.1", "127.1", "0x7f.1", "2130706433",
                "::1", "[::1]", "a.b:443", "-a.test", "a-.test", "a_b.test", "a b.test", "a/b", "*.a.test",
                "h\xc3\xa9.test", "https://a.test", "a.test..", "0x7f", "a.123", "a.1b", "x.-a",
        };
        char label63[64], label64[65], longest[254], too_long[255];
        char *out = NULL;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ok(host_name_normalize(good[i].in, &out) == 0, "'%s' is a host name", good[i].in);
                is_str(out, good[i].want, "'%s' normalized", good[i].in);
                free(out);
                out = NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ok(host_name_normalize(bad[i], &out) == -EINVAL, "'%s' is refused", bad[i]);
                free(out);
                out = NULL;
        }
        memset(label63, 'a', 63);
        label63[63] = '\0';
        memset(label64, 'a', 64);
        label64[64] = '\0';
        ok(host_name_normalize(label63, &out) == 0, "a label of 63 characters");
        free(out);
        out = NULL;
        ok(host_name_normalize(label64, &out) == -EINVAL, "a label of 64 is refused");
        /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
        snprintf(longest, sizeof(longest), "%s.%s.%s.%.61s", label63, label63, label63, label63);
        ok(strlen(longest) == 253 && host_name_normalize(longest, &out) == 0, "a name of 253 characters");
        free(out);
        out = NULL;
        snprintf(too_long, sizeof(too_long), "%s.%s.%s.%.62s", label63, label63, label63, label63);
        ok(strlen(too_long) == 254 && host_name_normalize(too_long, &out) == -EINVAL, "254 is refused");
        free(out);
}

static void test_patterns(void) {
        static const struct {
                const char *in, *want;
        } good[] = {
                { "github.com", "github.com" },
                { "*.npmjs.org", "*.npmjs.org" },
                { "*.Example.TEST.", "*.example.test" },
        };
        static const char *const bad[] = {
                "", "*", "*.", "*.com", "**.a.test", "a.*.test", "*a.test", "a*.test", "*.*.a.test",
                "10.0.0.1", "*.10.0.0.1", "https://github.com", "github.com:443", "github.com/x", " github.com",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *out = NULL;
                moat_error err = {};

                ok(host_pattern_normalize(good[i].in, &out, &err) == 0, "pattern '%s' is valid", good[i].in);
                is_str(out, good[i].want, "pattern '%s' normalized", good[i].in);
                moat_error_clear(&err);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *out = NULL;
                moat_error err = {};

                ok(host_pattern_normalize(bad[i], &out, &err) == -EINVAL, "pattern '%s' is refused", bad[i]);
                ok(err.msg && strstr(err.msg, "invalid allow pattern") && strchr(err.msg, '\'') &&
                           strstr(err.msg, bad[i]),
                   "the message names the pattern '%s': %s", bad[i], err.msg ? err.msg : "(none)");
                ok(out == NULL, "nothing returned for '%s'", bad[i]);
                moat_error_clear(&err);
        }
}

static void test_matching(void) {
        char *patterns[] = { (char *) "github.com", (char *) "*.npmjs.org", NULL };

        ok(host_pattern_match("github.com", "github.com"), "an exact name matches itself");
        ok(!host_pattern_match("github.com", "api.github.com"), "an exact name does not match below it");
        ok(!host_pattern_match("github.com", "evilgithub.com"), "nor a name that ends in it");
        ok(host_pattern_match("*.npmjs.org", "registry.npmjs.org"), "a wildcard matches one label below");
        ok(host_pattern_match("*.npmjs.org", "a.b.npmjs.org"), "and several");
        ok(!host_pattern_match("*.npmjs.org", "npmjs.org"), "but not the name itself");
        ok(!host_pattern_match("*.npmjs.org", "evilnpmjs.org"), "nor a name that merely ends in it");
        ok(!host_pattern_match("*.npmjs.org", "npmjs.org.evil.test"), "nor one that contains it");
        ok(host_allowed(patterns, "registry.npmjs.org"), "a list: the wildcard entry");
        ok(host_allowed(patterns, "github.com"), "a list: the exact entry");
        ok(!host_allowed(patterns, "gitlab.com"), "a list: nothing else");
        ok(!host_allowed(NULL, "github.com"), "no list allows nothing");
}

static void test_denial_text(void) {
        _cleanup_free_ char *name = NULL, *addr = NULL, *open_addr = NULL;

        ok(net_denial_text("Denied.Test.", NET_STRICT, &name) == 0, "a name's refusal");
        is_str(name,
               "denied.test is not allowed by this run's network policy (strict); allow it with '--allow "
               "denied.test' or under network: allow: in moat.yaml",
               "says how to allow the host, normalized");
        ok(net_denial_text("10.0.0.1", NET_STRICT, &addr) == 0, "an address's refusal");
        is_str(addr, "'10.0.0.1' is not a host name; a strict run reaches hosts by name only, through its proxy",
               "an address cannot be allowed: it says so");
        ok(net_denial_text("10.0.0.1", NET_OPEN, &open_addr) == 0, "an address's refusal in an open run");
        is_str(open_addr, "'10.0.0.1' is not a host name; an open run reaches hosts by name only, through its proxy",
               "the open mode is spoken of with its article");
}

static void test_refusal_text(void) {
        _cleanup_free_ char *policy = NULL, *itself = NULL, *misdirected = NULL, *plain = NULL;

        ok(net_refusal_text("denied.test", NET_STRICT, NET_REFUSED_POLICY, &policy) == 0 &&
                   net_denial_text("denied.test", NET_STRICT, &plain) == 0 && strcmp(policy, plain) == 0,
           "the policy's refusal says how to allow the host");
        ok(net_refusal_text("x.loop.test", NET_STRICT, NET_REFUSED_HOST_ITSELF, &itself) == 0, "the host itself");
        contains(itself, "x.loop.test is this host itself", "it says the name is the host itself");
        ok(itself && !strstr(itself, "--allow"), "and does not say to allow it: that is not why");
        ok(net_refusal_text("evil.test", NET_OPEN, NET_REFUSED_MISDIRECTED, &misdirected) == 0, "a misdirected request");
        contains(misdirected, "named evil.test", "it names the host the request named");
        contains(misdirected, "421", "and what it got");
        ok(misdirected && !strstr(misdirected, "--allow"), "no allowing helps it");
        for (int r = 0; r < _NET_REFUSAL_MAX; r++)
                is_int(net_refusal_from_string(net_refusal_to_string((net_refusal) r)), r, "reason %d round-trips", r);
        is_int(net_refusal_from_string(NULL), NET_REFUSED_POLICY, "a record without a reason was the policy's");
        is_int(net_refusal_from_string("bogus"), _NET_REFUSAL_INVALID, "an unknown reason is none");
}

int main(void) {
        test_denial_text();
        test_refusal_text();
        test_modes();
        test_host_names();
        test_patterns();
        test_matching();
        return tap_done();
}
