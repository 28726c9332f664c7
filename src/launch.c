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
              "      --network POLICY  open (the default for moat run), strict (only the proxy:\n"
              "                        grants' hosts and --allow; the default for agents) or none\n"
              "      --allow HOST      a host a strict run may reach, e.g. github.com or\n"
              "                        '*.npmjs.org' (repeatable)\n"
              "      --grant NAME      a stored credential the run's proxy adds for its hosts; the\n"
              "                        container never holds it (repeatable; see 'moat grant')\n"
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
        enum { OPT_IMAGE = OPT_OWN, OPT_KEEP, OPT_MEMORY, OPT_CPUS, OPT_NETWORK, OPT_ALLOW, OPT_GRANT };
        static const struct option options[] = {
                { "name", required_argument, NULL, 'n' },
                { "image", required_argument, NULL, OPT_IMAGE },
                { "env", required_argument, NULL, 'e' },
                { "mount", required_argument, NULL, 'm' },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "network", required_argument, NULL, OPT_NETWORK },
                { "allow", required_argument, NULL, OPT_ALLOW },
                { "grant", required_argument, NULL, OPT_GRANT },
                { "follow", no_argument, NULL, 'f' },
                { "interactive", no_argument, NULL, 'i' },
                { "prompt", required_argument, NULL, 'p' },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, dashdash = argc;

        l->cfg.interactive = -1;
        l->network = -1;
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
                        l->o.name = optarg;
                        break;
                case OPT_IMAGE:
                        l->o.image = optarg;
                        break;
                case 'e':
                        if (strv_push(&l->env, strdup(optarg)) < 0)
                                return cli_fail("out of memory");
                        break;
                case 'm':
                        if (strv_push(&l->mounts, strdup(optarg)) < 0)
                                return cli_fail("out of memory");
                        break;
                case 'f':
                        l->follow = true;
                        break;
                case 'i':
                        l->interactive = l->interactive_flag = true;
                        break;
                case 'p':
                        if (!is_provider)
                                return cli_fail_option('?', argv, command);
                        l->prompt = optarg;
                        break;
                case OPT_KEEP:
                        l->o.keep = true;
                        break;
                case OPT_MEMORY:
                        if (parse_memory_size(optarg, &l->o.memory_bytes) < 0)
                                return cli_fail("invalid --memory '%s': use a size such as 512m or 2g", optarg);
                        l->memory_flag = true;
                        break;
                case OPT_CPUS:
                        if (parse_cpus(optarg, &l->o.cpus) < 0)
                                return cli_fail("invalid --cpus '%s': use a positive number such as 1.5", optarg);
                        l->cpus_flag = true;
                        break;
                case OPT_NETWORK:
                        l->network = net_mode_from_string(optarg);
                        if (l->network < 0)
                                return cli_fail("invalid --network '%s': use open, strict or none", optarg);
                        break;
                case OPT_ALLOW: {
                        _cleanup_(moat_error_clear) moat_error err = {};
                        char *norm;

                        if (host_pattern_normalize(optarg, &norm, &err) < 0)
                                return cli_fail("%s", moat_error_message(&err));
                        if (strv_push(&l->allow, norm) < 0)
                                return cli_fail("out of memory");
                        break;
                }
                case OPT_GRANT:
                        if (!data_name_valid(optarg))
                                return cli_fail("invalid grant name '%s': see 'moat grant list'", optarg);
                        if (strv_push(&l->grant_names, strdup(optarg)) < 0)
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
                l->o.workspace = argv[optind++];
        if (optind < dashdash)
                return cli_fail("unexpected argument '%s'; put the command after '--' (see 'moat %s --help')",
                                argv[optind], command);
        if (dashdash + 1 < argc)
                l->extra = argv + dashdash + 1;
        if (cli_manager(&l->mf, &l->o.manager) < 0)
                return cli_fail("--user and --system exclude each other");
        if (l->follow && l->interactive)
                return cli_fail("-f and -i exclude each other: -i already shows the output");
        return -1;
}

/* Puts LIST's entries before those already in *V (which come from flags and win). */
static int prepend(char ***v, char *const *list) {
        _cleanup_(strv_freep) char **merged = NULL;

        for (char *const *p = list; p && *p; p++)
                if (strv_push(&merged, strdup(*p)) < 0)
                        return -ENOMEM;
        for (char **p = *v; p && *p; p++)
                if (strv_push(&merged, strdup(*p)) < 0)
                        return -ENOMEM;
        strv_free(*v);
        *v = TAKE_PTR(merged);
        return 0;
}

