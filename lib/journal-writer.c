#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "journal.h"
#include "macro.h"

#define MESSAGE_PREFIX "MESSAGE="

int journal_writer_init(journal_writer *w, const run_record *rec, uint64_t lines_before, moat_error *err) {
        *w = (journal_writer) { .rec = rec, .lines = lines_before };
        if (asprintf(&w->unit_field, "%s=%s",
                     rec->manager == RUN_MANAGER_USER ? "USER_UNIT" : "OBJECT_SYSTEMD_UNIT", rec->unit) < 0 ||
            asprintf(&w->id_field, "MOAT_RUN_ID=%s", rec->id) < 0 ||
            asprintf(&w->ident_field, "SYSLOG_IDENTIFIER=%s", rec->name) < 0) {
                journal_writer_done(w);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

void journal_writer_done(journal_writer *w) {
        free(w->unit_field);
        free(w->id_field);
        free(w->ident_field);
        free(w->message);
        line_buffer_free(&w->out);
        line_buffer_free(&w->err);
        *w = (journal_writer) {};
}

static int send_line(journal_writer *w, bool is_stderr, const char *line, size_t len, bool partial) {
        size_t need = strlen(MESSAGE_PREFIX) + len;
        struct iovec iov[8];
        size_t n = 0;
        int r;

        if (need > w->message_cap) {
                char *p = realloc(w->message, need);

                if (!p)
                        return -ENOMEM;
                w->message = p;
                w->message_cap = need;
                memcpy(w->message, MESSAGE_PREFIX, strlen(MESSAGE_PREFIX));
        }
        memcpy(w->message + strlen(MESSAGE_PREFIX), line, len);

        iov[n++] = (struct iovec) { w->message, need };
        iov[n++] = is_stderr ? (struct iovec) { (char *) "PRIORITY=3", 10 } : (struct iovec) { (char *) "PRIORITY=6", 10 };
        iov[n++] = is_stderr ? (struct iovec) { (char *) "MOAT_STREAM=stderr", 18 }
                             : (struct iovec) { (char *) "MOAT_STREAM=stdout", 18 };
        iov[n++] = (struct iovec) { w->id_field, strlen(w->id_field) };
        iov[n++] = (struct iovec) { w->unit_field, strlen(w->unit_field) };
        iov[n++] = (struct iovec) { w->ident_field, strlen(w->ident_field) };
        iov[n] = (struct iovec) { w->seq_field, 0 };
        iov[n++].iov_len = (size_t) snprintf(w->seq_field, sizeof(w->seq_field), "MOAT_SEQ=%" PRIu64, w->lines + 1);
        if (partial)
                iov[n++] = (struct iovec) { (char *) "MOAT_PARTIAL=1", 14 };

        /* journald's socket may be full for a moment under a burst: retry, never drop. */
        for (unsigned attempt = 0;; attempt++) {
                r = sd_journal_sendv(iov, (int) n);
                if (r >= 0 || (r != -EAGAIN && r != -ENOBUFS) || attempt >= 1000)
                        break;
                usleep(1000);
        }
        if (r >= 0)
                w->lines++;
        if (w->message_cap > LINE_BUFFER_KEEP_CAP) { /* a long line's copy goes with it */
                free(w->message);
                w->message = NULL;
                w->message_cap = 0;
        }
        return r;
}

static int send_stdout(const char *line, size_t len, bool partial, void *userdata) {
        return send_line(userdata, false, line, len, partial);
}

static int send_stderr(const char *line, size_t len, bool partial, void *userdata) {
        return send_line(userdata, true, line, len, partial);
}

int journal_writer_feed(podman_stream stream, const char *data, size_t len, void *userdata) {
        journal_writer *w = userdata;

        switch (stream) {
        case PODMAN_STREAM_STDOUT:
                return line_buffer_feed(&w->out, data, len, send_stdout, w);
        case PODMAN_STREAM_STDERR:
                return line_buffer_feed(&w->err, data, len, send_stderr, w);
        default:
                /* podman's own errors belong to the monitor's log, not the run's output */
                fprintf(stderr, "podman: %.*s\n", (int) len, data);
                return 0;
        }
}

int journal_writer_flush(journal_writer *w) {
        int r;

        r = line_buffer_flush(&w->out, send_stdout, w);
        if (r < 0)
                return r;
        return line_buffer_flush(&w->err, send_stderr, w);
}

int journal_write_exit(const run_record *rec) {
        const char *unit_key = rec->manager == RUN_MANAGER_USER ? "USER_UNIT" : "OBJECT_SYSTEMD_UNIT";
        _cleanup_free_ char *message = NULL;
        char code[16] = "", lines[24] = "";
        const char *reason = rec->state == RUN_STOPPED ? rec->stop_reason : NULL;
        int r;

        if (rec->has_exit_code)
                snprintf(code, sizeof(code), "%d", rec->exit_code);
        if (rec->has_output_lines)
                snprintf(lines, sizeof(lines), "%" PRIu64, rec->output_lines);
        if (rec->state == RUN_FAILED)
                r = asprintf(&message, "Run %s (%s) failed: %s", rec->name, rec->id, rec->error ?: "unknown");
        else if (!rec->has_exit_code)
                r = asprintf(&message, "Run %s (%s) was %s before its container started", rec->name, rec->id,
                             run_state_to_string(rec->state));
        else
                r = asprintf(&message, "Run %s (%s) %s%s%s%s with code %s", rec->name, rec->id,
                             run_state_to_string(rec->state), reason ? " (" : "", reason ?: "", reason ? ")" : "", code);
        if (r < 0)
                return -ENOMEM;
        return sd_journal_send("MESSAGE=%s", message,
                               "PRIORITY=%d", rec->state == RUN_FAILED ? 3 : 5,
                               "MOAT_RUN_ID=%s", rec->id,
                               "MOAT_EVENT=exit",
                               "MOAT_STATE=%s", run_state_to_string(rec->state),
                               "MOAT_EXIT_CODE=%s", code,
                               "MOAT_LINES=%s", lines,
                               "MOAT_STOP_REASON=%s", reason ?: "",
                               "%s=%s", unit_key, rec->unit,
                               "SYSLOG_IDENTIFIER=%s", rec->name,
                               NULL);
}

int journal_write_network_denied(const run_record *rec, const char *host, net_refusal why) {
        const char *unit_key = rec->manager == RUN_MANAGER_USER ? "USER_UNIT" : "OBJECT_SYSTEMD_UNIT";
        _cleanup_free_ char *text = NULL;

        /* journalctl -u shows this line: it says why, and how to allow a host the policy refused,
         * as the container's answer does */
        if (net_refusal_text(host, rec->network, why, &text) < 0)
                return -ENOMEM;
        return sd_journal_send("MESSAGE=Refused a connection: %s", text,
                               "PRIORITY=4",
                               "MOAT_RUN_ID=%s", rec->id,
                               "MOAT_EVENT=network-denied",
                               "MOAT_HOST=%s", host,
                               "MOAT_REASON=%s", net_refusal_to_string(why),
                               "%s=%s", unit_key, rec->unit,
                               "SYSLOG_IDENTIFIER=%s", rec->name,
                               NULL);
}

int journal_write_proxy_busy(const run_record *rec, unsigned n, unsigned max) {
        const char *unit_key = rec->manager == RUN_MANAGER_USER ? "USER_UNIT" : "OBJECT_SYSTEMD_UNIT";

        return sd_journal_send("MESSAGE=Refused %u connection%s: the proxy serves at most %u at once", n,
                               n == 1 ? "" : "s", max,
                               "PRIORITY=4",
                               "MOAT_RUN_ID=%s", rec->id,
                               "MOAT_EVENT=proxy-busy",
                               "MOAT_REFUSED=%u", n,
                               "%s=%s", unit_key, rec->unit,
                               "SYSLOG_IDENTIFIER=%s", rec->name,
                               NULL);
}

/* A field of a record being made: "NAME=value" into F's next slot. */
typedef struct fields {
        struct iovec iov[24];
        char *text[24];
        size_t n;
} fields;

static int field_add(fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int field_add(fields *f, const char *fmt, ...) {
        va_list ap;
        int r;

        if (f->n == ELEMENTSOF(f->iov))
                return -E2BIG;
        va_start(ap, fmt);
        r = vasprintf(&f->text[f->n], fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        f->iov[f->n] = (struct iovec) { .iov_base = f->text[f->n], .iov_len = (size_t) r };
        f->n++;
        return 0;
}

static void fields_done(fields *f) {
        for (size_t i = 0; i < f->n; i++)
                free(f->text[i]);
        f->n = 0;
}

/* What every record of the run's proxy carries: the run, the event, the unit, the name. */
static int fields_begin(fields *f, const run_record *rec, const char *event) {
        int r = field_add(f, "MOAT_RUN_ID=%s", rec->id);

        if (r >= 0)
                r = field_add(f, "MOAT_EVENT=%s", event);
        if (r >= 0)
                r = field_add(f, "%s=%s", rec->manager == RUN_MANAGER_USER ? "USER_UNIT" : "OBJECT_SYSTEMD_UNIT",
                              rec->unit);
        if (r >= 0)
                r = field_add(f, "SYSLOG_IDENTIFIER=%s", rec->name);
        if (r >= 0)
                r = field_add(f, "PRIORITY=6");
        return r;
}

static int fields_send(fields *f, int r) {
        if (r >= 0)
                r = sd_journal_sendv(f->iov, (int) f->n);
        fields_done(f);
        return r;
}

int journal_write_request(const run_record *rec, const journal_request *q) {
        fields f = {};
        int r;

        r = fields_begin(&f, rec, "request");
        if (r >= 0)
                r = field_add(&f, "MESSAGE=%s %s%s -> %d (%" PRIu64 " bytes up, %" PRIu64 " down, %" PRIu64 " ms)",
                              q->method, q->host, q->path, q->status, q->bytes_up, q->bytes_down,
                              q->duration_usec / 1000);
        if (r >= 0)
                r = field_add(&f, "MOAT_HOST=%s", q->host);
        if (r >= 0)
                r = field_add(&f, "MOAT_PORT=%u", q->port);
        if (r >= 0)
                r = field_add(&f, "MOAT_METHOD=%s", q->method);
        if (r >= 0)
                r = field_add(&f, "MOAT_PATH=%s", q->path);
        if (r >= 0)
                r = field_add(&f, "MOAT_STATUS=%d", q->status);
        if (r >= 0)
                r = field_add(&f, "MOAT_BYTES_UP=%" PRIu64, q->bytes_up);
        if (r >= 0)
                r = field_add(&f, "MOAT_BYTES_DOWN=%" PRIu64, q->bytes_down);
        if (r >= 0)
                r = field_add(&f, "MOAT_DURATION_USEC=%" PRIu64, q->duration_usec);
        if (r >= 0 && q->api && q->usage) {
                const usage_tokens *u = q->usage;

                r = field_add(&f, "MOAT_API=%s", q->api);
                if (r >= 0)
                        r = field_add(&f, "MOAT_USAGE=%s", u->known ? "known" : "unknown");
                if (r >= 0 && u->model[0])
                        r = field_add(&f, "MOAT_MODEL=%s", u->model);
                if (r >= 0 && u->known)
                        r = field_add(&f, "MOAT_TOKENS=%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, u->input,
                                      u->output, u->cache_read, u->cache_write);
        }
        return fields_send(&f, r);
}

int journal_write_tunnel(const run_record *rec, const char *host, unsigned port, uint64_t up, uint64_t down,
                         uint64_t duration_usec) {
        fields f = {};
        int r;

        r = fields_begin(&f, rec, "tunnel");
        if (r >= 0)
                r = field_add(&f, "MESSAGE=Tunnel to %s:%u (%" PRIu64 " bytes up, %" PRIu64 " down, %" PRIu64 " ms)", host,
                              port, up, down, duration_usec / 1000);
        if (r >= 0)
                r = field_add(&f, "MOAT_HOST=%s", host);
        if (r >= 0)
                r = field_add(&f, "MOAT_PORT=%u", port);
        if (r >= 0)
                r = field_add(&f, "MOAT_BYTES_UP=%" PRIu64, up);
        if (r >= 0)
                r = field_add(&f, "MOAT_BYTES_DOWN=%" PRIu64, down);
        if (r >= 0)
                r = field_add(&f, "MOAT_DURATION_USEC=%" PRIu64, duration_usec);
        return fields_send(&f, r);
}
