#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "follow.h"
#include "host-check.h"
#include "interactive.h"
#include "build.h"
#include "launch.h"
#include "run-branch.h"
#include "trust.h"

/* What the agent P brings of its own: its image (or recipe), network and grants. */
static void provider_usage(FILE *out, const provider *p) {
        _cleanup_free_ char *allow = p->allow ? strv_join(p->allow, ", ") : NULL;

        fprintf(out, "Its image:   %s\n", p->image);
        if (p->build.from)
                fprintf(out, "             built from its recipe (FROM %s) when podman lacks it;\n"
                             "             see 'moat build %s'\n",
                        p->build.from, p->name);
        fprintf(out, "Its network: strict unless --network says otherwise: its proxy reaches only\n"
                     "             %s%s%sthe hosts given with --allow\n",
                p->n_grants > 0 ? "its grants' hosts, " : "", allow && *allow ? allow : "",
                allow && *allow ? ", " : "");
        for (size_t i = 0; i < p->n_grants; i++) {
                _cleanup_(strv_freep) char **hosts = NULL;
                _cleanup_free_ char *list = NULL;

                if (grant_hosts(&p->grants[i], &hosts) >= 0)
                        list = strv_join(hosts, ", ");
                fprintf(out, "%s %s%s for %s: 'moat grant add %s'\n", i == 0 ? "Its grants: " : "            ",
                        p->grants[i].name, p->grants[i].optional ? " (optional)" : "", list ?: "its hosts",
                        p->grants[i].name);
        }
}

/* P: the provider of 'moat P', NULL for moat run. */
static void run_usage(FILE *out, const char *command, const provider *p) {
        if (p) {
                fprintf(out,
                        "Usage: moat %s [OPTIONS] [WORKSPACE] [-p PROMPT] [-f] [-- EXTRA ARGS]\n"
                        "\n"
                        "Run the %s agent in a container on WORKSPACE (default: the current directory,\n"
                        "mounted at /workspace). With -p, non-interactive: fire-and-forget, or -f to follow;\n"
                        "without -p, interactive. Takes every option of moat run.\n"
                        "\n",
                        command, command);
                provider_usage(out, p);
                fputs("\n  -p, --prompt PROMPT   the task, passed to the agent exactly as typed\n", out);
        } else
                fputs("Usage: moat run [OPTIONS] [WORKSPACE] [-- COMMAND [ARG...]]\n"
                      "\n"
                      "Run COMMAND in a new container, as the transient systemd unit moat-<id>.service, and\n"
                      "return once it runs. WORKSPACE (default: the current directory) is mounted at\n"
                      "/workspace, the working directory; its moat.yaml, if any, gives defaults.\n"
                      "\n",
                      out);
        fputs("Options:\n"
              "  -f, --follow          print the run's output until it ends; exit with its code\n"
              "                        (Ctrl+C stops the run, a second Ctrl+C kills it)\n"
              "  -i, --interactive     attach stdin (and the terminal, with a TTY) until the run\n"
              "                        ends; Ctrl-] three times stops it; exit with its code\n"
              "  -n, --name NAME       name the run ([a-z0-9][a-z0-9_.-]{0,62}; default: random)\n",
              out);
        fprintf(out, "      --image IMAGE     the image (default: %s)\n", p ? p->image : RUN_DEFAULT_IMAGE);
        fputs("  -e, --env KEY=VALUE   set an environment variable in the container (repeatable)\n"
              "  -m, --mount SRC:DST[:ro]  bind-mount a host path (repeatable)\n"
              "      --keep            keep the container after the run ends\n"
              "      --memory SIZE     memory limit, e.g. 512m, 2g\n"
              "      --cpus N          CPU limit, e.g. 1.5\n"
              "      --timeout DURATION  stop the run after DURATION, e.g. 90s, 30m, 2h\n"
              "      --network POLICY  open (the default for moat run), strict (only the proxy:\n"
              "                        grants' hosts and --allow; the default for agents) or none\n"
              "      --allow HOST      a host a strict run may reach, e.g. github.com or\n"
              "                        '*.npmjs.org' (repeatable)\n"
              "      --grant NAME      a stored credential the run's proxy adds for its hosts; the\n"
              "                        container never holds it (repeatable; see 'moat grant')\n"
              "      --branch NAME     work on a checkout of the workspace's git repository of its\n"
              "                        own, on branch moat/NAME, brought back into the repository\n"
              "                        when the run ends (see 'moat branches')\n"
              "      --from REF        where a new --branch starts (default: HEAD)\n"
              "      --user            use the user manager and rootless podman (default for non-root)\n"
              "      --system          use the system manager and rootful podman (default for root)\n"
              "  -h, --help            show this help\n"
              "\n"
              "Exit status: 0 when the run started (with -f or -i: the run's exit code); 125 when\n"
              "it could not start (nothing is left behind); as podman run, 127 when the command is\n"
              "not in the image and 126 when it cannot be run.\n",
              out);
        fprintf(out, "See %s(1).\n", p ? "moat-agents" : "moat-run");
}

