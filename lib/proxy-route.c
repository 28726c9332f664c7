#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net-policy.h"
#include "proxy-route.h"
#include "strv.h"

void proxy_route_done(proxy_route *r) {
        free(r->host);
        *r = (proxy_route) {};
}

/* Printable, and nothing a header, a journal field or a body could be confused by. */
bool proxy_host_printable(const char *host) {
        size_t n = strlen(host);

        return n > 0 && n <= 255 &&
               strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_") == n;
}

int proxy_route_host(const run_record *rec, const char *host, proxy_route *ret) {
        char *norm = NULL;
        int r;

        *ret = (proxy_route) { .verdict = PROXY_DENY };
        r = host_name_normalize(host, &norm);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* an IP address, or no host name: an open run may go there, directly */
                if (rec->network == NET_OPEN && proxy_host_printable(host)) {
                        ret->verdict = PROXY_TUNNEL;
                        ret->host = strdup(host);
                        return ret->host ? 0 : -ENOMEM;
                }
                return 0;
        }
        ret->host = norm;
        for (size_t i = 0; i < rec->n_grants; i++) {
                const grant_rule *rule = grant_rule_for_host(&rec->grants[i], norm);

                if (rule) {
                        ret->verdict = PROXY_INJECT;
                        ret->grant = &rec->grants[i];
                        ret->rule = rule;
                        return 0;
                }
        }
        if (rec->network == NET_OPEN || host_allowed(rec->allow, norm))
                ret->verdict = PROXY_TUNNEL;
        return 0;
}

int grant_header_value(const grant_rule *rule, const char *secret, size_t len, char **ret) {
        const char *open = strchr(rule->value, '{'), *close = open ? strchr(open, '}') : NULL;
        _cleanup_free_ char *plain = NULL, *encoded = NULL;
        const char *fill = secret;
        size_t fill_len = len;
        char *out;
        int r;

        if (!open || !close)
                return -EINVAL;
        if (strncmp(open, "{basic:", 7) == 0) {
                size_t user = (size_t) (close - open - 7), n = user + 1 + len;

                plain = malloc(n);
                encoded = malloc(4 * ((n + 2) / 3) + 1);
                if (!plain || !encoded)
                        return -ENOMEM;
                memcpy(plain, open + 7, user);
                plain[user] = ':';
                memcpy(plain + user + 1, secret, len);
                /* the C library's base64: the proxy's front maps no OpenSSL (lib/proxy-tls.h) */
                r = b64_ntop((unsigned char *) plain, n, encoded, 4 * ((n + 2) / 3) + 1);
                explicit_bzero(plain, n);
                if (r < 0)
                        return -ENOMEM;
                fill_len = (size_t) r;
                fill = encoded;
        }
        out = malloc((size_t) (open - rule->value) + fill_len + strlen(close + 1) + 1);
        if (!out)
                return -ENOMEM;
        memcpy(out, rule->value, (size_t) (open - rule->value));
        memcpy(out + (open - rule->value), fill, fill_len);
        strcpy(out + (open - rule->value) + fill_len, close + 1);
        if (encoded)
                explicit_bzero(encoded, fill_len);
        *ret = out;
        return 0;
}

int proxy_grant_hosts(const run_record *rec, char ***ret) {
        _cleanup_(strv_freep) char **hosts = calloc(1, sizeof(char *));

        if (!hosts)
                return -ENOMEM;
        for (size_t i = 0; i < rec->n_grants; i++) {
                _cleanup_(strv_freep) char **h = NULL;

                if (grant_hosts(&rec->grants[i], &h) < 0)
                        return -ENOMEM;
                for (char **p = h; *p; p++)
                        if (strv_push(&hosts, TAKE_PTR(*p)) < 0)
                                return -ENOMEM;
        }
        *ret = TAKE_PTR(hosts);
        return 0;
}

int proxy_denial_text(const run_record *rec, const char *host, char **ret) {
        _cleanup_free_ char *text = NULL;

        /* the words the journal and the terminal use too */
        if (net_denial_text(proxy_host_printable(host) ? host : "?", rec->network, &text) < 0 ||
            asprintf(ret, "moat: %s\n", text) < 0)
                return -ENOMEM;
        return 0;
}

