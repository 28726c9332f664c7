#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "git-guard.h"
#include "idmap-mount.h"
#include "journal.h"
#include "monitor.h"
#include "podman-attach.h"
#include "podman.h"
#include "run-branch.h"
#include "runner.h"
#include "spawn-helper.h"
#include "time-util.h"

typedef struct monitor {
        run_store *store;
        run_record *record;
        char *socket;
        helper_lifeline proxy; /* handed to the relay, which ends the proxy before itself */
        pid_t container_pid;   /* once known */
} monitor;

/* What podman says of the container in brief: whether it runs, its process (0 when podman
 * could not say: neither is known). */
static void container_brief(podman_client *c, const char *container_id, bool *ret_running, int *ret_pid) {
        podman_container_state st = {};
        moat_error e = {};
        bool known = podman_container_inspect(c, container_id, &st, &e) >= 0;

        if (ret_running)
                *ret_running = known && st.running;
        if (ret_pid)
                *ret_pid = known ? st.pid : 0;
        podman_container_state_free(&st);
        moat_error_clear(&e);
}

/* The container's process, for the relay's measures; 0 when podman does not say. */
static int container_pid(monitor *m, podman_client *c) {
        int pid;

        container_brief(c, m->record->container_id, NULL, &pid);
        return pid;
}

static int monitor_save(monitor *m, run_state state, moat_error *err) {
        if (run_state_is_final(m->record->state) || !run_state_transition_ok(m->record->state, state))
                return 0; /* a later state won: e.g. stopping after the run already exited */
        m->record->state = state;
        return run_store_save(m->store, m->record, err);
}

static int monitor_open(const char *home, const char *id, monitor *m, moat_error *err) {
        int r;

        r = run_store_open(home, &m->store, err);
        if (r < 0)
                return r;
        r = run_store_load(m->store, id, &m->record, err);
        if (r < 0)
                return r;
        return podman_socket_path(m->record->manager == RUN_MANAGER_USER, &m->socket, err);
}

static void monitor_close(monitor *m) {
        run_record_free(m->record);
        run_store_free(m->store);
        free(m->socket);
}

static void remove_container(monitor *m, podman_client *c) {
        moat_error e = {};

        if (m->record->keep || !m->record->container_id)
                return;
        (void) podman_container_remove(c, m->record->container_id, true, &e);
        moat_error_clear(&e);
}

static int fail_run(monitor *m, podman_client *c, moat_error *err) {
        m->record->state = RUN_FAILED;
        m->record->stopped_at = now_usec();
        free(m->record->error);
        m->record->error = strdup(moat_error_message(err));
        (void) run_store_save(m->store, m->record, NULL);
        (void) journal_write_exit(m->record);
        if (c)
                remove_container(m, c);
        return err->code;
}

/* The container could not start while doing WHAT.  When podman says its command could not
 * be run, the record takes podman run's exit status for it (126 or 127) and says which
 * command; any other failure says what was being done. */
static int fail_start(monitor *m, podman_client *c, const char *what, moat_error *err) {
        int status = run_exec_failure(m->record, err);

        if (status > 0) {
                m->record->has_exit_code = true;
                m->record->exit_code = status;
        } else
                moat_error_prefix(err, "%s", what);
        return fail_run(m, c, err);
}

/* A stop has come: SIGTERM or SIGINT, held blocked while the container starts, or a stop
 * request that moat stop wrote before the unit was there to take it (run-stop.h). */
static bool stop_pending(monitor *m) {
        sigset_t pending;

        if (sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1))
                return true;
        return run_store_stop_requested(m->store, m->record->id);
}

/* The run was stopped before its container started: it ends here, as stopped without an
 * exit code; the unit's journal says so once, in the end record.  C may be NULL. */
static int stop_before_start(monitor *m, podman_client *c, moat_error *err) {
        int r;

        m->record->state = RUN_STOPPED;
        m->record->stopped_at = now_usec();
        m->record->has_output_lines = true;
        m->record->output_lines = 0;
        r = run_store_save(m->store, m->record, err);
        (void) journal_write_exit(m->record);
        if (c)
                remove_container(m, c);
        return r;
}

