/* moat trust: approve a workspace's moat.yaml, so that runs there obey it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "trust.h"

int trust_show(FILE *out, const config_approval *a, const char *workspace) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(strv_freep) char **lines = NULL;

        if (config_approval_widening(a, workspace, &lines, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        fprintf(out, "%s %s (sha256 %.12s).\n", a->path,
                a->approved_text ? "changed since you approved it" : "was never approved", a->digest);
        if (!lines[0])
                fputs("It widens nothing: no mount, network, host, variable, grant, image or command is new.\n",
                      out);
        else
                fputs(a->approved_text ? "Beyond what you approved, it lets runs there use:\n"
                                       : "It lets runs there use:\n",
                      out);
        for (char **l = lines; *l; l++)
                fprintf(out, "  %s\n", *l);
        return -1;
}

int trust_confirm(const config_approval *a, const char *home, const char *workspace) {
        _cleanup_(moat_error_clear) moat_error err = {};
        char answer[16] = "";
        int rc;

        if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
                return cli_fail("%s is not approved (it is new, or changed since you approved it); review it, "
                                "then approve it with 'moat trust %s'",
                                a->path, workspace);
        rc = trust_show(stderr, a, workspace);
        if (rc >= 0)
                return rc;
        fputs("Obey it from now on? [y/N] ", stderr);
        if (!fgets(answer, sizeof(answer), stdin) || (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0))
                return cli_fail("%s not approved; nothing was started", a->path);
        if (config_approval_store(home, workspace, a, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        return -1;
}

int cmd_trust(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(config_approval_done) config_approval a = {};
        _cleanup_free_ char *ws = NULL, *home = NULL;
        cli_manager_flags mf = {};
        run_manager m;
        int c, rc;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        fputs("Usage: moat trust [--user|--system] [WORKSPACE]\n"
                              "\n"
                              "Approve WORKSPACE's moat.yaml (default: the current directory) as it is now:\n"
                              "runs there obey it until it changes. Shows what it lets runs use first.\n"
                              "See moat-trust(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "trust");
                }
        if (argc - optind > 1)
                return cli_fail("give at most one workspace; usage: moat trust [WORKSPACE]");
        if (cli_manager(&mf, &m) < 0)
                return cli_fail("--user and --system exclude each other");
        ws = realpath(optind < argc ? argv[optind] : ".", NULL);
        if (!ws)
                return cli_fail("workspace '%s' does not exist (%s)", optind < argc ? argv[optind] : ".",
                                strerror(errno));
        if (run_store_default_home(m, &home, &err) < 0 || config_approval_load(home, ws, &a, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (!a.text)
                return cli_fail("%s/moat.yaml does not exist: there is nothing to approve", ws);
        if (a.approved) {
                printf("%s is approved as it is (sha256 %.12s).\n", a.path, a.digest);
                return 0;
        }
        rc = trust_show(stdout, &a, ws);
        if (rc >= 0)
                return rc;
        if (config_approval_store(home, ws, &a, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        printf("Approved %s: runs in %s obey it until it changes.\n", a.path, ws);
        return 0;
}
