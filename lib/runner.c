#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git-guard.h"
#include "idmap-mount.h"
#include "mount-guard.h"
#include "monitor.h"
#include "podman.h"
#include "podman-reply.h"
#include "run-branch.h"
#include "run-stop.h"
#include "runner.h"
#include "strv.h"
#include "time-util.h"
#include "unit.h"


/* What a start takes from the system: podman, the manager and the run store. */
typedef struct run_services {
        char *socket;
        podman_client *podman;
        sd_bus *bus;
        run_store *store;
} run_services;

static void run_services_close(run_services *s) {
        free(s->socket);
        podman_client_free(s->podman);
        sd_bus_flush_close_unref(s->bus);
        run_store_free(s->store);
        *s = (run_services) {};
}

/* Podman and systemd answer before anything is created. */
static int run_services_open(run_manager m, run_services *s, moat_error *err) {
        _cleanup_free_ char *home = NULL;
        int r;

        r = podman_socket_path(m == RUN_MANAGER_USER, &s->socket, err);
        if (r >= 0)
                r = podman_client_new(s->socket, &s->podman, err);
        if (r >= 0)
                r = podman_ping(s->podman, NULL, err);
        if (r >= 0)
                r = unit_bus_open(m, &s->bus, err);
        if (r >= 0)
                r = run_store_default_home(m, &home, err);
        if (r >= 0)
                r = run_store_open(home, &s->store, err);
        return r;
}

static int check_image(run_services *s, const run_record *rec, const run_options *o, moat_error *err) {
        int r;

        r = podman_image_exists(s->podman, rec->image, err);
        if (r < 0)
                return r;
        if (r == 0 && o->make_image)
                return o->make_image(s->podman, rec->image, o->make_image_userdata, err);
        if (r == 0)
                return moat_error_set(err, -ENOENT, "image '%s' not found in %s podman's store; pull it first "
                                      "(podman pull %s) or choose another with --image",
                                      rec->image, rec->manager == RUN_MANAGER_USER ? "the rootless" : "the rootful",
                                      rec->image);
        return 0;
}

/* A name to give the run: the one asked for when free, else a random free one. */
static int pick_name(run_store *store, const char *wanted, char **ret, moat_error *err) {
        int r;

        if (wanted) {
                r = run_store_name_taken(store, wanted, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        return moat_error_set(err, -EEXIST,
                                              "the name '%s' is already taken; choose another with --name or "
                                              "remove the old run with 'moat rm %s'",
                                              wanted, wanted);
                *ret = strdup(wanted);
                return *ret ? 0 : moat_error_set(err, -ENOMEM, "out of memory");
        }
        for (int i = 0; i < 100; i++) {
                _cleanup_free_ char *name = NULL;

                r = run_name_random(&name, err);
                if (r < 0)
                        return r;
                r = run_store_name_taken(store, name, err);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret = TAKE_PTR(name);
                        return 0;
                }
        }
        return moat_error_set(err, -EEXIST, "cannot find a free run name; give one with --name");
}

/* The run's name, id and unit.  *lock_fd stays held until the record exists, so that two
 * runs cannot take one name; the record is written at once, before the container (which may
 * take minutes on a loaded host), so that the run can be named, and stopped, from then on. */
/* A run that has not ended and works on REC's branch: one checkout, one agent. */
static int branch_free(run_services *s, const run_record *rec, moat_error *err) {
        run_record **list = NULL;
        size_t n = 0;
        int r;

        if (!rec->branch)
                return 0;
        r = run_store_list(s->store, &list, &n, err);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (list[i]->branch && strcmp(list[i]->branch, rec->branch) == 0 && list[i]->repository &&
                    strcmp(list[i]->repository, rec->repository) == 0 && !run_state_is_final(list[i]->state))
                        r = moat_error_set(err, -EBUSY,
                                           "the branch " RUN_BRANCH_PREFIX "%s is in use by run %s (%s), which is %s; "
                                           "wait for it to end or choose another branch",
                                           rec->branch, list[i]->name, list[i]->id,
                                           run_state_to_string(list[i]->state));
        run_records_free(list, n);
        return r;
}

