#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "journal.h"
#include "macro.h"
#include "proxy-confine.h"
#include "strv.h"

/* journald tells readers about new entries on a 250 ms timer; what it wrote is readable in
 * the mapped file at once, so a follower looks every 20 ms and asks the caller about
 * anything else (Ctrl+C, a run that ended) every 250 ms. */
#define FOLLOW_POLL_USEC 20000
#define IDLE_EVERY 12

/* The value of FIELD in the current entry, without "FIELD=", or NULL. */
static const char *field(sd_journal *j, const char *name, size_t *ret_len) {
        size_t prefix = strlen(name) + 1, len;
        const void *data;

        if (sd_journal_get_data(j, name, &data, &len) < 0 || len < prefix)
                return NULL;
        if (ret_len)
                *ret_len = len - prefix;
        return (const char *) data + prefix;
}

static bool field_is(sd_journal *j, const char *name, const char *value) {
        size_t len;
        const char *v = field(j, name, &len);

        return v && len == strlen(value) && memcmp(v, value, len) == 0;
}

/* A field holding a decimal number, e.g. MOAT_SEQ; false when absent or not a number. */
static bool field_u64(sd_journal *j, const char *name, uint64_t *ret) {
        char buf[24];
        size_t len;
        const char *v = field(j, name, &len);
        char *end;

        if (!v || len == 0 || len >= sizeof(buf) || v[0] < '0' || v[0] > '9')
                return false;
        memcpy(buf, v, len);
        buf[len] = '\0';
        errno = 0;
        *ret = strtoull(buf, &end, 10);
        return errno == 0 && *end == '\0';
}

/* Who may speak for a run.  Every field a client sends is its own to choose, MOAT_RUN_ID,
 * MOAT_EVENT and MOAT_EXIT_CODE included: any local user can log an entry that names any run.
 * What no client chooses are journald's trusted fields (those starting with '_'), which it
 * fills from the sender's credentials and cgroup:
 *   _UID   the sender's uid.  A run's writers (monitor, relay, proxy, cleanup) all run as the
 *          manager's owner: 0 for the system manager, the user for a user manager.  An entry
 *          of any other uid is not the run's.  Always present on entries a client sent.
 *   _SYSTEMD_UNIT / _SYSTEMD_USER_UNIT  the unit of the sender's cgroup.  For a system run
 *          _SYSTEMD_UNIT must be the run's unit; for a user run _SYSTEMD_USER_UNIT must be the
 *          run's unit and _SYSTEMD_UNIT the user manager's (user@UID.service).  journald may
 *          fail to attribute a message of a process that already exited (ENVIRONMENT.md), so
 *          a missing unit field is accepted: an entry without one still needs the owner's
 *          uid, so only the owner (who could stop the run anyway) could forge it, and only
 *          from a process that has exited by the time journald reads its message.
 * The container cannot reach the journal at all: it has no socket of journald's. */
static bool entry_trusted(sd_journal *j, const journal_source *src) {
        bool has_unit = field(j, "_SYSTEMD_UNIT", NULL), has_user_unit = field(j, "_SYSTEMD_USER_UNIT", NULL);

        /* A system run's proxy gives up root (lib/proxy-confine.h) and writes as nobody: its
         * records are the run's only from the run's own unit, which journald names. */
        if (src->proxy_uid[0] && field_is(j, "_UID", src->proxy_uid))
                return (field_is(j, "MOAT_EVENT", "network-denied") || field_is(j, "MOAT_EVENT", "request") ||
                        field_is(j, "MOAT_EVENT", "tunnel")) &&
                       field_is(j, "_SYSTEMD_UNIT", src->unit);
        if (!field_is(j, "_UID", src->uid))
                return false;
        if (has_unit && !field_is(j, "_SYSTEMD_UNIT", src->manager_unit ?: src->unit))
                return false;
        if (has_user_unit) /* a system run has none */
                return src->manager_unit && field_is(j, "_SYSTEMD_USER_UNIT", src->unit);
        return true;
}

