/* Grant definitions and the grant store.  The store follows the run store's rules: names
 * are validated before they become paths, files are opened relative to the directory with
 * O_NOFOLLOW, and a value is written whole (a temporary file renamed into place). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grant.h"
#include "net-policy.h"
#include "run.h"
#include "strv.h"

#define GRANTS_DIR "grants"

void grant_def_done(grant_def *d) {
        free(d->name);
        strv_free(d->env);
        for (size_t i = 0; i < d->n_rules; i++) {
                strv_free(d->rules[i].hosts);
                free(d->rules[i].header);
                free(d->rules[i].value);
        }
        free(d->rules);
        *d = (grant_def) {};
}

void grant_defs_free(grant_def *defs, size_t n) {
        for (size_t i = 0; i < n; i++)
                grant_def_done(&defs[i]);
        free(defs);
}

static int strv_copy(char *const *from, char ***to) {
        for (char *const *p = from; p && *p; p++)
                if (strv_push(to, strdup(*p)) < 0)
                        return -ENOMEM;
        return 0;
}

int grant_def_copy(const grant_def *from, grant_def *to) {
        grant_def d = { .optional = from->optional };

        d.name = strdup(from->name);
        d.rules = calloc(from->n_rules ?: 1, sizeof(*d.rules));
        if (!d.name || !d.rules || strv_copy(from->env, &d.env) < 0)
                goto oom;
        for (size_t i = 0; i < from->n_rules; i++) {
                grant_rule *r = &d.rules[d.n_rules++];

                r->header = strdup(from->rules[i].header);
                r->value = strdup(from->rules[i].value);
                if (!r->header || !r->value || strv_copy(from->rules[i].hosts, &r->hosts) < 0)
                        goto oom;
        }
        *to = d;
        return 0;
oom:
        grant_def_done(&d);
        return -ENOMEM;
}

/* An HTTP header name: RFC 9110's token. */
static bool header_name_valid(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      strchr("!#$%&'*+-.^_`|~", *s)))
                        return false;
        return true;
}

static bool printable(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] == 0x7f)
                        return false;
        return true;
}

int grant_rule_check(const grant_rule *rule, const char *where, moat_error *err) {
        const char *v = rule->value, *open, *close;
        int placeholders = 0;

        if (!rule->hosts || !rule->hosts[0])
                return moat_error_set(err, -EINVAL, "%s: each inject entry needs hosts", where);
        for (char **h = rule->hosts; *h; h++) {
                _cleanup_free_ char *norm = NULL;

                if (host_name_normalize(*h, &norm) < 0 || strcmp(norm, *h) != 0)
                        return moat_error_set(err, -EINVAL, "%s: '%s' is not a host name (lowercase, no IP address)",
                                              where, *h);
        }
        if (!rule->header || !header_name_valid(rule->header))
                return moat_error_set(err, -EINVAL, "%s: header '%s' is not an HTTP header name", where,
                                      rule->header ?: "");
        if (!v || !printable(v, strlen(v)))
                return moat_error_set(err, -EINVAL, "%s: the value must be printable text", where);
        for (open = strchr(v, '{'); open; open = strchr(close, '{')) {
                close = strchr(open, '}');
                if (!close)
                        return moat_error_set(err, -EINVAL, "%s: '{' without '}' in value '%s'", where, v);
                if (!(close - open == 7 && strncmp(open, "{secret}", 8) == 0) &&
                    !(strncmp(open, "{basic:", 7) == 0 && close - open > 7 && !memchr(open + 7, ':', close - open - 7)))
                        return moat_error_set(err, -EINVAL,
                                              "%s: value '%s' may hold only {secret} or {basic:USER}", where, v);
                placeholders++;
        }
        if (placeholders != 1)
                return moat_error_set(err, -EINVAL, "%s: value '%s' must hold {secret} or {basic:USER} once", where,
                                      v);
        return 0;
}

const grant_rule *grant_rule_for_host(const grant_def *d, const char *host) {
        for (size_t i = 0; i < d->n_rules; i++)
                for (char **h = d->rules[i].hosts; h && *h; h++)
                        if (strcmp(*h, host) == 0)
                                return &d->rules[i];
        return NULL;
}

int grant_hosts(const grant_def *d, char ***ret) {
        _cleanup_(strv_freep) char **v = calloc(1, sizeof(char *));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_rules; i++)
                for (char **h = d->rules[i].hosts; h && *h; h++) {
                        bool seen = false;

                        for (char **p = v; *p; p++)
                                seen |= strcmp(*p, *h) == 0;
                        if (!seen && strv_push(&v, strdup(*h)) < 0)
                                return -ENOMEM;
                }
        *ret = TAKE_PTR(v);
        return 0;
}

int grant_value_check(const char *value, size_t len, size_t *ret_len, moat_error *err) {
        if (len > 0 && value[len - 1] == '\n')
                len--;
        if (len > 0 && value[len - 1] == '\r')
                len--;
        if (len == 0)
                return moat_error_set(err, -EINVAL, "the value is empty: give the secret on stdin or at the prompt");
        if (len > GRANT_VALUE_MAX)
                return moat_error_set(err, -E2BIG, "the value is longer than %d bytes", GRANT_VALUE_MAX);
        if (!printable(value, len))
                return moat_error_set(err, -EINVAL,
                                      "the value holds a control character or a line break inside: give one line");
        *ret_len = len;
        return 0;
}

