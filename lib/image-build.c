#include "config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image-build.h"
#include "macro.h"
#include "strv.h"

void image_recipe_done(image_recipe *r) {
        free(r->from);
        strv_free(r->run);
        *r = (image_recipe) {};
}

static bool has_any(const char *s, const char *set) {
        return s[strcspn(s, set)] != '\0';
}

int image_recipe_containerfile(const image_recipe *r, char **ret, moat_error *err) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (!r->from || !r->from[0] || has_any(r->from, " \t\r\n"))
                return moat_error_set(err, -EINVAL, "build.from '%s' is not an image name; give one such as "
                                      "docker.io/library/node:22-bookworm-slim", r->from ? r->from : "");
        if (!r->run || !r->run[0])
                return moat_error_set(err, -EINVAL, "build.run is empty; list the commands that install the agent");
        for (char **c = r->run; *c; c++) {
                if (!(*c)[0] || strspn(*c, " \t") == strlen(*c))
                        return moat_error_set(err, -EINVAL, "build.run item %zu is empty", (size_t) (c - r->run) + 1);
                if (has_any(*c, "\r\n"))
                        return moat_error_set(err, -EINVAL, "build.run item %zu spans lines; give each command as "
                                              "one line, or join them with &&", (size_t) (c - r->run) + 1);
        }

        f = open_memstream(&text, &len);
        if (!f)
                return moat_error_set(err, -ENOMEM, "out of memory");
        fprintf(f, "FROM %s\n", r->from);
        for (char **c = r->run; *c; c++)
                fprintf(f, "RUN %s\n", *c);
        if (fclose(f) != 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(text);
        return 0;
}

