/* Grants: credentials that a run's proxy adds to its requests, so that the container never
 * holds them.
 *
 * What a grant is (which header goes to which host) is data, in a provider file:
 *
 *     grants:
 *       anthropic:
 *         env: [ANTHROPIC_API_KEY]        # set to the placeholder "moat-proxy" in the container
 *         inject:
 *           - hosts: [api.anthropic.com]
 *             header: x-api-key
 *             value: "{secret}"
 *       github:
 *         optional: true                  # used when stored; no warning when it is not
 *         env: [GH_TOKEN]
 *         inject:
 *           - hosts: [api.github.com]
 *             header: Authorization
 *             value: "Bearer {secret}"
 *           - hosts: [github.com]
 *             header: Authorization
 *             value: "Basic {basic:x-access-token}"   # base64 of "x-access-token:SECRET"
 *
 * A value holds exactly one of {secret} or {basic:USER}.  The secret itself lives in the
 * grant store, $MOAT_HOME/grants/NAME (a 0700 directory, 0600 files), and reaches the proxy
 * through systemd's LoadCredential=, never through a command line, an environment, a unit
 * property, a record or the journal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* What the container gets in place of a grant's secret. */
#define GRANT_PLACEHOLDER "moat-proxy"
/* The longest secret a grant stores. */
#define GRANT_VALUE_MAX 8192

typedef struct grant_rule {
        char **hosts;  /* host names, normalized */
        char *header;  /* e.g. "x-api-key" */
        char *value;   /* template, e.g. "Bearer {secret}" */
} grant_rule;

typedef struct grant_def {
        char *name;
        bool optional;
        char **env;    /* variables that get GRANT_PLACEHOLDER */
        grant_rule *rules;
        size_t n_rules;
} grant_def;

void grant_def_done(grant_def *d);
void grant_defs_free(grant_def *defs, size_t n);
int grant_def_copy(const grant_def *from, grant_def *to);

/* Grant names are data_name_valid() (run.h): they become file and credential names. */

/* Checks a rule as the proxy will use it; err says what is wrong, naming WHERE (e.g.
 * "claude.yaml:12: grant anthropic"). */
int grant_rule_check(const grant_rule *rule, const char *where, moat_error *err);

/* The rule of D for HOST (normalized), or NULL. */
const grant_rule *grant_rule_for_host(const grant_def *d, const char *host);

/* Every host of D, in order, without duplicates (a NULL-terminated vector to free). */
int grant_hosts(const grant_def *d, char ***ret);

/* A value as typed or piped: one trailing newline (LF or CRLF) dropped; refused when empty,
 * longer than GRANT_VALUE_MAX, or holding a control character (a header cannot carry one).
 * *ret_len is the length kept. */
int grant_value_check(const char *value, size_t len, size_t *ret_len, moat_error *err);

/* The store under HOME ($MOAT_HOME). */
int grant_store_put(const char *home, const char *name, const char *value, size_t len, moat_error *err);
/* 0 and *ret_mtime (seconds) when NAME is stored; -ENOENT when not. */
int grant_store_stat(const char *home, const char *name, int64_t *ret_mtime, moat_error *err);
/* The path systemd's LoadCredential= reads. */
int grant_store_path(const char *home, const char *name, char **ret);
int grant_store_remove(const char *home, const char *name, moat_error *err);
/* The names stored, sorted. */
int grant_store_list(const char *home, char ***ret, moat_error *err);