/* How long the proxy may take to listen and make the run's CA (key generation included). */
#define PROXY_READY_TIMEOUT_MS 20000

/* The run's proxy, before the container starts: it listens inside the container's network
 * namespace, which exists once podman has initialised the container (its process waits
 * there), and writes the CA the container trusts.  It says "ready" on one pipe; it ends when
 * the other, whose write end this process keeps across its exec and the relay hands to its
 * heir, reports that the unit's main process is gone (and the unit ends it anyway). */
static int start_proxy(monitor *m, podman_client *c, moat_error *err) {
        podman_container_state st = {};
        _cleanup_close_ int rd = -1, wr = -1, life_rd = -1;
        struct pollfd pfd;
        char pid_arg[16], ready[8];
        char *argv[] = { (char *) PROXY_PATH, m->record->id, pid_arg, (char *) "3", (char *) "4", NULL };
        ssize_t n;
        int p[2], life[2], r;

        r = podman_container_init(c, m->record->container_id, err);
        if (r >= 0)
                r = podman_container_inspect(c, m->record->container_id, &st, err);
        if (r < 0)
                return r;
        snprintf(pid_arg, sizeof(pid_arg), "%d", st.pid);
        m->container_pid = st.pid;
        podman_container_state_free(&st);
        if (atoi(pid_arg) <= 1)
                return moat_error_set(err, -ESRCH, "the container has no process to share a network with");
        if (pipe2(p, O_CLOEXEC) < 0)
                return moat_error_set(err, -errno, "pipe: %m");
        rd = p[0];
        wr = p[1];
        if (pipe2(life, O_CLOEXEC) < 0)
                return moat_error_set(err, -errno, "pipe: %m");
        life_rd = life[0];
        m->proxy.fd = life[1];
        r = spawn_program(argv, (int[]) { wr, life_rd }, 2);
        if (r < 0)
                return moat_error_set(err, r, "cannot start %s: %s", PROXY_PATH, strerror(-r));
        /* kept open for the life of the unit's main process: not closed on its exec, and only
         * now, so that the proxy holds no write end of its own lifeline */
        (void) fcntl(life[1], F_SETFD, 0);
        m->proxy.pidfd = helper_pidfd(r);
        wr = safe_close(wr);
        pfd = (struct pollfd) { .fd = rd, .events = POLLIN };
        if (poll(&pfd, 1, PROXY_READY_TIMEOUT_MS) <= 0)
                return moat_error_set(err, -ETIMEDOUT, "the network proxy did not get ready");
        n = read(rd, ready, sizeof(ready));
        if (n != 6 || memcmp(ready, "ready\n", 6) != 0)
                return moat_error_set(err, -EIO, "the network proxy could not start (its reason is in the unit's "
                                                 "journal)");
        return 0;
}

/* A podman client for the run; without one the run cannot go on: it fails. */
static int monitor_connect(monitor *m, podman_client **ret, moat_error *err) {
        int r;

        r = podman_client_new(m->socket, ret, err);
        return r < 0 ? fail_run(m, NULL, err) : 0;
}

