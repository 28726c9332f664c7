/* The images runs need: an agent's built from its provider's recipe through podman's build
 * endpoint, any other pulled when podman lacks it; the progress on stderr, one status line on
 * a terminal, plain lines elsewhere. */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "podman.h"
#include "settings.h"

typedef struct build_flags {
        bool pull;     /* pull the base image even when present */
        bool no_cache; /* build every step anew */
} build_flags;

/* Builds P's image, tagged P->image.  A failure is in ERR, naming the failing step; on a
 * terminal the step's last lines of output are on stderr before it. */
int build_provider_image(podman_client *c, const provider *p, const build_flags *f, moat_error *err);

/* Pulls IMAGE (run_options.make_image for an image podman lacks), as podman run does. */
int pull_image(podman_client *c, const char *image, moat_error *err);
