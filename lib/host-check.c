#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "host-check.h"
#include "podman.h"
#include "strv.h"
#include "unit.h"

/* What journald itself reads for a unit's rate limit: PID 1 writes these links when the unit
 * starts, so they tell what the running user@UID.service has, which its D-Bus properties
 * (the configuration as loaded) do not. */
#define UNITS_RUN_DIR "/run/systemd/units"
#define DROPIN "user@.service.d/moat.conf"
#define CGROUP2_SUPER_MAGIC 0x63677270
#define SUBIDS_NEEDED 65536

void host_check_done(host_check *c) {
        free(c->message);
        free(c->fix);
        *c = (host_check) {};
}

static int set_text(char **field, const char *fmt, va_list ap) {
        free(*field);
        if (vasprintf(field, fmt, ap) < 0) {
                *field = NULL;
                return -ENOMEM;
        }
        return 0;
}

_printf_(3, 4) static int set_result(host_check *c, check_status status, const char *fmt, ...) {
        va_list ap;
        int r;

        c->status = status;
        va_start(ap, fmt);
        r = set_text(&c->message, fmt, ap);
        va_end(ap);
        return r;
}

_printf_(2, 3) static int set_fix(host_check *c, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = set_text(&c->fix, fmt, ap);
        va_end(ap);
        return r;
}

bool journal_limits_lift(uint64_t interval_usec, uint64_t burst) {
        /* burst / (interval / 1 s) >= 1,000,000 lines a second */
        return interval_usec > 0 && burst > 0 && burst >= interval_usec;
}

/* The value a link under UNITS_RUN_DIR points to, as a number; false when there is none. */
static bool read_unit_link(const char *what, const char *unit, uint64_t *ret) {
        char path[PATH_MAX], target[32], *end;
        ssize_t n;

        snprintf(path, sizeof(path), UNITS_RUN_DIR "/%s:%s", what, unit);
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
                return false;
        target[n] = '\0';
        errno = 0;
        *ret = strtoull(target, &end, 10);
        return errno == 0 && *end == '\0';
}

/* A system unit's object path on the system bus. */
static int unit_object_path(const char *unit, char **ret) {
        return sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, ret);
}

/* Whether systemd reads units from DIR. */
static bool systemd_reads(const char *dir) {
        static const char *const dirs[] = { "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
                                            "/usr/lib/systemd/system", "/lib/systemd/system" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (strcmp(dir, dirs[i]) == 0)
                        return true;
        return false;
}

int host_check_journal_limits(uid_t uid, host_check *ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(strv_freep) char **dropins = NULL;
        _cleanup_free_ char *path = NULL;
        char unit[64];
        uint64_t interval = 0, burst = 0;
        bool listed = false, overridden,
             installed_where_read = access(SYSTEMDSYSTEMUNITDIR "/" DROPIN, F_OK) == 0 && systemd_reads(SYSTEMDSYSTEMUNITDIR);
        int need_reload = 0, r;
        uint64_t loaded_interval = 0;
        uint32_t loaded_burst = 0;

        *ret = (host_check) { .name = "journald" };
        snprintf(unit, sizeof(unit), "user@%u.service", (unsigned) uid);
        if (read_unit_link("log-rate-limit-interval", unit, &interval) &&
            read_unit_link("log-rate-limit-burst", unit, &burst) && journal_limits_lift(interval, burst))
                return set_result(ret, CHECK_OK, "%s runs with moat's journald rate limit (%" PRIu64
                                  " lines per %" PRIu64 " ms): no output is dropped",
                                  unit, burst, interval / 1000);

        /* Why not: the manager's view of user@UID.service says whether the drop-in is read. */
        if (sd_bus_open_system(&bus) >= 0 && unit_object_path(unit, &path) >= 0) {
                (void) sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit",
                                                "DropInPaths", NULL, &dropins);
                (void) sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                                   "org.freedesktop.systemd1.Unit", "NeedDaemonReload", NULL, 'b',
                                                   &need_reload);
                (void) sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                                   "org.freedesktop.systemd1.Service", "LogRateLimitIntervalUSec",
                                                   NULL, 't', &loaded_interval);
                (void) sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                                   "org.freedesktop.systemd1.Service", "LogRateLimitBurst", NULL,
                                                   'u', &loaded_burst);
        }
        for (char **d = dropins; d && *d; d++) {
                size_t n = strlen(*d);

                listed |= n >= strlen(DROPIN) && strcmp(*d + n - strlen(DROPIN), DROPIN) == 0;
        }
        overridden = listed && !need_reload && !journal_limits_lift(loaded_interval, loaded_burst);
        r = set_result(ret, CHECK_FAIL,
                       "journald will drop bursts of output from your runs (%s lets through journald's default, "
                       "about 10000 lines in 30 s, and the end records with them): moat's drop-in %s is %s",
                       unit, DROPIN,
                       overridden               ? "read, but a later drop-in sets the rate limit again"
                       : listed && !need_reload ? "read, but your user manager started before it was"
                       : listed                 ? "changed since systemd last read it"
                       : installed_where_read ? "installed, but systemd has not read it yet"
                               : "not where systemd reads it");
        if (r < 0)
                return r;
        if (overridden)
                return set_fix(ret, "remove LogRateLimitIntervalSec= and LogRateLimitBurst= from the drop-ins of %s "
                               "listed by 'systemctl cat %s' that come after moat.conf, then: sudo systemctl "
                               "daemon-reload, and log out and in again",
                               unit, unit);
        if (listed && !need_reload)
                return set_fix(ret, "log out and in again, or: sudo systemctl restart %s", unit);
        if (listed || installed_where_read)
                return set_fix(ret, "sudo systemctl daemon-reload, then log out and in again (or: sudo systemctl "
                               "restart %s)", unit);
        /* where make install put it */
        return set_fix(ret, "sudo install -D -m 644 " SYSTEMDSYSTEMUNITDIR "/" DROPIN " /etc/systemd/system/" DROPIN
                       " && sudo systemctl daemon-reload, then log out and in again (or: sudo systemctl restart %s)",
                       unit);
}

