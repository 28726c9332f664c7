/* The run store: $MOAT_HOME/runs/<id>/metadata.json.
 *
 * Every path below MOAT_HOME is opened relative to a directory descriptor, one component at
 * a time and with O_NOFOLLOW, from names that were validated first (a run ID is 12 hex
 * characters), so no argument and no link planted in the store can make moat read, write or
 * delete anything outside it.  MOAT_HOME itself may be a link: that is the user's choice. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-util.h"
#include "run.h"

#define RECORD_FILE "metadata.json"
/* Temporary files of an atomic save: ".metadata.json.<12 hex>"; the dot keeps them out of
 * every listing, and remove knows them as moat's own. */
#define RECORD_TEMP_PREFIX "." RECORD_FILE "."
#define LOCK_FILE ".lock"
/* A stop asked for before the run's unit could take it (moat-stop(1)). */
#define STOP_REQUEST_FILE "stop-requested"
/* How often a wait for a run's lock looks again. */
#define RUN_LOCK_POLL_USEC 10000
/* A record is a few kilobytes; anything far larger is not one. */
#define RECORD_SIZE_MAX (1024 * 1024)
/* How many runs an ambiguous or unknown RUN lists before "and N more". */
#define CANDIDATES_MAX 8

struct run_store {
        char *home;
        int home_fd;
        int runs_fd;
};


static int home_of_user(char **ret, moat_error *err) {
        const char *home = getenv("HOME");
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *result = NULL;
        long size = sysconf(_SC_GETPW_R_SIZE_MAX);
        char *copy;
        int k;

        if (home && home[0] == '/') {
                copy = strdup(home);
                if (!copy)
                        return moat_error_oom(err);
                *ret = copy;
                return 0;
        }

        if (size <= 0)
                size = 16384;
        buf = malloc((size_t) size);
        if (!buf)
                return moat_error_oom(err);
        k = getpwuid_r(getuid(), &pw, buf, (size_t) size, &result);
        if (k != 0 || !result || !pw.pw_dir || pw.pw_dir[0] != '/')
                return moat_error_set(err, k > 0 ? -k : -ENOENT,
                                      "cannot find the home directory of uid %u (HOME is not an absolute path and "
                                      "the user database has none); set MOAT_HOME to where moat should keep its runs",
                                      (unsigned) getuid());
        copy = strdup(pw.pw_dir);
        if (!copy)
                return moat_error_oom(err);
        *ret = copy;
        return 0;
}

int run_store_default_home(run_manager m, char **ret_home, moat_error *err) {
        const char *env = getenv("MOAT_HOME");
        _cleanup_free_ char *home = NULL;
        char *path;
        int k;

        if (env && env[0] != '\0') {
                /* The CLI and the monitor (which systemd starts in another directory) must
                 * agree on the store, so a relative path would be a trap. */
                if (env[0] != '/')
                        return moat_error_set(err, -EINVAL,
                                              "MOAT_HOME is '%s', which is not an absolute path; set it to one or unset it",
                                              env);
                path = strdup(env);
        } else if (m == RUN_MANAGER_SYSTEM)
                path = strdup("/var/lib/moat");
        else {
                k = home_of_user(&home, err);
                if (k < 0)
                        return k;
                if (asprintf(&path, "%s/.moat", strcmp(home, "/") == 0 ? "" : home) < 0)
                        path = NULL;
        }
        if (!path)
                return moat_error_oom(err);
        *ret_home = path;
        return 0;
}

/* After an open with O_DIRECTORY | O_NOFOLLOW failed with ENOTDIR or ELOOP: -ELOOP when
 * DIRFD/NAME is a symbolic link, -ENOTDIR when it is something else. */
static int not_dir_error(int dirfd, const char *name) {
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return -ELOOP;
        return -ENOTDIR;
}

static const char *not_dir_what(int k) {
        return k == -ELOOP ? "symbolic link" : "file";
}

/* Opens DIRFD/NAME as a directory, following a link only when FOLLOW, and creates it 0700
 * (whatever the umask) when it does not exist.  PATH is only for messages. */
