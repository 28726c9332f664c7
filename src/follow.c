#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-util.h"
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

static int print_gap(uint64_t missing, void *userdata) {
        (void) userdata;
        /* after every line before the gap */
        if (fflush(stdout) == EOF)
                return -EPIPE;
        fprintf(stderr, "moat: journald dropped %" PRIu64 " line%s of this run here\n", missing,
                missing == 1 ? "" : "s");
        return 0;
}

static int print_denied(const char *host, net_refusal why, void *userdata) {
        follower *f = userdata;
        _cleanup_free_ char *text = NULL;

        if (fflush(stdout) == EOF)
                return -EPIPE;
        /* why, and how to allow a host the policy refused, as the container's answer says */
        if (net_refusal_text(host, f->rec->network, why, &text) < 0)
                return -ENOMEM;
        fprintf(stderr, "moat: the run's proxy refused a connection: %s\n", text);
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

                        if (podman_client_open(f->rec->manager == RUN_MANAGER_USER, &c, &err) >= 0)
                                (void) podman_container_kill(c, f->rec->container_id, "SIGKILL", &err);
                }
                moat_error_clear(&err);
        }
}

static int forward_event(const journal_event *ev, void *userdata) {
        follower *f = userdata;

        return f->o->event(ev, f->o->userdata);
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

void follow_end_done(follow_end *e) {
        free(e->error);
        free(e->stop_reason);
        *e = (follow_end) {};
}

/* The journal ended without the run's end record: when the run record says the run has
 * ended, it tells how, and how many lines the journal should have held. */
static int end_from_record(run_store *store, const run_record *rec, const follow_options *o, journal_end *je,
                           follow_end *ret) {
        _cleanup_(run_record_freep) run_record *now = NULL;
        int r;

        if (run_store_load(store, rec->id, &now, NULL) < 0 || !run_state_is_final(now->state))
                return 0;
        if (!o->event && now->has_output_lines && (o->tail != 0 || je->seq.next != 0)) {
                r = print_gap(line_seq_end(&je->seq, now->output_lines), NULL);
                if (r < 0)
                        return r;
        }
        ret->known = true;
        ret->state = now->state;
        ret->has_exit_code = now->has_exit_code;
        ret->exit_code = now->exit_code;
        ret->error = TAKE_PTR(now->error);
        return 0;
}

int follow_run(const run_record *rec, const follow_options *o, follow_end *ret_end) {
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
                .gap = print_gap,
                .denied = print_denied,
                .idle = on_idle,
                .userdata = &f,
        };
        journal_end je = {};
        follow_end end = {};
        int r;

        if (!o->follow)
                setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
        if (o->event) {
                ro.event = forward_event;
                ro.denied = NULL;
        }
        if (run_store_default_home(rec->manager, &home, &err) < 0 || run_store_open(home, &store, &err) < 0 ||
            (o->follow && unit_bus_open(rec->manager, &bus, &err) < 0))
                return cli_fail("%s", moat_error_message(&err));
        f.bus = bus;
        f.store = store;
        /* SIGINT only: killing moat (SIGTERM, SIGKILL) leaves the run alone */
        if (o->stop_on_interrupt)
                sigaction(SIGINT, &sa, &old_int);
        r = journal_read_run(rec, &ro, &je, &err);
        if (o->stop_on_interrupt)
                sigaction(SIGINT, &old_int, NULL);
        if (r >= 0) {
                if (je.seen)
                        end = (follow_end) { .known = true, .state = je.state, .has_exit_code = je.has_exit_code,
                                             .exit_code = je.exit_code };
                else
                        r = end_from_record(store, rec, o, &je, &end);
                end.dropped = je.seq.dropped;
                if (r >= 0 && end.known && end.state == RUN_STOPPED) {
                        _cleanup_(run_record_freep) run_record *now = NULL;

                        if (run_store_load(store, rec->id, &now, NULL) >= 0)
                                end.stop_reason = TAKE_PTR(now->stop_reason);
                }
        }
        if (fflush(stdout) == EOF || r == -EPIPE) {
                follow_end_done(&end);
                return -EPIPE;
        }
        if (r < 0) {
                follow_end_done(&end);
                cli_fail("%s", moat_error_message(&err));
                return -EIO;
        }
        if (ret_end)
                *ret_end = end;
        else
                follow_end_done(&end);
        return 0;
}
