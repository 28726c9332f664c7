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

#include "monitor.h"
#include "podman.h"
#include "time-util.h"

typedef struct monitor {
        run_store *store;
        run_record *record;
        char *socket;
        pthread_mutex_t lock; /* the record, shared with the stopper thread */
        atomic_bool stop_requested;
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
                /* A fresh connection: the old one belonged to a service that is gone. */
                podman_client_free(*c);
                *c = NULL;
                usleep(attempt < 50 ? 20000 : 1000000);
                r = podman_client_new(m->socket, c, err);
                if (r < 0)
                        return r;
        }
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
        pthread_mutex_unlock(&m->lock);
        if (c)
                remove_container(m, c);
        return err->code;
}

int monitor_run(const char *home, const char *id, moat_error *err) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        monitor m = { .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t thread;
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
        if (r < 0) {
                moat_error_prefix(err, "lost the container");
                r = fail_run(&m, c, err);
                goto out;
        }

        pthread_mutex_lock(&m.lock);
        m.record->state = m.stop_requested ? RUN_STOPPED : RUN_EXITED;
        m.record->has_exit_code = true;
        m.record->exit_code = code;
        m.record->stopped_at = now_usec();
        r = run_store_save(m.store, m.record, err);
        pthread_mutex_unlock(&m.lock);
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