int monitor_run(const char *home, const char *id, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_(podman_attach_closep) podman_attach *a = NULL;
        monitor m = { .proxy = HELPER_LIFELINE_NONE };
        char fd_arg[16], life_arg[16], pidfd_arg[16], pid_arg[16];
        sigset_t set;
        int r, fd;

        /* A stop while the container starts stays pending: before the start it ends the run
         * here; after it, it goes across the exec to the relay, which stops the container. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);

        r = monitor_open(home, id, &m, err);
        if (r >= 0)
                r = monitor_connect(&m, &c, err);
        if (r < 0)
                goto out;
        r = monitor_save(&m, RUN_STARTING, err);
        if (r < 0)
                goto out;

        if (stop_pending(&m)) {
                r = stop_before_start(&m, c, err);
                goto out;
        }
        if (run_has_proxy(m.record)) {
                r = start_proxy(&m, c, err);
                if (r < 0) {
                        r = fail_start(&m, c, "cannot give the run its network", err);
                        goto out;
                }
        }
        /* the output's way to the journal first, then the container: not a byte is missed */
        r = podman_attach_open(m.socket, m.record->container_id, m.record->tty, false, &a, err);
        /* moat run's init of the container (runner.c) was under way: once it is done (an init
         * of ours waits for its lock, then finds it done), the attach finds nothing to do */
        if (r == -EBUSY) {
                moat_error_clear(err);
                r = podman_container_init(c, m.record->container_id, err);
                if (r >= 0)
                        r = podman_attach_open(m.socket, m.record->container_id, m.record->tty, false, &a, err);
        }
        if (r < 0) {
                r = fail_start(&m, c, "cannot attach to the container", err);
                goto out;
        }
        if (stop_pending(&m)) {
                r = stop_before_start(&m, c, err);
                goto out;
        }
        r = podman_container_start(c, m.record->container_id, err);
        if (r < 0) {
                r = fail_start(&m, c, "cannot start the container", err);
                goto out;
        }
        m.record->started_at = now_usec();
        r = monitor_save(&m, RUN_RUNNING, err);
        if (r >= 0)
                r = fd = podman_attach_take_fd(a, err);
        if (r < 0) {
                r = fail_run(&m, c, err);
                goto out;
        }
        sd_notify(0, "READY=1\nSTATUS=Running");
        /* the relay measures what the container uses, from its cgroup, by its process */
        snprintf(pid_arg, sizeof(pid_arg), "%d", m.container_pid > 1 ? (int) m.container_pid : container_pid(&m, c));

        /* The rest of the run needs no podman client in memory: the relay takes over this
         * process, then hands the main PID to a grandchild of its own (relay_hand_over). */
        snprintf(fd_arg, sizeof(fd_arg), "%d", fd);
        snprintf(life_arg, sizeof(life_arg), "%d", m.proxy.fd);
        snprintf(pidfd_arg, sizeof(pidfd_arg), "%d", m.proxy.pidfd);
        execv(RELAY_PATH, (char *[]) { (char *) RELAY_PATH, m.record->id, m.record->name,
                                       (char *) run_manager_to_string(m.record->manager),
                                       (char *) (m.record->tty ? "tty" : "notty"), fd_arg, life_arg, pidfd_arg,
                                       pid_arg, NULL });
        moat_error_set(err, -errno, "cannot run %s: %m", RELAY_PATH);
        r = fail_run(&m, c, err);
out:
        helper_lifeline_end(&m.proxy, PROXY_END_TIMEOUT_MS);
        monitor_close(&m);
        return r;
}

int monitor_stop(const char *home, const char *id, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        monitor m = {};
        int r;

        r = monitor_open(home, id, &m, err);
        /* systemd stops the unit once RuntimeMaxSec= (--timeout) has passed since it became
         * active, which was after started_at: a stop that late is the time limit's */
        if (r >= 0 && m.record->timeout_usec > 0 && m.record->started_at > 0 && !m.record->stop_reason &&
            now_usec() >= m.record->started_at + m.record->timeout_usec &&
            !(m.record->stop_reason = strdup(RUN_STOP_REASON_TIMEOUT)))
                r = moat_error_set(err, -ENOMEM, "out of memory");
        if (r >= 0)
                r = monitor_save(&m, RUN_STOPPING, err);
        if (r >= 0)
                r = podman_client_new(m.socket, &c, err);
        if (r >= 0)
                r = podman_container_stop(c, m.record->container_id,
                                          m.record->stop_reason ? MONITOR_TIMEOUT_GRACE_SEC : MONITOR_STOP_GRACE_SEC, err);
        monitor_close(&m);
        return r;
}

/* Waits for the container's exit, across restarts and idle exits of the podman service:
 * a lost connection is retried, never taken for an exit. */
