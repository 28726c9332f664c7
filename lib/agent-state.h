/* An agent's state: the home directory its runs keep between them (settings, logins,
 * sessions), one per agent and workspace, so that sessions resume and no workspace sees
 * another's.  It lives at $MOAT_HOME/agents/AGENT/KEY/home, where KEY names the workspace
 * (its basename and a digest of its path) and KEY/workspace holds that path for listings.
 *
 * The agent writes its home as it likes, symbolic links included: moat never follows a link
 * inside it, so nothing there can make moat write or remove a file elsewhere on the host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define AGENT_STATE_DIR "agents"

/* A file written into a new home: PATH relative to it, CONTENT as is. */
typedef struct agent_seed {
        char *path;
        char *content;
} agent_seed;

void agent_seeds_free(agent_seed *s, size_t n);

/* Whether PATH may name a seed: relative, no empty, "." or ".." component, at most 255
 * bytes. */
bool agent_seed_path_valid(const char *path);

/* The workspace's KEY: its last component (letters, digits, '.', '_' and '-' kept, others
 * made '_', at most 32 bytes) and the first 16 hex digits of the SHA-256 of WORKSPACE. */
int agent_state_key(const char *workspace, char **ret);

/* Makes (or finds) the home of AGENT for WORKSPACE (absolute, resolved) under MOAT_HOME,
 * writing each seed that is not there yet; the agent's own copy of a file always wins.
 * Directories are 0700, seeds 0600. *ret_created says whether the home is new. */
int agent_state_prepare(const char *moat_home, const char *agent, const char *workspace, const agent_seed *seeds,
                        size_t n_seeds, char **ret_home, bool *ret_created, moat_error *err);

typedef struct agent_state_entry {
        char *agent;
        char *key;
        char *workspace; /* as recorded; NULL when unreadable */
        char *home;
        uint64_t used_at; /* the home's last change, microseconds since the epoch */
} agent_state_entry;

void agent_state_entries_free(agent_state_entry *e, size_t n);

/* Every agent home under MOAT_HOME, sorted by agent, then workspace. */
int agent_state_list(const char *moat_home, agent_state_entry **ret, size_t *ret_n, moat_error *err);

/* Removes the state AGENT keeps for WORKSPACE: -ENOENT when there is none.  Never follows a
 * symbolic link. */
int agent_state_remove(const char *moat_home, const char *agent, const char *workspace, moat_error *err);
