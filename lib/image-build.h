/* An agent's image as data: a base image and the commands that install the agent on it (a
 * provider's build: section).  From it come the Containerfile, the tag that carries the
 * recipe's digest, and the one-file build context podman's build endpoint takes; and, from
 * podman's build stream, how far a build has got. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct image_recipe {
        char *from;  /* the base image */
        char **run;  /* shell commands, one RUN step each, in order */
} image_recipe;

void image_recipe_done(image_recipe *r);

/* FROM, then one RUN line per command.  -EINVAL, err naming what, for a base image that is
 * empty or holds whitespace, no commands, or a command that is empty or spans lines (which
 * would start instructions of its own). */
int image_recipe_containerfile(const image_recipe *r, char **ret, moat_error *err);

/* The SHA-256 of the Containerfile, as 64 hex digits: what identifies the recipe.  The
 * second takes the text image_recipe_containerfile() made. */
int image_recipe_digest(const image_recipe *r, char ret[static 65], moat_error *err);
int image_containerfile_digest(const char *containerfile, char ret[static 65], moat_error *err);

/* localhost/moat/NAME:DIGEST, DIGEST the recipe digest's first 12 hex digits: a changed
 * recipe names another image, so a built image is never out of date. */
#define IMAGE_RECIPE_REPO "localhost/moat/"
#define IMAGE_RECIPE_TAG_LEN 12
int image_recipe_tag(const char *name, const image_recipe *r, char **ret, moat_error *err);

/* A tar archive (POSIX ustar) holding one regular file NAME (at most 100 bytes) with DATA. */
int build_context_tar(const char *name, const char *data, size_t len, char **ret, size_t *ret_len);

/* How far a build has got, from podman's stream: the step ("STEP 2/3: RUN ...") and the last
 * lines of the step's output, which a failure shows. */
#define BUILD_LOG_TAIL 8
typedef struct build_log {
        unsigned step, steps;            /* steps is 0 when podman did not say */
        char *instruction;               /* the step's, e.g. "RUN npm install -g x" */
        char *tail[BUILD_LOG_TAIL];      /* a ring of the step's last output lines */
        size_t tail_next, tail_count;
        char *partial;                   /* a line not yet ended */
} build_log;

void build_log_done(build_log *l);

/* Takes one message of podman's stream, which may hold several lines or part of one.  Calls
 * LINE for each complete line (a new step's too), with whether it began a step. */
typedef void (*build_log_line_fn)(const build_log *l, const char *line, bool step, void *userdata);
int build_log_feed(build_log *l, const char *text, build_log_line_fn line, void *userdata);

/* At the stream's end: a last line without its newline goes to LINE too. */
int build_log_end(build_log *l, build_log_line_fn fn, void *userdata);

/* The step's last output lines, oldest first, at most BUILD_LOG_TAIL: I from 0 to count. */
size_t build_log_tail_count(const build_log *l);
const char *build_log_tail_line(const build_log *l, size_t i);
