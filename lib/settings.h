/* moat.yaml (the workspace's settings) and provider files (an agent as data), both YAML.
 * Unknown keys are warnings that name the key and its line; malformed YAML or a wrong type
 * is an error with the line and column, and nothing is started. */
#pragma once

#include <stdbool.h>

#include "agent-state.h"
#include "error.h"
#include "grant.h"
#include "image-build.h"
#include "strv.h"

typedef struct moat_config {
        char *name;
        char *image;
        char **command;      /* NULL-terminated; a plain string becomes /bin/sh -c STRING */
        char **env;          /* KEY=VALUE */
        char **mounts;       /* SRC:DST[:ro], SRC relative to the workspace made absolute */
        int interactive;     /* -1: not given */
        char *memory;        /* as written: parse_memory_size() reads it */
        char *cpus;
        char *timeout;       /* as written: parse_duration() reads it */
        char *agent;         /* a provider's name */
        char *network;       /* network.policy, as written */
        char **allow;        /* network.allow */
        char **grants;       /* names */
        char *branch;        /* --branch: NAME of moat/NAME (run-branch.h) */
        char **warnings;     /* "moat.yaml:LINE: unknown key 'KEY'" ... */
} moat_config;

void moat_config_done(moat_config *c);

/* WORKSPACE/moat.yaml's path and text; *ret_text NULL when there is no such file. */
int moat_config_read(const char *workspace, char **ret_path, char **ret_text, size_t *ret_len, moat_error *err);

/* Parses moat.yaml's TEXT (NAME for messages), SRC of mounts relative to WORKSPACE. */
int moat_config_parse(const char *name, const char *text, size_t len, const char *workspace, moat_config *ret,
                      moat_error *err);

/* An agent runs as this user unless its file says otherwise, with this HOME. */
#define PROVIDER_DEFAULT_UID 1000
#define PROVIDER_DEFAULT_HOME "/home/agent"

typedef struct provider {
        char *name;
        char *image;                /* with a build: its tag, localhost/moat/NAME:DIGEST */
        image_recipe build;         /* how its image is built; from is NULL when it is not */
        char **command;             /* the agent, non-interactive */
        char **prompt;              /* how a prompt is passed: e.g. [-p, "{prompt}"] */
        char **interactive_command; /* the agent with a terminal; NULL: command */
        char **env;                 /* names of host variables passed through */
        char **environment;         /* KEY=VALUE, set in the container as given */
        unsigned uid, gid;          /* the agent's user in the container: never 0 */
        char *home;                 /* its HOME, kept per workspace (agent-state.h) */
        agent_seed *seeds;          /* written into a new home */
        size_t n_seeds;
        char **mounts;              /* SRC:DST[:ro]; a leading ~ is the caller's home */
        char **allow;               /* hosts the agent needs besides its grants' (strict runs) */
        grant_def *grants;          /* its credentials, injected by the run's proxy */
        size_t n_grants;
        char **warnings;
} provider;

void provider_done(provider *p);

int provider_parse(const char *name, const char *file, const char *text, size_t len, provider *ret, moat_error *err);

/* Finds NAME in $XDG_CONFIG_HOME/moat/providers/ (else ~/.config/...), then in the installed
 * data directory.  -ENOENT when there is none; err lists the known providers. */
int provider_load(const char *name, provider *ret, moat_error *err);

/* The names of every provider, sorted, without duplicates. */
int provider_list(char ***ret, moat_error *err);


/* The definition of grant NAME: the first provider (by name, a user's file before a shipped
 * one of the same name) that defines it.  -ENOENT, err listing the known grants, when none
 * does. */
int grant_find(const char *name, grant_def *ret, moat_error *err);

/* Every grant some provider defines, each once (as grant_find() finds it), sorted by name. */
int grant_find_all(grant_def **ret, size_t *ret_n, moat_error *err);

/* argv for a run: COMMAND (or INTERACTIVE_COMMAND without a prompt), then PROMPT's items
 * with "{prompt}" replaced by PROMPT_TEXT as one argument, exactly as typed, then EXTRA. */
int provider_argv(const provider *p, const char *prompt_text, char *const *extra, char ***ret, moat_error *err);