int host_check_podman(run_manager m, host_check *ret) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *socket = NULL, *version = NULL;
        bool user = m == RUN_MANAGER_USER;

        *ret = (host_check) { .name = "podman" };
        if (podman_socket_path(user, &socket, &err) < 0 || podman_client_new(socket, &c, &err) < 0 ||
            podman_ping(c, &version, &err) < 0) {
                const char *msg = moat_error_message(&err), *hint = NULL;
                size_t n = strlen(msg), h;

                if (socket)
                        hint = podman_socket_hint(socket, getenv("CONTAINER_HOST"), geteuid());
                h = hint ? strlen(hint) : 0;
                /* the hint goes on the fix line, not twice */
                if (hint && n > h + 2 && strcmp(msg + n - h, hint) == 0)
                        n -= h + 2;
                if (set_result(ret, CHECK_FAIL, "%.*s", (int) n, msg) < 0)
                        return -ENOMEM;
                return set_fix(ret, "%s", hint ?: "see moat-doctor(1)");
        }
        return set_result(ret, CHECK_OK, "%s podman (API %s) answers on %s", user ? "rootless" : "rootful",
                          version ?: "?", socket);
}

int host_check_storage(run_manager m, host_check *ret) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *driver = NULL;
        bool user = m == RUN_MANAGER_USER;

        *ret = (host_check) { .name = "storage" };
        if (podman_client_open(user, &c, &err) < 0 || podman_storage_driver(c, &driver, &err) < 0)
                return set_result(ret, CHECK_FAIL, "cannot ask podman for its storage driver: %s",
                                  moat_error_message(&err));
        /* vfs copies the whole image for each container: an agent's image of 700 MB took
         * 7.8 s to create a container from, where overlay takes a fraction of a second */
        if (strcmp(driver, "vfs") == 0) {
                if (set_result(ret, CHECK_WARN,
                               "%s podman stores images with the vfs driver, which copies a whole image for every "
                               "container: each run of a large agent image starts seconds late",
                               user ? "rootless" : "rootful") < 0)
                        return -ENOMEM;
                return set_fix(ret, "%s",
                               user ? "set driver = \"overlay\" under [storage] in ~/.config/containers/storage.conf "
                                      "(kernel 5.13 or newer, or apt-get install fuse-overlayfs), then podman system "
                                      "reset, which removes this user's images and containers"
                                    : "set driver = \"overlay\" under [storage] in /etc/containers/storage.conf, then "
                                      "podman system reset, which removes every image and container");
        }
        return set_result(ret, CHECK_OK, "%s podman stores images with the %s driver", user ? "rootless" : "rootful",
                          driver);
}

int host_check_manager(run_manager m, host_check *ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *version = NULL;

        *ret = (host_check) { .name = "manager" };
        if (unit_bus_open(m, &bus, &err) < 0 ||
            sd_bus_get_property_string(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "Version", NULL, &version) < 0) {
                if (set_result(ret, CHECK_FAIL, "%s", err.code ? moat_error_message(&err)
                                                                : "the manager does not answer on its bus") < 0)
                        return -ENOMEM;
                return set_fix(ret, "%s", m == RUN_MANAGER_USER
                                                  ? "log in through a session that starts it (or: sudo loginctl "
                                                    "enable-linger $USER), with XDG_RUNTIME_DIR set"
                                                  : "boot with systemd as PID 1");
        }
        return set_result(ret, CHECK_OK, "the systemd %s manager (%s) answers", run_manager_to_string(m), version);
}

int host_check_slice(run_manager m, host_check *ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *state = NULL;
        const char *path;
        bool user = m == RUN_MANAGER_USER;

        *ret = (host_check) { .name = "moat.slice" };
        if (unit_bus_open(m, &bus, NULL) < 0 ||
            sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", NULL, &reply, "s", "moat.slice") < 0 ||
            sd_bus_message_read(reply, "o", &path) < 0 ||
            sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit",
                                       "LoadState", NULL, &state) < 0)
                return set_result(ret, CHECK_FAIL, "cannot ask the %s manager about moat.slice",
                                  run_manager_to_string(m));
        if (strcmp(state, "loaded") == 0)
                return set_result(ret, CHECK_OK, "runs go into moat.slice");
        if (set_result(ret, CHECK_WARN,
                       "the %s manager has no moat.slice (%s): runs go into a bare slice of that name, without "
                       "its description",
                       run_manager_to_string(m), state) < 0)
                return -ENOMEM;
        return set_fix(ret, "%s", user ? "install moat.slice into " SYSTEMDUSERUNITDIR
                                         " (make install), then: systemctl --user daemon-reload"
                                       : "install moat.slice into " SYSTEMDSYSTEMUNITDIR
                                         " (make install), then: sudo systemctl daemon-reload");
}

