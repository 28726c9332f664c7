#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idmap-mount.h"
#include "macro.h"

/* The highest id a map may name: (uid_t) -1 is "no id". */
#define ID_LAST 4294967294U

int idmap_swap_map(uint32_t a, uint32_t b, char *buf, size_t size) {
        uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
        struct {
                uint32_t inside, outside, count;
        } e[5];
        size_t n = 0, len = 0;

        if (a > ID_LAST || b > ID_LAST)
                return -EINVAL;
        if (a == b)
                e[n++] = (typeof(e[0])) { 0, 0, ID_LAST + 1U };
        else {
                e[n++] = (typeof(e[0])) { a, b, 1 };
                e[n++] = (typeof(e[0])) { b, a, 1 };
                /* the ranges below, between and above the two, unchanged */
                if (lo > 0)
                        e[n++] = (typeof(e[0])) { 0, 0, lo };
                if (hi - lo > 1)
                        e[n++] = (typeof(e[0])) { lo + 1, lo + 1, hi - lo - 1 };
                if (hi < ID_LAST)
                        e[n++] = (typeof(e[0])) { hi + 1, hi + 1, ID_LAST - hi };
        }
        for (size_t i = 0; i < n; i++) {
                int k = snprintf(buf + len, size - len, "%u %u %u\n", e[i].inside, e[i].outside, e[i].count);

                if (k < 0 || (size_t) k >= size - len)
                        return -ENOBUFS;
                len += (size_t) k;
        }
        return 0;
}

static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(text);

        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t) len)
                return -errno ?: -EIO;
        return 0;
}

/* A user namespace that swaps the two pairs of ids: a child made in it writes nothing and
 * waits, its maps are written from here, and its namespace outlives it through the fd. */
static int userns_swap(uid_t caller_uid, gid_t caller_gid, uid_t uid, gid_t gid) {
        char uid_map[256], gid_map[256], path[64];
        int ready[2], fd, r;
        pid_t pid;

        if (idmap_swap_map(caller_uid, uid, uid_map, sizeof(uid_map)) < 0 ||
            idmap_swap_map(caller_gid, gid, gid_map, sizeof(gid_map)) < 0)
                return -EINVAL;
        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(ready[0]);
                safe_close(ready[1]);
                return r;
        }
        if (pid == 0) {
                char c;

                safe_close(ready[1]);
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                /* the parent learns that the namespace exists when we stop reading */
                (void) !read(ready[0], &c, 1);
                _exit(0);
        }
        safe_close(ready[0]);
        /* until the child has unshared, /proc/PID/ns/user is the parent's: wait for a change */
        for (int i = 0; i < 2000; i++) {
                char self[64], child[64];
                ssize_t a = readlink("/proc/self/ns/user", self, sizeof(self) - 1);
                ssize_t b;

                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
                b = readlink(path, child, sizeof(child) - 1);
                if (a > 0 && b > 0 && (a != b || memcmp(self, child, (size_t) a) != 0))
                        break;
                usleep(500);
        }
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) pid);
        r = write_file(path, uid_map);
        if (r >= 0) {
                snprintf(path, sizeof(path), "/proc/%d/gid_map", (int) pid);
                r = write_file(path, gid_map);
        }
        fd = -1;
        if (r >= 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        safe_close(ready[1]);
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        return r < 0 ? r : fd;
}

static int mkdir_private(const char *path) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int idmap_mount_swap(const char *id, const char *name, const char *source, uid_t caller_uid, gid_t caller_gid,
                     uid_t agent_uid, gid_t agent_gid, char **ret_path, moat_error *err) {
        _cleanup_close_ int userns = -1, tree = -1;
        _cleanup_free_ char *dir = NULL, *target = NULL;
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
        int r;

        if (asprintf(&dir, IDMAP_MOUNT_DIR "/%s", id) < 0 || asprintf(&target, "%s/%s", dir, name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if ((r = mkdir_private("/run/moat")) < 0 || (r = mkdir_private(IDMAP_MOUNT_DIR)) < 0 ||
            (r = mkdir_private(dir)) < 0 || (r = mkdir_private(target)) < 0)
                return moat_error_set(err, r, "cannot create %s: %s", target, strerror(-r));
        userns = userns_swap(caller_uid, caller_gid, agent_uid, agent_gid);
        if (userns < 0)
                return moat_error_set(err, userns, "cannot make a user namespace to map %s for the agent: %s", source,
                                      strerror(-userns));
        tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return moat_error_set(err, -errno, "cannot clone the mount of %s: %s", source, strerror(errno));
        attr.userns_fd = (uint64_t) userns;
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return moat_error_set(err, -errno,
                                      "cannot map %s for the agent's user: %s (its filesystem needs idmapped mounts, "
                                      "Linux 5.12 or later)",
                                      source, strerror(errno));
        if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return moat_error_set(err, -errno, "cannot mount %s at %s: %s", source, target, strerror(errno));
        *ret_path = TAKE_PTR(target);
        return 0;
}

int idmap_mounts_remove(const char *id) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (asprintf(&dir, IDMAP_MOUNT_DIR "/%s", id) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                /* detached: a container that still holds it keeps its own copy */
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && r == 0)
                        r = -errno;
                if (rmdir(path) < 0 && r == 0)
                        r = -errno;
        }
        if (rmdir(dir) < 0 && r == 0)
                r = -errno;
        return r;
}
