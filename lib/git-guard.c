#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-util.h"
#include "git-guard.h"

#define GIT_CONFIG_MAX (1 << 20)
#define GIT_COMMONDIR "commondir"
#define GIT_COMMONDIR_REFUSED "commondir.moat-refused"

void git_guard_mounts_free(git_guard_mount *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(m[i].path);
        free(m);
}

static int add(git_guard_mount **m, size_t *n, const char *path, bool read_only) {
        git_guard_mount *more = realloc(*m, (*n + 1) * sizeof(**m));

        if (!more)
                return -ENOMEM;
        *m = more;
        more[*n] = (git_guard_mount) { .path = strdup(path), .read_only = read_only };
        if (!more[*n].path)
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Whether WORKSPACE/.git/config turns on extensions.worktreeConfig (then git reads
 * config.worktree too).  A textual look: a false yes only protects a file more. */
static bool reads_worktree_config(int gitfd) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = openat(gitfd, "config", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t len;
        char path[64];

        if (fd < 0)
                return false;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return file_read_all(path, GIT_CONFIG_MAX, &text, &len) >= 0 && strcasestr(text, "worktreeconfig");
}

/* Lstat of .git/NAME: 1 when it is there (not a link), 0 when missing. */
static int entry(int gitfd, const char *name, mode_t type, moat_error *err) {
        struct stat st;

        if (fstatat(gitfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : moat_error_set(err, -errno, "cannot read .git/%s: %s", name, strerror(errno));
        if (S_ISLNK(st.st_mode) || (st.st_mode & S_IFMT) != type)
                return moat_error_set(err, -ELOOP,
                                      ".git/%s in the workspace is a symbolic link or of an unexpected type, so moat "
                                      "cannot keep it out of the container's reach; make it a plain %s",
                                      name, type == S_IFDIR ? "directory" : "file");
        return 1;
}

int git_guard_plan(const char *workspace, git_guard_mount **ret, size_t *ret_n, moat_error *err) {
        _cleanup_close_ int wsfd = open(workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC), gitfd = -1;
        git_guard_mount *m = NULL;
        size_t n = 0;
        struct stat st;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (wsfd < 0)
                return moat_error_set(err, -errno, "cannot open the workspace '%s': %s", workspace, strerror(errno));
        if (fstatat(wsfd, ".git", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : moat_error_set(err, -errno, "cannot read %s/.git: %s", workspace, strerror(errno));
        if (S_ISREG(st.st_mode)) /* "gitdir: ...": the git directory is elsewhere */
                return add(ret, ret_n, ".git", true) < 0 ? moat_error_set(err, -ENOMEM, "out of memory") : 0;
        if (!S_ISDIR(st.st_mode))
                return moat_error_set(err, -ELOOP,
                                      "%s/.git is a symbolic link, so moat cannot keep the host's git out of the "
                                      "container's reach; replace it with the directory it points to",
                                      workspace);
        gitfd = openat(wsfd, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (gitfd < 0)
                return moat_error_set(err, -errno, "cannot open %s/.git: %s", workspace, strerror(errno));

        /* a repository's own .git never has one; it would send git to another directory's
         * config and hooks (only a linked worktree's git directory has it) */
        if (faccessat(gitfd, GIT_COMMONDIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return moat_error_set(err, -ELOOP,
                                      "%s/.git/" GIT_COMMONDIR " sends git to the config and hooks of another "
                                      "directory, which the container could write; remove it (a repository's own "
                                      ".git has none)",
                                      workspace);
        r = entry(gitfd, "hooks", S_IFDIR, err);
        if (r == 0 && mkdirat(gitfd, "hooks", 0755) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "cannot make %s/.git/hooks: %s", workspace, strerror(errno));
        if (r < 0)
                return r;
        r = entry(gitfd, "config", S_IFREG, err);
        if (r < 0)
                return r;
        if (r == 0) {
                _cleanup_close_ int fd = openat(gitfd, "config", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

                if (fd < 0 && errno != EEXIST)
                        return moat_error_set(err, -errno, "cannot make %s/.git/config: %s", workspace, strerror(errno));
        }
        r = entry(gitfd, "config.worktree", S_IFREG, err);
        if (r < 0)
                return r;
        if (r == 0 && reads_worktree_config(gitfd)) {
                _cleanup_close_ int fd = openat(gitfd, "config.worktree", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

                if (fd < 0 && errno != EEXIST)
                        return moat_error_set(err, -errno, "cannot make %s/.git/config.worktree: %s", workspace,
                                              strerror(errno));
                r = 1;
        }
        if (add(&m, &n, ".git", false) < 0 || add(&m, &n, ".git/hooks", true) < 0 ||
            add(&m, &n, ".git/config", true) < 0 || (r > 0 && add(&m, &n, ".git/config.worktree", true) < 0)) {
                git_guard_mounts_free(m, n);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

int git_guard_sweep(const char *workspace, char **ret_message) {
        _cleanup_close_ int wsfd = open(workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC), gitfd = -1;

        *ret_message = NULL;
        if (wsfd < 0)
                return 0;
        gitfd = openat(wsfd, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (gitfd < 0 || faccessat(gitfd, GIT_COMMONDIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (renameat(gitfd, GIT_COMMONDIR, gitfd, GIT_COMMONDIR_REFUSED) < 0)
                return asprintf(ret_message,
                                "the run wrote %s/.git/" GIT_COMMONDIR ", which sends the host's git to config and "
                                "hooks it could write, and moat cannot move it aside (%s): remove it before using git "
                                "there",
                                workspace, strerror(errno)) < 0 ? -ENOMEM : 1;
        return asprintf(ret_message,
                        "the run wrote %s/.git/" GIT_COMMONDIR ", which would send the host's git to config and hooks "
                        "it could write; moved it to .git/" GIT_COMMONDIR_REFUSED,
                        workspace) < 0 ? -ENOMEM : 1;
}
