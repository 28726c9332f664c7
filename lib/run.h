/* A run: its identity, its record on disk, and the states it moves through.
 *
 * Records live in $MOAT_HOME/runs/<id>/metadata.json (MOAT_HOME defaults to ~/.moat for the
 * user manager and /var/lib/moat for the system manager).  Directories are 0700 and files
 * 0600: a record is private to its owner.  A record is always written whole (a temporary file
 * renamed over the old one), so a reader never sees half of one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "grant.h"
#include "net-policy.h"

#define RUN_ID_LEN 12

typedef enum run_state {
        RUN_CREATED,
        RUN_STARTING,
        RUN_RUNNING,
        RUN_STOPPING,
        RUN_EXITED,  /* ran to its end; exit_code says how */
        RUN_STOPPED, /* ended by moat stop, systemctl stop or Ctrl+C */
        RUN_FAILED,  /* moat could not run it or lost it; error says why */
        _RUN_STATE_MAX,
        _RUN_STATE_INVALID = -1,
} run_state;

const char *run_state_to_string(run_state s);
run_state run_state_from_string(const char *s);
/* exited, stopped and failed: nothing more will happen to the run. */
bool run_state_is_final(run_state s);
/* Whether a record may move from FROM to TO (created → starting → running → stopping →
 * exited|stopped|failed; failed from any live state; stopped from any live state). */
bool run_state_transition_ok(run_state from, run_state to);

typedef enum run_manager {
        RUN_MANAGER_SYSTEM,
        RUN_MANAGER_USER,
} run_manager;

const char *run_manager_to_string(run_manager m);
int run_manager_from_string(const char *s, run_manager *ret);

typedef struct run_mount {
        char *source;
        char *destination;
        bool read_only;
} run_mount;

/* What the kernel measured of a run's container (its cgroup) and of the run's own unit,
 * recorded once the run ends; RUN_RESOURCE_UNKNOWN where nothing could be measured. */
#define RUN_RESOURCE_UNKNOWN UINT64_MAX
typedef struct run_resources {
        uint64_t cpu_usec;          /* user + system CPU time */
        uint64_t memory_peak_bytes; /* the highest memory use seen */
        uint64_t io_read_bytes, io_write_bytes;
        uint64_t tasks_peak;        /* the most processes and threads at once that were seen */
} run_resources;

#define RUN_RESOURCES_UNKNOWN                                                                                   \
        ((run_resources) { RUN_RESOURCE_UNKNOWN, RUN_RESOURCE_UNKNOWN, RUN_RESOURCE_UNKNOWN, RUN_RESOURCE_UNKNOWN, \
                           RUN_RESOURCE_UNKNOWN })

/* The reason a stopped run records when its --timeout ended it. */
#define RUN_STOP_REASON_TIMEOUT "timeout"

typedef struct run_record {
        char id[RUN_ID_LEN + 1];
        char *name;
        char *image;
        char **command;       /* NULL-terminated argv; NULL: the image's */
        char *workspace;      /* absolute host path: with a branch, the run's checkout */
        char *branch;         /* NAME of the run's branch moat/NAME (run-branch.h); NULL: none */
        char *repository;     /* with a branch: the user's repository it comes back to */
        char **env_keys;      /* NULL-terminated names only: values are never recorded */
        run_mount *mounts;
        size_t n_mounts;
        char *container_id;
        char *unit;           /* moat-<id>.service */
        run_manager manager;
        run_state state;
        bool interactive;
        bool tty;             /* the container has a terminal (interactive from a terminal) */
        bool keep;
        net_mode network;     /* open unless the run asked for strict or none */
        char **allow;         /* normalized host patterns a strict run may reach */
        grant_def *grants;    /* what the proxy adds to which host; never a secret */
        size_t n_grants;
        int64_t memory_bytes; /* 0: none */
        double cpus;          /* 0: none */
        /* microseconds since the epoch, 0 when not (yet) known */
        uint64_t created_at, started_at, stopped_at;
        bool has_exit_code;
        int exit_code;
        /* entries of output the run wrote to the journal (MOAT_SEQ counts them), once known:
         * what readers hold their copy against when the journal lost the end record */
        bool has_output_lines;
        uint64_t output_lines;
        char *error;          /* why a run failed */
        uint64_t timeout_usec; /* RuntimeMaxSec= of the unit; 0: none */
        char *stop_reason;    /* a stopped run: "timeout" when its time limit ended it; NULL */
        char *agent;          /* the provider an agent's run was started for (moat claude); NULL */
        bool has_resources;   /* what was measured of the run once it ended */
        run_resources resources;
} run_record;

void run_record_free(run_record *r);

