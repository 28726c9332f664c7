#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podman.h"
#include "settings.h"

const moat_command moat_commands[] = {
        { "run", "start a command in a new container, as a systemd unit", cmd_run },
        { "logs", "print a run's output from the journal", cmd_logs },
        { "stop", "stop runs", cmd_stop },
        { "wait", "wait for a run to end; exit with its code", cmd_wait },
        { "list", "list runs", cmd_list },
        { "inspect", "show a run's record and live state", cmd_inspect },
        { "rm", "remove ended runs", cmd_rm },
        { "clean", "remove all ended runs and orphaned containers", cmd_clean },
        { "providers", "list the agents moat can run (moat claude, moat codex, ...)", cmd_providers },
        {},
};

int cli_fail(const char *fmt, ...) {
        va_list ap;

        fputs("moat: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_MOAT_ERROR;
}

int cli_fail_option(int c, char **argv, const char *command) {
        const char *arg = argv[optind - 1];

        if (c == ':')
                return cli_fail("option '%s' of 'moat %s' needs a value", arg, command);
        if (optopt && strncmp(arg, "--", 2) != 0)
                return cli_fail("unknown option '-%c' for 'moat %s'; see 'moat %s --help'", optopt, command, command);
        return cli_fail("unknown option '%s' for 'moat %s'; see 'moat %s --help'", arg, command, command);
}

/* Says what the known commands and providers are, in one line. */
static int unknown_command(const char *name) {
        _cleanup_(strv_freep) char **providers = NULL;
        _cleanup_free_ char *list = NULL;
        size_t len = 0;

        if (provider_list(&providers, NULL) >= 0)
                for (char **p = providers; *p; p++)
                        len += strlen(*p) + 2;
        list = calloc(1, len + 1);
        for (char **p = providers; list && p && *p; p++) {
                if (p != providers)
                        strcat(list, ", ");
                strcat(list, *p);
        }
        return cli_fail("unknown command or provider '%s'; providers: %s; 'moat --help' lists the commands", name,
                        list && *list ? list : "none");
}

static void usage(FILE *out) {
        fprintf(out,
                "Usage: moat [--help] [--version] COMMAND [ARG...]\n"
                "       moat PROVIDER [OPTIONS] [WORKSPACE] [-p PROMPT] [-f]   (see 'moat providers')\n"
                "\n"
                "Run commands and AI coding agents in isolated Podman containers, each run a\n"
                "transient systemd unit moat-<id>.service.\n"
                "\n"
                "Commands:\n");
        for (const moat_command *c = moat_commands; c->name; c++)
                fprintf(out, "  %-10s %s\n", c->name, c->summary);
        fprintf(out,
                "\n"
                "Run 'moat COMMAND --help' for a command's options; see moat(1).\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        int c;

        podman_global_init();

        /* '+' stops at the command name: everything after it belongs to the command. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("moat %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fputs("Run 'moat --help' for usage.\n", stderr);
                        return EXIT_USAGE;
                }
        }

        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }

        for (const moat_command *cmd = moat_commands; cmd->name; cmd++)
                if (strcmp(cmd->name, argv[optind]) == 0) {
                        int first = optind;

                        /* Each command parses its own options, from its own name on. */
                        optind = 0;
                        return cmd->run(argc - first, argv + first);
                }

        /* not a command: an agent, when a provider has that name */
        {
                _cleanup_(moat_error_clear) moat_error err = {};
                provider p = {};
                int r = provider_load(argv[optind], &p, &err);

                provider_done(&p);
                if (r >= 0) {
                        int first = optind;

                        optind = 0;
                        return cmd_agent(argv[first], argc - first, argv + first);
                }
                if (r != -ENOENT && r != -EINVAL)
                        return cli_fail("%s", moat_error_message(&err));
                return unknown_command(argv[optind]);
        }
}