int journal_source_init(journal_source *src, const run_record *rec) {
        *src = (journal_source) { .id = rec->id, .unit = rec->unit };
        snprintf(src->uid, sizeof(src->uid), "%u", rec->manager == RUN_MANAGER_USER ? (unsigned) getuid() : 0u);
        if (rec->manager != RUN_MANAGER_USER)
                snprintf(src->proxy_uid, sizeof(src->proxy_uid), "%u", (unsigned) proxy_confined_uid());
        if (rec->manager == RUN_MANAGER_USER) {
                snprintf(src->manager_unit_buf, sizeof(src->manager_unit_buf), "user@%s.service", src->uid);
                src->manager_unit = src->manager_unit_buf;
        }
        return rec->id[0] && rec->unit ? 0 : -EINVAL;
}

/* The run's entries of the owner's uid: journald filters by uid, moat checks the units. */
static int add_source_match(sd_journal *j, const journal_source *src) {
        char match[64];
        int r;

        snprintf(match, sizeof(match), "MOAT_RUN_ID=%s", src->id);
        r = sd_journal_add_match(j, match, 0);
        if (r < 0)
                return r;
        snprintf(match, sizeof(match), "_UID=%s", src->uid);
        r = sd_journal_add_match(j, match, 0);
        if (r < 0 || !src->proxy_uid[0])
                return r;
        /* matches of one field are alternatives */
        snprintf(match, sizeof(match), "_UID=%s", src->proxy_uid);
        return sd_journal_add_match(j, match, 0);
}

static int report_gap(const journal_read_options *o, uint64_t missing) {
        return missing > 0 && o->gap ? o->gap(missing, o->userdata) : 0;
}

/* The end record; entries it counts that were not met are missing at the end. */
static int read_end(sd_journal *j, const journal_read_options *o, journal_end *end) {
        char buf[32];
        size_t len;
        const char *v;
        uint64_t lines;

        end->seen = true;
        end->state = RUN_EXITED;
        v = field(j, "MOAT_STATE", &len);
        if (v && len < sizeof(buf)) {
                memcpy(buf, v, len);
                buf[len] = '\0';
                end->state = run_state_from_string(buf);
        }
        v = field(j, "MOAT_EXIT_CODE", &len);
        if (v && len > 0 && len < sizeof(buf)) {
                memcpy(buf, v, len);
                buf[len] = '\0';
                end->exit_code = atoi(buf);
                end->has_exit_code = true;
        }
        /* -n 0 shows no old lines: missing ones before the first new one are not its to tell */
        if (!o->event && field_u64(j, "MOAT_LINES", &lines) && (o->tail != 0 || end->seq.next != 0))
                return report_gap(o, line_seq_end(&end->seq, lines));
        return 0;
}

/* A field's value as a string, cut to fit; "" when missing. */
static void field_copy(sd_journal *j, const char *name, char *buf, size_t size) {
        size_t len;
        const char *v = field(j, name, &len);

        if (!v)
                len = 0;
        if (len >= size)
                len = size - 1;
        if (len)
                memcpy(buf, v, len);
        buf[len] = '\0';
}

/* Why a network-denied record's connection was refused; records from before reasons were
 * written were refused by the policy, the one reason there was. */
static net_refusal read_reason(sd_journal *j) {
        char reason[32] = "";
        net_refusal why;

        field_copy(j, "MOAT_REASON", reason, sizeof(reason));
        why = net_refusal_from_string(reason[0] ? reason : NULL);
        return why < 0 ? NET_REFUSED_POLICY : why;
}