static int name_run(run_services *s, run_record *rec, const char *wanted, int *lock_fd, moat_error *err) {
        int r;

        r = run_store_lock(s->store, lock_fd, err);
        if (r >= 0)
                r = branch_free(s, rec, err);
        if (r >= 0)
                r = pick_name(s->store, wanted, &rec->name, err);
        if (r >= 0)
                r = run_id_new(rec->id, err);
        if (r < 0)
                return r;
        rec->unit = run_unit_name(rec->id);
        if (!rec->unit)
                return moat_error_set(err, -ENOMEM, "out of memory");
        rec->state = RUN_CREATED;
        rec->created_at = now_usec();
        return 0;
}

/* What the container mounts from the host besides the caller's mounts: the workspace, the
 * run's CA (with grants) and the agent's kept home (for an agent), each as the container
 * sees it (for a rootful agent, through the idmapped mounts). */
typedef struct run_sources {
        const char *workspace;
        const run_guard *guard;
        char *empty_dir;  /* what covers a hidden place */
        char *tls_dir;
        char *agent_home;
        char *mapped_workspace, *mapped_home;
        char *mapped_objects; /* a branch run's: the user's objects, the last of rec->mounts */
} run_sources;

static void run_sources_done(run_sources *src) {
        free(src->empty_dir);
        free(src->tls_dir);
        free(src->agent_home);
        free(src->mapped_workspace);
        free(src->mapped_home);
        free(src->mapped_objects);
}

/* The guard's mounts: the workspace's git (through the workspace as the container sees it)
 * and the hidden places, after the mounts they are in (podman mounts parents first). */
static int add_guard_mounts(const run_sources *src, podman_mount *mounts, size_t *n, char ***strings) {
        const char *base = src->mapped_workspace ?: src->workspace;

        for (size_t i = 0; i < src->guard->n_git; i++) {
                const git_guard_mount *g = &src->guard->git[i];
                char *source, *dst;

                if (asprintf(&source, "%s/%s", base, g->path) < 0 || strv_push(strings, source) < 0 ||
                    asprintf(&dst, RUN_WORKSPACE_DIR "/%s", g->path) < 0 || strv_push(strings, dst) < 0)
                        return -ENOMEM;
                mounts[(*n)++] = (podman_mount) { .source = source, .destination = dst, .read_only = g->read_only };
        }
        for (char **h = src->guard->hidden; h && *h; h++)
                mounts[(*n)++] = (podman_mount) { .source = src->empty_dir, .destination = *h, .read_only = true };
        return 0;
}

