#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-util.h"
#include "net-policy.h"
#include "run.h"
#include "run-branch.h"
#include "settings.h"
#include "strv.h"
#include "yaml-doc.h"

#define FILE_MAX (1024 * 1024)

static int warn_unknown(const char *file, const yaml_node *entry, char ***warnings) {
        char *w;

        if (asprintf(&w, "%s:%u: unknown key '%s' (ignored)", file, entry->key_line, entry->key) < 0)
                return -ENOMEM;
        return strv_push(warnings, w);
}

static int want(const char *file, const yaml_node *n, yaml_kind kind, const char *what, moat_error *err) {
        if (n->kind == kind)
                return 0;
        return moat_error_set(err, -EINVAL, "%s:%u:%u: %s must be %s, not %s", file, n->line, n->column, what,
                              yaml_kind_name(kind), yaml_kind_name(n->kind));
}

static int read_string(const char *file, const yaml_node *n, char **ret, moat_error *err) {
        int r = want(file, n, YAML_KIND_SCALAR, n->key, err);

        if (r < 0)
                return r;
        free(*ret);
        *ret = strdup(n->value);
        return *ret ? 0 : moat_error_set(err, -ENOMEM, "out of memory");
}

/* A list of strings; with SHELL_STRING, a plain string becomes /bin/sh -c STRING. */
static int read_list(const char *file, const yaml_node *n, bool shell_string, char ***ret, moat_error *err) {
        char **v = NULL;
        int r;

        if (shell_string && n->kind == YAML_KIND_SCALAR) {
                if (strv_push(&v, strdup("/bin/sh")) < 0 || strv_push(&v, strdup("-c")) < 0 ||
                    strv_push(&v, strdup(n->value)) < 0) {
                        strv_free(v);
                        return moat_error_set(err, -ENOMEM, "out of memory");
                }
                goto done;
        }
        r = want(file, n, YAML_KIND_SEQUENCE, n->key, err);
        if (r < 0)
                return r;
        for (const yaml_node *c = n->children; c; c = c->next) {
                if (c->kind != YAML_KIND_SCALAR) {
                        strv_free(v);
                        return moat_error_set(err, -EINVAL, "%s:%u:%u: the items of %s must be strings", file, c->line,
                                              c->column, n->key);
                }
                if (strv_push(&v, strdup(c->value)) < 0) {
                        strv_free(v);
                        return moat_error_set(err, -ENOMEM, "out of memory");
                }
        }
        if (!v) /* an empty list is an empty vector */
                v = calloc(1, sizeof(char *));
        if (!v)
                return moat_error_set(err, -ENOMEM, "out of memory");
done:
        strv_free(*ret);
        *ret = v;
        return 0;
}

static int read_bool(const char *file, const yaml_node *n, int *ret, moat_error *err) {
        static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
        int r = want(file, n, YAML_KIND_SCALAR, n->key, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(n->value, yes[i]) == 0) {
                        *ret = 1;
                        return 0;
                }
                if (strcasecmp(n->value, no[i]) == 0) {
                        *ret = 0;
                        return 0;
                }
        }
        return moat_error_set(err, -EINVAL, "%s:%u:%u: %s must be true or false, not '%s'", file, n->line, n->column,
                              n->key, n->value);
}

void moat_config_done(moat_config *c) {
        free(c->name);
        free(c->image);
        free(c->memory);
        free(c->timeout);
        free(c->cpus);
        free(c->agent);
        strv_free(c->command);
        strv_free(c->env);
        strv_free(c->mounts);
        strv_free(c->warnings);
        free(c->network);
        strv_free(c->allow);
        strv_free(c->grants);
        free(c->branch);
        *c = (moat_config) { .interactive = -1 };
}