static int wait_exit(monitor *m, podman_client **c, int *ret_code, bool *podman_lost, moat_error *err) {
        for (unsigned attempt = 0;; attempt++) {
                moat_error e = {};
                int r;

                r = podman_container_wait(*c, m->record->container_id, ret_code, &e);
                if (r >= 0)
                        return 0;
                if (r != -ECONNRESET && r != -ECONNREFUSED && r != -ENOENT) {
                        r = moat_error_set(err, e.code, "%s", moat_error_message(&e));
                        moat_error_clear(&e);
                        return r;
                }
                if (r == -ENOENT) {
                        /* the container is gone: removed behind our back */
                        r = moat_error_set(err, -ENOENT, "the container disappeared: %s", moat_error_message(&e));
                        moat_error_clear(&e);
                        return r;
                }
                moat_error_clear(&e);
                *podman_lost = true;
                /* A fresh connection: the old one belonged to a service that is gone. */
                podman_client_free(*c);
                *c = NULL;
                usleep(attempt < 50 ? 20000 : 1000000);
                r = podman_client_new(m->socket, c, err);
                if (r < 0)
                        return r;
        }
}

/* When the attach ended before the container did (podman went away), the rest of the output
 * comes from podman's log of it (k8s-file), skipping, per stream, what the relay wrote. */
typedef struct catch_up {
        journal_writer writer;
        uint64_t relayed[PODMAN_STREAM_ERROR + 1]; /* bytes per stream already in the journal */
        uint64_t seen[PODMAN_STREAM_ERROR + 1];    /* bytes per stream read from the log */
} catch_up;

static int catch_up_frame(podman_stream stream, const char *data, size_t len, void *userdata) {
        catch_up *cu = userdata;

        if (stream == PODMAN_STREAM_STDOUT || stream == PODMAN_STREAM_STDERR) {
                uint64_t *seen = &cu->seen[stream], *relayed = &cu->relayed[stream];

                if (*seen < *relayed) {
                        size_t skip = (size_t) (*relayed - *seen < len ? *relayed - *seen : len);

                        *seen += skip;
                        data += skip;
                        len -= skip;
                        if (len == 0)
                                return 0;
                }
                *seen += len;
                *relayed += len;
        }
        return journal_writer_feed(stream, data, len, &cu->writer);
}

/* Returns the number of entries the run has in the journal afterwards. */
static uint64_t relay_catch_up(monitor *m, podman_client *c, const uint64_t relayed[2], uint64_t lines) {
        const podman_logs_options opts = {};
        catch_up cu = {};
        moat_error e = {};

        cu.relayed[PODMAN_STREAM_STDOUT] = relayed[0];
        cu.relayed[PODMAN_STREAM_STDERR] = relayed[1];
        if (journal_writer_init(&cu.writer, m->record, lines, &e) < 0 ||
            podman_container_logs(c, m->record->container_id, &opts, catch_up_frame, &cu, &e) < 0)
                fprintf(stderr, "moat-monitor: cannot read the rest of the output: %s\n", moat_error_message(&e));
        (void) journal_writer_flush(&cu.writer);
        lines = cu.writer.lines;
        journal_writer_done(&cu.writer);
        moat_error_clear(&e);
        return lines;
}

/* True when the container still runs although its output ended: the attach was cut. */
static bool still_running(podman_client *c, const char *container_id) {
        bool running;

        container_brief(c, container_id, &running, NULL);
        return running;
}

/* Once the container can write no more, and before its end is told: what it left in the
 * workspace to steer the host's git goes aside (git-guard.h). */
static void sweep_workspace(const run_record *rec) {
        _cleanup_(strv_freep) char **messages = NULL;

        /* a run's checkout is no git of the host's: its git is the agent's (run-branch.h) */
        if (!rec->workspace || rec->branch)
                return;
        (void) git_guard_sweep(rec->workspace, &messages);
        (void) git_guard_sweep_submodules(rec->workspace, &messages);
        for (char **m = messages; m && *m; m++)
                fprintf(stderr, "moat: warning: %s\n", *m);
}

/* A run on a branch of its own: the branch comes back into the user's repository before the
 * run's end is told, so that whoever waits for the end finds it there. */
static void fetch_branch(const run_record *rec) {
        moat_error e = {};

        if (!rec->branch || !rec->repository)
                return;
        if (run_branch_fetch(rec->repository, rec->workspace, rec->branch, &e) < 0)
                fprintf(stderr, "moat: warning: %s; see 'moat branches'\n", moat_error_message(&e));
        moat_error_clear(&e);
}