/* A record of the run's proxy, into EV: 0, or -EBADMSG for one that is none. */
static int read_event(sd_journal *j, journal_event *ev) {
        char buf[128];
        uint64_t v;

        *ev = (journal_event) {};
        if (field_is(j, "MOAT_EVENT", "request"))
                ev->kind = JOURNAL_EVENT_REQUEST;
        else if (field_is(j, "MOAT_EVENT", "tunnel"))
                ev->kind = JOURNAL_EVENT_TUNNEL;
        else if (field_is(j, "MOAT_EVENT", "network-denied")) {
                ev->kind = JOURNAL_EVENT_DENIED;
                ev->reason = read_reason(j);
        } else
                return -EBADMSG;
        (void) sd_journal_get_realtime_usec(j, &ev->realtime);
        field_copy(j, "MOAT_HOST", ev->host, sizeof(ev->host));
        field_copy(j, "MOAT_METHOD", ev->method, sizeof(ev->method));
        field_copy(j, "MOAT_PATH", ev->path, sizeof(ev->path));
        if (field_u64(j, "MOAT_PORT", &v) && v <= 65535)
                ev->port = (unsigned) v;
        if (field_u64(j, "MOAT_STATUS", &v) && v <= 999)
                ev->status = (int) v;
        (void) field_u64(j, "MOAT_BYTES_UP", &ev->bytes_up);
        (void) field_u64(j, "MOAT_BYTES_DOWN", &ev->bytes_down);
        (void) field_u64(j, "MOAT_DURATION_USEC", &ev->duration_usec);
        field_copy(j, "MOAT_API", buf, sizeof(buf));
        ev->api = usage_api_from_string(buf);
        if (ev->api != USAGE_API_NONE && field_is(j, "MOAT_USAGE", "known")) {
                unsigned long long in, out, cr, cw;

                field_copy(j, "MOAT_TOKENS", buf, sizeof(buf));
                if (sscanf(buf, "%llu %llu %llu %llu", &in, &out, &cr, &cw) == 4) {
                        ev->usage.known = true;
                        ev->usage.input = in;
                        ev->usage.output = out;
                        ev->usage.cache_read = cr;
                        ev->usage.cache_write = cw;
                        field_copy(j, "MOAT_MODEL", ev->usage.model, sizeof(ev->usage.model));
                }
        }
        return 0;
}

/* Handles the current entry: an output line goes to the callback; the end record ends. */
static int handle_entry(sd_journal *j, const journal_source *src, const journal_read_options *o,
                        journal_end *end) {
        journal_line line = {};
        size_t len;
        const char *stream;
        uint64_t seq;
        int r;

        if (!entry_trusted(j, src))
                return 0;

        if (field_is(j, "MOAT_EVENT", "exit")) {
                r = read_end(j, o, end);
                return r < 0 ? r : 1;
        }
        if (o->event) {
                journal_event ev;

                return read_event(j, &ev) < 0 ? 0 : o->event(&ev, o->userdata);
        }
        if (field_is(j, "MOAT_EVENT", "network-denied")) {
                char host[256];
                const char *v = field(j, "MOAT_HOST", &len);

                if (!v || !o->denied || len >= sizeof(host))
                        return 0;
                memcpy(host, v, len);
                host[len] = '\0';
                return o->denied(host, read_reason(j), o->userdata);
        }
        stream = field(j, "MOAT_STREAM", &len);
        if (!stream)
                return 0; /* not a line of output */
        line.is_stderr = len == 6 && memcmp(stream, "stderr", 6) == 0;
        line.partial = field_is(j, "MOAT_PARTIAL", "1");
        line.data = field(j, "MESSAGE", &line.len);
        if (!line.data)
                return 0;
        (void) sd_journal_get_realtime_usec(j, &line.realtime);
        if (field_u64(j, "MOAT_SEQ", &seq)) {
                r = report_gap(o, line_seq_see(&end->seq, seq));
                if (r < 0)
                        return r;
        }
        return o->line(&line, o->userdata);
}

static bool is_output(sd_journal *j, const journal_source *src) {
        return field(j, "MOAT_STREAM", NULL) != NULL && entry_trusted(j, src);
}

/* Leaves the journal just before the first of the last TAIL lines. */
static int seek_tail_lines(sd_journal *j, const journal_source *src, long tail) {
        long n = 0;
        int r;

        r = sd_journal_seek_tail(j);
        if (r < 0)
                return r;
        while (n < tail) {
                r = sd_journal_previous(j);
                if (r < 0)
                        return r;
                if (r == 0) /* fewer lines than asked: all of them */
                        return sd_journal_seek_head(j);
                if (is_output(j, src))
                        n++;
        }
        /* one step back, so that the loop's next() lands on this entry */
        r = sd_journal_previous(j);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_journal_seek_head(j);
        return 0;
}