int launch_parse(launch *l, int argc, char **argv, const char *command, bool is_provider) {
        enum { OPT_IMAGE = OPT_OWN, OPT_KEEP, OPT_MEMORY, OPT_CPUS, OPT_NETWORK, OPT_ALLOW, OPT_GRANT, OPT_BRANCH,
               OPT_FROM, OPT_TIMEOUT };
        static const struct option options[] = {
                { "name", required_argument, NULL, 'n' },
                { "image", required_argument, NULL, OPT_IMAGE },
                { "env", required_argument, NULL, 'e' },
                { "mount", required_argument, NULL, 'm' },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "network", required_argument, NULL, OPT_NETWORK },
                { "allow", required_argument, NULL, OPT_ALLOW },
                { "grant", required_argument, NULL, OPT_GRANT },
                { "branch", required_argument, NULL, OPT_BRANCH },
                { "from", required_argument, NULL, OPT_FROM },
                { "follow", no_argument, NULL, 'f' },
                { "interactive", no_argument, NULL, 'i' },
                { "prompt", required_argument, NULL, 'p' },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, dashdash = argc;

        run_plan_init(&l->p);
        /* Everything after "--" is the command, options included. */
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        dashdash = i;
                        break;
                }

        opterr = 0;
        while ((c = getopt_long(dashdash, argv, is_provider ? ":fin:e:m:p:h" : ":fin:e:m:h", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        l->p.o.name = optarg;
                        break;
                case OPT_IMAGE:
                        l->p.o.image = optarg;
                        break;
                case 'e':
                        if (strv_push(&l->p.env, strdup(optarg)) < 0)
                                return cli_fail("out of memory");
                        break;
                case 'm':
                        if (strv_push(&l->p.mounts, strdup(optarg)) < 0)
                                return cli_fail("out of memory");
                        break;
                case 'f':
                        l->p.follow = true;
                        break;
                case 'i':
                        l->p.interactive = l->p.interactive_flag = true;
                        break;
                case 'p':
                        if (!is_provider)
                                return cli_fail_option('?', argv, command);
                        l->p.prompt = optarg;
                        break;
                case OPT_KEEP:
                        l->p.o.keep = true;
                        break;
                case OPT_MEMORY:
                        if (parse_memory_size(optarg, &l->p.o.memory_bytes) < 0)
                                return cli_fail("invalid --memory '%s': use a size such as 512m or 2g", optarg);
                        l->p.memory_flag = true;
                        break;
                case OPT_CPUS:
                        if (parse_cpus(optarg, &l->p.o.cpus) < 0)
                                return cli_fail("invalid --cpus '%s': use a positive number such as 1.5", optarg);
                        l->p.cpus_flag = true;
                        break;
                case OPT_TIMEOUT:
                        if (parse_duration(optarg, &l->p.o.timeout_usec) < 0)
                                return cli_fail("invalid --timeout '%s': use a duration such as 90s, 30m or 2h", optarg);
                        l->p.timeout_flag = true;
                        break;
                case OPT_NETWORK:
                        l->p.network = net_mode_from_string(optarg);
                        if (l->p.network < 0)
                                return cli_fail("invalid --network '%s': use open, strict or none", optarg);
                        break;
                case OPT_ALLOW: {
                        _cleanup_(moat_error_clear) moat_error err = {};
                        char *norm;

                        if (host_pattern_normalize(optarg, &norm, &err) < 0)
                                return cli_fail("%s", moat_error_message(&err));
                        if (strv_push(&l->p.allow, norm) < 0)
                                return cli_fail("out of memory");
                        break;
                }
                case OPT_BRANCH:
                        if (!run_branch_name_valid(optarg))
                                return cli_fail("invalid branch name '%s': use 1-100 of A-Z, a-z, 0-9, '.', '_', "
                                                "'-', starting with a letter or digit, without '..'",
                                                optarg);
                        l->p.o.branch = optarg;
                        break;
                case OPT_FROM:
                        l->p.o.branch_from = optarg;
                        break;
                case OPT_GRANT:
                        if (!data_name_valid(optarg))
                                return cli_fail("invalid grant name '%s': see 'moat grant list'", optarg);
                        if (strv_push(&l->p.grant_names, strdup(optarg)) < 0)
                                return cli_fail("out of memory");
                        break;
                case 'h': {
                        _cleanup_(moat_error_clear) moat_error err = {};
                        provider p = {};

                        if (is_provider && provider_load(command, &p, &err) < 0)
                                return cli_fail("%s", moat_error_message(&err));
                        run_usage(stdout, command, is_provider ? &p : NULL);
                        provider_done(&p);
                        return 0;
                }
                default:
                        if (!cli_manager_option(c, &l->mf))
                                return cli_fail_option(c, argv, command);
                }
        }
        if (optind < dashdash)
                l->p.o.workspace = argv[optind++];
        if (optind < dashdash)
                return cli_fail("unexpected argument '%s'; put the command after '--' (see 'moat %s --help')",
                                argv[optind], command);
        if (dashdash + 1 < argc)
                l->p.extra = argv + dashdash + 1;
        if (cli_manager(&l->mf, &l->p.o.manager) < 0)
                return cli_fail("--user and --system exclude each other");
        if (l->p.follow && l->p.interactive)
                return cli_fail("-f and -i exclude each other: -i already shows the output");
        if (l->p.o.branch_from && !l->p.o.branch)
                return cli_fail("--from needs --branch");
        return -1;
}