static int dir_open_or_create(int dirfd, const char *name, bool follow, const char *path, int *ret_fd,
                              moat_error *err) {
        _cleanup_close_ int fd = -1;
        bool created = true;

        if (mkdirat(dirfd, name, 0700) < 0) {
                if (errno != EEXIST)
                        return moat_error_set(err, -errno,
                                              "failed to create the directory %s: %m; check that its parent exists and "
                                              "is writable, or set MOAT_HOME elsewhere",
                                              path);
                created = false;
        }
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
        if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
                int k = follow ? -ENOTDIR : not_dir_error(dirfd, name);

                return moat_error_set(err, k,
                                      "%s is not a directory but a %s; move it away so that moat can create its own",
                                      path, not_dir_what(k));
        }
        if (fd < 0)
                return moat_error_set(err, -errno, "failed to open the directory %s: %m", path);
        if (created && fchmod(fd, 0700) < 0)
                return moat_error_set(err, -errno, "failed to make %s private (mode 0700): %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void run_store_free(run_store *s) {
        if (!s)
                return;
        if (s->runs_fd >= 0)
                close(s->runs_fd);
        if (s->home_fd >= 0)
                close(s->home_fd);
        free(s->home);
        free(s);
}

int run_store_open(const char *home, run_store **ret, moat_error *err) {
        _cleanup_(run_store_freep) run_store *s = NULL;
        _cleanup_free_ char *runs = NULL;
        int k;

        if (!home || home[0] == '\0')
                return moat_error_set(err, -EINVAL, "no MOAT_HOME given; set MOAT_HOME to a directory");

        s = calloc(1, sizeof *s);
        if (!s)
                return moat_error_oom(err);
        s->home_fd = s->runs_fd = -1;
        s->home = strdup(home);
        if (!s->home || asprintf(&runs, "%s/runs", home) < 0)
                return moat_error_oom(err);

        k = dir_open_or_create(AT_FDCWD, home, true, home, &s->home_fd, err);
        if (k < 0)
                return k;
        k = dir_open_or_create(s->home_fd, "runs", false, runs, &s->runs_fd, err);
        if (k < 0)
                return k;

        *ret = TAKE_PTR(s);
        return 0;
}

const char *run_store_home(const run_store *s) {
        return s->home;
}