static const char *const proxy_events[] = { "MOAT_EVENT=request", "MOAT_EVENT=tunnel", "MOAT_EVENT=network-denied",
                                            "MOAT_EVENT=exit" };

int journal_read_run(const run_record *rec, const journal_read_options *o, journal_end *ret_end, moat_error *err) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        journal_source src;
        journal_end end = {};
        unsigned quiet = 0;
        int r;

        if (journal_source_init(&src, rec) < 0)
                return moat_error_set(err, -EINVAL, "run %s has no unit", rec->id);

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return moat_error_set(err, r, "cannot open the journal: %s", strerror(-r));
        /* the default cuts fields at 64 KiB: a long line must come back whole */
        r = sd_journal_set_data_threshold(j, 0);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the journal: %s", strerror(-r));
        r = add_source_match(j, &src);
        /* the proxy's records and the end alone: a run's output can be long */
        for (size_t i = 0; o->event && r >= 0 && i < ELEMENTSOF(proxy_events); i++)
                r = sd_journal_add_match(j, proxy_events[i], 0);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the journal: %s", strerror(-r));
        if (o->follow) {
                /* before the first read, so that nothing written meanwhile goes unseen */
                r = sd_journal_get_fd(j);
                if (r < 0)
                        return moat_error_set(err, r, "cannot follow the journal: %s", strerror(-r));
        }

        line_seq_init(&end.seq, o->tail < 0);
        if (o->tail == 0) {
                /* nothing old; only what comes next, when following */
                r = sd_journal_seek_tail(j);
                if (r >= 0)
                        r = sd_journal_previous(j);
                /* the last of the run's own entries */
                while (r > 0 && !entry_trusted(j, &src))
                        r = sd_journal_previous(j);
                if (r > 0 && field_is(j, "MOAT_EVENT", "exit")) {
                        (void) read_end(j, o, &end);
                        goto done;
                }
        } else
                r = o->tail > 0 ? seek_tail_lines(j, &src, o->tail) : sd_journal_seek_head(j);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the journal: %s", strerror(-r));

        for (;;) {
                r = sd_journal_next(j);
                if (r < 0)
                        return moat_error_set(err, r, "cannot read the journal: %s", strerror(-r));
                if (r > 0) {
                        quiet = 0;
                        r = handle_entry(j, &src, o, &end);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                break;
                        continue;
                }
                if (!o->follow)
                        break;
                r = sd_journal_wait(j, FOLLOW_POLL_USEC);
                if (r == -EINTR) { /* a signal (Ctrl+C): let the caller look at it now */
                        r = SD_JOURNAL_NOP;
                        quiet = IDLE_EVERY;
                }
                if (r < 0)
                        return moat_error_set(err, r, "cannot follow the journal: %s", strerror(-r));
                if (r == SD_JOURNAL_NOP && o->idle && ++quiet >= IDLE_EVERY) {
                        quiet = 0;
                        r = o->idle(o->userdata);
                        if (r != 0) {
                                if (r < 0)
                                        return r;
                                break;
                        }
                }
        }
done:
        if (ret_end)
                *ret_end = end;
        return 0;
}

int journal_read_denied_hosts(const run_record *rec, char ***ret, moat_error *err) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        _cleanup_(strv_freep) char **hosts = calloc(1, sizeof(char *));
        journal_source src;
        int r;

        if (!hosts)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if (journal_source_init(&src, rec) < 0)
                return moat_error_set(err, -EINVAL, "run %s has no unit", rec->id);
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return moat_error_set(err, r, "cannot open the journal: %s", strerror(-r));
        r = add_source_match(j, &src);
        if (r >= 0)
                r = sd_journal_add_match(j, "MOAT_EVENT=network-denied", 0);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the journal: %s", strerror(-r));
        SD_JOURNAL_FOREACH(j) {
                size_t len;
                const char *v = field(j, "MOAT_HOST", &len);
                bool seen = false;

                if (!v || !entry_trusted(j, &src))
                        continue;
                for (char **h = hosts; *h; h++)
                        seen |= strlen(*h) == len && memcmp(*h, v, len) == 0;
                if (!seen && strv_push(&hosts, strndup(v, len)) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(hosts);
        return 0;
}
