#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount-guard.h"
#include "run.h"
#include "strv.h"

int path_normalize(const char *path, char **ret) {
        size_t n = strlen(path), len = 0;
        char *out;

        if (path[0] != '/')
                return -EINVAL;
        out = malloc(n + 2);
        if (!out)
                return -ENOMEM;
        for (const char *p = path; *p;) {
                size_t seg;

                while (*p == '/')
                        p++;
                seg = strcspn(p, "/");
                if (seg == 0 || (seg == 1 && p[0] == '.'))
                        ;
                else if (seg == 2 && p[0] == '.' && p[1] == '.') {
                        /* drop the last component and its slash */
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--;
                } else {
                        out[len] = '/';
                        memcpy(out + len + 1, p, seg);
                        len += seg + 1;
                }
                p += seg;
        }
        if (len == 0)
                out[len++] = '/';
        out[len] = '\0';
        *ret = out;
        return 0;
}

bool path_is_within(const char *path, const char *dir) {
        size_t n = strlen(dir);

        if (strcmp(dir, "/") == 0)
                return path[0] == '/';
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mount_source_resolve(const char *src, const char *base, char **ret, moat_error *err) {
        _cleanup_free_ char *joined = NULL;
        char *real;

        if (src[0] != '/' && base && asprintf(&joined, "%s/%s", base, src) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        real = realpath(joined ?: src, NULL);
        if (!real)
                return moat_error_set(err, -errno, "mount source '%s' does not exist (%s)", src, strerror(errno));
        *ret = real;
        return 0;
}

/* PATH resolved when it exists, else normalized, pushed onto *V once. */
static int push_place(char ***v, const char *path) {
        char *p = realpath(path, NULL);

        if (!p && path_normalize(path, &p) < 0)
                return 0; /* not absolute: nothing moat would use */
        for (char **q = *v; q && *q; q++)
                if (strcmp(*q, p) == 0) {
                        free(p);
                        return 0;
                }
        return strv_push(v, p);
}

int moat_protected_paths(run_manager m, char ***ret, moat_error *err) {
        _cleanup_(strv_freep) char **v = calloc(1, sizeof(char *));
        _cleanup_free_ char *home = NULL, *config = NULL, *dot = NULL;
        const char *xdg = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
        int r;

        if (!v)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = run_store_default_home(m, &home, err);
        if (r < 0)
                return r;
        if (push_place(&v, home) < 0 || push_place(&v, "/var/lib/moat") < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if (h && h[0] == '/') {
                if (asprintf(&dot, "%s/.moat", h) < 0 || push_place(&v, dot) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        }
        if (xdg && xdg[0] == '/')
                r = asprintf(&config, "%s/moat", xdg);
        else if (h && h[0] == '/')
                r = asprintf(&config, "%s/.config/moat", h);
        else
                r = 0;
        if (r < 0 || (config && push_place(&v, config) < 0))
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(v);
        return 0;
}

int mount_source_check(const char *source, const char *what, char *const *protected, moat_error *err) {
        for (char *const *p = protected; p && *p; p++)
                if (path_is_within(source, *p))
                        return moat_error_set(err, -EPERM,
                                              "%s '%s' is inside %s, which holds moat's runs, grants or settings and "
                                              "is never given to a container; choose another directory",
                                              what, source, *p);
        return 0;
}

int mount_source_protected_inside(const char *source, char *const *protected, char ***ret) {
        _cleanup_(strv_freep) char **v = calloc(1, sizeof(char *));
        size_t n = strlen(source);

        if (!v)
                return -ENOMEM;
        for (char *const *p = protected; p && *p; p++) {
                if (strcmp(*p, source) == 0 || !path_is_within(*p, source))
                        continue;
                /* below "/" the rest starts right after it; below "/a", after "/a/" */
                if (strv_push(&v, strdup(*p + (n == 1 ? 1 : n + 1))) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return 0;
}
