/* What the commands share: how they fail, the --user/--system options and the store and bus
 * they open. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "run.h"

/* Exit codes, as podman's: 125 moat itself failed; 126/127 the command could not be run. */
enum {
        EXIT_MOAT_ERROR = 125,
        EXIT_USAGE = 125,
        EXIT_CANNOT_INVOKE = 126,
        EXIT_NOT_FOUND = 127,
};

/* Reports "moat: MESSAGE" on stderr once and returns EXIT_MOAT_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports ERR's message like cli_fail(); returns the exit status it calls for (126 or 127
 * when the run's command could not be run), else EXIT_MOAT_ERROR. */
int cli_fail_error(const moat_error *err);

/* For getopt's '?' (unknown option) and ':' (missing value; optstrings start with ":"):
 * reports which option of COMMAND was wrong and returns EXIT_USAGE. */
int cli_fail_option(int c, char **argv, const char *command);

/* getopt values of the options every command takes; a command's own start at OPT_OWN. */
enum {
        OPT_USER = 0x100,
        OPT_SYSTEM,
        OPT_OWN,
};

#define CLI_MANAGER_OPTIONS                                 \
        { "user", no_argument, NULL, OPT_USER },            \
        { "system", no_argument, NULL, OPT_SYSTEM }

typedef struct cli_manager_flags {
        bool user, system;
} cli_manager_flags;

/* Takes getopt's C when it is --user or --system; false for anything else. */
bool cli_manager_option(int c, cli_manager_flags *f);

/* The manager for this caller: the user manager for non-root, the system manager for
 * root; --user / --system override.  -EINVAL when both were given. */
int cli_manager(const cli_manager_flags *f, run_manager *ret);

/* What a command works on. */
typedef struct cli_context {
        run_manager manager;
        run_store *store;
        sd_bus *bus; /* NULL unless asked for */
} cli_context;

/* Opens the manager's run store and, with NEED_BUS, its bus.  Reports a failure on stderr
 * and returns EXIT_MOAT_ERROR; 0 on success. */
int cli_context_open(cli_context *ctx, const cli_manager_flags *f, bool need_bus);
void cli_context_close(cli_context *ctx);

/* The run named RUN (id, prefix or name), or NULL after reporting why not. */
run_record *cli_resolve(cli_context *ctx, const char *run);

/* How an ended run ends moat: with STATUS_LINE, "Run NAME (ID) exited with code N" (or
 * stopped, or failed) on stderr, saying how many lines of output journald DROPPED if any;
 * without, only a run without an exit code is reported.  Returns the run's exit code, or
 * EXIT_MOAT_ERROR when it has none: it failed (ERROR says why), or was stopped before its
 * container started.  A run that failed because its command could not be run has podman's
 * code for that (126 or 127). */
int cli_report_end(const run_record *rec, run_state state, bool has_exit_code, int exit_code, const char *error,
                   const char *stop_reason,
                   uint64_t dropped, bool status_line);

/* Blocks until *REC's run has ended (its record is final) and leaves that record in *REC;
 * needs ctx->bus.  Reports a run lost without a final record and returns EXIT_MOAT_ERROR. */
int cli_wait_end(cli_context *ctx, run_record **rec);
