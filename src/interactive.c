#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "interactive.h"
#include "podman-attach.h"
#include "time-util.h"
#include "unit.h"

/* Ctrl-] three times within a second, as systemd-run --pty: stop the run from inside. */
#define ESCAPE_CHAR 0x1d
#define ESCAPE_COUNT 3

static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal(void) {
        if (termios_saved) {
                tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
                termios_saved = false;
        }
}

static int raw_terminal(void) {
        struct termios raw;

        if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return -errno;
        termios_saved = true;
        atexit(restore_terminal);
        raw = saved_termios;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0)
                return -errno;
        return 0;
}

typedef struct session {
        podman_attach *attach;
        char *socket;
} session;

static int open_attach(const run_record *rec, void *userdata, moat_error *err) {
        session *s = userdata;

        return podman_attach_open(s->socket, rec->container_id, rec->tty, true, &s->attach, err);
}

static int write_out(podman_stream stream, const char *data, size_t len, void *userdata) {
        int fd = stream == PODMAN_STREAM_STDOUT ? STDOUT_FILENO : STDERR_FILENO;

        (void) userdata;
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 0; /* the terminal is gone: the run goes on to its end */
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

static void send_size(podman_client *c, const run_record *rec) {
        struct winsize ws;
        moat_error err = {};

        if (rec->tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
                (void) podman_container_resize(c, rec->container_id, ws.ws_row, ws.ws_col, &err);
        moat_error_clear(&err);
}

/* Counts escape characters in what was typed; true once three came within a second. */
static bool escape_typed(const char *buf, size_t len, unsigned *count, uint64_t *first) {
        for (size_t i = 0; i < len; i++) {
                uint64_t now;

                if (buf[i] != ESCAPE_CHAR) {
                        *count = 0;
                        continue;
                }
                now = now_usec();
                if (*count == 0 || now - *first > USEC_PER_SEC) {
                        *count = 0;
                        *first = now;
                }
                if (++*count >= ESCAPE_COUNT)
                        return true;
        }
        return false;
}

int interactive_run(run_options *o) {
        _cleanup_(cli_context_close) cli_context ctx = {};
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_close_ int sfd = -1;
        session s = {};
        cli_manager_flags mf = { .user = o->manager == RUN_MANAGER_USER, .system = o->manager == RUN_MANAGER_SYSTEM };
        bool stdin_open = true, stopping = false;
        unsigned escapes = 0;
        uint64_t escape_first = 0;
        sigset_t mask;
        int r;

        o->interactive = true;
        o->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        o->before_start = open_attach;
        o->userdata = &s;
        if (podman_socket_path(o->manager == RUN_MANAGER_USER, &s.socket, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        if (cli_context_open(&ctx, &mf, true) != 0)
                return EXIT_MOAT_ERROR;

        r = runner_start(o, &rec, &err);
        if (r < 0) {
                podman_attach_close(s.attach);
                free(s.socket);
                return cli_fail("%s", moat_error_message(&err));
        }
        if (podman_client_new(s.socket, &c, &err) < 0) {
                podman_attach_close(s.attach);
                free(s.socket);
                return cli_fail("%s", moat_error_message(&err));
        }

        /* signals arrive as data in the loop; the terminal is restored on every way out */
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (rec->tty && raw_terminal() < 0) {
                restore_terminal();
                fprintf(stderr, "moat: cannot put the terminal in raw mode: %m\n");
        }
        send_size(c, rec);

        for (;;) {
                struct pollfd p[3] = {
                        { .fd = podman_attach_fd(s.attach), .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                        { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
                };

                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents) {
                        r = podman_attach_read(s.attach, write_out, NULL, &err);
                        if (r <= 0)
                                break; /* the container has ended */
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;

                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH)
                                        send_size(c, rec);
                                else if (si.ssi_signo == SIGTERM) {
                                        /* moat goes; the run stays, as with -f */
                                        restore_terminal();
                                        podman_attach_close(s.attach);
                                        free(s.socket);
                                        return 128 + SIGTERM;
                                } else if (!stopping) {
                                        /* SIGHUP: the terminal closed; SIGINT without a terminal */
                                        stopping = true;
                                        (void) unit_stop(ctx.bus, rec->unit, false, NULL);
                                }
                        }
                }
                if (p[2].revents) {
                        char buf[4096];
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

                        if (n <= 0) {
                                stdin_open = false;
                                (void) podman_attach_close_stdin(s.attach, NULL);
                        } else if (rec->tty && escape_typed(buf, (size_t) n, &escapes, &escape_first)) {
                                if (!stopping) {
                                        stopping = true;
                                        (void) unit_stop(ctx.bus, rec->unit, false, NULL);
                                }
                        } else if (podman_attach_write(s.attach, buf, (size_t) n, NULL) < 0)
                                stdin_open = false;
                }
        }

        podman_attach_close(s.attach);
        free(s.socket);
        if (termios_saved) {
                restore_terminal();
                /* the status goes on a line of its own, after whatever the program left */
                fputc('\n', stderr);
        }
        if (cli_wait_end(&ctx, &rec) != 0)
                return EXIT_MOAT_ERROR;
        return cli_report_end(rec, rec->state, rec->has_exit_code, rec->exit_code, rec->error, 0, true);
}
