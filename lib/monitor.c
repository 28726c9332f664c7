#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "monitor.h"
#include "podman.h"
#include "time-util.h"

typedef struct monitor {
        run_store *store;
        run_record *record;
        char *socket;
        pthread_mutex_t lock; /* the record, shared with the stopper thread */
        atomic_bool stop_requested;
        bool podman_lost; /* the connection to podman broke during the run */
} monitor;

static int monitor_save(monitor *m, run_state state, moat_error *err) {
        int r;

        pthread_mutex_lock(&m->lock);
        if (run_state_is_final(m->record->state) || !run_state_transition_ok(m->record->state, state))
                r = 0; /* a later state won: e.g. stopping after the run already exited */
        else {
                m->record->state = state;
                r = run_store_save(m->store, m->record, err);
        }
        pthread_mutex_unlock(&m->lock);
        return r;
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

/* Waits in its own thread for SIGTERM/SIGINT (systemctl stop, moat stop) and stops the
 * container with grace; the main thread's wait then sees the exit. */
static void *stopper(void *userdata) {
        monitor *m = userdata;
        sigset_t set;
        int sig;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        for (;;) {
                _cleanup_(podman_client_freep) podman_client *c = NULL;
                moat_error err = {};

                if (sigwait(&set, &sig) != 0)
                        continue;
                m->stop_requested = true;
                (void) monitor_save(m, RUN_STOPPING, NULL);
                sd_notify(0, "STOPPING=1\nSTATUS=Stopping the container");
                if (podman_client_new(m->socket, &c, &err) >= 0)
                        (void) podman_container_stop(c, m->record->container_id, MONITOR_STOP_GRACE_SEC, &err);
                moat_error_clear(&err);
        }
        return NULL;
}

/* Waits for the container's exit, across restarts and idle exits of the podman service:
 * a lost connection is retried, never taken for an exit. */
static int wait_exit(monitor *m, podman_client **c, int *ret_code, moat_error *err) {
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
                m->podman_lost = true;
                /* A fresh connection: the old one belonged to a service that is gone. */
                podman_client_free(*c);
                *c = NULL;
                usleep(attempt < 50 ? 20000 : 1000000);
                r = podman_client_new(m->socket, c, err);
                if (r < 0)
                        return r;
        }
}

/* The relay: the container's output into the journal.  It attaches before the container
 * starts, so not a byte is missed, and streams live.  When podman went away during the run,
 * the attach may have ended early: after the exit the rest comes from podman's log of the
 * output (k8s-file), skipping, per stream, the bytes already relayed. */
typedef struct relay {
        monitor *m;
        journal_writer writer;
        uint64_t relayed[PODMAN_STREAM_ERROR + 1]; /* bytes per stream written to the journal */
        uint64_t seen[PODMAN_STREAM_ERROR + 1];    /* bytes per stream read in this pass */
        pthread_mutex_t lock;
        pthread_cond_t changed;
        bool ready, done;
        int result;
        moat_error err;
} relay;

static int relay_frame(podman_stream stream, const char *data, size_t len, void *userdata) {
        relay *rl = userdata;

        if (stream == PODMAN_STREAM_STDOUT || stream == PODMAN_STREAM_STDERR) {
                uint64_t *seen = &rl->seen[stream], *relayed = &rl->relayed[stream];

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
        return journal_writer_feed(stream, data, len, &rl->writer);
}

static void relay_set(relay *rl, bool ready, bool done) {
        pthread_mutex_lock(&rl->lock);
        rl->ready |= ready;
        rl->done |= done;
        pthread_cond_broadcast(&rl->changed);
        pthread_mutex_unlock(&rl->lock);
}

static void relay_ready(void *userdata) {
        relay_set(userdata, true, false);
}

static void *relay_thread(void *userdata) {
        relay *rl = userdata;
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        int r;

        r = podman_client_new(rl->m->socket, &c, &rl->err);
        if (r >= 0)
                r = podman_container_attach(c, rl->m->record->container_id, rl->m->record->tty, relay_ready, relay_frame,
                                            rl, &rl->err);
        rl->result = r;
        relay_set(rl, false, true);
        return NULL;
}

/* Blocks until the attach is in place (true) or has failed (false). */
static bool relay_wait_ready(relay *rl) {
        bool ready;

        pthread_mutex_lock(&rl->lock);
        while (!rl->ready && !rl->done)
                pthread_cond_wait(&rl->changed, &rl->lock);
        ready = rl->ready;
        pthread_mutex_unlock(&rl->lock);
        return ready;
}

/* After the exit: what the attach did not deliver, from podman's log of the output. */
static void relay_catch_up(relay *rl) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        const podman_logs_options opts = {};
        moat_error e = {};

        memset(rl->seen, 0, sizeof(rl->seen));
        if (podman_client_new(rl->m->socket, &c, &e) < 0 ||
            podman_container_logs(c, rl->m->record->container_id, &opts, relay_frame, rl, &e) < 0)
                fprintf(stderr, "moat-monitor: cannot read the rest of the output: %s\n", moat_error_message(&e));
        moat_error_clear(&e);
}