/* Whether the run has an egress proxy: a strict run, or one with grants. */
bool run_has_proxy(const run_record *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(run_record *, run_record_free);

/* 12 lowercase hex characters from getrandom(). */
int run_id_new(char ret[RUN_ID_LEN + 1], moat_error *err);
bool run_id_valid(const char *s);
/* The run's unit: moat-<ID>.service.  NULL when out of memory. */
char *run_unit_name(const char *id);

/* Names: [a-z0-9][a-z0-9_.-]{0,62}. */
bool run_name_valid(const char *s);
/* Names of providers and grants, which become file and credential names:
 * [a-z0-9][a-z0-9_-]{0,31}. */
bool data_name_valid(const char *s);
/* A random adjective-animal name, e.g. "brave-otter". */
int run_name_random(char **ret, moat_error *err);

/* USEC as the records write times: RFC 3339 in UTC with microseconds. */
#define RUN_TIMESTAMP_LEN 27
void run_timestamp_format(uint64_t usec, char buf[static RUN_TIMESTAMP_LEN + 1]);

/* JSON (the metadata.json format) both ways; the parser rejects malformed records. */
int run_record_to_json(const run_record *r, char **ret_json, moat_error *err);
int run_record_from_json(const char *json, size_t len, run_record **ret, moat_error *err);

/* The store: a MOAT_HOME directory. */
typedef struct run_store run_store;

/* $MOAT_HOME, else ~/.moat for the user manager, /var/lib/moat for the system manager. */
int run_store_default_home(run_manager m, char **ret_home, moat_error *err);
int run_store_open(const char *home, run_store **ret, moat_error *err);
void run_store_free(run_store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(run_store *, run_store_free);
const char *run_store_home(const run_store *s);

/* Serialises name checks + record creation across processes (flock on runs/.lock). */
int run_store_lock(run_store *s, int *ret_fd, moat_error *err);

/* Creates runs/<id>/ (0700) and writes the record; -EEXIST when the id is taken.  With
 * RET_LOCK_FD, the run's lock (below) is taken before the record can be read, and handed out. */
int run_store_create(run_store *s, const run_record *r, int *ret_lock_fd, moat_error *err);

/* A run's own lock (flock on runs/<id>/): moat run holds it from the record's creation until
 * the start has settled, i.e. the unit runs the container or the run has ended.  Whoever else
 * decides on a run that may be starting (moat stop, clean, rm) takes it first.  WAIT_USEC 0:
 * one try, -EBUSY when held; else -ETIMEDOUT after that long.  -ENOENT: no such run. */
int run_store_lock_run(run_store *s, const char *id, uint64_t wait_usec, int *ret_fd, moat_error *err);

/* A stop asked for (runs/<id>/stop-requested), kept with the record: whoever is about to start
 * the run (moat run before it loads the unit, the monitor before the container) honours it. */
int run_store_request_stop(run_store *s, const char *id, moat_error *err);
bool run_store_stop_requested(run_store *s, const char *id);
/* Atomically replaces the record. */
int run_store_save(run_store *s, const run_record *r, moat_error *err);
/* -ENOENT when there is no such run. */
int run_store_load(run_store *s, const char *id, run_record **ret, moat_error *err);
int run_store_remove(run_store *s, const char *id, moat_error *err);

/* A run's TLS directory, $MOAT_HOME/tls/<id>: the certificates its proxy made, which its
 * container trusts (mounted read-only); 0755 and 0644, since they hold nothing secret.
 * run_store_remove() removes it with the record. */
#define RUN_TLS_DIR "tls"
#define RUN_TLS_CA "ca.crt"            /* the run's CA alone (NODE_EXTRA_CA_CERTS) */
#define RUN_TLS_BUNDLE "ca-bundle.crt" /* the host's trust store and the run's CA */
/* An empty directory, 0555, mounted read-only over what a container must not see. */
#define RUN_EMPTY_DIR "empty"
int run_store_empty_dir(run_store *s, char **ret_path, moat_error *err);
/* Creates the directory and returns its path, for the container's mount. */
int run_store_tls_dir(run_store *s, const char *id, char **ret_path, moat_error *err);
/* Removes the directory alone: a run whose container could not be created has no record. */
int run_store_remove_tls(run_store *s, const char *id, moat_error *err);
/* Writes NAME (RUN_TLS_CA or RUN_TLS_BUNDLE) whole. */
int run_store_write_tls(run_store *s, const char *id, const char *name, const char *data, size_t len,
                        moat_error *err);
/* Every readable record, newest first (by created_at). Unreadable records are skipped. */
int run_store_list(run_store *s, run_record ***ret, size_t *ret_n, moat_error *err);
void run_records_free(run_record **list, size_t n);

/* RUN = a full id, a unique id prefix, or a name.  -ENOENT when nothing matches, -EEXIST
 * ("ambiguous") when several do; err lists the candidates (name and id) in both. */
int run_store_resolve(run_store *s, const char *run, run_record **ret, moat_error *err);
/* Whether a run with NAME exists in the store (any state). */
int run_store_name_taken(run_store *s, const char *name, moat_error *err);
