#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "resolver.h"

struct resolver_query {
        char *host, *service;
        struct addrinfo hints;
        int error;
        struct addrinfo *result;
        resolver_done_t done; /* NULL: cancelled */
        void *userdata;
        resolver_query *next;
};

/* Shared by the loop and the threads, under LOCK; freed by whichever lets go of it last: a
 * thread may sit in getaddrinfo() for a DNS timeout after the loop is gone. */
struct resolver {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        resolver_query *pending, **pending_tail; /* in the order asked */
        resolver_query *finished;                /* for the loop to hand back */
        unsigned threads, idle;
        unsigned refs; /* the loop's, and one each thread's */
        bool closing;
        int efd;
        sd_event_source *source;
};

static void query_free(resolver_query *q) {
        if (q->result)
                freeaddrinfo(q->result);
        free(q->host);
        free(q->service);
        free(q);
}

static void queries_free(resolver_query *q) {
        while (q) {
                resolver_query *next = q->next;

                query_free(q);
                q = next;
        }
}

/* Called with the lock held, which it releases. */
static void unref_unlock(resolver *r) {
        bool last = --r->refs == 0;

        pthread_mutex_unlock(&r->lock);
        if (!last)
                return;
        queries_free(r->pending);
        queries_free(r->finished);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        close(r->efd);
        free(r);
}

static void *resolve_thread(void *userdata) {
        resolver *r = userdata;

        pthread_mutex_lock(&r->lock);
        for (;;) {
                resolver_query *q;
                struct timespec until;
                uint64_t one = 1;

                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += RESOLVER_IDLE_SECONDS;
                while (!r->pending && !r->closing) {
                        int e;

                        r->idle++;
                        e = pthread_cond_timedwait(&r->wake, &r->lock, &until);
                        r->idle--;
                        if (e == ETIMEDOUT && !r->pending)
                                goto out;
                }
                if (r->closing)
                        break;
                q = r->pending;
                r->pending = q->next;
                if (!r->pending)
                        r->pending_tail = &r->pending;
                pthread_mutex_unlock(&r->lock);

                q->error = getaddrinfo(q->host, q->service, &q->hints, &q->result);

                pthread_mutex_lock(&r->lock);
                q->next = r->finished;
                r->finished = q;
                (void) !write(r->efd, &one, sizeof(one));
        }
out:
        /* a return, not pthread_exit(): nothing to unwind, no libgcc_s */
        r->threads--;
        unref_unlock(r);
        return NULL;
}

static int on_finished(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        resolver *r = userdata;
        resolver_query *q;
        uint64_t n;

        (void) !read(fd, &n, sizeof(n));
        pthread_mutex_lock(&r->lock);
        q = r->finished;
        r->finished = NULL;
        pthread_mutex_unlock(&r->lock);
        while (q) {
                resolver_query *next = q->next;

                if (q->done) {
                        q->done(q->error, q->result, q->userdata);
                        q->result = NULL;
                }
                query_free(q);
                q = next;
        }
        return 0;
}

int resolver_new(sd_event *event, resolver **ret) {
        resolver *r = calloc(1, sizeof(*r));
        pthread_condattr_t attr;
        int e;

        if (!r)
                return -ENOMEM;
        r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->efd < 0) {
                e = -errno;
                free(r);
                return e;
        }
        pthread_mutex_init(&r->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&r->wake, &attr);
        pthread_condattr_destroy(&attr);
        r->pending_tail = &r->pending;
        r->refs = 1;
        e = sd_event_add_io(event, &r->source, r->efd, EPOLLIN, on_finished, r);
        if (e < 0) {
                pthread_mutex_lock(&r->lock);
                unref_unlock(r);
                return e;
        }
        *ret = r;
        return 0;
}

void resolver_free(resolver *r) {
        if (!r)
                return;
        r->source = sd_event_source_disable_unref(r->source);
        pthread_mutex_lock(&r->lock);
        r->closing = true;
        pthread_cond_broadcast(&r->wake);
        unref_unlock(r);
}

/* Called with the lock held.  Every signal blocked in the thread: they are the loop's. */
static int add_thread(resolver *r) {
        pthread_attr_t attr;
        pthread_t thread;
        sigset_t all, old;
        int e;

        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        e = pthread_create(&thread, &attr, resolve_thread, r);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (e != 0)
                return -e;
        r->threads++;
        r->refs++;
        return 0;
}

int resolver_lookup(resolver *r, const char *host, const char *service, const struct addrinfo *hints,
                    resolver_done_t done, void *userdata, resolver_query **ret) {
        resolver_query *q = calloc(1, sizeof(*q));
        int e = 0;

        if (!q || !(q->host = strdup(host)) || !(q->service = strdup(service))) {
                if (q)
                        query_free(q);
                return -ENOMEM;
        }
        q->hints = *hints;
        q->hints.ai_addr = NULL;
        q->hints.ai_canonname = NULL;
        q->hints.ai_next = NULL;
        q->done = done;
        q->userdata = userdata;

        pthread_mutex_lock(&r->lock);
        /* a thread more while every one is busy: a slow name holds up no other */
        if (r->idle == 0 && r->threads < RESOLVER_THREADS_MAX)
                e = add_thread(r);
        if (e < 0 && r->threads == 0) {
                pthread_mutex_unlock(&r->lock);
                query_free(q);
                return -EAGAIN;
        }
        *r->pending_tail = q;
        r->pending_tail = &q->next;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        if (ret)
                *ret = q;
        return 0;
}

void resolver_cancel(resolver *r, resolver_query *q) {
        pthread_mutex_lock(&r->lock);
        for (resolver_query **p = &r->pending; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        if (!*p)
                                r->pending_tail = p;
                        pthread_mutex_unlock(&r->lock);
                        query_free(q);
                        return;
                }
        /* in a thread, or done and not yet handed back: freed when it comes back */
        q->done = NULL;
        pthread_mutex_unlock(&r->lock);
}
