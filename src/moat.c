#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "cli.h"
#include "podman.h"

const moat_command moat_commands[] = {
        { "run", "start a command in a new container, as a systemd unit", cmd_run },
        { "exec", "run a command in a running run's container", cmd_exec },
        { "logs", "print a run's output from the journal", cmd_logs },
        { "trace", "print where a run connected: its requests, tunnels and refusals", cmd_trace },
        { "usage", "sum the tokens runs' agents used, per agent and model, with a cost", cmd_usage },
        { "stop", "stop runs", cmd_stop },
        { "wait", "wait for a run to end; exit with its code", cmd_wait },
        { "list", "list runs", cmd_list },
        { "inspect", "show a run's record and live state", cmd_inspect },
        { "top", "show what running runs use now: CPU, memory, tasks, IO", cmd_top },
        { "rm", "remove ended runs", cmd_rm },
        { "clean", "remove ended runs, orphaned containers and old agent images", cmd_clean },
        { "providers", "list the agents moat can run (moat claude, moat codex, ...)", cmd_providers },
        { "build", "build an agent's image from its provider's recipe", cmd_build },
        { "branches", "list, diff and remove the branches of runs started with --branch", cmd_branches },
        { "state", "list or remove the homes agents keep per workspace", cmd_state },
        { "trust", "approve a workspace's moat.yaml, so that runs there obey it", cmd_trust },
        { "grant", "store credentials that runs' proxies add, so containers never hold them", cmd_grant },
        { "doctor", "check what moat needs of this host, and say how to fix it", cmd_doctor },
        {},
};

static void usage(FILE *out) {
        fprintf(out,
                "Usage: moat [--help] [--version] COMMAND [ARG...]\n"
                "       moat help [COMMAND]\n"
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

/* moat help [COMMAND]: the same as moat --help, or moat COMMAND --help (a provider's too). */
static int help(int argc, char **argv) {
        char *args[] = { argv[1], (char *) "--help", NULL };

        if (argc < 2) {
                usage(stdout);
                return 0;
        }
        if (argc > 2)
                return cli_fail("unexpected argument '%s'; usage: moat help [COMMAND]", argv[2]);
        optind = 0;
        for (const moat_command *cmd = moat_commands; cmd->name; cmd++)
                if (strcmp(cmd->name, argv[1]) == 0)
                        return cmd->run(2, args);
        return cmd_agent(argv[1], 2, args);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        int c, first;

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

        first = optind;
        if (strcmp(argv[first], "help") == 0)
                return help(argc - first, argv + first);
        /* Each command parses its own options, from its own name on. */
        for (const moat_command *cmd = moat_commands; cmd->name; cmd++)
                if (strcmp(cmd->name, argv[first]) == 0) {
                        optind = 0;
                        return cmd->run(argc - first, argv + first);
                }

        /* not a command: an agent, when a provider has that name */
        optind = 0;
        return cmd_agent(argv[first], argc - first, argv + first);
}