int launch_apply_config(launch *l) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(config_approval_done) config_approval a = {};
        _cleanup_free_ char *ws = realpath(l->o.workspace ?: ".", NULL), *home = NULL;
        moat_config *cfg = &l->cfg;
        int rc;

        if (!ws)
                return -1; /* the runner says what is wrong with the workspace */
        /* the file is the agent's to write: obeyed only as approved (config-trust.h) */
        if (run_store_default_home(l->o.manager, &home, &err) < 0 || config_approval_load(home, ws, &a, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        /* a malformed file is reported as such: approved or not, it is not obeyed */
        if (a.text && moat_config_parse(a.path, a.text, a.len, ws, cfg, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (!a.approved) {
                rc = trust_confirm(&a, home, ws);
                if (rc >= 0)
                        return rc;
        }
        for (char **w = cfg->warnings; w && *w; w++)
                fprintf(stderr, "moat: warning: %s\n", *w);

        if (!l->o.name)
                l->o.name = cfg->name;
        if (!l->o.image)
                l->o.image = cfg->image;
        if (!l->extra && cfg->command)
                l->o.command = cfg->command;
        if (!l->interactive_flag && cfg->interactive == 1 && !l->follow)
                l->interactive = true;
        if (!l->memory_flag && cfg->memory && parse_memory_size(cfg->memory, &l->o.memory_bytes) < 0)
                return cli_fail("invalid container.memory '%s' in %s/moat.yaml: use a size such as 512m or 2g",
                                cfg->memory, ws);
        if (!l->cpus_flag && cfg->cpus && parse_cpus(cfg->cpus, &l->o.cpus) < 0)
                return cli_fail("invalid container.cpus '%s' in %s/moat.yaml: use a positive number such as 1.5",
                                cfg->cpus, ws);
        if (l->network < 0 && cfg->network)
                l->network = net_mode_from_string(cfg->network);
        if (prepend(&l->env, cfg->env) < 0 || prepend(&l->mounts, cfg->mounts) < 0 ||
            prepend(&l->allow, cfg->allow) < 0 || prepend(&l->grant_names, cfg->grants) < 0)
                return cli_fail("out of memory");
        return -1;
}

/* Adds DEF to the run's grants, once. */
static int use_grant(launch *l, const grant_def *def) {
        grant_def *more;

        for (size_t i = 0; i < l->n_grants; i++)
                if (strcmp(l->grants[i].name, def->name) == 0)
                        return 0;
        more = realloc(l->grants, (l->n_grants + 1) * sizeof(*more));
        if (!more)
                return -ENOMEM;
        l->grants = more;
        if (grant_def_copy(def, &l->grants[l->n_grants]) < 0)
                return -ENOMEM;
        l->n_grants++;
        return 0;
}

static bool provider_grant_var(const provider *p, const char *var) {
        for (size_t i = 0; i < p->n_grants; i++)
                for (char **e = p->grants[i].env; e && *e; e++)
                        if (strcmp(*e, var) == 0)
                                return true;
        return false;
}

/* Whether the run's grants reach every one of HOSTS. */
static bool grants_cover(const launch *l, char *const *hosts) {
        for (char *const *h = hosts; h && *h; h++) {
                bool covered = false;

                for (size_t i = 0; i < l->n_grants && !covered; i++)
                        covered = grant_rule_for_host(&l->grants[i], *h) != NULL;
                if (!covered)
                        return false;
        }
        return true;
}

/* An agent's network: strict unless asked otherwise, its own allow list, and its grants
 * that have a stored value; a grant without one is skipped, with a warning unless it is
 * optional, and its hosts stay reachable (the agent may log in by itself).  -1 to go on. */
static int provider_network(launch *l, const provider *p) {
        _cleanup_free_ char *home = NULL;

        if (l->network < 0)
                l->network = NET_STRICT;
        if (prepend(&l->allow, p->allow) < 0 || run_store_default_home(l->o.manager, &home, NULL) < 0)
                return cli_fail("out of memory");
        for (size_t i = 0; i < p->n_grants; i++)
                if (grant_store_stat(home, p->grants[i].name, NULL, NULL) >= 0 && use_grant(l, &p->grants[i]) < 0)
                        return cli_fail("out of memory");
        for (size_t i = 0; i < p->n_grants; i++) {
                const grant_def *g = &p->grants[i];
                _cleanup_(strv_freep) char **hosts = NULL;
                _cleanup_free_ char *list = NULL;

                if (grant_store_stat(home, g->name, NULL, NULL) >= 0)
                        continue;
                if (grant_hosts(g, &hosts) < 0 || prepend(&l->allow, hosts) < 0 || !(list = strv_join(hosts, ", ")))
                        return cli_fail("out of memory");
                /* another stored grant may stand for the same hosts (an API key or a
                 * subscription's token): then nothing is missing */
                if (!g->optional && !grants_cover(l, hosts))
                        fprintf(stderr,
                                "moat: warning: the grant '%s' has no stored value, so the agent gets no credential "
                                "for %s; store one with 'moat grant add %s'\n",
                                g->name, list, g->name);
        }
        return -1;
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
        _cleanup_(strv_freep) char **pass = NULL, **mounts = NULL;
        const char *home = getenv("HOME");
        const provider *p;
        int rc = -1;

        if (provider_load(name, &l->agent, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        p = &l->agent;
        for (char **w = p->warnings; w && *w; w++)
                fprintf(stderr, "moat: warning: %s\n", *w);
        if (!l->o.image) {
                l->o.image = p->image;
                /* built from its recipe when podman does not have it */
                if (p->build.from) {
                        l->o.make_image = make_agent_image;
                        l->o.make_image_userdata = &l->agent;
                }
        }
        if (provider_argv(p, l->prompt, l->extra, &l->command, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        /* without a prompt, the agent is interactive */
        if (!l->prompt && !l->follow)
                l->interactive = true;
        rc = provider_network(l, p);
        if (rc >= 0)
                return rc;
        /* host variables pass through by name: their values go to the container spec only;
         * never one a grant stands for, which the agent gets as a placeholder */
        for (char **k = p->env; k && *k; k++) {
                const char *v = getenv(*k);
                char *kv;

                if (!v || provider_grant_var(p, *k))
                        continue;
                if (asprintf(&kv, "%s=%s", *k, v) < 0 || strv_push(&pass, kv) < 0)
                        return cli_fail("out of memory");
        }
        for (char **m = p->mounts; m && *m; m++) {
                char *abs;

                if ((*m)[0] == '~' && home && asprintf(&abs, "%s%s", home, *m + 1) >= 0)
                        ;
                else
                        abs = strdup(*m);
                if (strv_push(&mounts, abs) < 0)
                        return cli_fail("out of memory");
        }
        /* the provider's fixed values, then the passed-through ones; -e wins over both */
        if (prepend(&l->env, pass) < 0 || prepend(&l->env, p->environment) < 0 || prepend(&l->mounts, mounts) < 0)
                return cli_fail("out of memory");
        l->o.agent = p->name;
        l->o.agent_uid = p->uid;
        l->o.agent_gid = p->gid;
        l->o.agent_home = p->home;
        l->o.agent_seeds = p->seeds;
        l->o.n_agent_seeds = p->n_seeds;
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
        return cli_report_end(rec, end.state, end.has_exit_code, end.exit_code, end.error, end.dropped, true);
}

int launch_start(launch *l) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        int r;

        l->o.env = l->env;
        l->o.n_env = strv_length(l->env);
        l->o.mounts = l->mounts;
        l->o.n_mounts = strv_length(l->mounts);
        if (l->command)
                l->o.command = l->command;
        else if (l->extra)
                l->o.command = l->extra;
        for (char **n = l->grant_names; n && *n; n++) {
                grant_def def = {};

                r = grant_find(*n, &def, &err);
                if (r >= 0)
                        r = use_grant(l, &def);
                grant_def_done(&def);
                if (r < 0)
                        return cli_fail("%s", err.code ? moat_error_message(&err) : "out of memory");
        }
        l->o.network = l->network < 0 ? NET_OPEN : (net_mode) l->network;
        l->o.allow = l->allow;
        l->o.grants = l->grants;
        l->o.n_grants = l->n_grants;

        if (!l->o.make_image)
                l->o.make_image = pull_missing_image;
        if (l->o.manager == RUN_MANAGER_USER)
                warn_if_output_may_drop();
        if (l->interactive)
                return interactive_run(&l->o);
        r = runner_start(&l->o, &rec, &err);
        /* stopped while it started: -f shows what it did, up to its end */
        if (r == -ECANCELED && rec && l->follow)
                return follow_to_end(rec);
        if (r < 0)
                return cli_fail_error(&err);
        if (!l->follow) {
                printf("Started %s (%s). Use 'moat logs %s -f' to follow output.\n", rec->name, rec->id, rec->id);
                return 0;
        }
        return follow_to_end(rec);
}

void launch_done(launch *l) {
        strv_free(l->env);
        strv_free(l->mounts);
        strv_free(l->command);
        strv_free(l->allow);
        strv_free(l->grant_names);
        grant_defs_free(l->grants, l->n_grants);
        provider_done(&l->agent);
        moat_config_done(&l->cfg);
}