int image_containerfile_digest(const char *containerfile, char ret[static 65], moat_error *err) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!EVP_Digest(containerfile, strlen(containerfile), md, &n, EVP_sha256(), NULL) || n != 32)
                return moat_error_set(err, -EIO, "cannot compute the recipe's SHA-256");
        for (unsigned i = 0; i < n; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

int image_recipe_digest(const image_recipe *r, char ret[static 65], moat_error *err) {
        _cleanup_free_ char *text = NULL;
        int k;

        k = image_recipe_containerfile(r, &text, err);
        if (k < 0)
                return k;
        return image_containerfile_digest(text, ret, err);
}

int image_recipe_tag(const char *name, const image_recipe *r, char **ret, moat_error *err) {
        char digest[65];
        int k;

        k = image_recipe_digest(r, digest, err);
        if (k < 0)
                return k;
        if (asprintf(ret, IMAGE_RECIPE_REPO "%s:%.*s", name, IMAGE_RECIPE_TAG_LEN, digest) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* ustar: a 512-byte header, the data padded to 512 bytes, then two zero blocks. */
int build_context_tar(const char *name, const char *data, size_t len, char **ret, size_t *ret_len) {
        size_t padded = (len + 511) / 512 * 512, total = 512 + padded + 1024;
        unsigned sum = 0;
        char *t;

        if (strlen(name) >= 100 || len > 077777777777)
                return -EINVAL;
        t = calloc(1, total);
        if (!t)
                return -ENOMEM;
        memcpy(t, name, strlen(name));                          /* name */
        memcpy(t + 100, "0000644", 7);                           /* mode */
        memcpy(t + 108, "0000000", 7);                           /* uid */
        memcpy(t + 116, "0000000", 7);                           /* gid */
        snprintf(t + 124, 12, "%011zo", len);                    /* size */
        memcpy(t + 136, "00000000000", 11);                      /* mtime: the context never changes */
        t[156] = '0';                                            /* a regular file */
        memcpy(t + 257, "ustar", 6);                             /* magic, NUL-terminated */
        memcpy(t + 263, "00", 2);                                /* version */
        memset(t + 148, ' ', 8);                                 /* the checksum counts as spaces */
        for (size_t i = 0; i < 512; i++)
                sum += (unsigned char) t[i];
        snprintf(t + 148, 8, "%06o", sum);                       /* six digits, NUL, space */
        t[155] = ' ';
        memcpy(t + 512, data, len);
        *ret = t;
        *ret_len = total;
        return 0;
}

void build_log_done(build_log *l) {
        free(l->instruction);
        for (size_t i = 0; i < BUILD_LOG_TAIL; i++)
                free(l->tail[i]);
        free(l->partial);
        *l = (build_log) {};
}

static void tail_clear(build_log *l) {
        for (size_t i = 0; i < BUILD_LOG_TAIL; i++)
                l->tail[i] = mfree(l->tail[i]);
        l->tail_next = l->tail_count = 0;
}

/* A step number: 1 to 9999 in decimal digits, *P moved past it. */
static bool parse_step_number(const char **p, unsigned *ret) {
        unsigned n = 0;
        const char *s = *p;

        if (*s < '1' || *s > '9')
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                n = n * 10 + (unsigned) (*s - '0');
                if (n > 9999)
                        return false;
        }
        *p = s;
        *ret = n;
        return true;
}

/* "STEP 2/3: RUN x" (or, from older podman, "STEP 2: RUN x"). */
static bool parse_step(const char *line, unsigned *step, unsigned *steps, const char **instruction) {
        const char *p = line + 5;
        unsigned n, m = 0;

        if (strncmp(line, "STEP ", 5) != 0 || !parse_step_number(&p, &n))
                return false;
        if (*p == '/' && (p++, !parse_step_number(&p, &m) || n > m))
                return false;
        if (strncmp(p, ": ", 2) != 0)
                return false;
        *step = n;
        *steps = m;
        *instruction = p + 2;
        return true;
}

static int take_line(build_log *l, const char *line, build_log_line_fn fn, void *userdata) {
        const char *instruction;
        unsigned step, steps;
        bool is_step = parse_step(line, &step, &steps, &instruction);

        if (line[strspn(line, " \t")] == '\0')
                return 0; /* says nothing, on the status line or in a failure's tail */
        if (is_step) {
                char *copy = strdup(instruction);

                if (!copy)
                        return -ENOMEM;
                free(l->instruction);
                l->instruction = copy;
                l->step = step;
                l->steps = steps;
                tail_clear(l);
        } else {
                char *copy = strdup(line);

                if (!copy)
                        return -ENOMEM;
                free(l->tail[l->tail_next]);
                l->tail[l->tail_next] = copy;
                l->tail_next = (l->tail_next + 1) % BUILD_LOG_TAIL;
                if (l->tail_count < BUILD_LOG_TAIL)
                        l->tail_count++;
        }
        if (fn)
                fn(l, line, is_step, userdata);
        return 0;
}

int build_log_feed(build_log *l, const char *text, build_log_line_fn fn, void *userdata) {
        while (*text) {
                const char *nl = strchr(text, '\n');
                size_t n = nl ? (size_t) (nl - text) : strlen(text);
                size_t have = l->partial ? strlen(l->partial) : 0;
                char *line = realloc(l->partial, have + n + 1);
                int r;

                if (!line)
                        return -ENOMEM;
                memcpy(line + have, text, n);
                line[have + n] = '\0';
                l->partial = line;
                if (!nl)
                        return 0;
                if (have + n > 0 && line[have + n - 1] == '\r')
                        line[have + n - 1] = '\0';
                r = take_line(l, line, fn, userdata);
                l->partial = mfree(l->partial);
                if (r < 0)
                        return r;
                text = nl + 1;
        }
        return 0;
}

int build_log_end(build_log *l, build_log_line_fn fn, void *userdata) {
        _cleanup_free_ char *line = TAKE_PTR(l->partial);

        return line && line[0] ? take_line(l, line, fn, userdata) : 0;
}

size_t build_log_tail_count(const build_log *l) {
        return l->tail_count;
}

const char *build_log_tail_line(const build_log *l, size_t i) {
        if (i >= l->tail_count)
                return NULL;
        return l->tail[(l->tail_next + BUILD_LOG_TAIL - l->tail_count + i) % BUILD_LOG_TAIL];
}
