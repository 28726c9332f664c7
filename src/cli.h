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

/* Reports "moat: MESSAGE" on stderr once and returns EXIT_MOAT_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
