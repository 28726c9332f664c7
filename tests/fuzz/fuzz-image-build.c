/* An agent's image recipe and a build's progress.  The input is fields split at 0x1e: the
 * first is a base image, the rest are RUN commands; a recipe accepted makes a Containerfile
 * with exactly one FROM line and one RUN line per command, never an instruction of its own.
 * The same input, split at 0x1f, is fed to a build log as podman's stream messages: its tail
 * holds at most BUILD_LOG_TAIL lines, none with a newline. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image-build.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_recipe(char *text) {
        _cleanup_free_ char *containerfile = NULL;
        image_recipe r = {};
        char *field, *save = NULL;
        size_t lines = 0, runs;
        moat_error err = {};

        for (field = strtok_r(text, "\x1e", &save); field; field = strtok_r(NULL, "\x1e", &save)) {
                if (!r.from)
                        r.from = strdup(field);
                else if (strv_push(&r.run, strdup(field)) < 0)
                        abort();
        }
        runs = strv_length(r.run);
        if (image_recipe_containerfile(&r, &containerfile, &err) == 0) {
                if (strncmp(containerfile, "FROM ", 5) != 0)
                        abort();
                for (const char *l = containerfile; *l; l = strchr(l, '\n') + 1) {
                        if (!strchr(l, '\n'))
                                abort(); /* every line ends */
                        if (lines > 0 && strncmp(l, "RUN ", 4) != 0)
                                abort();
                        lines++;
                }
                if (lines != runs + 1)
                        abort();
        } else if (!err.msg)
                abort();
        moat_error_clear(&err);
        image_recipe_done(&r);
}

static void check_log(const char *text) {
        build_log l = {};
        const char *p = text;

        for (;;) {
                const char *end = strchr(p, '\x1f');
                _cleanup_free_ char *msg = strndup(p, end ? (size_t) (end - p) : strlen(p));

                if (!msg || build_log_feed(&l, msg, NULL, NULL) < 0)
                        abort();
                if (!end)
                        break;
                p = end + 1;
        }
        if (build_log_end(&l, NULL, NULL) < 0 || build_log_tail_count(&l) > BUILD_LOG_TAIL)
                abort();
        for (size_t i = 0; i < build_log_tail_count(&l); i++)
                if (!build_log_tail_line(&l, i) || strchr(build_log_tail_line(&l, i), '\n'))
                        abort();
        if ((l.step > 0) != (l.instruction != NULL))
                abort();
        build_log_done(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        check_log(text);
        check_recipe(text);
        free(text);
        return 0;
}
