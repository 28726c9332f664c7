/* Starting a run: everything `moat run` does before it prints "Started".  Validates all
 * input first; on any failure leaves nothing behind (no container, no record, no unit). */
#pragma once

#include "agent-state.h"
#include "error.h"
#include "grant.h"
#include "net-policy.h"
#include "podman.h"
#include "run.h"

#define RUN_DEFAULT_IMAGE "docker.io/library/debian:bookworm-slim"

typedef struct run_options {
        const char *name;        /* NULL: a random free name */
        const char *image;       /* NULL: RUN_DEFAULT_IMAGE */
        const char *workspace;   /* NULL: "." */
        char *const *command;    /* NULL: the image's */
        char *const *env;        /* KEY=VALUE; values go to the container spec only */
        size_t n_env;
        char *const *mounts;     /* SRC:DST[:ro] */
        size_t n_mounts;
        bool keep;
        bool interactive;        /* stdin open, for moat run -i */
        bool tty;                /* with interactive: a terminal (stdin is one) */
        /* Called once the container and its record exist, before the run's unit starts it:
         * where moat run -i attaches, so that not a byte of early output is lost. */
        int (*before_start)(const run_record *rec, void *userdata, moat_error *err);
        void *userdata;
        int64_t memory_bytes;
        double cpus;
        run_manager manager;
        net_mode network;         /* NET_OPEN unless asked */
        char *const *allow;       /* host patterns a strict run may reach, as typed */
        const grant_def *grants;  /* the grants to use: each must have a stored value */
        size_t n_grants;
        /* Makes IMAGE when podman lacks it (an agent's, built from its recipe), before anything
         * of the run exists; NULL: a missing image is an error. */
        int (*make_image)(podman_client *c, const char *image, void *userdata, moat_error *err);
        void *make_image_userdata;
        /* An agent's run: the agent (NULL for a plain run), its user in the container (never
         * root; rootless runs map it to the caller), its HOME, which is kept per agent and
         * workspace under MOAT_HOME (agent-state.h), and the files seeded into a new one. */
        const char *agent;
        unsigned agent_uid, agent_gid;
        const char *agent_home;
        const agent_seed *agent_seeds;
        size_t n_agent_seeds;
} run_options;

/* Parses a size such as "512m", "1g", "1.5G" or "1048576" (units b, k, m, g: powers of
 * 1024, as podman's --memory). -EINVAL for anything else. */
int parse_memory_size(const char *s, int64_t *ret);

/* Parses --cpus: a positive decimal number. */
int parse_cpus(const char *s, double *ret);

/* Validates "SRC:DST[:ro]" into a mount with an absolute, existing SRC. */
int parse_mount(const char *s, run_mount *ret, moat_error *err);

/* Validates "KEY=VALUE" (KEY: [A-Za-z_][A-Za-z0-9_]*). */
int validate_env(const char *s, moat_error *err);

/* Where a run with grants finds its CA in the container, and the names of the files. */
#define RUN_TLS_MOUNT "/etc/moat"

/* Starts the run: container created, record written, unit started and its monitor running
 * the container.  *ret (may be NULL) is the record as the monitor left it. */
int runner_start(const run_options *o, run_record **ret, moat_error *err);

/* Whether WORD, taken for a workspace that does not exist, could have been meant as a command
 * (a bare name such as 'date' or 'python3', no path): then the error says to put it after '--'. */
bool run_word_could_be_command(const char *word);

/* When podman's error in ERR says REC's command could not be run, rewrites ERR to say which
 * command and image, with podman run's exit status (127 not found, 126 not executable) in
 * err->exit_status, and returns that status; 0 (ERR untouched) for any other error. */
int run_exec_failure(const run_record *rec, moat_error *err);

/* Removes an ended run: its container when one is left (--keep), then its record. */
int runner_remove(run_store *store, const run_record *rec, moat_error *err);
