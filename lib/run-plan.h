/* The run plan: what the caller asked for (flags), the provider, the workspace's approved
 * moat.yaml and the grants, turned into one checked plan, before any resource exists.  Every
 * way of starting a run goes through here, so this is the one place to read a run's policy:
 * what it mounts, where it may connect, which credentials its proxy adds.  It prints nothing;
 * the CLI shows its warnings and asks its questions. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent-state.h"
#include "config-trust.h"
#include "error.h"
#include "git-guard.h"
#include "grant.h"
#include "net-policy.h"
#include "podman.h"
#include "run-branch.h"
#include "run.h"
#include "settings.h"

#define RUN_DEFAULT_IMAGE "docker.io/library/debian:bookworm-slim"

typedef struct run_options {
        const char *name;        /* NULL: a random free name */
        const char *image;       /* NULL: RUN_DEFAULT_IMAGE */
        const char *workspace;   /* NULL: "." */
        /* A branch of its own (run-branch.h): the run works on a checkout of the workspace's
         * repository on moat/BRANCH, made from BRANCH_FROM (NULL: HEAD) the first time. */
        const char *branch;
        const char *branch_from;
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
        uint64_t timeout_usec;   /* the run is stopped after this long (RuntimeMaxSec=); 0: never */
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

/* Parses --timeout: "90" (seconds), "500ms", "2s", "5m", "1h", "1d" or a sum such as "1h30m";
 * from 1 ms to a year.  -EINVAL for anything else. */
#define RUN_TIMEOUT_MAX_USEC (366ULL * 86400 * 1000 * 1000)
int parse_duration(const char *s, uint64_t *ret_usec);

/* Parses --cpus: a positive decimal number. */
int parse_cpus(const char *s, double *ret);

/* Validates "SRC:DST[:ro]" into a mount with an absolute, existing SRC. */
int parse_mount(const char *s, run_mount *ret, moat_error *err);

/* Validates "KEY=VALUE" (KEY: [A-Za-z_][A-Za-z0-9_]*). */
int validate_env(const char *s, moat_error *err);

/* Where a run with grants finds its CA in the container, and the names of the files. */
#define RUN_TLS_MOUNT "/etc/moat"


/* What a request becomes, step by step: the flags fill it (src/), then moat.yaml under them
 * (once approved), then a provider's, then run_plan_resolve() makes o. */
typedef struct run_plan {
        run_options o;
        char **env;             /* KEY=VALUE, in the order they apply: later wins */
        char **mounts;
        char **command;         /* a provider's argv */
        char *const *extra;     /* after "--" */
        const char *prompt;     /* -p, providers only */
        bool follow, interactive, interactive_flag;
        bool memory_flag, cpus_flag, timeout_flag;
        int network;            /* -1: not given */
        char **allow;
        char **grant_names;     /* asked for: each must be defined and stored */
        grant_def *grants;      /* what the run uses */
        size_t n_grants;
        provider agent;         /* the provider, for moat PROVIDER */
        bool agent_image;       /* o.image is the agent's: built from its recipe when missing */
        moat_config cfg;
        char *home;             /* MOAT_HOME of the run's manager */
        char *workspace;        /* resolved; NULL: it does not exist (the record step says so) */
        config_approval approval;
        char **warnings;        /* for the caller to show, in order */
} run_plan;

/* Starts P as "nothing asked": call before the flags fill it. */
void run_plan_init(run_plan *p);
void run_plan_done(run_plan *p);

/* Reads the workspace's moat.yaml and its approval (config-trust.h).  0: obeyed (applied
 * under the flags) or there is none; 1: it is not approved, p->approval shows it: the caller
 * asks, then calls run_plan_apply_config() or stops.  A malformed file is an error either way. */
int run_plan_load_config(run_plan *p, moat_error *err);

/* Applies the (approved) moat.yaml under what the flags set. */
int run_plan_apply_config(run_plan *p, moat_error *err);

/* Makes P the run of the agent NAME: its image, argv (with the prompt as typed), network
 * (strict unless asked), grants that have a stored value, the host variables it passes
 * through (values to the container spec only), its mounts and its user and home. */
int run_plan_add_provider(run_plan *p, const char *name, moat_error *err);

/* Resolves the named grants and fills p->o for runner_start(). */
int run_plan_resolve(run_plan *p, moat_error *err);

/* What keeps the host's own out of the container's reach, besides what was asked for:
 * moat's places inside a mount hidden, the workspace's git protected (mount-guard.h,
 * git-guard.h). */
typedef struct run_guard {
        char **hidden;          /* container paths covered by an empty read-only directory */
        git_guard_mount *git;   /* relative to the workspace */
        size_t n_git;
} run_guard;

void run_guard_done(run_guard *g);

/* The run as O asks for it, checked into a record (state created, no id yet), its guard and,
 * with o->branch, where its checkout is (run-branch.h; nothing made yet): every mistake in the
 * input is found here, before podman or systemd is asked for anything. */
int run_plan_record(const run_options *o, run_record **ret, run_guard *ret_guard, run_branch *ret_branch,
                    moat_error *err);

/* What moat puts into the environment of REC's container before the caller's -e. */
int run_proxy_env(const run_record *rec, char ***ret);

#define RUN_WORKSPACE_DIR "/workspace"