int monitor_finish(const char *home, const char *id, const uint64_t relayed[2], uint64_t lines, bool cut,
                   const run_resources *used, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_(run_record_freep) run_record *latest = NULL;
        monitor m = {};
        bool podman_lost = false;
        int r, code = 0;

        r = monitor_open(home, id, &m, err);
        if (r >= 0)
                r = monitor_connect(&m, &c, err);
        if (r < 0)
                goto out;
        if (!cut)
                cut = still_running(c, m.record->container_id);
        r = wait_exit(&m, &c, &code, &podman_lost, err);
        if (r < 0) {
                moat_error_prefix(err, "lost the container");
                m.record->has_output_lines = true;
                m.record->output_lines = lines;
                r = fail_run(&m, c, err);
                goto out;
        }
        /* every line before the end record (podman's log of a terminal is not the raw stream
         * the attach gave: no catch-up for it) */
        if ((cut || podman_lost) && !m.record->tty)
                lines = relay_catch_up(&m, c, relayed, lines);
        sweep_workspace(m.record);
        fetch_branch(m.record);

        /* a stop helper may have recorded "stopping" meanwhile */
        if (run_store_load(m.store, id, &latest, NULL) >= 0) {
                run_record_free(m.record);
                m.record = TAKE_PTR(latest);
        }
        m.record->state = m.record->state == RUN_STOPPING ? RUN_STOPPED : RUN_EXITED;
        m.record->has_exit_code = true;
        m.record->exit_code = code;
        m.record->has_output_lines = true;
        m.record->output_lines = lines;
        m.record->stopped_at = now_usec();
        if (used) {
                m.record->has_resources = true;
                m.record->resources = *used;
        }
        r = run_store_save(m.store, m.record, err);
        (void) journal_write_exit(m.record);
        remove_container(&m, c);
        if (r >= 0)
                r = code & 0xff;
out:
        monitor_close(&m);
        return r;
}

/* What systemd tells ExecStopPost about the main process, as a sentence. */
static void monitor_death_reason(moat_error *e, const char *result, const char *code, const char *status) {
        const char *how = "it ended";

        if (code && strcmp(code, "killed") == 0)
                how = "it was killed by signal";
        else if (code && strcmp(code, "dumped") == 0)
                how = "it dumped core on signal";
        else if (code && strcmp(code, "exited") == 0)
                how = "it exited with status";
        moat_error_set(e, -ECONNABORTED, "the monitor ended before the run did: %s %s (%s)", how,
                       status ? status : "?", result ? result : "unknown");
}

/* The stop's own signal killed the monitor before it could hold it (between its exec and
 * its first instruction, which can be long on a loaded host): the run was stopped before its
 * container started, not lost. */
static bool died_of_stop_before_start(const monitor *m, const char *code, const char *status) {
        return m->record->state <= RUN_STARTING && code && strcmp(code, "killed") == 0 && status &&
               (strcmp(status, "TERM") == 0 || strcmp(status, "INT") == 0);
}

int monitor_cleanup(const char *home, const char *id, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        monitor m = {};
        const char *result = getenv("SERVICE_RESULT"), *code = getenv("EXIT_CODE"),
                   *status = getenv("EXIT_STATUS");
        moat_error e = {};
        int r;

        r = monitor_open(home, id, &m, err);
        if (r < 0)
                goto out;
        r = podman_client_new(m.socket, &c, err);
        if (r < 0)
                goto out;

        if (!run_state_is_final(m.record->state)) {
                /* Nobody watches the container any more: it ends now, kept or not. */
                (void) podman_container_kill(c, m.record->container_id, "SIGKILL", &e);
                moat_error_clear(&e);
                /* what the agent committed before the monitor was lost is not */
                if (m.record->state >= RUN_RUNNING)
                        fetch_branch(m.record);
                if (died_of_stop_before_start(&m, code, status))
                        (void) stop_before_start(&m, c, &e);
                else {
                        monitor_death_reason(&e, result, code, status);
                        fail_run(&m, c, &e);
                }
                moat_error_clear(&e);
        } else
                remove_container(&m, c); /* the monitor may have died before it removed it */
        r = 0;
out:
        /* a rootful agent's mapped workspace and home, which the container no longer needs */
        (void) idmap_mounts_remove(id);
        if (m.record)
                sweep_workspace(m.record);
        monitor_close(&m);
        return r;
}
