/* A workspace's moat.yaml is obeyed only in a form its user approved.  The workspace is the
 * agent's to write, so a moat.yaml there may be the agent's work, left for the next run (a
 * mount of the grant store, `network: open`, any host allowed, host variables passed in).
 * As with `direnv allow` and git's safe.directory, the approval lives outside every
 * workspace: MOAT_HOME/trust/<sha256 of the workspace's path>.yaml holds the content the user
 * approved, and a run obeys the file only while its SHA-256 digest is that content's.  What
 * a change widens (mounts, network, allowed hosts, environment, image, grants, command) is
 * listed against the approved content, for the user to judge before approving. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "settings.h"

#define CONFIG_DIGEST_HEX 64

typedef struct config_approval {
        char *path;            /* WORKSPACE/moat.yaml */
        char *text;            /* its content now; NULL: there is none */
        size_t len;
        char digest[CONFIG_DIGEST_HEX + 1];
        char *approved_text;   /* the content last approved; NULL: never */
        size_t approved_len;
        bool approved;         /* text is what was approved (or there is no moat.yaml) */
} config_approval;

void config_approval_done(config_approval *a);

/* The SHA-256 of TEXT, in lowercase hex. */
int config_digest(const char *text, size_t len, char ret[CONFIG_DIGEST_HEX + 1]);

/* Reads resolved WORKSPACE's moat.yaml and what HOME (MOAT_HOME) says was approved of it. */
int config_approval_load(const char *home, const char *workspace, config_approval *ret, moat_error *err);

/* Records A's current text as approved (atomically, 0600 in a 0700 directory). */
int config_approval_store(const char *home, const char *workspace, const config_approval *a, moat_error *err);

/* What NEW lets a run do that OLD (NULL: nothing approved) did not, one line each, e.g.
 * "network: open (was: strict)", "mount: /src:/dst:ro", "allow: *.example.com",
 * "env: KEY=VALUE", "image: IMAGE", "grant: NAME", "command: ...". */
int moat_config_widening(const moat_config *old, const moat_config *new, char ***ret);

/* The same for A's texts: both parsed (as WORKSPACE's); an error when the current one is
 * malformed. */
int config_approval_widening(const config_approval *a, const char *workspace, char ***ret, moat_error *err);
