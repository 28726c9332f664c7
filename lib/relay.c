#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "journal.h"
#include "monitor.h"
#include "relay.h"
#include "spawn-helper.h"
#include "time-util.h"

static int count_frame(podman_stream stream, const char *data, size_t len, void *userdata) {
        relay_feed *f = userdata;
        int r;

        r = f->sink(stream, data, len, f->userdata);
        if (r >= 0)
                f->relayed[stream] += len;
        return r;
}

void relay_feed_init(relay_feed *f, bool tty, podman_frame_fn sink, void *userdata) {
        *f = (relay_feed) { .sink = sink, .userdata = userdata };
        podman_demux_init(&f->demux, tty);
}

int relay_feed_bytes(relay_feed *f, const void *data, size_t len, moat_error *err) {
        return podman_demux_feed(&f->demux, data, len, count_frame, f, err);
}

bool relay_feed_at_boundary(const relay_feed *f) {
        return podman_demux_end(&f->demux, NULL) == 0;
}

void relay_finish_cmd_init(relay_finish_cmd *cmd, const char *monitor, const char *id, const relay_feed *f,
                           uint64_t lines, bool cut, const run_resources *res) {
        snprintf(cmd->out, sizeof(cmd->out), "%" PRIu64, f->relayed[PODMAN_STREAM_STDOUT]);
        snprintf(cmd->err, sizeof(cmd->err), "%" PRIu64, f->relayed[PODMAN_STREAM_STDERR]);
        snprintf(cmd->lines, sizeof(cmd->lines), "%" PRIu64, lines);
        cmd->argv[0] = (char *) monitor;
        cmd->argv[1] = (char *) "finish";
        cmd->argv[2] = (char *) id;
        cmd->argv[3] = cmd->out;
        cmd->argv[4] = cmd->err;
        cmd->argv[5] = cmd->lines;
        cmd->argv[6] = (char *) (cut ? "cut" : "whole");
        cmd->argv[7] = NULL;
        cmd->argv[8] = NULL;
        if (res) {
                run_resources_format(res, cmd->resources);
                cmd->argv[7] = cmd->resources;
        }
}

typedef struct relay {
        const run_record *rec;
        journal_writer writer;
        relay_feed feed;
        pid_t stopper, finisher;
        int status; /* the finish helper's, once it ended */
        bool probing;           /* the container's cgroup was found */
        resource_probe probe;
        run_resources used;     /* what it said so far */
        uint64_t sampled;       /* when, CLOCK_MONOTONIC µs */
} relay;

/* How often the container's cgroup is read while it runs (and once more at its end). */
#define SAMPLE_INTERVAL_USEC (1000 * 1000)

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void sample(relay *rl) {
        if (!rl->probing)
                return;
        resource_probe_sample(&rl->probe, &rl->used);
        rl->sampled = monotonic_usec();
}

/* A failed write ends the relay as a cut attach does: once the container has exited, the
 * finish helper relays the rest out of podman's log, from the piece that failed (what was
 * counted is what the journal took). */
static int to_journal(podman_stream stream, const char *data, size_t len, void *userdata) {
        relay *rl = userdata;
        int r;

        r = journal_writer_feed(stream, data, len, &rl->writer);
        if (r < 0)
                fprintf(stderr, "moat-relay: cannot write to the journal: %s\n", strerror(-r));
        return r;
}

static void start_stop(relay *rl) {
        char *argv[] = { (char *) MONITOR_PATH, (char *) "stop", (char *) rl->rec->id, NULL };
        pid_t pid;

        if (rl->stopper != 0)
                return;
        sd_notify(0, "STOPPING=1\nSTATUS=Stopping the container");
        pid = spawn_program(argv, NULL, 0);
        rl->stopper = pid > 0 ? pid : -1; /* -1: tried once; the stop timeout is the fallback */
}

static int start_finish(relay *rl, bool cut) {
        relay_finish_cmd cmd;
        pid_t pid;

        (void) journal_writer_flush(&rl->writer);
        sample(rl); /* the container's cgroup may be about to go: its last figures */
        relay_finish_cmd_init(&cmd, MONITOR_PATH, rl->rec->id, &rl->feed, rl->writer.lines, cut,
                              rl->probing ? &rl->used : NULL);
        pid = spawn_program(cmd.argv, NULL, 0);
        if (pid < 0)
                return pid;
        rl->finisher = pid;
        return 0;
}

static void reap(relay *rl) {
        pid_t pid;
        int status;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid == rl->stopper)
                        rl->stopper = -1;
                else if (pid == rl->finisher) {
                        rl->finisher = -1;
                        if (WIFEXITED(status))
                                rl->status = WEXITSTATUS(status);
                        else {
                                fprintf(stderr, "moat-relay: moat-monitor finish was killed by signal %d\n",
                                        WTERMSIG(status));
                                rl->status = 125;
                        }
                }
        }
}

/* Long enough for a busy manager to read its notifications. */
#define HAND_OVER_BARRIER_USEC (5 * USEC_PER_SEC)

/* Forks the heir through a middle process that exits at once, so that the heir's parent is
 * the manager (or PID 1).  Returns the heir's PID in the caller and, with *ret_go its pipe,
 * 0 in the heir once the caller wrote to *ret_go; the heir exits when it closes it unwritten.
 * Negative errno when it could not be forked. */