static int create_container(podman_client *c, const run_record *rec, const run_options *o, const run_sources *src,
                            char **ret_id, moat_error *err) {
        const char *agent_home = src->mapped_home ?: src->agent_home, *tls_dir = src->tls_dir;
        _cleanup_free_ podman_mount *mounts = NULL;
        _cleanup_(strv_freep) char **guard_strings = NULL;
        _cleanup_free_ char *label_id = NULL, *label_name = NULL, *cname = NULL, *user = NULL;
        _cleanup_(strv_freep) char **env = NULL;
        size_t n = 0;
        char *labels[3];
        podman_spec spec = {
                .image = rec->image,
                .command = rec->command,
                .work_dir = RUN_WORKSPACE_DIR,
                .terminal = o->interactive && o->tty,
                .stdin_open = o->interactive,
                .memory_bytes = o->memory_bytes,
                .cpus = o->cpus,
                .labels = labels,
                /* podman's file of the output, which the monitor relays to the journal: it
                 * outlives a restart of the podman service, and is removed with the container */
                .log_driver = "k8s-file",
                /* strict and none: the container's own loopback only (where the proxy listens) */
                .network = rec->network == NET_OPEN ? NULL : "none",
        };

        if (run_proxy_env(rec, &env) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if (agent_home) {
                char *kv;

                if (asprintf(&kv, "HOME=%s", o->agent_home) < 0 || strv_push(&env, kv) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                /* The agent's user is the caller's, mapped: rootless by podman's keep-id,
                 * rootful by moat's idmapped mounts of the workspace and the home
                 * (idmap-mount.h).  What it writes there belongs to the caller. */
                if (asprintf(&user, "%u:%u", o->agent_uid, o->agent_gid) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                spec.user = user;
                if (rec->manager == RUN_MANAGER_USER) {
                        spec.keep_id = true;
                        spec.keep_id_uid = o->agent_uid;
                        spec.keep_id_gid = o->agent_gid;
                }
        }
        for (size_t i = 0; i < o->n_env; i++)
                if (strv_push(&env, strdup(o->env[i])) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        spec.env = env;
        if (asprintf(&label_id, "moat.run-id=%s", rec->id) < 0 ||
            asprintf(&label_name, "moat.name=%s", rec->name) < 0 || asprintf(&cname, "moat-%s", rec->id) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        labels[0] = label_id;
        labels[1] = label_name;
        labels[2] = NULL;
        spec.name = cname;

        mounts = calloc(rec->n_mounts + 3 + src->guard->n_git + strv_length(src->guard->hidden), sizeof(*mounts));
        if (!mounts)
                return moat_error_set(err, -ENOMEM, "out of memory");
        mounts[n++] = (podman_mount) { .source = src->mapped_workspace ?: src->workspace, .destination = RUN_WORKSPACE_DIR };
        for (size_t i = 0; i < rec->n_mounts; i++)
                mounts[n++] = (podman_mount) {
                        .source = i + 1 == rec->n_mounts && src->mapped_objects ? src->mapped_objects
                                                                                : rec->mounts[i].source,
                        .destination = rec->mounts[i].destination,
                        .read_only = rec->mounts[i].read_only,
                };
        if (tls_dir)
                mounts[n++] = (podman_mount) { .source = tls_dir, .destination = RUN_TLS_MOUNT, .read_only = true };
        if (agent_home)
                mounts[n++] = (podman_mount) { .source = agent_home, .destination = o->agent_home };
        if (add_guard_mounts(src, mounts, &n, &guard_strings) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        spec.mounts = mounts;
        spec.n_mounts = n;
        return podman_container_create(c, &spec, ret_id, err);
}

/* Undoes a run whose unit never ran: its container and its record (with its TLS directory). */
static void discard_run(run_services *s, const run_record *rec) {
        (void) idmap_mounts_remove(rec->id);
        if (rec->container_id)
                (void) podman_container_remove(s->podman, rec->container_id, true, NULL);
        (void) run_store_remove(s->store, rec->id, NULL);
}

/* A rootful agent's workspace and home, through mounts on which the caller's ids and the
 * agent's are swapped. */
static int map_agent_sources(const run_record *rec, const run_options *o, run_sources *src, moat_error *err) {
        int r;

        r = idmap_mount_swap(rec->id, "workspace", src->workspace, getuid(), getgid(), o->agent_uid, o->agent_gid,
                             &src->mapped_workspace, err);
        if (r >= 0)
                r = idmap_mount_swap(rec->id, "home", src->agent_home, getuid(), getgid(), o->agent_uid,
                                     o->agent_gid, &src->mapped_home, err);
        /* the objects the checkout borrows, readable by the agent whatever the caller's umask */
        if (r >= 0 && rec->branch)
                r = idmap_mount_swap(rec->id, "objects", rec->mounts[rec->n_mounts - 1].source, getuid(), getgid(),
                                     o->agent_uid, o->agent_gid, &src->mapped_objects, err);
        return r;
}

/* The container, then the record names it: the record never names a container that does not
 * exist.  On failure nothing of the run is left. */
static int create_run(run_services *s, run_record *rec, const run_options *o, const run_guard *guard,
                      moat_error *err) {
        _cleanup_(run_sources_done) run_sources src = { .workspace = rec->workspace, .guard = guard };
        int r = 0;

        if (guard->hidden && guard->hidden[0])
                r = run_store_empty_dir(s->store, &src.empty_dir, err);
        /* the agent's home outlives the run: made once, kept even when this start fails */
        if (r >= 0 && o->agent) {
                r = agent_state_prepare(run_store_home(s->store), o->agent, rec->workspace, o->agent_seeds,
                                        o->n_agent_seeds, &src.agent_home, NULL, err);
                if (r >= 0 && rec->manager == RUN_MANAGER_SYSTEM)
                        r = map_agent_sources(rec, o, &src, err);
        }
        /* the proxy writes the run's CA there, before the container starts */
        if (r >= 0 && rec->n_grants > 0)
                r = run_store_tls_dir(s->store, rec->id, &src.tls_dir, err);
        if (r >= 0)
                r = create_container(s->podman, rec, o, &src, &rec->container_id, err);
        if (r >= 0)
                r = run_store_save(s->store, rec, err);
        if (r < 0)
                discard_run(s, rec);
        return r;
}

/* The grants' values, for LoadCredential=: the unit's properties name the files only. */
static int grant_credentials(const run_services *s, const run_record *rec, unit_credential **ret,
                             char ***ret_strings) {
        _cleanup_free_ unit_credential *creds = calloc(rec->n_grants + 1, sizeof(*creds));
        _cleanup_(strv_freep) char **strings = calloc(1, sizeof(char *));

        if (!creds || !strings)
                return -ENOMEM;
        for (size_t i = 0; i < rec->n_grants; i++) {
                char *id, *path;

                if (asprintf(&id, "grant-%s", rec->grants[i].name) < 0 || strv_push(&strings, id) < 0 ||
                    grant_store_path(run_store_home(s->store), rec->grants[i].name, &path) < 0 ||
                    strv_push(&strings, path) < 0)
                        return -ENOMEM;
                creds[i] = (unit_credential) { .id = id, .path = path };
        }
        *ret = TAKE_PTR(creds);
        *ret_strings = TAKE_PTR(strings);
        return 0;
}

static int start_unit(run_services *s, const run_record *rec, char **ret_job_result, moat_error *err) {
        _cleanup_free_ char *description = NULL, *home_env = NULL, *host_env = NULL;
        _cleanup_free_ unit_credential *creds = NULL;
        _cleanup_(strv_freep) char **cred_strings = NULL;
        const char *host = getenv("CONTAINER_HOST");
        char *exec_start[] = { (char *) MONITOR_PATH, (char *) "run", (char *) rec->id, NULL };
        char *exec_stop_post[] = { (char *) MONITOR_PATH, (char *) "cleanup", (char *) rec->id, NULL };
        const char *gate = getenv("MOAT_TEST_MONITOR_GATE");
        _cleanup_free_ char *gate_env = NULL;
        char *environment[4] = {};
        unit_spec spec = {
                .name = rec->unit,
                .slice = "moat.slice",
                .exec_start = exec_start,
                .exec_stop_post = exec_stop_post,
                .environment = environment,
                /* the container's grace, then time for the monitor to record and clean up */
                .timeout_stop_usec = (MONITOR_STOP_GRACE_SEC + 20) * USEC_PER_SEC,
                .runtime_max_usec = rec->timeout_usec,
        };

        if (asprintf(&description, "moat run %s (%s)", rec->name, rec->id) < 0 ||
            asprintf(&home_env, "MOAT_HOME=%s", run_store_home(s->store)) < 0 ||
            (host && *host && asprintf(&host_env, "CONTAINER_HOST=%s", host) < 0) ||
            (gate && *gate && asprintf(&gate_env, "MOAT_TEST_MONITOR_GATE=%s", gate) < 0))
                return moat_error_set(err, -ENOMEM, "out of memory");
        /* (the gate: the e2e tests' hold on the monitor before it runs, see moat-monitor.c) */
        {
                size_t n = 0;

                environment[n++] = home_env;
                if (host_env)
                        environment[n++] = host_env;
                if (gate_env)
                        environment[n++] = gate_env;
        }
        spec.description = description;
        if (grant_credentials(s, rec, &creds, &cred_strings) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        spec.credentials = creds;
        spec.n_credentials = rec->n_grants;
        return unit_start_transient(s->bus, &spec, ret_job_result, err);
}

typedef struct init_job {
        const char *socket;
        const char *container_id;
} init_job;

/* podman's part of a start (runtime and network set-up, ~100 ms rootful) runs while systemd
 * creates the unit and the monitor comes up; the monitor's attach then finds it done.  A
 * failure here is the monitor's to report: its attach would fail the same way. */
static void *init_container(void *userdata) {
        init_job *job = userdata;
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        moat_error e = {};

        if (podman_client_new(job->socket, &c, &e) >= 0)
                (void) podman_container_init(c, job->container_id, &e);
        moat_error_clear(&e);
        return NULL;
}

/* A stop that came before the unit could carry it out: the run ends as stopped, here. */
static int stopped_unstarted(run_services *s, run_record **rec, moat_error *err) {
        int r;

        r = run_end_unstarted(s->store, s->podman, *rec, err);
        if (r < 0)
                return r;
        return moat_error_set(err, -ECANCELED, "run %s (%s) was stopped while it started", (*rec)->name, (*rec)->id);
}

/* The unit's start did not complete: it was stopped, or its monitor could not start the
 * container.  The unit ends the run itself (the monitor records it, ExecStopPost cleans
 * up); this waits for that, so that nothing is undone under the unit's feet.  A run whose
 * monitor never ran (its record still says created) is the caller's: stopped when its start
 * was canceled (a stop came first) or a stop was asked for, else discarded. */
static int start_cut_short(run_services *s, run_record **rec, const char *job_result, bool *ret_discard,
                           moat_error *err) {
        _cleanup_(run_record_freep) run_record *now = NULL;
        int r;

        *ret_discard = false;
        r = unit_wait_inactive(s->bus, (*rec)->unit, (MONITOR_STOP_GRACE_SEC + 30) * USEC_PER_SEC, err);
        if (r < 0)
                return r;
        r = run_store_load(s->store, (*rec)->id, &now, err);
        if (r < 0)
                return r;
        if (now->state == RUN_CREATED &&
            (strcmp(job_result, "canceled") == 0 || run_store_stop_requested(s->store, now->id))) {
                run_record_free(*rec);
                *rec = TAKE_PTR(now);
                return stopped_unstarted(s, rec, err);
        }
        if (now->state == RUN_CREATED) {
                *ret_discard = true;
                return moat_error_set(err, -ECANCELED, "the start of %s was %s before its monitor ran",
                                      (*rec)->unit, job_result);
        }
        run_record_free(*rec);
        *rec = TAKE_PTR(now);
        if ((*rec)->state == RUN_STOPPED)
                return moat_error_set(err, -ECANCELED, "run %s (%s) was stopped while it started", (*rec)->name,
                                      (*rec)->id);
        /* failed: nothing is left of it but the record, which a start that failed leaves not */
        *ret_discard = true;
        r = moat_error_set(err, -EIO, "%s", (*rec)->error ?: "the run's monitor failed to start it");
        /* its command could not be run: podman's 126 or 127, as the monitor recorded it */
        if ((*rec)->has_exit_code)
                err->exit_status = (*rec)->exit_code;
        return r;
}

bool run_word_could_be_command(const char *word) {
        if (!word || !*word || strcmp(word, ".") == 0 || strcmp(word, "..") == 0 || word[0] == '-')
                return false;
        for (const char *p = word; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("._+-", *p))
                        return false;
        return true;
}

int run_exec_failure(const run_record *rec, moat_error *err) {
        const char *command = rec->command && rec->command[0] ? rec->command[0] : "its own command";
        const char *image = rec->image ?: RUN_DEFAULT_IMAGE;
        int status = podman_exec_failure_status(err->msg);

        if (status == 0)
                return 0;
        moat_error_clear(err);
        if (status == 127)
                moat_error_set(err, -ENOENT, "command not found in the image %s: %s", image, command);
        else
                moat_error_set(err, -EACCES, "command cannot be run in the image %s (permission denied): %s", image,
                               command);
        err->exit_status = status;
        return status;
}

/* Starts the unit that runs REC; the record exists. */
static int launch_run(run_services *s, run_record **rec, const run_options *o, moat_error *err) {
        _cleanup_free_ char *job_result = NULL;
        bool initing = false, discard;
        pthread_t initer;
        init_job job;
        int r;

        /* a stop while the record was new or the container was being created */
        if (run_store_stop_requested(s->store, (*rec)->id))
                return stopped_unstarted(s, rec, err);
        if (o->before_start) {
                r = o->before_start(*rec, o->userdata, err);
                if (r < 0) {
                        (void) run_exec_failure(*rec, err);
                        goto discard;
                }
        } else {
                job = (init_job) { .socket = s->socket, .container_id = (*rec)->container_id };
                initing = pthread_create(&initer, NULL, init_container, &job) == 0;
        }
        /* the bus was opened (and authenticated) before the image and the container, which
         * may take minutes: a dbus-daemon restarted meanwhile is reconnected to */
        r = unit_bus_ensure((*rec)->manager, &s->bus, err);
        if (r >= 0)
                r = start_unit(s, *rec, &job_result, err);
        if (initing)
                pthread_join(initer, NULL);
        if (r < 0)
                goto discard;
        if (strcmp(job_result, "done") == 0)
                return 0;
        r = start_cut_short(s, rec, job_result, &discard, err);
        if (!discard)
                return r;
discard:
        discard_run(s, *rec);
        return r;
}

int runner_start(const run_options *o, run_record **ret, moat_error *err) {
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(run_services_close) run_services s = {};
        _cleanup_(run_guard_done) run_guard guard = {};
        _cleanup_(run_branch_done) run_branch branch = {};
        _cleanup_close_ int lock_fd = -1, run_lock_fd = -1;
        bool checkout_made = false;
        int r;

        r = run_plan_record(o, &rec, &guard, &branch, err);
        if (r >= 0)
                r = run_services_open(o->manager, &s, err);
        if (r >= 0)
                r = check_image(&s, rec, o, err);
        if (r >= 0)
                r = name_run(&s, rec, o->name, &lock_fd, err);
        /* the run's own lock, held until its start has settled (run-stop.h) */
        if (r >= 0)
                r = run_store_create(s.store, rec, &run_lock_fd, err);
        lock_fd = safe_close(lock_fd);
        /* the checkout, once the record holds the branch against other starts */
        if (r >= 0 && rec->branch) {
                r = run_branch_prepare(&branch, o->branch_from, &checkout_made, err);
                if (r < 0)
                        discard_run(&s, rec);
        }
        if (r >= 0)
                r = create_run(&s, rec, o, &guard, err);
        if (r >= 0)
                r = launch_run(&s, &rec, o, err);
        if (r < 0 && checkout_made && !(r == -ECANCELED && rec->state == RUN_STOPPED))
                run_branch_discard(&branch);
        if (r == -ECANCELED && ret && rec->state == RUN_STOPPED)
                *ret = TAKE_PTR(rec); /* a record that stays: the caller says how it ended */
        if (r < 0)
                return r;

        if (ret) {
                run_record *now = NULL;

                if (run_store_load(s.store, rec->id, &now, NULL) >= 0)
                        *ret = now;
                else
                        *ret = TAKE_PTR(rec);
        }
        return 0;
}

int runner_remove(run_store *store, const run_record *rec, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        int r;

        if (rec->container_id) {
                r = podman_client_open(rec->manager == RUN_MANAGER_USER, &c, err);
                if (r >= 0)
                        r = podman_container_remove(c, rec->container_id, true, err);
                if (r < 0 && r != -ENOENT)
                        return moat_error_prefix(err, "cannot remove the container of %s", rec->name);
                moat_error_clear(err);
        }
        return run_store_remove(store, rec->id, err);
}
