#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "follow.h"
#include "podman.h"
#include "time-util.h"
#include "unit.h"

static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig) {
        (void) sig;
        interrupts++;
}

typedef struct follower {
        const run_record *rec;
        const follow_options *o;
        run_store *store;
        sd_bus *bus;
        int interrupts_handled;
        unsigned idle_rounds;
        unsigned ended_rounds;
} follower;

static int print_line(const journal_line *line, void *userdata) {
        follower *f = userdata;
        FILE *out = line->is_stderr ? stderr : stdout;

        if (f->o->timestamps) {
                time_t t = (time_t) (line->realtime / USEC_PER_SEC);
                struct tm tm;
                char ts[64];

                gmtime_r(&t, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
                fprintf(out, "%s.%06uZ ", ts, (unsigned) (line->realtime % USEC_PER_SEC));
        }
        if (fwrite(line->data, 1, line->len, out) != line->len || (!line->partial && fputc('\n', out) == EOF))
                return -EPIPE;
        if (f->o->follow && fflush(out) == EOF)
                return -EPIPE;
        return 0;
}

/* Ctrl+C: the first stops the run (the output goes on to its end), the second kills the
 * container at once. */
static void handle_interrupts(follower *f) {
        moat_error err = {};

        if (!f->o->stop_on_interrupt)
                return;
        while (f->interrupts_handled < interrupts) {
                f->interrupts_handled++;
                if (f->interrupts_handled == 1) {
                        fprintf(stderr, "Stopping %s (%s); Ctrl+C again to kill it.\n", f->rec->name, f->rec->id);
                        if (unit_stop(f->bus, f->rec->unit, false, &err) < 0 && err.code != -ENOENT)
                                fprintf(stderr, "moat: %s\n", moat_error_message(&err));
                } else if (f->interrupts_handled == 2 && f->rec->container_id) {
                        _cleanup_(podman_client_freep) podman_client *c = NULL;
                        _cleanup_free_ char *socket = NULL;

                        if (podman_socket_path(f->rec->manager == RUN_MANAGER_USER, &socket, &err) >= 0 &&
                            podman_client_new(socket, &c, &err) >= 0)
                                (void) podman_container_kill(c, f->rec->container_id, "SIGKILL", &err);
                }
                moat_error_clear(&err);
        }
}

/* Between entries: stdout is flushed, Ctrl+C handled, and now and then the record looked at,
 * so that a run that ended without an end record cannot keep us waiting. */
static int on_idle(void *userdata) {
        follower *f = userdata;
        _cleanup_(run_record_freep) run_record *now = NULL;
        _cleanup_free_ char *state = NULL;

        fflush(stdout);
        handle_interrupts(f);
        if (++f->idle_rounds % 4 != 0)
                return 0;
        if (run_store_load(f->store, f->rec->id, &now, NULL) < 0)
                return 0;
        if (!run_state_is_final(now->state)) {
                if (unit_active_state(f->bus, f->rec->unit, &state, NULL) < 0 || unit_state_is_live(state))
                        return 0;
        }
        /* ended (or lost) with no end record in the journal for a few seconds */
        return ++f->ended_rounds >= 3 ? 1 : 0;
}

int follow_run(const run_record *rec, const follow_options *o, journal_end *ret_end) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(run_store_freep) run_store *store = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *home = NULL;
        struct sigaction sa = { .sa_handler = on_interrupt }, old_int;
        static char outbuf[1 << 16];
        follower f = { .rec = rec, .o = o };
        journal_read_options ro = {
                .follow = o->follow,
                .tail = o->tail,
                .line = print_line,
                .idle = on_idle,
                .userdata = &f,
        };
        int r;

        if (!o->follow)
                setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
        if (o->follow) {
                if (unit_bus_open(rec->manager, &bus, &err) < 0 || run_store_default_home(rec->manager, &home, &err) < 0 ||
                    run_store_open(home, &store, &err) < 0)
                        return cli_fail("%s", moat_error_message(&err));
                f.bus = bus;
                f.store = store;
        }
        /* SIGINT only: killing moat (SIGTERM, SIGKILL) leaves the run alone */
        if (o->stop_on_interrupt)
                sigaction(SIGINT, &sa, &old_int);
        r = journal_read_run(rec->id, &ro, ret_end, &err);
        if (o->stop_on_interrupt)
                sigaction(SIGINT, &old_int, NULL);
        if (fflush(stdout) == EOF || r == -EPIPE)
                return -EPIPE;
        if (r < 0) {
                cli_fail("%s", moat_error_message(&err));
                return -EIO;
        }
        return 0;
}
