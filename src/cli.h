/* The CLI's command table: each command is a file of its own under src/ with one handler. */
#pragma once

typedef struct moat_command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char **argv);
} moat_command;

/* Exit codes, as podman's: 125 moat itself failed; 126/127 the command could not be run. */
enum {
        EXIT_MOAT_ERROR = 125,
        EXIT_USAGE = 125,
};

extern const moat_command moat_commands[];

int cmd_run(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_providers(int argc, char **argv);
int cmd_agent(const char *provider, int argc, char **argv);

/* For getopt's '?' (unknown option) and ':' (missing value; optstrings start with ":"):
 * reports which option of COMMAND was wrong and returns EXIT_USAGE. */
int cli_fail_option(int c, char **argv, const char *command);

/* Reports "moat: MESSAGE" on stderr once and returns EXIT_MOAT_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
