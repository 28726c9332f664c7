#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net-policy.h"

#define HOST_NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63

static const char *const net_mode_names[_NET_MODE_MAX] = {
        [NET_OPEN] = "open",
        [NET_STRICT] = "strict",
        [NET_NONE] = "none",
};

const char *net_mode_to_string(net_mode m) {
        return m >= 0 && m < _NET_MODE_MAX ? net_mode_names[m] : NULL;
}

net_mode net_mode_from_string(const char *s) {
        for (int m = 0; s && m < _NET_MODE_MAX; m++)
                if (strcmp(s, net_mode_names[m]) == 0)
                        return (net_mode) m;
        return _NET_MODE_INVALID;
}

static bool is_label_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* NAME, already lowercased, of LEN characters: labels joined by dots. */
static bool host_name_valid(const char *name, size_t len) {
        size_t label = 0;

        if (len == 0 || len > HOST_NAME_MAX_LEN)
                return false;
        for (size_t i = 0; i <= len; i++) {
                char c = i < len ? name[i] : '.';

                if (c == '.') {
                        if (label == 0 || label > LABEL_MAX_LEN || name[i - 1] == '-' || name[i - label] == '-')
                                return false;
                        if (i < len)
                                label = 0;
                        continue;
                }
                if (!is_label_char(c))
                        return false;
                label++;
        }
        /* Top-level domains start with a letter; a name whose last label does not is read as
         * an IPv4 address by inet_aton() and by browsers ("1.2.3.4", "0x7f.1", "2130706433"). */
        return name[len - label] >= 'a' && name[len - label] <= 'z';
}

int host_name_normalize(const char *name, char **ret) {
        size_t len = strlen(name);
        char *copy;

        if (len > 0 && name[len - 1] == '.')
                len--;
        copy = strndup(name, len);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        if (!host_name_valid(copy, len)) {
                free(copy);
                return -EINVAL;
        }
        *ret = copy;
        return 0;
}

int host_pattern_normalize(const char *pattern, char **ret, moat_error *err) {
        const char *name = pattern;
        char *norm, *out;
        int r;

        if (strncmp(pattern, "*.", 2) == 0)
                name = pattern + 2;
        if (strchr(name, '*'))
                return moat_error_set(err, -EINVAL,
                                      "invalid allow pattern '%s': '*' may only be the whole first label, as in "
                                      "*.example.com",
                                      pattern);
        r = host_name_normalize(name, &norm);
        if (r == -ENOMEM)
                return moat_error_set(err, r, "out of memory");
        if (r < 0)
                return moat_error_set(err, -EINVAL,
                                      "invalid allow pattern '%s': use a host name such as example.com or "
                                      "*.example.com (no IP address, port, scheme or path)",
                                      pattern);
        if (name != pattern && !strchr(norm, '.')) {
                free(norm);
                return moat_error_set(err, -EINVAL,
                                      "invalid allow pattern '%s': a wildcard needs two labels after it, as in "
                                      "*.example.com",
                                      pattern);
        }
        if (name == pattern) {
                *ret = norm;
                return 0;
        }
        out = malloc(strlen(norm) + 3);
        if (out) {
                out[0] = '*';
                out[1] = '.';
                strcpy(out + 2, norm);
        }
        free(norm);
        if (!out)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = out;
        return 0;
}

bool host_pattern_match(const char *pattern, const char *host) {
        size_t plen, hlen;

        if (strncmp(pattern, "*.", 2) != 0)
                return strcmp(pattern, host) == 0;
        /* "*.example.com": HOST ends in ".example.com" with at least one label before it */
        pattern++;
        plen = strlen(pattern);
        hlen = strlen(host);
        return hlen > plen && strcmp(host + hlen - plen, pattern) == 0;
}

bool host_allowed(char *const *patterns, const char *host) {
        for (char *const *p = patterns; p && *p; p++)
                if (host_pattern_match(*p, host))
                        return true;
        return false;
}

static const char *const net_refusal_names[_NET_REFUSAL_MAX] = {
        [NET_REFUSED_POLICY] = "policy",
        [NET_REFUSED_HOST_ITSELF] = "host-itself",
        [NET_REFUSED_MISDIRECTED] = "misdirected",
};

const char *net_refusal_to_string(net_refusal r) {
        return r >= 0 && r < _NET_REFUSAL_MAX ? net_refusal_names[r] : NULL;
}

net_refusal net_refusal_from_string(const char *s) {
        if (!s)
                return NET_REFUSED_POLICY;
        for (int r = 0; r < _NET_REFUSAL_MAX; r++)
                if (strcmp(s, net_refusal_names[r]) == 0)
                        return (net_refusal) r;
        return _NET_REFUSAL_INVALID;
}

int net_refusal_text(const char *host, net_mode mode, net_refusal why, char **ret) {
        int r;

        switch (why) {
        case NET_REFUSED_HOST_ITSELF:
                r = asprintf(ret,
                             "%s is this host itself (a loopback, link-local or own address): the proxy does not "
                             "dial the host's own services",
                             host);
                break;
        case NET_REFUSED_MISDIRECTED:
                r = asprintf(ret,
                             "a request named %s on a connection that carries another host's credential: "
                             "refused with 421, the credential goes only to its host",
                             host);
                break;
        default:
                return net_denial_text(host, mode, ret);
        }
        return r < 0 ? -ENOMEM : 0;
}

int net_denial_text(const char *host, net_mode mode, char **ret) {
        _cleanup_free_ char *norm = NULL;
        int r;

        if (host_name_normalize(host, &norm) == 0)
                r = asprintf(ret,
                             "%s is not allowed by this run's network policy (%s); allow it with '--allow %s' or "
                             "under network: allow: in moat.yaml",
                             norm, net_mode_to_string(mode), norm);
        else
                r = asprintf(ret, "'%s' is not a host name; %s %s run reaches hosts by name only, through its proxy",
                             host, mode == NET_OPEN ? "an" : "a", net_mode_to_string(mode));
        return r < 0 ? -ENOMEM : 0;
}