/* The controllers of the user manager's cgroup, on a unified (cgroup v2) hierarchy. */
static int read_controllers(uid_t uid, char *buf, size_t size) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        ssize_t n;

        snprintf(path, sizeof(path), "/sys/fs/cgroup/user.slice/user-%u.slice/user@%u.service/cgroup.controllers",
                 (unsigned) uid, (unsigned) uid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

static bool has_word(const char *list, const char *word) {
        size_t n = strlen(word);

        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

int host_check_delegation(uid_t uid, host_check *ret) {
        struct statfs fs;
        char controllers[512];

        *ret = (host_check) { .name = "cgroups" };
        if (statfs("/sys/fs/cgroup", &fs) < 0 || (uint64_t) fs.f_type != CGROUP2_SUPER_MAGIC)
                return set_result(ret, CHECK_WARN,
                                  "cgroups are v1 or hybrid here: rootless podman cannot apply --memory or --cpus "
                                  "(runs go on without the limits); the system manager's runs can");
        if (read_controllers(uid, controllers, sizeof(controllers)) < 0)
                return set_result(ret, CHECK_WARN, "cannot read the controllers of user@%u.service's cgroup",
                                  (unsigned) uid);
        if (has_word(controllers, "memory") && has_word(controllers, "cpu"))
                return set_result(ret, CHECK_OK, "user@%u.service has the memory and cpu controllers delegated",
                                  (unsigned) uid);
        if (set_result(ret, CHECK_WARN,
                       "user@%u.service lacks the memory or cpu controller (it has: %.*s): --memory and --cpus "
                       "cannot be applied",
                       (unsigned) uid, (int) strcspn(controllers, "\n"), controllers) < 0)
                return -ENOMEM;
        return set_fix(ret, "printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee "
                       "/etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload, then log "
                       "out and in again");
}

uint64_t subid_count(const char *text, const char *user, uid_t uid) {
        char uid_text[16];
        uint64_t total = 0;

        snprintf(uid_text, sizeof(uid_text), "%u", (unsigned) uid);
        for (const char *line = text; line && *line;) {
                const char *eol = strchr(line, '\n'), *c1 = strchr(line, ':'), *c2;
                size_t len = eol ? (size_t) (eol - line) : strlen(line), name_len;
                char count[24];
                char *end;

                c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 - line) - 1) : NULL;
                if (c1 && c2 && c1 < line + len) {
                        name_len = (size_t) (c1 - line);
                        if ((user && name_len == strlen(user) && strncmp(line, user, name_len) == 0) ||
                            (name_len == strlen(uid_text) && strncmp(line, uid_text, name_len) == 0)) {
                                size_t n = (size_t) (line + len - c2 - 1);

                                if (n > 0 && n < sizeof(count)) {
                                        memcpy(count, c2 + 1, n);
                                        count[n] = '\0';
                                        errno = 0;
                                        uint64_t v = strtoull(count, &end, 10);

                                        if (errno == 0 && *end == '\0' && count[0] >= '0' && count[0] <= '9')
                                                total += v;
                                }
                        }
                }
                line = eol ? eol + 1 : NULL;
        }
        return total;
}

static char *read_text(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *buf;
        ssize_t n;

        if (fd < 0)
                return NULL;
        buf = malloc(1 << 16);
        if (!buf)
                return NULL;
        n = read(fd, buf, (1 << 16) - 1);
        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

int host_check_subids(uid_t uid, host_check *ret) {
        _cleanup_free_ char *subuid = read_text("/etc/subuid"), *subgid = read_text("/etc/subgid");
        struct passwd *pw = getpwuid(uid);
        const char *user = pw ? pw->pw_name : NULL;
        uint64_t uids = subid_count(subuid, user, uid), gids = subid_count(subgid, user, uid);

        *ret = (host_check) { .name = "subids" };
        if (uids >= SUBIDS_NEEDED && gids >= SUBIDS_NEEDED)
                return set_result(ret, CHECK_OK, "%s has %" PRIu64 " subordinate uids and %" PRIu64 " gids",
                                  user ?: "you", uids, gids);
        if (set_result(ret, CHECK_FAIL,
                       "%s has %" PRIu64 " subordinate uids and %" PRIu64 " gids in /etc/subuid and /etc/subgid; "
                       "rootless podman needs %d of each",
                       user ?: "you", uids, gids, SUBIDS_NEEDED) < 0)
                return -ENOMEM;
        return set_fix(ret, "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s",
                       user ?: "$USER");
}