static pid_t fork_heir(int *ret_go) {
        _cleanup_close_ int pid_read = -1, pid_write = -1, go_read = -1, go_write = -1;
        pid_t middle, heir;
        int p[2];
        char go;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_read = p[0];
        pid_write = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        go_read = p[0];
        go_write = p[1];
        middle = fork();
        if (middle < 0)
                return -errno;
        if (middle == 0) {
                heir = fork();
                if (heir == 0) {
                        /* no write end of its own, so that the caller's close reaches it */
                        pid_write = safe_close(pid_write);
                        go_write = safe_close(go_write);
                        if (read(go_read, &go, 1) != 1)
                                _exit(0);
                        return 0;
                }
                (void) !write(pid_write, &heir, sizeof(heir));
                _exit(0);
        }
        pid_write = safe_close(pid_write);
        while (waitpid(middle, NULL, 0) < 0 && errno == EINTR)
                ;
        if (read(pid_read, &heir, sizeof(heir)) != sizeof(heir) || heir <= 0)
                return -ECHILD;
        *ret_go = TAKE_FD(go_write);
        return heir;
}

void relay_hand_over(void) {
        sigset_t pending;
        pid_t heir;
        int go = -1, r;

        if (!getenv("NOTIFY_SOCKET"))
                return;
        heir = fork_heir(&go);
        if (heir == 0)
                return;
        if (heir < 0) {
                fprintf(stderr, "moat-relay: cannot fork, relaying from the first process: %s\n", strerror((int) -heir));
                return;
        }
        (void) sd_notifyf(0, "MAINPID=%d", (int) heir);
        r = sd_notify_barrier(0, HAND_OVER_BARRIER_USEC);
        /* systemd signals the main PID it knows.  Once it read MAINPID=, that is the heir; a
         * stop that reached this process first (blocked since moat-monitor) began while
         * systemd ignores MAINPID= (it does while a unit stops).  Then, or when systemd did
         * not confirm, this process stays the main PID (MAINPID= for itself: NotifyAccess=all)
         * and relays; its pending stop is handled as any other. */
        if (r >= 0 && sigpending(&pending) == 0 && !sigismember(&pending, SIGTERM) &&
            !sigismember(&pending, SIGINT) && write(go, "g", 1) == 1)
                _exit(0);
        (void) sd_notifyf(0, "MAINPID=%d", (int) getpid());
        (void) sd_notify_barrier(0, HAND_OVER_BARRIER_USEC);
        close(go);
}

int relay_run(const run_record *rec, int attach_fd, helper_lifeline *proxy, pid_t container_pid) {
        relay rl = { .rec = rec, .status = 125, .used = RUN_RESOURCES_UNKNOWN };
        moat_error err = {};
        sigset_t set;
        int sfd, r;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGCHLD);
        sigprocmask(SIG_BLOCK, &set, NULL);
        sfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (sfd < 0) {
                fprintf(stderr, "moat-relay: signalfd: %m\n");
                return 125;
        }
        /* the helpers have no business with these */
        (void) fcntl(attach_fd, F_SETFD, FD_CLOEXEC);
        if (proxy->fd >= 0)
                (void) fcntl(proxy->fd, F_SETFD, FD_CLOEXEC);
        if (proxy->pidfd >= 0)
                (void) fcntl(proxy->pidfd, F_SETFD, FD_CLOEXEC);
        relay_feed_init(&rl.feed, rec->tty, to_journal, &rl);
        rl.probing = container_pid > 1 && resource_probe_init(&rl.probe, container_pid) >= 0;
        sample(&rl);
        r = journal_writer_init(&rl.writer, rec, 0, &err);
        if (r < 0) {
                fprintf(stderr, "moat-relay: %s\n", moat_error_message(&err));
                moat_error_clear(&err);
                close(attach_fd); /* all of the output comes from podman's log then */
                attach_fd = -1;
                if (start_finish(&rl, true) < 0)
                        rl.finisher = -1;
        }

        while (rl.finisher >= 0 || rl.stopper > 0) {
                struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = attach_fd, .events = POLLIN } };
                int timeout = -1;

                if (rl.probing && attach_fd >= 0) {
                        uint64_t now = monotonic_usec(), due = rl.sampled + SAMPLE_INTERVAL_USEC;

                        if (now >= due) {
                                sample(&rl);
                                due = rl.sampled + SAMPLE_INTERVAL_USEC;
                        }
                        timeout = (int) ((due - now) / 1000) + 1;
                }
                if (poll(p, attach_fd >= 0 ? 2 : 1, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "moat-relay: poll: %m\n");
                        break;
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;

                        if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        reap(&rl);
                                else
                                        start_stop(&rl);
                        }
                }
                if (attach_fd >= 0 && p[1].revents) {
                        static char buf[16384];
                        ssize_t n = read(attach_fd, buf, sizeof(buf));

                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n > 0) {
                                r = relay_feed_bytes(&rl.feed, buf, (size_t) n, &err);
                                if (r >= 0)
                                        continue;
                                if (err.code != 0)
                                        fprintf(stderr, "moat-relay: %s\n", moat_error_message(&err));
                                moat_error_clear(&err);
                        }
                        /* the end of the output: the container exited, or podman went away */
                        bool cut = n != 0 || !relay_feed_at_boundary(&rl.feed);

                        close(attach_fd);
                        attach_fd = -1;
                        if (start_finish(&rl, cut) < 0)
                                break;
                }
        }
        if (attach_fd >= 0)
                close(attach_fd);
        helper_lifeline_end(proxy, PROXY_END_TIMEOUT_MS);
        resource_probe_done(&rl.probe);
        journal_writer_done(&rl.writer);
        close(sfd);
        return rl.status;
}
