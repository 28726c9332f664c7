/* The CLI's command table: each command is a file of its own under src/ with one handler. */
#pragma once

typedef struct moat_command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char **argv);
} moat_command;

extern const moat_command moat_commands[];

int cmd_run(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_usage(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_providers(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_branches(int argc, char **argv);
/* Not a command: the agent PROVIDER names, or an error listing the known ones. */
int cmd_agent(const char *provider, int argc, char **argv);