int run_store_lock(run_store *s, int *ret_fd, moat_error *err) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = openat(s->runs_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return moat_error_set(err, -errno, "failed to open the lock %s/runs/" LOCK_FILE ": %m; check the "
                                      "permissions of %s", s->home, s->home);
        if (fstat(fd, &st) < 0)
                return moat_error_set(err, -errno, "failed to check the lock %s/runs/" LOCK_FILE ": %m", s->home);
        if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
                return moat_error_set(err, -errno, "failed to make %s/runs/" LOCK_FILE " private (mode 0600): %m",
                                      s->home);
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return moat_error_set(err, -errno, "failed to lock %s/runs/" LOCK_FILE ": %m", s->home);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int check_id(const char *id, moat_error *err) {
        if (!run_id_valid(id))
                return moat_error_set(err, -EINVAL, "invalid run ID '%s': an ID is %d lowercase hex characters",
                                      id ? id : "", RUN_ID_LEN);
        return 0;
}

/* runs/<id>, refusing anything but a real directory. */
static int run_dir_open(run_store *s, const char *id, int *ret_fd, moat_error *err) {
        int fd = openat(s->runs_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (errno == ENOENT)
                return moat_error_set(err, -ENOENT, "there is no run %s in %s; see 'moat list'", id, s->home);
        if (errno == ELOOP || errno == ENOTDIR) {
                int k = not_dir_error(s->runs_fd, id);

                return moat_error_set(err, k,
                                      "%s/runs/%s is a %s, not a run directory moat made; moat will not touch it, "
                                      "remove it by hand",
                                      s->home, id, not_dir_what(k));
        }
        return moat_error_set(err, -errno, "failed to open %s/runs/%s: %m", s->home, id);
}

/* A new temporary file in DFD, 0600 whatever the umask; its name goes to TMP. */
static int temp_file_create(int dfd, char tmp[static sizeof RECORD_TEMP_PREFIX + RUN_ID_LEN], int *ret_fd,
                            moat_error *err) {
        _cleanup_close_ int fd = -1;
        int k;

        for (int attempt = 0; attempt < 16; attempt++) {
                char suffix[RUN_ID_LEN + 1];

                k = run_id_new(suffix, err);
                if (k < 0)
                        return k;
                memcpy(tmp, RECORD_TEMP_PREFIX, sizeof RECORD_TEMP_PREFIX - 1);
                memcpy(tmp + sizeof RECORD_TEMP_PREFIX - 1, suffix, sizeof suffix);
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
                if (fd >= 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }
        if (fd < 0)
                return -EEXIST;
        if (fchmod(fd, 0600) < 0) {
                k = -errno;
                unlinkat(dfd, tmp, 0);
                return k;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Writes JSON to a temporary file beside metadata.json and renames it over, with the fsyncs
 * that make the new record durable before and after it becomes visible. */
static int record_write_atomic(run_store *s, int dfd, const char *id, const char *json, moat_error *err) {
        char tmp[sizeof RECORD_TEMP_PREFIX + RUN_ID_LEN];
        _cleanup_close_ int fd = -1;
        int k;

        k = temp_file_create(dfd, tmp, &fd, err);
        if (k < 0)
                return moat_error_set(err, k, "failed to create a temporary file in %s/runs/%s: %s", s->home, id,
                                      strerror(-k));

        k = fd_write_all(fd, json, strlen(json));
        if (k >= 0)
                k = fd_write_all(fd, "\n", 1);
        if (k >= 0 && fsync(fd) < 0)
                k = -errno;
        if (k >= 0 && close(TAKE_FD(fd)) < 0)
                k = -errno;
        if (k >= 0 && renameat(dfd, tmp, dfd, RECORD_FILE) < 0)
                k = -errno;
        if (k < 0) {
                unlinkat(dfd, tmp, 0);
                return moat_error_set(err, k, "failed to write %s/runs/%s/" RECORD_FILE ": %s; check free space and "
                                      "permissions", s->home, id, strerror(-k));
        }
        if (fsync(dfd) < 0)
                return moat_error_set(err, -errno, "failed to flush %s/runs/%s to disk: %m", s->home, id);
        return 0;
}

int run_store_create(run_store *s, const run_record *r, int *ret_lock_fd, moat_error *err) {
        _cleanup_free_ char *json = NULL;
        _cleanup_close_ int dfd = -1;
        int k;

        k = check_id(r->id, err);
        if (k < 0)
                return k;
        /* Serialised first: an invalid record leaves nothing behind. */
        k = run_record_to_json(r, &json, err);
        if (k < 0)
                return k;

        if (mkdirat(s->runs_fd, r->id, 0700) < 0) {
                if (errno == EEXIST)
                        return moat_error_set(err, -EEXIST, "a run with ID %s already exists in %s; use a new ID",
                                              r->id, s->home);
                return moat_error_set(err, -errno, "failed to create %s/runs/%s: %m; check the permissions of %s",
                                      s->home, r->id, s->home);
        }
        k = run_dir_open(s, r->id, &dfd, err);
        if (k >= 0 && fchmod(dfd, 0700) < 0)
                k = moat_error_set(err, -errno, "failed to make %s/runs/%s private (mode 0700): %m", s->home, r->id);
        /* held before the record is readable: nobody sees the run unheld while it starts */
        if (k >= 0 && ret_lock_fd && flock(dfd, LOCK_EX | LOCK_NB) < 0)
                k = moat_error_set(err, -errno, "failed to lock %s/runs/%s: %m", s->home, r->id);
        if (k >= 0)
                k = record_write_atomic(s, dfd, r->id, json, err);
        if (k < 0) {
                unlinkat(s->runs_fd, r->id, AT_REMOVEDIR);
                return k;
        }
        if (fsync(s->runs_fd) < 0)
                return moat_error_set(err, -errno, "failed to flush %s/runs to disk: %m", s->home);
        if (ret_lock_fd)
                *ret_lock_fd = TAKE_FD(dfd);
        return 0;
}

/* runs/<ID>/ for an ID from outside. */
static int run_dir_open_checked(run_store *s, const char *id, int *ret_fd, moat_error *err) {
        int k = check_id(id, err);

        return k < 0 ? k : run_dir_open(s, id, ret_fd, err);
}

int run_store_lock_run(run_store *s, const char *id, uint64_t wait_usec, int *ret_fd, moat_error *err) {
        _cleanup_close_ int dfd = -1;
        int k;

        k = run_dir_open_checked(s, id, &dfd, err);
        if (k < 0)
                return k;
        for (uint64_t waited = 0; flock(dfd, LOCK_EX | LOCK_NB) < 0; waited += RUN_LOCK_POLL_USEC) {
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return moat_error_set(err, -errno, "failed to lock %s/runs/%s: %m", s->home, id);
                if (waited >= wait_usec)
                        return wait_usec == 0 ? -EBUSY
                                              : moat_error_set(err, -ETIMEDOUT, "run %s is still held by moat run "
                                                               "after %" PRIu64 " s", id, wait_usec / 1000000);
                usleep(RUN_LOCK_POLL_USEC);
        }
        *ret_fd = TAKE_FD(dfd);
        return 0;
}

int run_store_request_stop(run_store *s, const char *id, moat_error *err) {
        _cleanup_close_ int dfd = -1, fd = -1;
        int k;

        k = run_dir_open_checked(s, id, &dfd, err);
        if (k < 0)
                return k;
        fd = openat(dfd, STOP_REQUEST_FILE, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return moat_error_set(err, -errno, "failed to write %s/runs/%s/" STOP_REQUEST_FILE ": %m", s->home,
                                      id);
        /* durable before the caller looks for the unit: whoever starts the run reads it later */
        if (fsync(fd) < 0 || fsync(dfd) < 0)
                return moat_error_set(err, -errno, "failed to flush %s/runs/%s to disk: %m", s->home, id);
        return 0;
}

bool run_store_stop_requested(run_store *s, const char *id) {
        _cleanup_close_ int dfd = -1;

        if (!run_id_valid(id) || run_dir_open(s, id, &dfd, NULL) < 0)
                return false;
        return faccessat(dfd, STOP_REQUEST_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int run_store_save(run_store *s, const run_record *r, moat_error *err) {
        _cleanup_free_ char *json = NULL;
        _cleanup_close_ int dfd = -1;
        int k;

        k = check_id(r->id, err);
        if (k < 0)
                return k;
        k = run_record_to_json(r, &json, err);
        if (k < 0)
                return k;
        k = run_dir_open(s, r->id, &dfd, err);
        if (k < 0)
                return k;
        return record_write_atomic(s, dfd, r->id, json, err);
}

/* Reads and parses runs/<ID>/metadata.json; ID must be valid.  Lean on purpose: moat list
 * calls it for every run. */
static int record_read(run_store *s, const char *id, run_record **ret, moat_error *err) {
        _cleanup_(run_record_freep) run_record *r = NULL;
        _cleanup_close_ int dfd = -1, fd = -1;
        _cleanup_free_ char *buf = NULL;
        moat_error parse_err = {};
        size_t len = 0;
        struct stat st;
        int k;

        k = run_dir_open(s, id, &dfd, err);
        if (k < 0)
                return k;
        /* O_NONBLOCK: a FIFO planted there must not hang moat list; S_ISREG refuses it. */
        fd = openat(dfd, RECORD_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return moat_error_set(err, -ENOENT, "run %s has no record (%s/runs/%s/" RECORD_FILE " is missing); "
                                      "remove it with 'moat rm %s'", id, s->home, id, id);
        if (fd < 0)
                return moat_error_set(err, -errno, "failed to open %s/runs/%s/" RECORD_FILE ": %m", s->home, id);
        if (fstat(fd, &st) < 0)
                return moat_error_set(err, -errno, "failed to check %s/runs/%s/" RECORD_FILE ": %m", s->home, id);
        if (!S_ISREG(st.st_mode) || st.st_size > RECORD_SIZE_MAX)
                return moat_error_set(err, -EBADMSG, "%s/runs/%s/" RECORD_FILE " is not a run record; remove the run "
                                      "with 'moat rm %s'", s->home, id, id);

        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return moat_error_oom(err);
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return moat_error_set(err, -errno, "failed to read %s/runs/%s/" RECORD_FILE ": %m", s->home, id);
                if (n == 0)
                        break;
                len += (size_t) n;
        }

        k = run_record_from_json(buf, len, &r, err ? &parse_err : NULL);
        if (k == -ENOMEM) {
                moat_error_clear(&parse_err);
                return moat_error_oom(err);
        }
        if (k < 0) {
                k = moat_error_set(err, k, "%s/runs/%s/" RECORD_FILE " is damaged (%s); remove the run with 'moat rm %s'",
                                   s->home, id, err ? moat_error_message(&parse_err) : "", id);
                moat_error_clear(&parse_err);
                return k;
        }
        if (strcmp(r->id, id) != 0)
                return moat_error_set(err, -EBADMSG, "%s/runs/%s/" RECORD_FILE " is the record of run %s; remove the "
                                      "run with 'moat rm %s'", s->home, id, r->id, id);
        *ret = TAKE_PTR(r);
        return 0;
}

int run_store_load(run_store *s, const char *id, run_record **ret, moat_error *err) {
        int k;

        k = check_id(id, err);
        if (k < 0)
                return k;
        return record_read(s, id, ret, err);
}

static bool is_temp_file(const char *name) {
        return strncmp(name, RECORD_TEMP_PREFIX, sizeof RECORD_TEMP_PREFIX - 1) == 0 &&
               run_id_valid(name + sizeof RECORD_TEMP_PREFIX - 1);
}

static bool is_own_file(const char *name) {
        return strcmp(name, RECORD_FILE) == 0 || strcmp(name, STOP_REQUEST_FILE) == 0 || is_temp_file(name);
}

/* The certificates a run's proxy writes for its container, and their temporary files. */
static bool is_tls_file(const char *name) {
        static const char *const files[] = { RUN_TLS_CA, RUN_TLS_BUNDLE, "." RUN_TLS_CA ".tmp",
                                             "." RUN_TLS_BUNDLE ".tmp" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (strcmp(name, files[i]) == 0)
                        return true;
        return false;
}

/* tls/<id>, made (0755, as tls/: the container reads it, whatever user it runs as) with
 * CREATE.  Beside runs/, not in it: it must exist before the container, which comes before
 * the record. */
static int tls_dir_open(run_store *s, const char *id, bool create, int *ret_fd, moat_error *err) {
        _cleanup_close_ int top = -1;
        int fd, k;

        k = check_id(id, err);
        if (k < 0)
                return k;
        if (create && mkdirat(s->home_fd, RUN_TLS_DIR, 0755) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "failed to create %s/" RUN_TLS_DIR ": %m", s->home);
        top = openat(s->home_fd, RUN_TLS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return errno == ENOENT ? -ENOENT
                                       : moat_error_set(err, -errno, "failed to open %s/" RUN_TLS_DIR ": %m", s->home);
        if (create && mkdirat(top, id, 0755) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "failed to create %s/" RUN_TLS_DIR "/%s: %m", s->home, id);
        fd = openat(top, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT
                                       : moat_error_set(err, -errno, "failed to open %s/" RUN_TLS_DIR "/%s: %m",
                                                        s->home, id);
        if (create && (fchmod(top, 0755) < 0 || fchmod(fd, 0755) < 0)) {
                k = moat_error_set(err, -errno, "failed to set up %s/" RUN_TLS_DIR "/%s: %m", s->home, id);
                close(fd);
                return k;
        }
        *ret_fd = fd;
        return 0;
}

int run_store_tls_dir(run_store *s, const char *id, char **ret_path, moat_error *err) {
        _cleanup_close_ int fd = -1;
        int k;

        k = tls_dir_open(s, id, true, &fd, err);
        if (k < 0)
                return k;
        if (asprintf(ret_path, "%s/" RUN_TLS_DIR "/%s", s->home, id) < 0)
                return moat_error_oom(err);
        return 0;
}

int run_store_empty_dir(run_store *s, char **ret_path, moat_error *err) {
        struct stat st;

        if (mkdirat(s->home_fd, RUN_EMPTY_DIR, 0555) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "failed to create %s/" RUN_EMPTY_DIR ": %m", s->home);
        if (fstatat(s->home_fd, RUN_EMPTY_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return moat_error_set(err, -ENOTDIR, "%s/" RUN_EMPTY_DIR " is not a directory; remove it", s->home);
        if (asprintf(ret_path, "%s/" RUN_EMPTY_DIR, s->home) < 0)
                return moat_error_oom(err);
        return 0;
}

int run_store_write_tls(run_store *s, const char *id, const char *name, const char *data, size_t len,
                        moat_error *err) {
        _cleanup_close_ int dfd = -1, fd = -1;
        char tmp[64];
        int k;

        if (!is_tls_file(name) || name[0] == '.')
                return moat_error_set(err, -EINVAL, "'%s' is not a file of a run's TLS directory", name);
        k = tls_dir_open(s, id, true, &dfd, err);
        if (k < 0)
                return k;
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        (void) unlinkat(dfd, tmp, 0);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0)
                return moat_error_set(err, -errno, "failed to write %s/" RUN_TLS_DIR "/%s/%s: %m", s->home, id,
                                      name);
        k = fchmod(fd, 0644) < 0 ? -errno : fd_write_all(fd, data, len);
        if (k >= 0 && fsync(fd) < 0)
                k = -errno;
        if (k >= 0 && renameat(dfd, tmp, dfd, name) < 0)
                k = -errno;
        if (k < 0) {
                (void) unlinkat(dfd, tmp, 0);
                return moat_error_set(err, k, "failed to write %s/" RUN_TLS_DIR "/%s/%s: %s", s->home, id, name,
                                      strerror(-k));
        }
        return 0;
}

/* Empties and removes tls/<id>, refusing when it holds anything moat did not write. */
int run_store_remove_tls(run_store *s, const char *id, moat_error *err) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, k;

        k = tls_dir_open(s, id, false, &fd, err);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return moat_error_set(err, -errno, "failed to read %s/" RUN_TLS_DIR "/%s: %m", s->home, id);
        }
        while ((errno = 0, de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && !is_tls_file(de->d_name))
                        return moat_error_set(err, -ENOTEMPTY,
                                              "%s/" RUN_TLS_DIR "/%s holds '%s', which moat did not put there; "
                                              "move it away and remove the run again",
                                              s->home, id, de->d_name);
        rewinddir(d);
        while ((errno = 0, de = readdir(d)))
                if (is_tls_file(de->d_name) && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        return moat_error_set(err, -errno, "failed to remove %s/" RUN_TLS_DIR "/%s/%s: %m", s->home,
                                              id, de->d_name);
        {
                _cleanup_close_ int top = openat(s->home_fd, RUN_TLS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (top >= 0 && unlinkat(top, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return moat_error_set(err, -errno, "failed to remove %s/" RUN_TLS_DIR "/%s: %m", s->home, id);
        }
        return 0;
}

int run_store_remove(run_store *s, const char *id, moat_error *err) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int dfd, k;

        k = check_id(id, err);
        if (k < 0)
                return k;
        k = run_dir_open(s, id, &dfd, err);
        if (k < 0)
                return k;
        d = fdopendir(dfd);
        if (!d) {
                k = -errno;
                close(dfd);
                return moat_error_set(err, k, "failed to read %s/runs/%s: %s", s->home, id, strerror(-k));
        }

        /* Only what moat writes goes: the record and the leftovers of an interrupted save.
         * Anything else means someone else uses the directory, so nothing is touched. */
        while ((errno = 0, de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && !is_own_file(de->d_name))
                        return moat_error_set(err, -ENOTEMPTY,
                                              "%s/runs/%s holds '%s', which moat did not put there; move it away "
                                              "and remove the run again",
                                              s->home, id, de->d_name);
        if (errno != 0)
                return moat_error_set(err, -errno, "failed to read %s/runs/%s: %m", s->home, id);

        k = run_store_remove_tls(s, id, err);
        if (k < 0)
                return k;
        /* unlinkat() removes a link itself, never what it points to. */
        rewinddir(d);
        while ((errno = 0, de = readdir(d)))
                if (is_own_file(de->d_name) && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        return moat_error_set(err, -errno, "failed to remove %s/runs/%s/%s: %m", s->home, id,
                                              de->d_name);
        if (errno != 0)
                return moat_error_set(err, -errno, "failed to read %s/runs/%s: %m", s->home, id);

        if (unlinkat(s->runs_fd, id, AT_REMOVEDIR) < 0) {
                if (errno == ENOENT)
                        return 0; /* removed under us: the same end */
                return moat_error_set(err, -errno, "failed to remove %s/runs/%s: %m", s->home, id);
        }
        return 0;
}

void run_records_free(run_record **list, size_t n) {
        if (!list)
                return;
        for (size_t i = 0; i < n; i++)
                run_record_free(list[i]);
        free(list);
}

static int record_compare_newest_first(const void *a, const void *b) {
        const run_record *x = *(run_record *const *) a, *y = *(run_record *const *) b;

        if (x->created_at != y->created_at)
                return x->created_at < y->created_at ? 1 : -1;
        return strcmp(x->id, y->id);
}

int run_store_list(run_store *s, run_record ***ret, size_t *ret_n, moat_error *err) {
        _cleanup_(closedirp) DIR *d = NULL;
        run_record **list = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int fd, k = 0;

        /* A descriptor of our own: readdir on a dup of runs_fd would share its offset. */
        fd = openat(s->runs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return moat_error_set(err, -errno, "failed to open %s/runs: %m", s->home);
        d = fdopendir(fd);
        if (!d) {
                k = -errno;
                close(fd);
                return moat_error_set(err, k, "failed to read %s/runs: %s", s->home, strerror(-k));
        }

        while ((errno = 0, de = readdir(d))) {
                run_record *r = NULL;

                if (!run_id_valid(de->d_name) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                if (n == allocated) {
                        size_t grown = allocated ? allocated * 2 : 64;
                        run_record **bigger = realloc(list, grown * sizeof *list);

                        if (!bigger) {
                                k = moat_error_oom(err);
                                break;
                        }
                        list = bigger;
                        allocated = grown;
                }
                /* An unreadable record is skipped: one damaged run must not hide the rest. */
                k = record_read(s, de->d_name, &r, NULL);
                if (k == -ENOMEM) {
                        k = moat_error_oom(err);
                        break;
                }
                k = 0;
                if (r)
                        list[n++] = r;
        }
        if (k == 0 && errno != 0)
                k = moat_error_set(err, -errno, "failed to read %s/runs: %m", s->home);
        if (k < 0) {
                run_records_free(list, n);
                return k;
        }

        if (n > 1)
                qsort(list, n, sizeof *list, record_compare_newest_first);
        *ret = list;
        *ret_n = n;
        return 0;
}

static bool is_id_prefix(const char *s) {
        size_t n = strspn(s, "0123456789abcdef");

        return n > 0 && n <= RUN_ID_LEN && s[n] == '\0';
}

/* "brave-otter (ab12cd34ef56), calm-fox (ab99aa00bb11) and 3 more": the runs of LIST whose
 * index is in WHICH. */
static char *candidates_format(run_record **list, const size_t *which, size_t n) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n && i < CANDIDATES_MAX; i++) {
                const run_record *r = list[which[i]];

                if (i > 0)
                        fputs(", ", f);
                if (r->name)
                        fprintf(f, "%s (%s)", r->name, r->id);
                else
                        fputs(r->id, f);
        }
        if (n > CANDIDATES_MAX)
                fprintf(f, " and %zu more", n - CANDIDATES_MAX);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

static int resolve_ambiguous(const char *run, run_record **list, const size_t *which, size_t n, bool by_name,
                             moat_error *err) {
        _cleanup_free_ char *candidates = candidates_format(list, which, n);

        if (!candidates)
                return moat_error_oom(err);
        return moat_error_set(err, -EEXIST, "run '%s' is ambiguous: it matches %s; %s", run, candidates,
                              by_name ? "use the run's ID instead" : "use more of the ID");
}

static int resolve_unknown(run_store *s, const char *run, run_record **list, size_t n, moat_error *err) {
        _cleanup_free_ size_t *which = NULL;
        _cleanup_free_ char *candidates = NULL;

        if (n == 0)
                return moat_error_set(err, -ENOENT, "there is no run '%s': %s has no runs", run, s->home);
        /* The newest runs: likelier to be the one meant than the oldest. */
        which = calloc(n, sizeof *which);
        if (!which)
                return moat_error_oom(err);
        for (size_t i = 0; i < n; i++)
                which[i] = i;
        candidates = candidates_format(list, which, n);
        if (!candidates)
                return moat_error_oom(err);
        return moat_error_set(err, -ENOENT, "there is no run '%s'; known runs are %s; see 'moat list'", run,
                              candidates);
}

/* The run of LIST that RUN names, taken out of LIST. */
static int resolve_in_list(run_store *s, const char *run, bool prefix, run_record **list, size_t n,
                           run_record **ret, moat_error *err) {
        _cleanup_free_ size_t *matches = NULL;
        size_t n_matches = 0;
        bool by_name = true;

        matches = calloc(n > 0 ? n : 1, sizeof *matches);
        if (!matches)
                return moat_error_oom(err);
        for (size_t i = 0; i < n; i++)
                if (list[i]->name && strcmp(list[i]->name, run) == 0)
                        matches[n_matches++] = i;
        if (n_matches == 0 && prefix) {
                by_name = false;
                for (size_t i = 0; i < n; i++)
                        if (strncmp(list[i]->id, run, strlen(run)) == 0)
                                matches[n_matches++] = i;
        }

        if (n_matches > 1)
                return resolve_ambiguous(run, list, matches, n_matches, by_name, err);
        if (n_matches == 0)
                return resolve_unknown(s, run, list, n, err);
        *ret = TAKE_PTR(list[matches[0]]);
        return 0;
}

/* The order: a full ID, then an exact name, then a unique ID prefix, as docker does: a name
 * someone chose wins over an ID prefix that happens to spell it. */
int run_store_resolve(run_store *s, const char *run, run_record **ret, moat_error *err) {
        run_record **list = NULL;
        size_t n = 0;
        bool prefix;
        int k;

        if (!run || run[0] == '\0')
                return moat_error_set(err, -EINVAL, "no run given; name one by its ID, a unique ID prefix or its name");
        prefix = is_id_prefix(run);
        if (!prefix && !run_name_valid(run))
                return moat_error_set(err, -EINVAL, "invalid run '%s': give a run ID (lowercase hex), a unique ID "
                                      "prefix or a run name; see 'moat list'", run);

        if (run_id_valid(run)) {
                moat_error id_err = {};

                k = record_read(s, run, ret, &id_err);
                if (k < 0 && k != -ENOENT && id_err.code != 0)
                        moat_error_set(err, k, "%s", moat_error_message(&id_err));
                moat_error_clear(&id_err);
                /* -ENOENT: not an ID after all; it may still be a name. */
                if (k != -ENOENT)
                        return k;
        }

        k = run_store_list(s, &list, &n, err);
        if (k < 0)
                return k;
        k = resolve_in_list(s, run, prefix, list, n, ret, err);
        run_records_free(list, n);
        return k;
}

int run_store_name_taken(run_store *s, const char *name, moat_error *err) {
        run_record **list = NULL;
        size_t n = 0;
        bool taken = false;
        int k;

        if (!run_name_valid(name))
                return moat_error_set(err, -EINVAL, "invalid run name '%s': use 1 to 63 lowercase letters, digits, "
                                      "'_', '.' and '-', starting with a letter or digit", name ? name : "");
        k = run_store_list(s, &list, &n, err);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n && !taken; i++)
                taken = list[i]->name && strcmp(list[i]->name, name) == 0;
        run_records_free(list, n);
        return taken;
}