/* The plan's warnings so far, each once. */
static void print_warnings(run_plan *p) {
        for (char **w = p->warnings; w && *w; w++)
                fprintf(stderr, "moat: warning: %s\n", *w);
        strv_free(p->warnings);
        p->warnings = NULL;
}

int launch_apply_config(launch *l) {
        _cleanup_(moat_error_clear) moat_error err = {};
        int r, rc;

        r = run_plan_load_config(&l->p, &err);
        if (r > 0) {
                rc = trust_confirm(&l->p.approval, l->p.home, l->p.workspace);
                if (rc >= 0)
                        return rc;
                r = run_plan_apply_config(&l->p, &err);
        }
        print_warnings(&l->p);
        return r < 0 ? cli_fail("%s", moat_error_message(&err)) : -1;
}

/* run_options.make_image for any other image podman lacks: pulled, as podman run does. */
static int pull_missing_image(podman_client *c, const char *image, void *userdata, moat_error *err) {
        (void) userdata;
        return pull_image(c, image, err);
}

/* run_options.make_image for an agent whose image podman lacks: built from its recipe. */
static int make_agent_image(podman_client *c, const char *image, void *userdata, moat_error *err) {
        const build_flags f = {};

        (void) image;
        return build_provider_image(c, userdata, &f, err);
}

int launch_provider(launch *l, const char *name) {
        _cleanup_(moat_error_clear) moat_error err = {};
        int r;

        r = run_plan_add_provider(&l->p, name, &err);
        print_warnings(&l->p);
        if (r < 0)
                return cli_fail("%s", moat_error_message(&err));
        /* built from its recipe when podman does not have it */
        if (l->p.agent_image) {
                l->p.o.make_image = make_agent_image;
                l->p.o.make_image_userdata = &l->p.agent;
        }
        return -1;
}

/* A user run whose user manager lacks moat's journald settings loses output in bursts: say
 * so, and how to fix it, and run anyway. */
static void warn_if_output_may_drop(void) {
        host_check c;

        if (host_check_journal_limits(getuid(), &c) >= 0 && c.status != CHECK_OK)
                fprintf(stderr, "moat: warning: %s; fix: %s\n", c.message, c.fix ?: "see 'moat doctor'");
        host_check_done(&c);
}

/* moat run -f: the output until the end, then the status line; exits with the run's code. */
static int follow_to_end(const run_record *rec) {
        const follow_options fo = { .follow = true, .tail = -1, .stop_on_interrupt = true };
        _cleanup_(follow_end_done) follow_end end = {};
        int r;

        r = follow_run(rec, &fo, &end);
        if (r < 0)
                return EXIT_MOAT_ERROR;
        if (!end.known)
                return cli_fail("run %s (%s) ended, and neither the journal nor its record says how; see "
                                "'journalctl%s -u %s'",
                                rec->name, rec->id, rec->manager == RUN_MANAGER_USER ? " --user" : "", rec->unit);
        return cli_report_end(rec, end.state, end.has_exit_code, end.exit_code, end.error, end.stop_reason, end.dropped,
                              true);
}

int launch_start(launch *l) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        run_options *o = &l->p.o;
        int r;

        if (run_plan_resolve(&l->p, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (!o->make_image)
                o->make_image = pull_missing_image;
        if (o->manager == RUN_MANAGER_USER)
                warn_if_output_may_drop();
        if (l->p.interactive)
                return interactive_run(o);
        r = runner_start(o, &rec, &err);
        /* stopped while it started: -f shows what it did, up to its end */
        if (r == -ECANCELED && rec && l->p.follow)
                return follow_to_end(rec);
        if (r < 0)
                return cli_fail_error(&err);
        if (!l->p.follow) {
                printf("Started %s (%s). Use 'moat logs %s -f' to follow output.\n", rec->name, rec->id, rec->id);
                return 0;
        }
        return follow_to_end(rec);
}

void launch_done(launch *l) {
        run_plan_done(&l->p);
}
