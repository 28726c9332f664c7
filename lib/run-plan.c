#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount-guard.h"
#include "run-branch.h"
#include "run-plan.h"
#include "runner.h"
#include "strv.h"
#include "time-util.h"

int parse_memory_size(const char *s, int64_t *ret) {
        char *end;
        double v, mult = 1;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s)
                return -EINVAL;
        if (*end) {
                switch (tolower((unsigned char) *end)) {
                case 'b':
                        break;
                case 'k':
                        mult = 1024.0;
                        break;
                case 'm':
                        mult = 1024.0 * 1024;
                        break;
                case 'g':
                        mult = 1024.0 * 1024 * 1024;
                        break;
                default:
                        return -EINVAL;
                }
                end++;
                if (mult > 1 && tolower((unsigned char) *end) == 'b') /* "kb", "mb", "gb" */
                        end++;
                if (*end)
                        return -EINVAL;
        }
        v *= mult;
        if (v < 1 || v > (double) INT64_MAX / 2)
                return -EINVAL;
        *ret = (int64_t) v;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *unit;
                uint64_t usec;
        } units[] = {
                /* longest first: "ms" before "m" */
                { "ms", 1000ULL }, { "s", USEC_PER_SEC }, { "m", 60 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC }, { "d", 86400 * USEC_PER_SEC },
        };
        uint64_t total = 0;

        if (!s || !*s)
                return -EINVAL;
        while (*s) {
                unsigned long long n;
                uint64_t mult = 0;
                char *end;

                if (*s < '0' || *s > '9')
                        return -EINVAL;
                errno = 0;
                n = strtoull(s, &end, 10);
                if (errno != 0 || n > 1000ULL * 1000 * 1000)
                        return -EINVAL;
                s = end;
                if (!*s && total == 0)
                        mult = USEC_PER_SEC; /* a bare number: seconds, as systemd's */
                for (size_t i = 0; i < ELEMENTSOF(units) && !mult; i++)
                        if (strncmp(s, units[i].unit, strlen(units[i].unit)) == 0) {
                                mult = units[i].usec;
                                s += strlen(units[i].unit);
                        }
                if (!mult)
                        return -EINVAL;
                total += (uint64_t) n * mult;
                if (total > RUN_TIMEOUT_MAX_USEC)
                        return -EINVAL;
        }
        if (total < 1000)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