static void remove_container(monitor *m, podman_client *c) {
        moat_error e = {};

        if (m->record->keep || !m->record->container_id)
                return;
        (void) podman_container_remove(c, m->record->container_id, true, &e);
        moat_error_clear(&e);
}

static int fail_run(monitor *m, podman_client *c, moat_error *err) {
        pthread_mutex_lock(&m->lock);
        m->record->state = RUN_FAILED;
        m->record->stopped_at = now_usec();
        free(m->record->error);
        m->record->error = strdup(moat_error_message(err));
        (void) run_store_save(m->store, m->record, NULL);
        (void) journal_write_exit(m->record);
        pthread_mutex_unlock(&m->lock);
        if (c)
                remove_container(m, c);
        return err->code;
}

int monitor_run(const char *home, const char *id, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        monitor m = { .lock = PTHREAD_MUTEX_INITIALIZER };
        relay rl = { .m = &m, .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };
        pthread_t thread, relayer;
        bool relaying = false;
        sigset_t set;
        int r, code = 0;

        /* Blocked before any thread exists, so only the stopper receives them. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        r = monitor_open(home, id, &m, err);
        if (r < 0)
                goto out;
        r = podman_client_new(m.socket, &c, err);
        if (r < 0) {
                r = fail_run(&m, NULL, err);
                goto out;
        }
        r = monitor_save(&m, RUN_STARTING, err);
        if (r < 0)
                goto out;

        r = pthread_create(&thread, NULL, stopper, &m);
        if (r != 0) {
                r = fail_run(&m, c, err) ?: -r;
                goto out;
        }
        pthread_detach(thread);

        /* the output's way to the journal first, then the container */
        r = journal_writer_init(&rl.writer, m.record, err);
        if (r >= 0) {
                r = -pthread_create(&relayer, NULL, relay_thread, &rl);
                if (r < 0)
                        moat_error_set(err, r, "cannot start relaying the output: %s", strerror(-r));
        }
        if (r < 0) {
                r = fail_run(&m, c, err);
                goto out;
        }
        relaying = true;
        if (!relay_wait_ready(&rl)) {
                moat_error_set(err, rl.result < 0 ? rl.result : -EIO, "cannot attach to the container: %s",
                               moat_error_message(&rl.err));
                r = fail_run(&m, c, err);
                goto out;
        }

        r = podman_container_start(c, m.record->container_id, err);
        if (r < 0) {
                moat_error_prefix(err, "cannot start the container");
                r = fail_run(&m, c, err);
                goto out;
        }
        pthread_mutex_lock(&m.lock);
        m.record->started_at = now_usec();
        pthread_mutex_unlock(&m.lock);
        r = monitor_save(&m, RUN_RUNNING, err);
        if (r < 0) {
                r = fail_run(&m, c, err);
                goto out;
        }
        sd_notify(0, "READY=1\nSTATUS=Running");

        r = wait_exit(&m, &c, &code, err);
        pthread_join(relayer, NULL);
        relaying = false;
        if (r < 0) {
                moat_error_prefix(err, "lost the container");
                r = fail_run(&m, c, err);
                goto out;
        }
        /* every line before the end record */
        /* (podman's log of a terminal is not the raw stream the attach gave: no catch-up) */
        if ((m.podman_lost || rl.result < 0) && !m.record->tty)
                relay_catch_up(&rl);
        (void) journal_writer_flush(&rl.writer);

        pthread_mutex_lock(&m.lock);
        m.record->state = m.stop_requested ? RUN_STOPPED : RUN_EXITED;
        m.record->has_exit_code = true;
        m.record->exit_code = code;
        m.record->stopped_at = now_usec();
        r = run_store_save(m.store, m.record, err);
        (void) journal_write_exit(m.record);
        pthread_mutex_unlock(&m.lock);
        remove_container(&m, c);
        if (r >= 0)
                r = code & 0xff;
out:
        if (relaying)
                pthread_join(relayer, NULL);
        journal_writer_done(&rl.writer);
        moat_error_clear(&rl.err);
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

int monitor_cleanup(const char *home, const char *id, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        monitor m = { .lock = PTHREAD_MUTEX_INITIALIZER };
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
                monitor_death_reason(&e, result, code, status);
                fail_run(&m, c, &e);
                moat_error_clear(&e);
        } else
                remove_container(&m, c); /* the monitor may have died before it removed it */
        r = 0;
out:
        monitor_close(&m);
        return r;
}