static int read_env(const char *file, const yaml_node *n, char ***ret, moat_error *err) {
        int r = want(file, n, YAML_KIND_MAPPING, n->key, err);

        if (r < 0)
                return r;
        for (const yaml_node *c = n->children; c; c = c->next) {
                char *kv;

                if (c->kind != YAML_KIND_SCALAR)
                        return moat_error_set(err, -EINVAL, "%s:%u:%u: the value of %s %s must be a string", file,
                                              c->line, c->column, n->key, c->key);
                if (asprintf(&kv, "%s=%s", c->key, c->value) < 0 || strv_push(ret, kv) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

/* SRC:DST[:ro] with a relative SRC made absolute against the workspace. */
static int read_mounts(const char *file, const yaml_node *n, const char *workspace, char ***ret, moat_error *err) {
        _cleanup_(strv_freep) char **list = NULL;
        int r;

        r = read_list(file, n, false, &list, err);
        if (r < 0)
                return r;
        for (char **m = list; m && *m; m++) {
                char *abs;

                if ((*m)[0] == '/' || !workspace)
                        abs = strdup(*m);
                else if (asprintf(&abs, "%s/%s", workspace, *m) < 0)
                        abs = NULL;
                if (strv_push(ret, abs) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

/* Allow patterns, checked where they are written so that the error names the line. */
static int read_allow(const char *file, const yaml_node *n, char ***ret, moat_error *err) {
        int r = read_list(file, n, false, ret, err);

        for (char **p = r >= 0 ? *ret : NULL; p && *p; p++) {
                _cleanup_free_ char *norm = NULL;

                r = host_pattern_normalize(*p, &norm, err);
                if (r < 0)
                        return moat_error_prefix(err, "%s:%u", file, n->line);
        }
        return r;
}

static int read_env_names(const char *file, const yaml_node *n, char ***ret, moat_error *err) {
        int r = read_list(file, n, false, ret, err);

        for (char **v = r >= 0 ? *ret : NULL; v && *v; v++)
                if (!((**v >= 'A' && **v <= 'Z') || (**v >= 'a' && **v <= 'z') || **v == '_') ||
                    strspn(*v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(*v))
                        return moat_error_set(err, -EINVAL, "%s:%u: '%s' is not a variable name", file, n->line, *v);
        return r;
}

/* user: UID[:GID], numbers (the image's names are unknown here), never root. */
static int read_user(const char *file, const yaml_node *n, provider *p, moat_error *err) {
        unsigned long uid, gid;
        char *end;
        int r;

        r = want(file, n, YAML_KIND_SCALAR, "user", err);
        if (r < 0)
                return r;
        errno = 0;
        uid = strtoul(n->value, &end, 10);
        gid = uid;
        if (*end == ':' && end[1] >= '0' && end[1] <= '9')
                gid = strtoul(end + 1, &end, 10);
        if (errno || end == n->value || *end || !(n->value[0] >= '0' && n->value[0] <= '9') || uid > 65535 ||
            gid > 65535)
                return moat_error_set(err, -EINVAL, "%s:%u:%u: user must be UID or UID:GID (numbers up to 65535), not '%s'",
                                      file, n->line, n->column, n->value);
        if (uid == 0 || gid == 0)
                return moat_error_set(err, -EINVAL, "%s:%u:%u: an agent never runs as root: give user a UID and GID "
                                      "other than 0", file, n->line, n->column);
        p->uid = (unsigned) uid;
        p->gid = (unsigned) gid;
        return 0;
}

static int read_home(const char *file, const yaml_node *n, provider *p, moat_error *err) {
        int r = read_string(file, n, &p->home, err);

        if (r >= 0 && (p->home[0] != '/' || strstr(p->home, "/../") || strcmp(p->home, "/") == 0))
                return moat_error_set(err, -EINVAL, "%s:%u:%u: home must be an absolute path other than /, not '%s'",
                                      file, n->line, n->column, p->home);
        return r;
}

/* seed: {PATH: CONTENT, ...}, PATH relative to the agent's home. */
static int read_seeds(const char *file, const yaml_node *n, provider *p, moat_error *err) {
        int r = want(file, n, YAML_KIND_MAPPING, "seed", err);

        for (const yaml_node *c = r >= 0 ? n->children : NULL; c; c = c->next) {
                agent_seed *more;

                if (c->kind != YAML_KIND_SCALAR)
                        return moat_error_set(err, -EINVAL, "%s:%u:%u: the content of seed %s must be a string", file,
                                              c->line, c->column, c->key);
                if (!agent_seed_path_valid(c->key))
                        return moat_error_set(err, -EINVAL, "%s:%u: seed '%s' must be a path inside the home: relative, "
                                              "without '.' or '..'", file, c->key_line, c->key);
                more = realloc(p->seeds, (p->n_seeds + 1) * sizeof(*more));
                if (!more)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                p->seeds = more;
                more[p->n_seeds] = (agent_seed) { .path = strdup(c->key), .content = strdup(c->value) };
                p->n_seeds++;
                if (!more[p->n_seeds - 1].path || !more[p->n_seeds - 1].content)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        return r;
}

/* One entry of a grant's inject list: hosts, header, value. */
static int read_rule(const char *file, const yaml_node *n, const char *grant, grant_rule *rule, char ***warnings,
                     moat_error *err) {
        _cleanup_(strv_freep) char **hosts = NULL;
        _cleanup_free_ char *where = NULL;
        int r;

        r = want(file, n, YAML_KIND_MAPPING, "an inject entry", err);
        for (const yaml_node *k = r >= 0 ? n->children : NULL; k && r >= 0; k = k->next) {
                if (strcmp(k->key, "hosts") == 0)
                        r = read_list(file, k, false, &hosts, err);
                else if (strcmp(k->key, "header") == 0)
                        r = read_string(file, k, &rule->header, err);
                else if (strcmp(k->key, "value") == 0)
                        r = read_string(file, k, &rule->value, err);
                else if (warn_unknown(file, k, warnings) < 0)
                        r = moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (r < 0)
                return r;
        if (!rule->value && !(rule->value = strdup("{secret}")))
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (char **h = hosts; h && *h; h++) {
                char *norm;

                if (host_name_normalize(*h, &norm) < 0)
                        return moat_error_set(err, -EINVAL, "%s:%u: grant %s: '%s' is not a host name (no IP address, "
                                              "port or '*')", file, n->line, grant, *h);
                if (strv_push(&rule->hosts, norm) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (asprintf(&where, "%s:%u: grant %s", file, n->line, grant) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return grant_rule_check(rule, where, err);
}

static int read_grant(const char *file, const yaml_node *n, grant_def *g, char ***warnings, moat_error *err) {
        int optional = 0, r;

        if (!data_name_valid(n->key))
                return moat_error_set(err, -EINVAL, "%s:%u: '%s' is not a grant name (a-z, 0-9, '_', '-')", file,
                                      n->key_line, n->key);
        g->name = strdup(n->key);
        if (!g->name)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = want(file, n, YAML_KIND_MAPPING, n->key, err);
        for (const yaml_node *k = r >= 0 ? n->children : NULL; k && r >= 0; k = k->next) {
                if (strcmp(k->key, "optional") == 0)
                        r = read_bool(file, k, &optional, err);
                else if (strcmp(k->key, "env") == 0)
                        r = read_env_names(file, k, &g->env, err);
                else if (strcmp(k->key, "inject") == 0) {
                        size_t n_items = 0;

                        r = want(file, k, YAML_KIND_SEQUENCE, "inject", err);
                        for (const yaml_node *i = r >= 0 ? k->children : NULL; i; i = i->next)
                                n_items++;
                        if (r >= 0 && !(g->rules = calloc(n_items + 1, sizeof(*g->rules))))
                                r = moat_error_set(err, -ENOMEM, "out of memory");
                        for (const yaml_node *i = r >= 0 ? k->children : NULL; i && r >= 0; i = i->next)
                                r = read_rule(file, i, g->name, &g->rules[g->n_rules++], warnings, err);
                } else if (warn_unknown(file, k, warnings) < 0)
                        r = moat_error_set(err, -ENOMEM, "out of memory");
        }
        g->optional = optional == 1;
        if (r >= 0 && g->n_rules == 0)
                r = moat_error_set(err, -EINVAL, "%s:%u: grant %s injects nothing: give it an inject list", file,
                                   n->key_line, g->name);
        return r;
}

static int read_grants(const char *file, const yaml_node *n, provider *p, moat_error *err) {
        size_t count = 0;
        int r;

        r = want(file, n, YAML_KIND_MAPPING, "grants", err);
        if (r < 0)
                return r;
        for (const yaml_node *c = n->children; c; c = c->next)
                count++;
        p->grants = calloc(count + 1, sizeof(*p->grants));
        if (!p->grants)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (const yaml_node *c = n->children; c && r >= 0; c = c->next)
                r = read_grant(file, c, &p->grants[p->n_grants++], &p->warnings, err);
        return r;
}

/* build: {from: IMAGE, run: [COMMAND, ...]}; checked, and the image named, by the caller. */
static int read_build(const char *file, const yaml_node *n, provider *p, moat_error *err) {
        int r;

        r = want(file, n, YAML_KIND_MAPPING, "build", err);
        for (const yaml_node *c = n->children; c && r >= 0; c = c->next) {
                if (strcmp(c->key, "from") == 0)
                        r = read_string(file, c, &p->build.from, err);
                else if (strcmp(c->key, "run") == 0)
                        r = read_list(file, c, false, &p->build.run, err);
                else if (warn_unknown(file, c, &p->warnings) < 0)
                        r = moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (r >= 0 && !p->build.from)
                r = moat_error_set(err, -EINVAL, "%s:%u:%u: build needs from: the base image", file, n->line, n->column);
        return r;
}

int moat_config_parse(const char *name, const char *text, size_t len, const char *workspace, moat_config *ret,
                      moat_error *err) {
        _cleanup_(yaml_node_freep) yaml_node *root = NULL;
        moat_config c = { .interactive = -1 };
        int r;

        r = yaml_doc_parse(name, text, len, &root, err);
        if (r < 0)
                return r;
        r = want(name, root, YAML_KIND_MAPPING, "the file", err);
        if (r < 0)
                return r;
        for (const yaml_node *e = root->children; e && r >= 0; e = e->next) {
                if (strcmp(e->key, "name") == 0)
                        r = read_string(name, e, &c.name, err);
                else if (strcmp(e->key, "image") == 0)
                        r = read_string(name, e, &c.image, err);
                else if (strcmp(e->key, "agent") == 0)
                        r = read_string(name, e, &c.agent, err);
                else if (strcmp(e->key, "branch") == 0) {
                        r = read_string(name, e, &c.branch, err);
                        if (r >= 0 && !run_branch_name_valid(c.branch))
                                r = moat_error_set(err, -EINVAL,
                                                   "%s:%u: '%s' is not a branch name: use 1-100 of A-Z, a-z, 0-9, "
                                                   "'.', '_', '-', starting with a letter or digit, without '..'",
                                                   name, e->line, c.branch);
                }
                else if (strcmp(e->key, "command") == 0)
                        r = read_list(name, e, true, &c.command, err);
                else if (strcmp(e->key, "env") == 0)
                        r = read_env(name, e, &c.env, err);
                else if (strcmp(e->key, "mounts") == 0)
                        r = read_mounts(name, e, workspace, &c.mounts, err);
                else if (strcmp(e->key, "interactive") == 0)
                        r = read_bool(name, e, &c.interactive, err);
                else if (strcmp(e->key, "container") == 0) {
                        r = want(name, e, YAML_KIND_MAPPING, "container", err);
                        for (const yaml_node *k = r >= 0 ? e->children : NULL; k && r >= 0; k = k->next) {
                                if (strcmp(k->key, "memory") == 0)
                                        r = read_string(name, k, &c.memory, err);
                                else if (strcmp(k->key, "cpus") == 0)
                                        r = read_string(name, k, &c.cpus, err);
                                else if (strcmp(k->key, "timeout") == 0)
                                        r = read_string(name, k, &c.timeout, err);
                                else if (warn_unknown(name, k, &c.warnings) < 0)
                                        r = moat_error_set(err, -ENOMEM, "out of memory");
                        }
                } else if (strcmp(e->key, "network") == 0) {
                        r = want(name, e, YAML_KIND_MAPPING, "network", err);
                        for (const yaml_node *k = r >= 0 ? e->children : NULL; k && r >= 0; k = k->next) {
                                if (strcmp(k->key, "policy") == 0)
                                        r = read_string(name, k, &c.network, err);
                                else if (strcmp(k->key, "allow") == 0)
                                        r = read_allow(name, k, &c.allow, err);
                                else if (warn_unknown(name, k, &c.warnings) < 0)
                                        r = moat_error_set(err, -ENOMEM, "out of memory");
                        }
                        if (r >= 0 && c.network && net_mode_from_string(c.network) == _NET_MODE_INVALID)
                                r = moat_error_set(err, -EINVAL, "%s: network.policy must be open, strict or none, not '%s'",
                                                   name, c.network);
                } else if (strcmp(e->key, "grants") == 0) {
                        r = read_list(name, e, false, &c.grants, err);
                        for (char **g = r >= 0 ? c.grants : NULL; g && *g && r >= 0; g++)
                                if (!data_name_valid(*g))
                                        r = moat_error_set(err, -EINVAL, "%s:%u: '%s' is not a grant name", name,
                                                           e->line, *g);
                } else if (warn_unknown(name, e, &c.warnings) < 0)
                        r = moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (r < 0) {
                moat_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

static int read_file(const char *path, char **ret, size_t *ret_len, moat_error *err) {
        int r = file_read_all(path, FILE_MAX, ret, ret_len);

        if (r == -EFBIG)
                return moat_error_set(err, -EINVAL, "%s is not a regular file under 1 MiB", path);
        if (r < 0 && r != -ENOENT)
                return moat_error_set(err, r, "cannot read %s: %s", path, strerror(-r));
        return r;
}

int moat_config_read(const char *workspace, char **ret_path, char **ret_text, size_t *ret_len, moat_error *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len = 0;
        int r;

        if (asprintf(&path, "%s/moat.yaml", workspace) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = read_file(path, &text, &len, err);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret_path = TAKE_PTR(path);
        *ret_text = TAKE_PTR(text);
        *ret_len = len;
        return 0;
}

void provider_done(provider *p) {
        free(p->name);
        free(p->image);
        strv_free(p->command);
        strv_free(p->prompt);
        strv_free(p->interactive_command);
        strv_free(p->env);
        strv_free(p->environment);
        free(p->home);
        agent_seeds_free(p->seeds, p->n_seeds);
        strv_free(p->mounts);
        strv_free(p->allow);
        grant_defs_free(p->grants, p->n_grants);
        image_recipe_done(&p->build);
        strv_free(p->warnings);
        *p = (provider) {};
}

int provider_parse(const char *name, const char *file, const char *text, size_t len, provider *ret, moat_error *err) {
        _cleanup_(yaml_node_freep) yaml_node *root = NULL;
        const yaml_node *build = NULL;
        provider p = {};
        int r;

        r = yaml_doc_parse(file, text, len, &root, err);
        if (r < 0)
                return r;
        r = want(file, root, YAML_KIND_MAPPING, "the file", err);
        if (r < 0)
                return r;
        p.name = strdup(name);
        p.home = strdup(PROVIDER_DEFAULT_HOME);
        p.uid = p.gid = PROVIDER_DEFAULT_UID;
        if (!p.name || !p.home) {
                provider_done(&p);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        for (const yaml_node *e = root->children; e && r >= 0; e = e->next) {
                if (strcmp(e->key, "image") == 0)
                        r = read_string(file, e, &p.image, err);
                else if (strcmp(e->key, "command") == 0)
                        r = read_list(file, e, false, &p.command, err);
                else if (strcmp(e->key, "prompt") == 0)
                        r = read_list(file, e, false, &p.prompt, err);
                else if (strcmp(e->key, "interactive_command") == 0)
                        r = read_list(file, e, false, &p.interactive_command, err);
                else if (strcmp(e->key, "env") == 0)
                        r = read_list(file, e, false, &p.env, err);
                else if (strcmp(e->key, "environment") == 0)
                        r = read_env(file, e, &p.environment, err);
                else if (strcmp(e->key, "user") == 0)
                        r = read_user(file, e, &p, err);
                else if (strcmp(e->key, "home") == 0)
                        r = read_home(file, e, &p, err);
                else if (strcmp(e->key, "seed") == 0)
                        r = read_seeds(file, e, &p, err);
                else if (strcmp(e->key, "mounts") == 0)
                        r = read_list(file, e, false, &p.mounts, err);
                else if (strcmp(e->key, "allow") == 0)
                        r = read_allow(file, e, &p.allow, err);
                else if (strcmp(e->key, "grants") == 0)
                        r = read_grants(file, e, &p, err);
                else if (strcmp(e->key, "build") == 0) {
                        build = e;
                        r = read_build(file, e, &p, err);
                } else if (warn_unknown(file, e, &p.warnings) < 0)
                        r = moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (r >= 0 && build && p.image)
                r = moat_error_set(err, -EINVAL, "%s:%u: give either image: or build:, not both", file, build->key_line);
        else if (r >= 0 && build) {
                r = image_recipe_tag(p.name, &p.build, &p.image, err);
                if (r < 0)
                        r = moat_error_prefix(err, "%s:%u", file, build->key_line);
        }
        if (r >= 0 && (!p.image || !p.command || !p.command[0]))
                r = moat_error_set(err, -EINVAL, "%s: a provider needs an image (or a build) and a command", file);
        if (r < 0) {
                provider_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

/* Frees both of provider_dirs()'s: _cleanup_free_ on the array would free the first alone. */
static void provider_dirs_free(char *(*dirs)[2]) {
        free((*dirs)[0]);
        free((*dirs)[1]);
}

/* The provider directories, the user's first. */
static int provider_dirs(char *ret[2]) {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

        ret[0] = NULL;
        if (xdg && xdg[0] == '/') {
                if (asprintf(&ret[0], "%s/moat/providers", xdg) < 0)
                        return -ENOMEM;
        } else if (home && home[0] == '/' && asprintf(&ret[0], "%s/.config/moat/providers", home) < 0)
                return -ENOMEM;
        ret[1] = strdup(DATADIR "/providers");
        return ret[1] ? 0 : -ENOMEM;
}

int provider_list(char ***ret, moat_error *err) {
        _cleanup_(provider_dirs_free) char *dirs[2] = {};
        char **names = NULL;
        size_t n = 0;

        if (provider_dirs(dirs) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (size_t d = 0; d < 2; d++) {
                DIR *dir = dirs[d] ? opendir(dirs[d]) : NULL;
                struct dirent *de;

                if (!dir)
                        continue;
                while ((de = readdir(dir))) {
                        size_t l = strlen(de->d_name);
                        char *name;
                        bool seen = false;

                        if (l <= 5 || strcmp(de->d_name + l - 5, ".yaml") != 0)
                                continue;
                        name = strndup(de->d_name, l - 5);
                        if (!name || !data_name_valid(name)) {
                                free(name);
                                continue;
                        }
                        for (size_t i = 0; i < n; i++)
                                seen |= strcmp(names[i], name) == 0;
                        if (seen || strv_push(&names, name) < 0) {
                                free(seen ? name : NULL);
                                continue;
                        }
                        n++;
                }
                closedir(dir);
        }
        strv_sort(names);
        if (!names)
                names = calloc(1, sizeof(char *));
        *ret = names;
        return names ? 0 : moat_error_set(err, -ENOMEM, "out of memory");
}

int provider_load(const char *name, provider *ret, moat_error *err) {
        _cleanup_(provider_dirs_free) char *dirs[2] = {};
        int r;

        if (!data_name_valid(name))
                return moat_error_set(err, -EINVAL, "invalid provider name '%s'", name);
        if (provider_dirs(dirs) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (size_t d = 0; d < 2; d++) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                size_t len;

                if (!dirs[d])
                        continue;
                if (asprintf(&path, "%s/%s.yaml", dirs[d], name) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                r = read_file(path, &text, &len, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                return provider_parse(name, path, text, len, ret, err);
        }
        {
                _cleanup_(strv_freep) char **known = NULL;
                _cleanup_free_ char *list = NULL;

                if (provider_list(&known, NULL) >= 0)
                        list = strv_join(known, ", ");
                return moat_error_set(err, -ENOENT, "unknown provider '%s'; known providers: %s", name,
                                      list && *list ? list : "none");
        }
}

int provider_argv(const provider *p, const char *prompt_text, char *const *extra, char ***ret, moat_error *err) {
        char **base = prompt_text || !p->interactive_command ? p->command : p->interactive_command;
        char **v = NULL;

        for (char **a = base; a && *a; a++)
                if (strv_push(&v, strdup(*a)) < 0)
                        goto oom;
        if (prompt_text) {
                if (!p->prompt)
                        goto no_prompt;
                for (char **a = p->prompt; *a; a++)
                        if (strv_push(&v, strdup(strcmp(*a, "{prompt}") == 0 ? prompt_text : *a)) < 0)
                                goto oom;
        }
        for (char *const *a = extra; a && *a; a++)
                if (strv_push(&v, strdup(*a)) < 0)
                        goto oom;
        *ret = v;
        return 0;
oom:
        strv_free(v);
        return moat_error_set(err, -ENOMEM, "out of memory");
no_prompt:
        strv_free(v);
        return moat_error_set(err, -EINVAL, "provider %s takes no prompt (its file has no 'prompt')", p->name);
}

int grant_find_all(grant_def **ret, size_t *ret_n, moat_error *err) {
        _cleanup_(strv_freep) char **names = NULL;
        grant_def *all = NULL;
        size_t n = 0;
        int r;

        r = provider_list(&names, err);
        if (r < 0)
                return r;
        for (char **name = names; *name; name++) {
                provider p = {};

                if (provider_load(*name, &p, NULL) < 0)
                        continue; /* 'moat NAME' says what is wrong with it */
                for (size_t i = 0; i < p.n_grants; i++) {
                        bool seen = false;
                        grant_def *more;

                        for (size_t k = 0; k < n; k++)
                                seen |= strcmp(all[k].name, p.grants[i].name) == 0;
                        if (seen)
                                continue;
                        more = realloc(all, (n + 1) * sizeof(*all));
                        if (!more || grant_def_copy(&p.grants[i], &more[n]) < 0) {
                                provider_done(&p);
                                grant_defs_free(more ?: all, n);
                                return moat_error_set(err, -ENOMEM, "out of memory");
                        }
                        all = more;
                        n++;
                }
                provider_done(&p);
        }
        for (size_t i = 1; i < n; i++) /* by name: a handful */
                for (size_t j = i; j > 0 && strcmp(all[j - 1].name, all[j].name) > 0; j--) {
                        grant_def t = all[j];

                        all[j] = all[j - 1];
                        all[j - 1] = t;
                }
        *ret = all;
        *ret_n = n;
        return 0;
}

int grant_find(const char *name, grant_def *ret, moat_error *err) {
        grant_def *all = NULL;
        size_t n = 0;
        int r;

        r = grant_find_all(&all, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (strcmp(all[i].name, name) == 0) {
                        *ret = all[i];
                        all[i] = (grant_def) {};
                        grant_defs_free(all, n);
                        return 0;
                }
        {
                _cleanup_(strv_freep) char **names = calloc(n + 1, sizeof(char *));
                _cleanup_free_ char *list = NULL;

                for (size_t i = 0; names && i < n; i++)
                        names[i] = TAKE_PTR(all[i].name);
                list = names ? strv_join(names, ", ") : NULL;
                grant_defs_free(all, n);
                return moat_error_set(err, -ENOENT, "unknown grant '%s'; the providers define: %s", name,
                                      list && *list ? list : "none");
        }
}
