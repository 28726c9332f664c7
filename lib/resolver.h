/* Name lookups for an sd-event loop: getaddrinfo() in a few threads of its own, each lookup
 * handed back to the loop, through an eventfd, as it is done.  Not getaddrinfo_a(): each of
 * its helper threads ends with pthread_exit(), which loads libgcc_s and unwinds through libc's
 * tables (some 250 KiB that then stay in the process's private memory), a lookup waits for a
 * new thread whenever the last ended a second before, and it says a lookup is done with a
 * signal that any process of the same user can forge.  Threads here are made when every one
 * is busy, up to RESOLVER_THREADS_MAX (one slow name does not hold up the others), and end by
 * returning after RESOLVER_IDLE_SECONDS without work. */
#pragma once

#include <netdb.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define RESOLVER_THREADS_MAX 8
#define RESOLVER_IDLE_SECONDS 10

typedef struct resolver resolver;
typedef struct resolver_query resolver_query;

/* Called in the loop with the lookup's getaddrinfo() ERROR (0, or EAI_*) and its RESULT, which
 * the callee then owns (freeaddrinfo()). */
typedef void (*resolver_done_t)(int error, struct addrinfo *result, void *userdata);

int resolver_new(sd_event *event, resolver **ret);
/* Lookups under way are forgotten: their threads finish them and free them. */
void resolver_free(resolver *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(resolver *, resolver_free);

/* Looks HOST up for SERVICE with HINTS; DONE is called once, later, from the loop, unless the
 * lookup is cancelled first.  *RET (optional) is for resolver_cancel().  -ENOMEM, or -EAGAIN
 * when no thread could be had. */
int resolver_lookup(resolver *r, const char *host, const char *service, const struct addrinfo *hints,
                    resolver_done_t done, void *userdata, resolver_query **ret);

/* DONE will not be called for Q (from the loop's thread, before it was). */
void resolver_cancel(resolver *r, resolver_query *q);
