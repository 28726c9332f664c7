/* What a run's container used, read from its cgroup while it runs (issue 25).
 *
 * podman gives a container a cgroup of its own (libpod-<id>.scope), outside the run's unit:
 * the relay, resident for the run, samples it about once a second and once more when the
 * output ends, and hands the figures to the finish helper, which records them.  Where the
 * kernel keeps a peak (memory.peak, memory.max_usage_in_bytes, pids.peak) it is read; else
 * the highest sample is.  Each figure comes from the first source that has it: cgroup v2
 * files, then v1 controllers, then — where a controller's cgroup is not the container's own
 * (rootless podman on a v1 or hybrid host puts it in the user manager's) — the container's
 * processes in /proc, listed by the cgroup that is its own.  Where nothing is the
 * container's, the figure stays RUN_RESOURCE_UNKNOWN. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "run.h"

typedef struct resource_probe {
        char *v2;         /* the container's own cgroup on the unified hierarchy */
        char *cpuacct;    /* v1 controllers' directories, when the container's own */
        char *memory;
        char *blkio;
        char *pids;
        char *own;        /* any hierarchy's cgroup of the container: its processes and threads */
} resource_probe;

/* From the text of /proc/PID/cgroup and the mount point of the hierarchies (/sys/fs/cgroup):
 * which directories are the container's own.  Pure; -ENOMEM, or -ENOENT when none is. */
int resource_probe_parse(resource_probe *p, const char *cgroup_text, const char *root);

/* resource_probe_parse() of PID's /proc/PID/cgroup under /sys/fs/cgroup. */
int resource_probe_init(resource_probe *p, pid_t pid);
void resource_probe_done(resource_probe *p);

/* Reads what the probe's directories say now into ACC: a later, higher figure replaces an
 * earlier one (each only grows); a figure that cannot be read leaves ACC's as it was. */
void resource_probe_sample(const resource_probe *p, run_resources *acc);

/* The memory the container uses now (bytes), from the same sources; RUN_RESOURCE_UNKNOWN
 * when none says. */
uint64_t resource_probe_memory_now(const resource_probe *p);

/* The figures as one argument ("CPU,MEMORY,READ,WRITE,TASKS", "-" for unknown), both ways. */
#define RESOURCES_ARG_MAX 112
void run_resources_format(const run_resources *r, char buf[static RESOURCES_ARG_MAX]);
int run_resources_parse(const char *s, run_resources *ret);
