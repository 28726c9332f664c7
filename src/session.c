#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "session.h"
#include "time-util.h"

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
        static bool registered;
        struct termios raw;

        if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return -errno;
        termios_saved = true;
        if (!registered) {
                atexit(restore_terminal);
                registered = true;
        }
        raw = saved_termios;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0)
                return -errno;
        return 0;
}

static int write_out(podman_stream stream, const char *data, size_t len, void *userdata) {
        int fd = stream == PODMAN_STREAM_STDOUT ? STDOUT_FILENO : STDERR_FILENO;

        (void) userdata;
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 0; /* the terminal is gone: the stream goes on to its end */
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

static void send_size(const session_ops *ops) {
        struct winsize ws;

        if (ops->resize && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
                ops->resize(ws.ws_row, ws.ws_col, ops->userdata);
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

int session_run(podman_attach *a, bool tty, const session_ops *ops) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_close_ int sfd = -1;
        bool stdin_open = !ops->no_input, stopping = false;
        unsigned escapes = 0;
        uint64_t escape_first = 0;
        sigset_t mask;
        int rc = 0;

        /* signals arrive as data in the loop; the terminal is restored on every way out */
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (tty && raw_terminal() < 0) {
                restore_terminal();
                fprintf(stderr, "moat: cannot put the terminal in raw mode: %m\n");
        }
        if (tty)
                send_size(ops);

        for (;;) {
                struct pollfd p[3] = {
                        { .fd = podman_attach_fd(a), .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                        { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
                };

                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents && podman_attach_read(a, write_out, NULL, &err) <= 0)
                        break; /* the stream has ended */
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        bool go = false;

                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH && tty)
                                        send_size(ops);
                                else if (si.ssi_signo == SIGTERM)
                                        go = true; /* moat goes; the remote side stays */
                                else if (si.ssi_signo != SIGWINCH && !stopping && ops->stop) {
                                        /* SIGHUP: the terminal closed; SIGINT without a terminal */
                                        stopping = true;
                                        ops->stop(ops->userdata);
                                }
                        }
                        if (go) {
                                rc = 128 + SIGTERM;
                                break;
                        }
                }
                if (p[2].revents) {
                        char buf[4096];
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

                        if (n <= 0) {
                                stdin_open = false;
                                (void) podman_attach_close_stdin(a, NULL);
                        } else if (tty && ops->escape_stops && escape_typed(buf, (size_t) n, &escapes, &escape_first)) {
                                if (!stopping && ops->stop) {
                                        stopping = true;
                                        ops->stop(ops->userdata);
                                }
                        } else if (podman_attach_write(a, buf, (size_t) n, NULL) < 0)
                                stdin_open = false;
                }
        }
        if (termios_saved) {
                restore_terminal();
                /* the status goes on a line of its own, after whatever the program left */
                if (rc == 0)
                        fputc('\n', stderr);
        }
        return rc;
}