int parse_cpus(const char *s, double *ret) {
        char *end;
        double v;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(v) || v <= 0 || v > 1024)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_mount(const char *s, run_mount *ret, moat_error *err) {
        _cleanup_free_ char *copy = strdup(s), *real = NULL;
        char *dst, *mode;
        bool ro = false;
        int r;

        if (!copy)
                return moat_error_set(err, -ENOMEM, "out of memory");
        dst = strchr(copy, ':');
        if (!dst || dst == copy)
                return moat_error_set(err, -EINVAL, "invalid mount '%s': use SRC:DST[:ro]", s);
        *dst++ = '\0';
        mode = strchr(dst, ':');
        if (mode) {
                *mode++ = '\0';
                if (strcmp(mode, "ro") == 0)
                        ro = true;
                else if (strcmp(mode, "rw") != 0)
                        return moat_error_set(err, -EINVAL, "invalid mount '%s': the mode must be ro or rw", s);
        }
        if (dst[0] != '/' || strstr(dst, "/../") || strcmp(dst, "/") == 0)
                return moat_error_set(err, -EINVAL,
                                      "invalid mount '%s': DST must be an absolute path inside the container", s);
        r = mount_source_resolve(copy, NULL, &real, err);
        if (r < 0)
                return r;
        ret->source = TAKE_PTR(real);
        ret->destination = strdup(dst);
        ret->read_only = ro;
        if (!ret->destination) {
                free(ret->source);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

int validate_env(const char *s, moat_error *err) {
        const char *eq = strchr(s, '=');

        if (!eq || eq == s)
                return moat_error_set(err, -EINVAL, "invalid environment '%s': use -e KEY=VALUE", s);
        if (!isalpha((unsigned char) s[0]) && s[0] != '_')
                goto bad;
        for (const char *p = s; p < eq; p++)
                if (!isalnum((unsigned char) *p) && *p != '_')
                        goto bad;
        return 0;
bad:
        return moat_error_set(err, -EINVAL, "invalid environment variable name in '%.*s': use letters, digits and _",
                              (int) (eq - s), s);
}

/* With a proxy, before the caller's -e (which
 * win): where the proxy is; with grants, where the run's CA is, for curl, OpenSSL, Python,
 * Node and git; and a placeholder where an agent expects a grant's secret. */
int run_proxy_env(const run_record *rec, char ***ret) {
        static const char *const proxy_vars[] = { "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy" };
        static const char *const bundle_vars[] = { "SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                                                   "GIT_SSL_CAINFO" };
        _cleanup_(strv_freep) char **env = calloc(1, sizeof(char *));
        char *kv;

        if (!env)
                return -ENOMEM;
        if (!run_has_proxy(rec)) {
                *ret = TAKE_PTR(env);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(proxy_vars); i++)
                if (asprintf(&kv, "%s=http://" PROXY_ADDRESS ":%d", proxy_vars[i], PROXY_PORT) < 0 ||
                    strv_push(&env, kv) < 0)
                        return -ENOMEM;
        if (strv_push(&env, strdup("NO_PROXY=localhost,127.0.0.1,::1")) < 0 ||
            strv_push(&env, strdup("no_proxy=localhost,127.0.0.1,::1")) < 0)
                return -ENOMEM;
        if (rec->n_grants > 0) {
                for (size_t i = 0; i < ELEMENTSOF(bundle_vars); i++)
                        if (asprintf(&kv, "%s=" RUN_TLS_MOUNT "/" RUN_TLS_BUNDLE, bundle_vars[i]) < 0 ||
                            strv_push(&env, kv) < 0)
                                return -ENOMEM;
                if (strv_push(&env, strdup("NODE_EXTRA_CA_CERTS=" RUN_TLS_MOUNT "/" RUN_TLS_CA)) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < rec->n_grants; i++)
                for (char **v = rec->grants[i].env; v && *v; v++)
                        if (asprintf(&kv, "%s=" GRANT_PLACEHOLDER, *v) < 0 || strv_push(&env, kv) < 0)
                                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

/* The network policy and the grants, checked: each grant has a stored value, which the unit
 * will hand to the proxy. */
static int plan_network(const run_options *o, const char *home, run_record *rec, moat_error *err) {
        int r;

        rec->network = o->network;
        for (char *const *p = o->allow; p && *p; p++) {
                char *norm;

                r = host_pattern_normalize(*p, &norm, err);
                if (r < 0)
                        return r;
                if (strv_push(&rec->allow, norm) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (o->n_grants == 0)
                return 0;
        if (o->network == NET_NONE)
                return moat_error_set(err, -EINVAL, "grants need the network: use --network strict (or open) with "
                                                    "--grant, or no grant with --network none");
        rec->grants = calloc(o->n_grants, sizeof(*rec->grants));
        if (!rec->grants)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < o->n_grants; i++) {
                const char *name = o->grants[i].name;

                r = grant_store_stat(home, name, NULL, err);
                if (r == -ENOENT)
                        return moat_error_set(err, -ENOENT,
                                              "the grant '%s' has no stored value; store it with 'moat grant add %s'%s",
                                              name, name, o->manager == RUN_MANAGER_SYSTEM ? " as root" : "");
                if (r < 0)
                        return r;
                if (grant_def_copy(&o->grants[i], &rec->grants[rec->n_grants]) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                rec->n_grants++;
        }
        return 0;
}

/* The names of the container's variables, moat's and the caller's, for the record. */
static int plan_env_keys(const run_options *o, run_record *rec) {
        _cleanup_(strv_freep) char **ours = NULL;
        int r;

        r = run_proxy_env(rec, &ours);
        if (r < 0)
                return r;
        rec->env_keys = calloc(1, sizeof(char *));
        if (!rec->env_keys)
                return -ENOMEM;
        for (char **kv = ours; *kv; kv++)
                if (strv_push(&rec->env_keys, strndup(*kv, strcspn(*kv, "="))) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < o->n_env; i++)
                if (strv_push(&rec->env_keys, strndup(o->env[i], strcspn(o->env[i], "="))) < 0)
                        return -ENOMEM;
        return 0;
}

void run_guard_done(run_guard *g) {
        strv_free(g->hidden);
        git_guard_mounts_free(g->git, g->n_git);
        *g = (run_guard) {};
}

/* SOURCE, mounted at DESTINATION, must not be moat's; moat's places inside it are hidden. */
static int guard_source(const char *source, const char *destination, const char *what, char *const *protected,
                        run_guard *g, moat_error *err) {
        _cleanup_(strv_freep) char **inside = NULL;
        int r;

        r = mount_source_check(source, what, protected, err);
        if (r < 0)
                return r;
        if (mount_source_protected_inside(source, protected, &inside) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (char **rel = inside; *rel; rel++) {
                char *dst;

                if (asprintf(&dst, "%s/%s", strcmp(destination, "/") == 0 ? "" : destination, *rel) < 0 ||
                    strv_push(&g->hidden, dst) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

/* Every source the container gets from the caller, resolved, checked against moat's places. */
static int plan_guard(const run_options *o, const run_record *rec, run_guard *g, moat_error *err) {
        _cleanup_(strv_freep) char **protected = NULL;
        int r;

        r = moat_protected_paths(o->manager, &protected, err);
        if (r < 0)
                return r;
        /* a run's checkout is moat's own, under MOAT_HOME, and the agent's alone: it is the one
         * place there that a container gets, and its git is its own (run-branch.h) */
        if (!rec->branch)
                r = guard_source(rec->workspace, RUN_WORKSPACE_DIR, "the workspace", protected, g, err);
        for (size_t i = 0; r >= 0 && i < rec->n_mounts; i++)
                r = guard_source(rec->mounts[i].source, rec->mounts[i].destination, "mount source", protected, g,
                                 err);
        if (r < 0 || rec->branch)
                return r;
        return git_guard_plan(rec->workspace, &g->git, &g->n_git, err);
}

/* With --branch: the run's workspace is its checkout, which borrows the objects of the user's
 * repository; the container reads them at the same path, read-only. */
static int plan_branch(const run_options *o, const char *home, run_record *rec, run_branch *ret_branch,
                       moat_error *err) {
        run_mount *more;
        int r;

        if (o->branch_from && !o->branch)
                return moat_error_set(err, -EINVAL, "--from needs --branch");
        if (!o->branch)
                return 0;
        r = run_branch_plan(home, rec->workspace, o->branch, ret_branch, err);
        if (r < 0)
                return r;
        free(rec->workspace);
        rec->workspace = strdup(ret_branch->checkout);
        rec->branch = strdup(ret_branch->name);
        rec->repository = strdup(ret_branch->repo);
        more = realloc(rec->mounts, (rec->n_mounts + 1) * sizeof(*more));
        if (!more)
                return moat_error_set(err, -ENOMEM, "out of memory");
        rec->mounts = more;
        more[rec->n_mounts] = (run_mount) { .source = strdup(ret_branch->objects),
                                            .destination = strdup(ret_branch->objects), .read_only = true };
        rec->n_mounts++;
        if (!rec->workspace || !rec->branch || !rec->repository || !more[rec->n_mounts - 1].source ||
            !more[rec->n_mounts - 1].destination)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int run_plan_record(const run_options *o, run_record **ret, run_guard *ret_guard, run_branch *ret_branch,
                    moat_error *err) {
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_free_ char *home = NULL;
        struct stat st;
        int r;

        if (o->name && !run_name_valid(o->name))
                return moat_error_set(err, -EINVAL,
                                      "invalid run name '%s': use 1-63 of a-z, 0-9, '_', '.', '-', "
                                      "starting with a letter or digit",
                                      o->name);
        for (size_t i = 0; i < o->n_env; i++) {
                r = validate_env(o->env[i], err);
                if (r < 0)
                        return r;
        }
        rec = calloc(1, sizeof(*rec));
        if (!rec)
                return moat_error_set(err, -ENOMEM, "out of memory");
        rec->mounts = calloc(o->n_mounts ?: 1, sizeof(*rec->mounts));
        if (!rec->mounts)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < o->n_mounts; i++) {
                r = parse_mount(o->mounts[i], &rec->mounts[i], err);
                if (r < 0)
                        return r;
                rec->n_mounts++;
        }
        rec->workspace = realpath(o->workspace ?: ".", NULL);
        if (!rec->workspace && errno == ENOENT && o->workspace && run_word_could_be_command(o->workspace))
                return moat_error_set(err, -ENOENT,
                                      "workspace '%s' does not exist; to run the command '%s', put it after '--' "
                                      "(moat run [OPTIONS] [WORKSPACE] -- %s)",
                                      o->workspace, o->workspace, o->workspace);
        if (!rec->workspace)
                return moat_error_set(err, -errno, "workspace '%s' does not exist (%s)", o->workspace ?: ".",
                                      strerror(errno));
        if (stat(rec->workspace, &st) < 0 || !S_ISDIR(st.st_mode))
                return moat_error_set(err, -ENOTDIR, "workspace '%s' is not a directory", o->workspace ?: ".");
        r = run_store_default_home(o->manager, &home, err);
        if (r >= 0)
                r = plan_branch(o, home, rec, ret_branch, err);
        if (r >= 0)
                r = plan_guard(o, rec, ret_guard, err);
        if (r < 0)
                return r;

        rec->image = strdup(o->image ?: RUN_DEFAULT_IMAGE);
        if (!rec->image)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if (o->command && o->command[0]) {
                for (char *const *a = o->command; *a; a++)
                        if (strv_push(&rec->command, strdup(*a)) < 0)
                                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        r = plan_network(o, home, rec, err);
        if (r < 0)
                return r;
        r = plan_env_keys(o, rec);
        if (r < 0)
                return moat_error_set(err, r, "out of memory");
        rec->manager = o->manager;
        rec->interactive = o->interactive;
        rec->tty = o->interactive && o->tty;
        rec->keep = o->keep;
        rec->memory_bytes = o->memory_bytes;
        rec->cpus = o->cpus;
        rec->timeout_usec = o->timeout_usec / 1000 * 1000; /* recorded in ms */
        if (o->agent && data_name_valid(o->agent) && !(rec->agent = strdup(o->agent)))
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(rec);
        return 0;
}

void run_plan_init(run_plan *p) {
        *p = (run_plan) { .network = -1 };
        p->cfg.interactive = -1;
}

void run_plan_done(run_plan *p) {
        strv_free(p->env);
        strv_free(p->mounts);
        strv_free(p->command);
        strv_free(p->allow);
        strv_free(p->grant_names);
        grant_defs_free(p->grants, p->n_grants);
        provider_done(&p->agent);
        moat_config_done(&p->cfg);
        free(p->home);
        free(p->workspace);
        config_approval_done(&p->approval);
        strv_free(p->warnings);
        *p = (run_plan) {};
}

static int warn(run_plan *p, moat_error *err, const char *fmt, ...) _printf_(3, 4);
static int warn(run_plan *p, moat_error *err, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0 || strv_push(&p->warnings, s) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* Puts LIST's entries before those already in *V (which come from flags and win). */
static int prepend(char ***v, char *const *list) {
        _cleanup_(strv_freep) char **merged = NULL;

        for (char *const *p = list; p && *p; p++)
                if (strv_push(&merged, strdup(*p)) < 0)
                        return -ENOMEM;
        for (char **p = *v; p && *p; p++)
                if (strv_push(&merged, strdup(*p)) < 0)
                        return -ENOMEM;
        strv_free(*v);
        *v = TAKE_PTR(merged);
        return 0;
}

static int plan_home(run_plan *p, moat_error *err) {
        return p->home ? 0 : run_store_default_home(p->o.manager, &p->home, err);
}

int run_plan_load_config(run_plan *p, moat_error *err) {
        int r;

        p->workspace = realpath(p->o.workspace ?: ".", NULL);
        if (!p->workspace)
                return 0; /* run_plan_record() says what is wrong with the workspace */
        /* the file is the agent's to write: obeyed only as approved (config-trust.h) */
        r = plan_home(p, err);
        if (r >= 0)
                r = config_approval_load(p->home, p->workspace, &p->approval, err);
        if (r < 0)
                return r;
        /* a malformed file is reported as such: approved or not, it is not obeyed */
        if (p->approval.text) {
                r = moat_config_parse(p->approval.path, p->approval.text, p->approval.len, p->workspace, &p->cfg,
                                      err);
                if (r < 0)
                        return r;
        }
        if (!p->approval.approved)
                return 1;
        r = run_plan_apply_config(p, err);
        return r < 0 ? r : 0;
}

int run_plan_apply_config(run_plan *p, moat_error *err) {
        moat_config *cfg = &p->cfg;

        for (char **w = cfg->warnings; w && *w; w++)
                if (warn(p, err, "%s", *w) < 0)
                        return -ENOMEM;
        if (!p->o.name)
                p->o.name = cfg->name;
        if (!p->o.image)
                p->o.image = cfg->image;
        if (!p->o.branch)
                p->o.branch = cfg->branch;
        if (!p->extra && cfg->command)
                p->o.command = cfg->command;
        if (!p->interactive_flag && cfg->interactive == 1 && !p->follow)
                p->interactive = true;
        if (!p->memory_flag && cfg->memory && parse_memory_size(cfg->memory, &p->o.memory_bytes) < 0)
                return moat_error_set(err, -EINVAL,
                                      "invalid container.memory '%s' in %s/moat.yaml: use a size such as 512m or 2g",
                                      cfg->memory, p->workspace);
        if (!p->cpus_flag && cfg->cpus && parse_cpus(cfg->cpus, &p->o.cpus) < 0)
                return moat_error_set(err, -EINVAL,
                                      "invalid container.cpus '%s' in %s/moat.yaml: use a positive number such as 1.5",
                                      cfg->cpus, p->workspace);
        if (!p->timeout_flag && cfg->timeout && parse_duration(cfg->timeout, &p->o.timeout_usec) < 0)
                return moat_error_set(err, -EINVAL,
                                      "invalid container.timeout '%s' in %s/moat.yaml: use a duration such as 30m or 2h",
                                      cfg->timeout, p->workspace);
        if (p->network < 0 && cfg->network)
                p->network = net_mode_from_string(cfg->network);
        if (prepend(&p->env, cfg->env) < 0 || prepend(&p->mounts, cfg->mounts) < 0 ||
            prepend(&p->allow, cfg->allow) < 0 || prepend(&p->grant_names, cfg->grants) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* Adds DEF to the run's grants, once. */
static int use_grant(run_plan *p, const grant_def *def) {
        grant_def *more;

        for (size_t i = 0; i < p->n_grants; i++)
                if (strcmp(p->grants[i].name, def->name) == 0)
                        return 0;
        more = realloc(p->grants, (p->n_grants + 1) * sizeof(*more));
        if (!more)
                return -ENOMEM;
        p->grants = more;
        if (grant_def_copy(def, &p->grants[p->n_grants]) < 0)
                return -ENOMEM;
        p->n_grants++;
        return 0;
}

static bool provider_grant_var(const provider *a, const char *var) {
        for (size_t i = 0; i < a->n_grants; i++)
                for (char **e = a->grants[i].env; e && *e; e++)
                        if (strcmp(*e, var) == 0)
                                return true;
        return false;
}

/* Whether the run's grants reach every one of HOSTS. */
static bool grants_cover(const run_plan *p, char *const *hosts) {
        for (char *const *h = hosts; h && *h; h++) {
                bool covered = false;

                for (size_t i = 0; i < p->n_grants && !covered; i++)
                        covered = grant_rule_for_host(&p->grants[i], *h) != NULL;
                if (!covered)
                        return false;
        }
        return true;
}

/* An agent's network: strict unless asked otherwise, its own allow list, and its grants
 * that have a stored value; a grant without one is skipped, with a warning unless it is
 * optional, and its hosts stay reachable (the agent may log in by itself). */
static int provider_network(run_plan *p, moat_error *err) {
        const provider *a = &p->agent;
        int r;

        if (p->network < 0)
                p->network = NET_STRICT;
        r = plan_home(p, err);
        if (r < 0)
                return r;
        if (prepend(&p->allow, a->allow) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < a->n_grants; i++)
                if (grant_store_stat(p->home, a->grants[i].name, NULL, NULL) >= 0 && use_grant(p, &a->grants[i]) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < a->n_grants; i++) {
                const grant_def *g = &a->grants[i];
                _cleanup_(strv_freep) char **hosts = NULL;
                _cleanup_free_ char *list = NULL;

                if (grant_store_stat(p->home, g->name, NULL, NULL) >= 0)
                        continue;
                if (grant_hosts(g, &hosts) < 0 || prepend(&p->allow, hosts) < 0 || !(list = strv_join(hosts, ", ")))
                        return moat_error_set(err, -ENOMEM, "out of memory");
                /* another stored grant may stand for the same hosts (an API key or a
                 * subscription's token): then nothing is missing */
                if (!g->optional && !grants_cover(p, hosts) &&
                    warn(p, err,
                         "the grant '%s' has no stored value, so the agent gets no credential for %s; store one "
                         "with 'moat grant add %s'",
                         g->name, list, g->name) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int run_plan_add_provider(run_plan *p, const char *name, moat_error *err) {
        _cleanup_(strv_freep) char **pass = NULL, **mounts = NULL;
        const char *home = getenv("HOME");
        const provider *a = &p->agent;
        int r;

        r = provider_load(name, &p->agent, err);
        if (r < 0)
                return r;
        for (char **w = a->warnings; w && *w; w++)
                if (warn(p, err, "%s", *w) < 0)
                        return -ENOMEM;
        if (!p->o.image) {
                p->o.image = a->image;
                p->agent_image = a->build.from != NULL;
        }
        r = provider_argv(a, p->prompt, p->extra, &p->command, err);
        if (r < 0)
                return r;
        /* without a prompt, the agent is interactive */
        if (!p->prompt && !p->follow)
                p->interactive = true;
        r = provider_network(p, err);
        if (r < 0)
                return r;
        /* host variables pass through by name: their values go to the container spec only;
         * never one a grant stands for, which the agent gets as a placeholder */
        for (char **k = a->env; k && *k; k++) {
                const char *v = getenv(*k);
                char *kv;

                if (!v || provider_grant_var(a, *k))
                        continue;
                if (asprintf(&kv, "%s=%s", *k, v) < 0 || strv_push(&pass, kv) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        for (char **m = a->mounts; m && *m; m++) {
                char *abs;

                if ((*m)[0] == '~' && home && asprintf(&abs, "%s%s", home, *m + 1) >= 0)
                        ;
                else
                        abs = strdup(*m);
                if (strv_push(&mounts, abs) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        /* the provider's fixed values, then the passed-through ones; -e wins over both */
        if (prepend(&p->env, pass) < 0 || prepend(&p->env, a->environment) < 0 || prepend(&p->mounts, mounts) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        p->o.agent = a->name;
        p->o.agent_uid = a->uid;
        p->o.agent_gid = a->gid;
        p->o.agent_home = a->home;
        p->o.agent_seeds = a->seeds;
        p->o.n_agent_seeds = a->n_seeds;
        return 0;
}

int run_plan_resolve(run_plan *p, moat_error *err) {
        int r;

        p->o.env = p->env;
        p->o.n_env = strv_length(p->env);
        p->o.mounts = p->mounts;
        p->o.n_mounts = strv_length(p->mounts);
        if (p->command)
                p->o.command = p->command;
        else if (p->extra)
                p->o.command = p->extra;
        for (char **n = p->grant_names; n && *n; n++) {
                grant_def def = {};

                r = grant_find(*n, &def, err);
                if (r >= 0)
                        r = use_grant(p, &def);
                grant_def_done(&def);
                if (r < 0)
                        return err && err->code ? r : moat_error_set(err, r, "out of memory");
        }
        p->o.network = p->network < 0 ? NET_OPEN : (net_mode) p->network;
        p->o.allow = p->allow;
        p->o.grants = p->grants;
        p->o.n_grants = p->n_grants;
        return 0;
}