/* $HOME/grants, created 0700 when CREATE; its descriptor. */
static int grants_dir_open(const char *home, bool create, int *ret_fd, moat_error *err) {
        _cleanup_close_ int home_fd = -1;
        int fd;

        home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (home_fd < 0 && errno == ENOENT && create) {
                if (mkdir(home, 0700) < 0 && errno != EEXIST)
                        return moat_error_set(err, -errno, "cannot create %s: %m", home);
                home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (home_fd < 0)
                return errno == ENOENT ? -ENOENT : moat_error_set(err, -errno, "cannot open %s: %m", home);
        if (create && mkdirat(home_fd, GRANTS_DIR, 0700) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "cannot create %s/" GRANTS_DIR ": %m", home);
        fd = openat(home_fd, GRANTS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : moat_error_set(err, -errno, "cannot open %s/" GRANTS_DIR ": %m", home);
        /* private to its owner, whatever made it */
        if (create && fchmod(fd, 0700) < 0) {
                close(fd);
                return moat_error_set(err, -errno, "cannot make %s/" GRANTS_DIR " private: %m", home);
        }
        *ret_fd = fd;
        return 0;
}

/* The store's directory, for the grant NAME (checked first: it becomes a file name). */
static int grant_dir_open(const char *home, const char *name, bool create, int *ret_fd, moat_error *err) {
        if (!data_name_valid(name))
                return moat_error_set(err, -EINVAL,
                                      "invalid grant name '%s': use 1-32 of a-z, 0-9, '_', '-', starting with a letter "
                                      "or digit",
                                      name);
        return grants_dir_open(home, create, ret_fd, err);
}

int grant_store_put(const char *home, const char *name, const char *value, size_t len, moat_error *err) {
        _cleanup_close_ int dfd = -1, fd = -1;
        char tmp[64];
        int r;

        r = grant_dir_open(home, name, true, &dfd, err);
        if (r < 0)
                return r == -ENOENT ? moat_error_set(err, r, "cannot create the grant store in %s", home) : r;
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        (void) unlinkat(dfd, tmp, 0);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return moat_error_set(err, -errno, "cannot write the grant %s: %m", name);
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, value + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = moat_error_set(err, -errno, "cannot write the grant %s: %m", name);
                        (void) unlinkat(dfd, tmp, 0);
                        return r;
                }
                done += (size_t) n;
        }
        if (fsync(fd) < 0 || renameat(dfd, tmp, dfd, name) < 0) {
                r = moat_error_set(err, -errno, "cannot write the grant %s: %m", name);
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        return 0;
}

int grant_store_stat(const char *home, const char *name, int64_t *ret_mtime, moat_error *err) {
        _cleanup_close_ int dfd = -1;
        struct stat st;
        int r;

        r = grant_dir_open(home, name, false, &dfd, err);
        if (r < 0)
                return r;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? -ENOENT : moat_error_set(err, -errno, "cannot look at the grant %s: %m", name);
        if (!S_ISREG(st.st_mode) || st.st_size == 0)
                return moat_error_set(err, -EINVAL, "the grant %s in %s/" GRANTS_DIR " is not a stored value", name,
                                      home);
        if (ret_mtime)
                *ret_mtime = (int64_t) st.st_mtim.tv_sec;
        return 0;
}

int grant_store_path(const char *home, const char *name, char **ret) {
        if (!data_name_valid(name))
                return -EINVAL;
        return asprintf(ret, "%s/" GRANTS_DIR "/%s", home, name) < 0 ? -ENOMEM : 0;
}

int grant_store_remove(const char *home, const char *name, moat_error *err) {
        _cleanup_close_ int dfd = -1;
        int r;

        r = grant_dir_open(home, name, false, &dfd, err);
        if (r < 0)
                return r;
        if (unlinkat(dfd, name, 0) < 0)
                return errno == ENOENT ? -ENOENT : moat_error_set(err, -errno, "cannot remove the grant %s: %m", name);
        return 0;
}

int grant_store_list(const char *home, char ***ret, moat_error *err) {
        _cleanup_(strv_freep) char **names = calloc(1, sizeof(char *));
        _cleanup_close_ int dfd = -1;
        DIR *dir;
        struct dirent *de;
        int r;

        if (!names)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = grants_dir_open(home, false, &dfd, err);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(names);
                return 0;
        }
        if (r < 0)
                return r;
        dir = fdopendir(TAKE_FD(dfd));
        if (!dir)
                return moat_error_set(err, -errno, "cannot list the grants: %m");
        while ((de = readdir(dir)))
                if (de->d_type == DT_REG && data_name_valid(de->d_name)) {
                        if (strv_push(&names, strdup(de->d_name)) < 0) {
                                closedir(dir);
                                return moat_error_set(err, -ENOMEM, "out of memory");
                        }
                }
        closedir(dir);
        strv_sort(names);
        *ret = TAKE_PTR(names);
        return 0;
}
