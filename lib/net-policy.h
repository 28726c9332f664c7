/* A run's network policy: which hosts its container may reach through the run's proxy.
 *
 *   open    the container has the network (podman's default); the proxy, when the run has
 *           grants, tunnels any host and adds credentials for the grants' hosts
 *   strict  the container has only its own loopback, where the proxy listens; the proxy
 *           lets through the grants' hosts and the allow patterns, and refuses the rest
 *   none    no network at all
 *
 * Allow patterns are host names ("github.com") or a wildcard first label ("*.npmjs.org",
 * which matches any name below npmjs.org, not npmjs.org itself).  IP addresses are not
 * patterns: a strict run reaches hosts by name only. */
#pragma once

#include <stdbool.h>

#include "error.h"

/* Where a run's proxy listens, inside the container's network namespace. */
#define PROXY_ADDRESS "127.0.0.1"
#define PROXY_PORT 3128

typedef enum net_mode {
        NET_OPEN,
        NET_STRICT,
        NET_NONE,
        _NET_MODE_MAX,
        _NET_MODE_INVALID = -1,
} net_mode;

const char *net_mode_to_string(net_mode m);
net_mode net_mode_from_string(const char *s);

/* Checks NAME as a DNS host name (labels of letters, digits and '-', 1-63 each, 253 in all,
 * the last one starting with a letter: no spelling of an IP address) and returns it
 * lowercased, without a trailing dot.  -EINVAL otherwise. */
int host_name_normalize(const char *name, char **ret);

/* What a refusal of HOST by a MODE run says, the same in the proxy's 403, the journal and
 * on the terminal (no "moat: ", no newline): how to allow a host name; that an address is
 * no host name.  -ENOMEM. */
int net_denial_text(const char *host, net_mode mode, char **ret);

/* Why the proxy refused a connection (MOAT_REASON of its network-denied record): the run's
 * policy; the host itself (the name resolved to a loopback, link-local or own address); a
 * request on a connection intercepted for a grant's host that named another host (421). */
typedef enum net_refusal {
        NET_REFUSED_POLICY,
        NET_REFUSED_HOST_ITSELF,
        NET_REFUSED_MISDIRECTED,
        _NET_REFUSAL_MAX,
        _NET_REFUSAL_INVALID = -1,
} net_refusal;

const char *net_refusal_to_string(net_refusal r);
/* NET_REFUSED_POLICY for NULL (a record written before reasons were): that was the only one. */
net_refusal net_refusal_from_string(const char *s);

/* What a refusal of HOST for WHY says in the journal and on the terminal (no "moat: ", no
 * newline); for NET_REFUSED_POLICY it is net_denial_text().  -ENOMEM. */
int net_refusal_text(const char *host, net_mode mode, net_refusal why, char **ret);

/* Checks an allow pattern and returns it normalized; err names what is wrong with it. */
int host_pattern_normalize(const char *pattern, char **ret, moat_error *err);

/* Whether normalized HOST matches normalized PATTERN. */
bool host_pattern_match(const char *pattern, const char *host);

/* Whether HOST matches any of PATTERNS (NULL-terminated, may be NULL). */
bool host_allowed(char *const *patterns, const char *host);
