/* The TLS worker's pool of servers' connections (lib/proxy-internal.h): a connection to a
 * grant's server that a client left idle and reusable waits, for POOL_IDLE_USEC at most, for
 * the next client of the same host, port and grant. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "proxy-internal.h"

static void pool_drop(struct parked *slot) {
        slot->io = sd_event_source_disable_unref(slot->io);
        proxy_side_close(&slot->side);
        slot->host = mfree(slot->host);
}

/* A parked connection's server spoke or hung up: it is not the next client's. */
static int on_parked_io(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        pool_drop(userdata);
        return 0;
}

/* Drops what was parked too long; the timer again for the oldest left. */
int proxy_on_pool_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        proxy *p = userdata;
        uint64_t oldest = UINT64_MAX;

        for (size_t i = 0; i < POOL_MAX; i++) {
                if (!p->pool[i].host)
                        continue;
                if (usec >= p->pool[i].since + POOL_IDLE_USEC)
                        pool_drop(&p->pool[i]);
                else if (p->pool[i].since < oldest)
                        oldest = p->pool[i].since;
        }
        if (oldest != UINT64_MAX)
                proxy_timer_arm(s, oldest + POOL_IDLE_USEC);
        return 0;
}

/* C closes: its server's connection is parked when it could serve another client, that is when
 * the client left at a request's boundary with every answer whole and nothing of the
 * server's unread, and both kept the connection alive (http_rewriter_reusable()). */
bool proxy_pool_park(connection *c) {
        proxy *p = c->p;
        struct parked *slot = NULL;

        if (c->kind != KIND_INJECT || !p->tls || !p->pool_timer || !c->up_ready || c->failed || c->misdirected ||
            !c->down.eof || c->up.eof || c->up.shut || c->up.fd < 0 || proxy_side_pending(&c->up) || !c->rw ||
            !http_rewriter_reusable(c->rw) || !p->tls->side_clean(&c->up))
                return false;
        for (size_t i = 0; i < POOL_MAX; i++)
                if (!p->pool[i].host || !slot || (slot->host && p->pool[i].since < slot->since))
                        slot = &p->pool[i];
        if (slot->host)
                pool_drop(slot); /* the oldest makes room */
        c->up_io = sd_event_source_disable_unref(c->up_io);
        slot->host = strdup(c->route.host);
        if (!slot->host || sd_event_add_io(p->event, &slot->io, c->up.fd, EPOLLIN, on_parked_io, slot) < 0) {
                slot->host = mfree(slot->host);
                return false;
        }
        slot->port = c->req.port;
        slot->grant = c->route.grant;
        slot->since = proxy_now(p);
        slot->side = c->up;
        c->up = (proxy_side) PROXY_SIDE_INIT;
        if (sd_event_source_get_enabled(p->pool_timer, NULL) == 0)
                proxy_timer_arm(p->pool_timer, slot->since + POOL_IDLE_USEC);
        return true;
}

/* A parked connection to C's server, for C's grant, becomes C's: true, or false when there is
 * none to take. */
bool proxy_pool_take(connection *c) {
        proxy *p = c->p;

        for (size_t i = 0; i < POOL_MAX; i++) {
                struct parked *slot = &p->pool[i];

                if (!slot->host || strcmp(slot->host, c->route.host) != 0 || slot->port != c->req.port ||
                    slot->grant != c->route.grant)
                        continue;
                if (proxy_now(p) >= slot->since + POOL_IDLE_USEC) {
                        pool_drop(slot);
                        continue;
                }
                slot->io = sd_event_source_disable_unref(slot->io);
                if (sd_event_add_io(p->event, &c->up_io, slot->side.fd, EPOLLIN, proxy_on_upstream_io, c) < 0) {
                        pool_drop(slot);
                        return false;
                }
                c->up = slot->side;
                c->up.readable = c->up.writable = true;
                slot->side = (proxy_side) PROXY_SIDE_INIT;
                slot->host = mfree(slot->host);
                c->up_ready = true;
                return true;
        }
        return false;
}

void proxy_pool_drop_all(proxy *p) {
        for (size_t i = 0; i < POOL_MAX; i++)
                if (p->pool[i].host)
                        pool_drop(&p->pool[i]);
}