/* Whether NAME (LEN bytes) is HOST but for case and one trailing dot. */
static bool same_name(const char *name, size_t len, const char *host) {
        if (len > 1 && name[len - 1] == '.')
                len--;
        return len == strlen(host) && strncasecmp(name, host, len) == 0;
}

bool proxy_authority_names(const char *authority, size_t len, const char *host, uint16_t port) {
        const char *name = authority, *colon;
        size_t name_len;

        while (len > 0 && (authority[len - 1] == ' ' || authority[len - 1] == '\t'))
                len--;
        while (len > 0 && (*authority == ' ' || *authority == '\t'))
                authority++, len--, name = authority;
        if (len > 0 && authority[0] == '[') {
                const char *close = memchr(authority, ']', len);

                if (!close)
                        return false;
                name = authority + 1;
                name_len = (size_t) (close - name);
                colon = close + 1 < authority + len ? close + 1 : NULL;
                if (colon && *colon != ':')
                        return false;
        } else {
                colon = memchr(authority, ':', len);
                name_len = colon ? (size_t) (colon - authority) : len;
        }
        if (name_len == 0 || !same_name(name, name_len, host))
                return false;
        if (colon) {
                const char *digits = colon + 1, *end = authority + len;
                unsigned long value = 0;

                /* "host:" is a Host header with an empty port, which means the default */
                if (end - digits > 5)
                        return false;
                for (const char *d = digits; d < end; d++) {
                        if (*d < '0' || *d > '9')
                                return false;
                        value = value * 10 + (unsigned long) (*d - '0');
                }
                if (digits < end && value != port)
                        return false;
        }
        return true;
}

int proxy_misdirected_text(const char *host, const char *why, char **ret) {
        return asprintf(ret,
                        "moat: this connection is for %s and carries its credential; %s, which it does not "
                        "send elsewhere: open a connection to that host instead\n",
                        host, why) < 0
                       ? -ENOMEM
                       : 0;
}

/* SA as an IPv4 address when it is one, or one mapped into IPv6. */
static bool ipv4_of(const struct sockaddr *sa, uint32_t *ret) {
        if (sa->sa_family == AF_INET) {
                *ret = ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr);
                return true;
        }
        if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *) sa)->sin6_addr)) {
                const uint8_t *b = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr + 12;

                *ret = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
                return true;
        }
        return false;
}

static bool same_address(const struct sockaddr *a, const struct sockaddr *b) {
        uint32_t va, vb;

        if (ipv4_of(a, &va) || ipv4_of(b, &vb))
                return ipv4_of(a, &va) && ipv4_of(b, &vb) && va == vb;
        return a->sa_family == AF_INET6 && b->sa_family == AF_INET6 &&
               memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr, &((const struct sockaddr_in6 *) b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
}

bool proxy_address_refused(const struct sockaddr *sa, const struct sockaddr *const *own, size_t n_own) {
        uint32_t v4;

        if (ipv4_of(sa, &v4)) {
                if ((v4 >> 24) == 127 || (v4 >> 24) == 0 || (v4 >> 16) == 0xa9fe)
                        return true;
        } else if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;

                if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a))
                        return true;
        } else
                return true; /* nothing but IP */
        for (size_t i = 0; i < n_own; i++)
                if (own[i] && same_address(sa, own[i]))
                        return true;
        return false;
}

bool proxy_local_allowed(const run_record *rec, const char *host) {
        for (char *const *p = rec->allow; p && *p; p++)
                if (strncmp(*p, "*.", 2) != 0 && strcasecmp(*p, host) == 0)
                        return true;
        return false;
}

int proxy_local_denial_text(const char *host, char **ret) {
        _cleanup_free_ char *text = NULL;

        if (net_refusal_text(proxy_host_printable(host) ? host : "?", NET_OPEN, NET_REFUSED_HOST_ITSELF, &text) < 0)
                return -ENOMEM;
        return asprintf(ret, "moat: %s\n", text) < 0 ? -ENOMEM : 0;
}
