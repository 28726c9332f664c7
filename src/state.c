/* moat state: the homes agents keep between runs, one per agent and workspace (settings,
 * logins, sessions): list them, print where one is, remove one. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent-state.h"
#include "cli-util.h"
#include "cli.h"
#include "json-util.h"

static void usage(FILE *out) {
        fputs("Usage: moat state [--json]               the agents' kept homes: agent, workspace,\n"
              "                                         last change, path\n"
              "       moat state path AGENT [WORKSPACE] where AGENT's home for WORKSPACE is\n"
              "       moat state rm AGENT [WORKSPACE]   remove it: the next run starts afresh\n"
              "Options: --user, --system (whose: the user's, or root's for the system manager)\n"
              "\n"
              "An agent's settings, logins and sessions live in its home, which moat keeps under\n"
              "MOAT_HOME for each agent and workspace (default: the current directory), so that\n"
              "the next run there resumes. moat rm and moat clean leave it. See moat-state(1).\n",
              out);
}

/* WORKSPACE resolved as a run resolves it; a workspace that is gone is taken as written,
 * made absolute, so that its state can still be removed. */
static char *workspace_path(const char *workspace) {
        char cwd[PATH_MAX], *abs;

        abs = realpath(workspace ?: ".", NULL);
        if (abs || workspace[0] == '/')
                return abs ?: strdup(workspace);
        if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, workspace) < 0)
                return NULL;
        return abs;
}

static int state_list(cli_context *ctx, bool json) {
        _cleanup_(moat_error_clear) moat_error err = {};
        agent_state_entry *list = NULL;
        size_t n = 0;

        if (agent_state_list(run_store_home(ctx->store), &list, &n, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (json) {
                _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
                _cleanup_free_ char *text = NULL;

                for (size_t i = 0; a && i < n; i++) {
                        cJSON *o = cJSON_CreateObject();
                        char when[RUN_TIMESTAMP_LEN + 1];

                        run_timestamp_format(list[i].used_at, when);
                        if (!o || !cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "agent", list[i].agent) ||
                            !(list[i].workspace ? cJSON_AddStringToObject(o, "workspace", list[i].workspace)
                                                : cJSON_AddNullToObject(o, "workspace")) ||
                            !cJSON_AddStringToObject(o, "home", list[i].home) ||
                            !cJSON_AddStringToObject(o, "changed_at", when)) {
                                agent_state_entries_free(list, n);
                                return cli_fail("out of memory");
                        }
                }
                text = a ? cJSON_Print(a) : NULL;
                agent_state_entries_free(list, n);
                if (!text)
                        return cli_fail("out of memory");
                puts(text);
                return 0;
        }
        printf("%-12s %-17s %-40s %s\n", "AGENT", "CHANGED", "WORKSPACE", "HOME");
        for (size_t i = 0; i < n; i++) {
                time_t t = (time_t) (list[i].used_at / 1000000);
                char when[32];
                struct tm tm;

                strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
                printf("%-12s %-17s %-40s %s\n", list[i].agent, when, list[i].workspace ?: "?", list[i].home);
        }
        agent_state_entries_free(list, n);
        return 0;
}

static int state_path(cli_context *ctx, const char *agent, const char *workspace) {
        _cleanup_free_ char *ws = workspace_path(workspace);
        agent_state_entry *list = NULL;
        size_t n = 0;
        bool found = false;

        if (!ws)
                return cli_fail("out of memory");
        if (agent_state_list(run_store_home(ctx->store), &list, &n, NULL) < 0)
                n = 0;
        for (size_t i = 0; i < n && !found; i++)
                if (strcmp(list[i].agent, agent) == 0 && list[i].workspace && strcmp(list[i].workspace, ws) == 0) {
                        puts(list[i].home);
                        found = true;
                }
        agent_state_entries_free(list, n);
        if (!found)
                return cli_fail("%s keeps no state for %s; 'moat state' lists what is kept", agent, ws);
        return 0;
}

int cmd_state(int argc, char **argv) {
        enum { OPT_JSON = OPT_OWN };
        static const struct option options[] = {
                { "json", no_argument, NULL, OPT_JSON },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *ws = NULL;
        cli_manager_flags mf = {};
        const char *verb = NULL, *agent;
        bool json = false;
        int c, n;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case OPT_JSON:
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "state");
                }
        if (optind < argc)
                verb = argv[optind++];
        n = argc - optind;
        if (verb && strcmp(verb, "path") != 0 && strcmp(verb, "rm") != 0)
                return cli_fail("unknown state command '%s'; use path or rm, or nothing to list", verb);
        if (verb && (n < 1 || n > 2))
                return cli_fail("usage: moat state %s AGENT [WORKSPACE]", verb);
        if (verb && json)
                return cli_fail("--json goes with 'moat state' alone");
        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        if (!verb)
                return state_list(&ctx, json);
        agent = argv[optind];
        if (!data_name_valid(agent))
                return cli_fail("invalid agent name '%s'; 'moat providers' lists them", agent);
        if (strcmp(verb, "path") == 0)
                return state_path(&ctx, agent, n == 2 ? argv[optind + 1] : NULL);
        ws = workspace_path(n == 2 ? argv[optind + 1] : NULL);
        if (!ws)
                return cli_fail("out of memory");
        if (agent_state_remove(run_store_home(ctx.store), agent, ws, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        return 0;
}
