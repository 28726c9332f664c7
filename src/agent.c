/* moat <provider> (claude, codex, gemini, ...): an agent is data, run by one runner; and
 * moat providers, the list of them. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "launch.h"

/* Says what the known commands and providers are, in one line; or, for a typo of one of
 * them, which one was meant. */
static int unknown_command(const char *name) {
        _cleanup_(strv_freep) char **providers = NULL, **known = NULL;
        _cleanup_free_ char *list = NULL;
        const char *meant;

        if (provider_list(&providers, NULL) >= 0)
                list = strv_join(providers, ", ");
        for (const moat_command *c = moat_commands; c->name; c++)
                if (strv_push(&known, strdup(c->name)) < 0)
                        break;
        for (char **p = providers; p && *p; p++)
                if (strv_push(&known, strdup(*p)) < 0)
                        break;
        meant = strv_closest(known, name);
        if (meant)
                return cli_fail("unknown command or provider '%s'; did you mean '%s'? ('moat --help' lists the "
                                "commands)",
                                name, meant);
        return cli_fail("unknown command or provider '%s'; providers: %s; 'moat --help' lists the commands", name,
                        list && *list ? list : "none");
}

int cmd_agent(const char *name, int argc, char **argv) {
        _cleanup_(launch_done) launch l = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        provider p = {};
        int r;

        if (!data_name_valid(name))
                return unknown_command(name);
        r = provider_load(name, &p, &err);
        provider_done(&p);
        if (r == -ENOENT)
                return unknown_command(name);
        if (r < 0)
                return cli_fail("%s", moat_error_message(&err));
        r = launch_parse(&l, argc, argv, name, true);
        if (r >= 0)
                return r;
        r = launch_apply_config(&l);
        if (r >= 0)
                return r;
        r = launch_provider(&l, name);
        if (r >= 0)
                return r;
        return launch_start(&l);
}

int cmd_providers(int argc, char **argv) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(strv_freep) char **names = NULL;

        if (argc > 1) {
                if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                        fputs("Usage: moat providers\n"
                              "\n"
                              "List the agents moat can run as 'moat NAME': the provider files in\n"
                              "$XDG_CONFIG_HOME/moat/providers/ and " DATADIR "/providers/.\n"
                              "See moat-agents(1).\n",
                              stdout);
                        return 0;
                }
                return cli_fail("unexpected argument '%s'; usage: moat providers", argv[1]);
        }
        if (provider_list(&names, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        for (char **n = names; *n; n++) {
                provider p = {};

                if (provider_load(*n, &p, NULL) >= 0)
                        printf("%-12s %s\n", *n, p.image);
                else
                        printf("%-12s (unreadable: see 'moat %s --help')\n", *n, *n);
                provider_done(&p);
        }
        return 0;
}
