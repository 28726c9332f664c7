#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-trust.h"
#include "file-util.h"
#include "strv.h"

#define TRUST_DIR "trust"
#define APPROVED_MAX (1 << 20)

void config_approval_done(config_approval *a) {
        free(a->path);
        free(a->text);
        free(a->approved_text);
        *a = (config_approval) {};
}

int config_digest(const char *text, size_t len, char ret[CONFIG_DIGEST_HEX + 1]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) || n * 2 != CONFIG_DIGEST_HEX)
                return -EIO;
        for (unsigned i = 0; i < n; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

/* HOME/trust/<digest of WORKSPACE>.yaml: a name per workspace that no path can bend. */
static int approval_path(const char *home, const char *workspace, char **ret) {
        char key[CONFIG_DIGEST_HEX + 1];

        if (config_digest(workspace, strlen(workspace), key) < 0)
                return -EIO;
        return asprintf(ret, "%s/" TRUST_DIR "/%s.yaml", home, key) < 0 ? -ENOMEM : 0;
}

int config_approval_load(const char *home, const char *workspace, config_approval *ret, moat_error *err) {
        _cleanup_free_ char *store = NULL;
        config_approval a = {};
        char approved[CONFIG_DIGEST_HEX + 1];
        int r;

        r = moat_config_read(workspace, &a.path, &a.text, &a.len, err);
        if (r < 0)
                return r;
        if (!a.text) {
                a.approved = true; /* nothing to obey */
                *ret = a;
                return 0;
        }
        r = config_digest(a.text, a.len, a.digest);
        if (r >= 0)
                r = approval_path(home, workspace, &store);
        if (r < 0) {
                config_approval_done(&a);
                return moat_error_set(err, r, "cannot digest %s: %s", workspace, strerror(-r));
        }
        r = file_read_all(store, APPROVED_MAX, &a.approved_text, &a.approved_len);
        if (r < 0 && r != -ENOENT) {
                moat_error_set(err, r, "cannot read the approval of %s, %s: %s", a.path, store, strerror(-r));
                config_approval_done(&a);
                return r;
        }
        a.approved = a.approved_text && config_digest(a.approved_text, a.approved_len, approved) >= 0 &&
                     strcmp(approved, a.digest) == 0;
        *ret = a;
        return 0;
}

int config_approval_store(const char *home, const char *workspace, const config_approval *a, moat_error *err) {
        _cleanup_free_ char *store = NULL, *dir = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (!a->text)
                return moat_error_set(err, -ENOENT, "%s/moat.yaml does not exist: there is nothing to approve",
                                      workspace);
        if (approval_path(home, workspace, &store) < 0 || asprintf(&dir, "%s/" TRUST_DIR, home) < 0 ||
            asprintf(&tmp, "%s.tmp", store) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if ((mkdir(home, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
                return moat_error_set(err, -errno, "cannot make %s: %s", dir, strerror(errno));
        (void) unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        r = fd < 0 ? -errno : 0;
        for (size_t done = 0; r >= 0 && done < a->len;) {
                ssize_t n = write(fd, a->text + done, a->len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        r = n < 0 ? -errno : -EIO;
                else
                        done += (size_t) n;
        }
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, store) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return moat_error_set(err, r, "cannot record the approval in %s: %s", store, strerror(-r));
        }
        return 0;
}

static bool strv_has(char *const *v, const char *s) {
        for (char *const *p = v; p && *p; p++)
                if (strcmp(*p, s) == 0)
                        return true;
        return false;
}

static int line(char ***v, const char *what, const char *value, const char *was) {
        char *s;

        if (was ? asprintf(&s, "%s: %s (was: %s)", what, value, was) < 0 : asprintf(&s, "%s: %s", what, value) < 0)
                return -ENOMEM;
        return strv_push(v, s);
}

/* Each of NEW not in OLD. */
static int added(char ***v, const char *what, char *const *old, char *const *new) {
        for (char *const *p = new; p && *p; p++)
                if (!strv_has(old, *p) && line(v, what, *p, NULL) < 0)
                        return -ENOMEM;
        return 0;
}

/* NEW when it differs from OLD. */
static int changed(char ***v, const char *what, const char *old, const char *new, const char *unset) {
        if (!new || (old && strcmp(old, new) == 0))
                return 0;
        return line(v, what, new, old ?: unset);
}

int moat_config_widening(const moat_config *old, const moat_config *new, char ***ret) {
        static const moat_config none = { .interactive = -1 };
        _cleanup_(strv_freep) char **v = calloc(1, sizeof(char *));
        _cleanup_free_ char *old_cmd = NULL, *new_cmd = NULL;

        if (!v)
                return -ENOMEM;
        if (!old)
                old = &none;
        if (new->command && !(new_cmd = strv_join(new->command, " ")))
                return -ENOMEM;
        if (old->command && !(old_cmd = strv_join(old->command, " ")))
                return -ENOMEM;
        if (changed(&v, "network", old->network, new->network, "the default") < 0 ||
            added(&v, "allow", old->allow, new->allow) < 0 || added(&v, "mount", old->mounts, new->mounts) < 0 ||
            added(&v, "env", old->env, new->env) < 0 || added(&v, "grant", old->grants, new->grants) < 0 ||
            changed(&v, "image", old->image, new->image, "the default") < 0 ||
            changed(&v, "command", old_cmd, new_cmd, "the default") < 0 ||
            changed(&v, "agent", old->agent, new->agent, "none") < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

int config_approval_widening(const config_approval *a, const char *workspace, char ***ret, moat_error *err) {
        _cleanup_(moat_config_done) moat_config old = { .interactive = -1 }, new = { .interactive = -1 };
        bool has_old = false;
        int r;

        if (!a->text)
                return moat_error_set(err, -ENOENT, "%s/moat.yaml does not exist", workspace);
        r = moat_config_parse(a->path, a->text, a->len, workspace, &new, err);
        if (r < 0)
                return r;
        /* an approved text that no longer parses (an older moat) widens from nothing */
        if (a->approved_text)
                has_old = moat_config_parse(a->path, a->approved_text, a->approved_len, workspace, &old, NULL) >= 0;
        r = moat_config_widening(has_old ? &old : NULL, &new, ret);
        return r < 0 ? moat_error_set(err, r, "out of memory") : 0;
}
