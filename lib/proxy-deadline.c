#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proxy-deadline.h"

#define MSEC 1000ULL
#define SEC (1000ULL * MSEC)

void proxy_timeouts_default(proxy_timeouts *t) {
        *t = (proxy_timeouts) { .head = 30 * SEC, .setup = 15 * SEC, .idle = 600 * SEC, .linger = 2 * SEC };
}

int proxy_timeouts_parse(const char *spec, proxy_timeouts *t) {
        static const struct {
                const char *name;
                size_t offset;
        } fields[] = {
                { "head", offsetof(proxy_timeouts, head) },
                { "setup", offsetof(proxy_timeouts, setup) },
                { "idle", offsetof(proxy_timeouts, idle) },
                { "linger", offsetof(proxy_timeouts, linger) },
        };
        proxy_timeouts out = *t;
        const char *p = spec;

        if (!spec || !*spec)
                return -EINVAL;
        while (*p) {
                size_t i, n = strcspn(p, "=");
                unsigned long long ms;
                char *end;

                for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                        if (strlen(fields[i].name) == n && strncmp(p, fields[i].name, n) == 0)
                                break;
                if (i == sizeof(fields) / sizeof(fields[0]) || p[n] != '=' || p[n + 1] < '0' || p[n + 1] > '9')
                        return -EINVAL;
                errno = 0;
                ms = strtoull(p + n + 1, &end, 10);
                if (errno || ms > UINT64_MAX / MSEC / 2 || (*end && *end != ','))
                        return -EINVAL;
                *(uint64_t *) ((char *) &out + fields[i].offset) = ms * MSEC;
                p = *end ? end + 1 : end;
                if (*end && !*p)
                        return -EINVAL; /* a trailing comma */
        }
        *t = out;
        return 0;
}

proxy_phase proxy_phase_next(proxy_phase phase, proxy_event event) {
        if (phase == PROXY_PHASE_CLOSED || event == PROXY_EVENT_ABORT)
                return PROXY_PHASE_CLOSED;
        switch (phase) {
        case PROXY_PHASE_HEAD:
                return event == PROXY_EVENT_HEAD ? PROXY_PHASE_SETUP : PROXY_PHASE_CLOSING;
        case PROXY_PHASE_SETUP:
                switch (event) {
                case PROXY_EVENT_READY:
                        return PROXY_PHASE_RELAY;
                case PROXY_EVENT_FAILED:
                        /* an intercepted client hears why in answer to its first request,
                         * which it sends once its TLS is up: a head to wait for */
                        return PROXY_PHASE_HEAD;
                default:
                        return PROXY_PHASE_CLOSING;
                }
        case PROXY_PHASE_RELAY:
                switch (event) {
                case PROXY_EVENT_DEADLINE:
                        return PROXY_PHASE_CLOSED;
                case PROXY_EVENT_ANSWER:
                case PROXY_EVENT_END:
                        return PROXY_PHASE_CLOSING;
                default:
                        return PROXY_PHASE_RELAY;
                }
        case PROXY_PHASE_CLOSING:
                return event == PROXY_EVENT_END || event == PROXY_EVENT_DEADLINE ? PROXY_PHASE_CLOSED
                                                                                 : PROXY_PHASE_CLOSING;
        default:
                return PROXY_PHASE_CLOSED;
        }
}

int proxy_deadline_status(proxy_phase phase) {
        return phase == PROXY_PHASE_HEAD ? 408 : phase == PROXY_PHASE_SETUP ? 504 : 0;
}

static uint64_t add_saturating(uint64_t a, uint64_t b) {
        return a > PROXY_NO_DEADLINE - 1 - b ? PROXY_NO_DEADLINE - 1 : a + b;
}

uint64_t proxy_deadline(const proxy_timeouts *t, proxy_phase phase, uint64_t since, uint64_t active) {
        uint64_t limit, from = since;

        switch (phase) {
        case PROXY_PHASE_HEAD:
                limit = t->head;
                break;
        case PROXY_PHASE_SETUP:
                limit = t->setup;
                break;
        case PROXY_PHASE_RELAY:
                limit = t->idle;
                from = active > since ? active : since;
                break;
        case PROXY_PHASE_CLOSING:
                limit = t->linger;
                break;
        default:
                return PROXY_NO_DEADLINE;
        }
        return limit == 0 ? PROXY_NO_DEADLINE : add_saturating(from, limit);
}
