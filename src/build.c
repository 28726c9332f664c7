/* moat build PROVIDER, and the images a run needs when podman lacks them: an agent's built
 * from its provider's recipe through podman's build endpoint, any other pulled; the progress
 * of either shown as it comes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cli-util.h"
#include "cli.h"
#include "image-build.h"
#include "progress.h"

#define CONTAINERFILE "Containerfile"

typedef struct pull_progress {
        progress screen;
        const char *image;
} pull_progress;

typedef struct build_progress {
        progress screen;
        build_log log;
} build_progress;

static void show_line(const build_log *l, const char *line, bool step, void *userdata) {
        build_progress *p = userdata;
        char counter[32];

        if (l->steps > 0)
                snprintf(counter, sizeof(counter), "[%u/%u]", l->step, l->steps);
        else
                snprintf(counter, sizeof(counter), "[%u]", l->step);
        progress_show(&p->screen, counter, l->instruction, step ? NULL : line, line);
}

static void on_message(const char *message, void *userdata) {
        build_progress *p = userdata;

        (void) build_log_feed(&p->log, message, show_line, p);
}

/* The failing step into ERR; before it, on a terminal (where they did not stay on the
 * screen), the step's last lines of output. */
static int fail_build(const build_progress *p, const provider *prov, moat_error *err) {
        const build_log *l = &p->log;
        const char *why = moat_error_message(err), *said;
        _cleanup_free_ char *where = NULL;

        /* podman's 'building at STEP "RUN x": ' says what the step says below */
        if (l->step > 0 && strncmp(why, "building at STEP \"", 18) == 0 && (said = strstr(why, "\": "))) {
                _cleanup_free_ char *rest = strdup(said + 3);

                if (rest) {
                        int code = err->code;

                        moat_error_clear(err);
                        moat_error_set(err, code, "%s", rest);
                }
        }

        if (p->screen.status_line && build_log_tail_count(l) > 0) {
                fprintf(stderr, "moat: the last lines of step %u's output:\n", l->step);
                for (size_t i = 0; i < build_log_tail_count(l); i++)
                        fprintf(stderr, "  %s\n", build_log_tail_line(l, i));
        }
        if ((l->steps > 0 && asprintf(&where, " at step %u/%u (%s)", l->step, l->steps, l->instruction) < 0) ||
            (l->steps == 0 && l->step > 0 && asprintf(&where, " at step %u (%s)", l->step, l->instruction) < 0))
                where = NULL; /* asprintf leaves it undefined */
        return moat_error_prefix(err, "building the image of provider %s failed%s", prov->name, where ?: "");
}

int build_provider_image(podman_client *c, const provider *p, const build_flags *f, moat_error *err) {
        _cleanup_free_ char *containerfile = NULL, *context = NULL, *provider_label = NULL, *recipe_label = NULL;
        char digest[65];
        size_t context_len;
        build_progress pr = {};
        int r;

        r = image_recipe_containerfile(&p->build, &containerfile, err);
        if (r >= 0)
                r = image_containerfile_digest(containerfile, digest, err);
        if (r < 0)
                return moat_error_prefix(err, "provider %s", p->name);
        if (build_context_tar(CONTAINERFILE, containerfile, strlen(containerfile), &context, &context_len) < 0 ||
            asprintf(&provider_label, "io.moat.provider=%s", p->name) < 0 ||
            asprintf(&recipe_label, "io.moat.recipe=sha256:%s", digest) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        {
                char *labels[] = { provider_label, recipe_label, NULL };
                const podman_build_request req = {
                        .tag = p->image,
                        .context = context,
                        .context_len = context_len,
                        .containerfile = CONTAINERFILE,
                        .labels = labels,
                        .pull = f->pull,
                        .no_cache = f->no_cache,
                };

                progress_init(&pr.screen);
                if (!pr.screen.status_line)
                        fprintf(stderr, "Building %s for provider %s\n", p->image, p->name);
                r = podman_image_build(c, &req, on_message, &pr, err);
        }
        (void) build_log_end(&pr.log, show_line, &pr);
        progress_clear(&pr.screen);
        if (r < 0)
                r = fail_build(&pr, p, err);
        else
                fprintf(stderr, "Built %s for provider %s\n", p->image, p->name);
        build_log_done(&pr.log);
        return r;
}

static void show_pull(const char *message, void *userdata) {
        pull_progress *p = userdata;

        progress_show(&p->screen, "Pulling", p->image, message, message);
}

int pull_image(podman_client *c, const char *image, moat_error *err) {
        pull_progress p = { .image = image };
        int r;

        progress_init(&p.screen);
        r = podman_image_pull(c, image, show_pull, &p, NULL, err);
        progress_clear(&p.screen);
        return r;
}

static void usage(FILE *out) {
        fputs("Usage: moat build [--pull] [--no-cache] [--user|--system] PROVIDER\n"
              "\n"
              "Build PROVIDER's image from the recipe in its provider file (build: from:\n"
              "and run:), through podman, and print its name. 'moat PROVIDER' builds it\n"
              "by itself when it is missing; this builds it again, from podman's cache.\n"
              "  --pull       pull the base image even when podman has it\n"
              "  --no-cache   run every step anew\n"
              "See moat-build(1).\n",
              out);
}

int cmd_build(int argc, char **argv) {
        enum { OPT_PULL = OPT_OWN, OPT_NO_CACHE };
        static const struct option options[] = {
                { "pull", no_argument, NULL, OPT_PULL },
                { "no-cache", no_argument, NULL, OPT_NO_CACHE },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        cli_manager_flags mf = {};
        build_flags f = {};
        run_manager m;
        provider p = {};
        int opt, r;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (opt) {
                case OPT_PULL:
                        f.pull = true;
                        break;
                case OPT_NO_CACHE:
                        f.no_cache = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        if (!cli_manager_option(opt, &mf))
                                return cli_fail_option(opt, argv, "build");
                }
        if (optind + 1 != argc)
                return cli_fail("give one provider; usage: moat build [--pull] [--no-cache] PROVIDER");
        if (cli_manager(&mf, &m) < 0)
                return cli_fail("give --user or --system, not both");
        if (provider_load(argv[optind], &p, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        for (char **w = p.warnings; w && *w; w++)
                fprintf(stderr, "moat: warning: %s\n", *w);
        if (!p.build.from) {
                r = cli_fail("provider %s names an image (%s) and has no build: section to build it from", p.name,
                             p.image);
                goto out;
        }
        if (podman_client_open(m == RUN_MANAGER_USER, &c, &err) < 0) {
                r = cli_fail("%s", moat_error_message(&err));
                goto out;
        }
        r = build_provider_image(c, &p, &f, &err);
        if (r < 0)
                r = cli_fail("%s", moat_error_message(&err));
        else
                printf("%s\n", p.image);
out:
        provider_done(&p);
        return r;
}
