/* A run's output in the journal.
 *
 * Writer (the monitor): one entry per line of container output, PRIORITY 6 for stdout and 3
 * for stderr, with MOAT_RUN_ID, MOAT_STREAM and MOAT_SEQ (1, 2, 3, ... across both streams, so
 * that a reader sees where journald dropped entries); MOAT_PARTIAL=1 on a last line that had
 * no newline.  Each entry also names the unit itself (OBJECT_SYSTEMD_UNIT from root for the
 * system manager, USER_UNIT for a user manager), which `journalctl [--user] -u` matches:
 * journald's own attribution of the last lines of an exiting process is racy.  The end of a
 * run is an entry of its own, MOAT_EVENT=exit, written after the last line, with MOAT_LINES,
 * the number of output entries, when known.
 *
 * Reader (moat logs, moat run -f, wait, inspect): the run's entries by MOAT_RUN_ID, and only
 * those journald's trusted fields say its own writers sent (the owner's _UID, the run's unit
 * where journald attributed one; journal-reader.c says why): the rest is anyone's forgery. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "line-buffer.h"
#include "line-seq.h"
#include "podman-frames.h"
#include "run.h"
#include "usage.h"

typedef struct journal_writer {
        const run_record *rec;
        char *unit_field;  /* OBJECT_SYSTEMD_UNIT=... or USER_UNIT=... */
        char *id_field;    /* MOAT_RUN_ID=... */
        char *ident_field; /* SYSLOG_IDENTIFIER=... */
        char *message;     /* "MESSAGE=" + line, reused */
        size_t message_cap;
        uint64_t lines;    /* entries written: the last MOAT_SEQ */
        char seq_field[32];
        line_buffer out, err;
} journal_writer;

/* LINES_BEFORE: entries of the run already written (by the relay, for the finish helper). */
int journal_writer_init(journal_writer *w, const run_record *rec, uint64_t lines_before, moat_error *err);
void journal_writer_done(journal_writer *w);

/* Relays a piece of the container's output (podman_frame_fn's shape). */
int journal_writer_feed(podman_stream stream, const char *data, size_t len, void *userdata);

/* Writes out the last lines that had no newline. */
int journal_writer_flush(journal_writer *w);

/* The end record: the run's state and exit code, after everything else. */
int journal_write_exit(const run_record *rec);

/* The run's proxy refused a connection to HOST for WHY: MOAT_EVENT=network-denied, MOAT_HOST,
 * MOAT_REASON. */
int journal_write_network_denied(const run_record *rec, const char *host, net_refusal why);

/* The run's proxy answered N connections 503, being at its limit of MAX at once:
 * MOAT_EVENT=proxy-busy, MOAT_REFUSED. */
int journal_write_proxy_busy(const run_record *rec, unsigned n, unsigned max);

/* One request the run's proxy saw inside an intercepted (or plain http://) connection:
 * MOAT_EVENT=request with MOAT_HOST, MOAT_PORT, MOAT_METHOD, MOAT_PATH (never the query),
 * MOAT_STATUS (0: no answer), MOAT_BYTES_UP, MOAT_BYTES_DOWN, MOAT_DURATION_USEC; for a model
 * API's request also MOAT_API, MOAT_USAGE (known or unknown), MOAT_MODEL and MOAT_TOKENS
 * ("INPUT OUTPUT CACHE-READ CACHE-WRITE").  Never a header value or a body. */
typedef struct journal_request {
        const char *host;
        unsigned port;
        const char *method;
        const char *path;
        int status;
        uint64_t bytes_up, bytes_down, duration_usec;
        const char *api;            /* NULL: not a model API's request */
        const usage_tokens *usage;  /* with api */
} journal_request;

int journal_write_request(const run_record *rec, const journal_request *q);

/* A tunnel the proxy passed unread, once it ended: MOAT_EVENT=tunnel, MOAT_HOST, MOAT_PORT,
 * MOAT_BYTES_UP, MOAT_BYTES_DOWN, MOAT_DURATION_USEC. */
int journal_write_tunnel(const run_record *rec, const char *host, unsigned port, uint64_t up, uint64_t down,
                         uint64_t duration_usec);

typedef struct journal_line {
        bool is_stderr;
        bool partial;       /* no newline followed it */
        const char *data;
        size_t len;
        uint64_t realtime;  /* microseconds since the epoch */
} journal_line;

typedef struct journal_end {
        bool seen;          /* the end record */
        run_state state;
        bool has_exit_code;
        int exit_code;
        line_seq seq;       /* the numbered entries met, and how many were found missing */
} journal_end;

/* A record of the run's proxy, as `moat trace` and `moat usage` read it. */
typedef enum journal_event_kind {
        JOURNAL_EVENT_REQUEST,
        JOURNAL_EVENT_TUNNEL,
        JOURNAL_EVENT_DENIED,
} journal_event_kind;

typedef struct journal_event {
        journal_event_kind kind;
        uint64_t realtime;          /* microseconds since the epoch */
        char host[256];
        unsigned port;
        char method[24];
        char path[260];
        int status;
        uint64_t bytes_up, bytes_down, duration_usec;
        usage_api api;              /* USAGE_API_NONE: not a model API's request */
        usage_tokens usage;         /* with api: known or not */
        net_refusal reason;         /* JOURNAL_EVENT_DENIED: why */
} journal_event;

typedef struct journal_read_options {
        bool follow;           /* until the end record */
        long tail;             /* the last N lines only; < 0: all */
        /* Called with each line; negative stops the read and is returned. */
        int (*line)(const journal_line *line, void *userdata);
        /* Called where MISSING entries of the run are not in the journal (journald dropped
         * them): before the line after them, or at the end record. */
        int (*gap)(uint64_t missing, void *userdata);
        /* Called, in place, for each connection the run's proxy refused. */
        int (*denied)(const char *host, net_refusal why, void *userdata);
        /* Called with each record of the run's proxy (request, tunnel, refusal); with it, the
         * read skips output (LINE may be NULL) and reads the proxy's records alone. */
        int (*event)(const journal_event *ev, void *userdata);
        /* Called about every 250 ms while following with nothing new; a positive return ends
         * the follow (e.g. the run ended without an end record), negative fails it. */
        int (*idle)(void *userdata);
        void *userdata;
} journal_read_options;

/* Who wrote a run's own entries, as journald's trusted fields name them. */
typedef struct journal_source {
        const char *id;
        const char *unit;          /* moat-<id>.service */
        const char *manager_unit;  /* a user run: user@UID.service; NULL for a system run */
        char uid[16];              /* _UID: 0 for the system manager, the caller for a user one */
        char proxy_uid[16];        /* a system run's proxy, which writes as nobody; "" otherwise */
        char manager_unit_buf[32];
} journal_source;

int journal_source_init(journal_source *src, const run_record *rec);

/* The hosts run ID's proxy refused, each once, in the order first refused. */
int journal_read_denied_hosts(const run_record *rec, char ***ret, moat_error *err);

/* Reads run REC's output from the journals this user may read. *ret_end says whether (and
 * how) the run's end record was seen. */
int journal_read_run(const run_record *rec, const journal_read_options *o, journal_end *ret_end, moat_error *err);
