#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-util.h"
#include "git-cli.h"
#include "git-guard.h"
#include "strv.h"

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
        int r, worktrees;

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
        /* every submodule's git directory (its config and hooks): git inside cannot change
         * a submodule, nor add one there */
        r = entry(gitfd, "modules", S_IFDIR, err);
        if (r == 0 && mkdirat(gitfd, "modules", 0755) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "cannot make %s/.git/modules: %s", workspace, strerror(errno));
        if (r < 0)
                return r;
        /* linked worktrees' git directories (their config.worktree), when there are any */
        worktrees = entry(gitfd, "worktrees", S_IFDIR, err);
        if (worktrees < 0)
                return worktrees;
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
            add(&m, &n, ".git/config", true) < 0 || add(&m, &n, ".git/modules", true) < 0 ||
            (worktrees > 0 && add(&m, &n, ".git/worktrees", true) < 0) ||
            (r > 0 && add(&m, &n, ".git/config.worktree", true) < 0)) {
                git_guard_mounts_free(m, n);
                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

/* Moves DIR/NAME aside to NAME.moat-refused (or .1 ... .9 when that is taken); 0 when
 * there was nothing, 1 when moved (*ret_to its new name), else a negative errno. */
static int move_aside(int dirfd, const char *name, char **ret_to) {
        struct stat st;

        *ret_to = NULL;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        for (int i = 0; i < 10; i++) {
                _cleanup_free_ char *to = NULL;

                if ((i == 0 ? asprintf(&to, "%s.moat-refused", name) : asprintf(&to, "%s.moat-refused.%d", name, i)) < 0)
                        return -ENOMEM;
                if (renameat2(dirfd, name, dirfd, to, RENAME_NOREPLACE) == 0) {
                        *ret_to = TAKE_PTR(to);
                        return 1;
                }
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

/* Says in *MESSAGES that WHERE/NAME was left by the run and what became of it. */
static int tell(char ***messages, const char *where, const char *name, const char *what, int moved, const char *to) {
        char *m;
        int r;

        if (moved > 0)
                r = asprintf(&m, "the run left %s/%s, %s; moved it to %s", where, name, what, to);
        else
                r = asprintf(&m, "the run left %s/%s, %s, and moat cannot move it aside (%s): remove it before using "
                                 "git there",
                             where, name, what, strerror(-moved));
        if (r < 0 || strv_push(messages, m) < 0)
                return -ENOMEM;
        return 1;
}

int git_guard_sweep(const char *workspace, char ***messages) {
        _cleanup_close_ int wsfd = open(workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC), gitfd = -1;
        _cleanup_free_ char *to = NULL;
        int r;

        if (wsfd < 0)
                return 0;
        gitfd = openat(wsfd, ".git", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (gitfd < 0)
                return 0;
        r = move_aside(gitfd, GIT_COMMONDIR, &to);
        if (r == 0)
                return 0;
        return tell(messages, workspace, ".git/" GIT_COMMONDIR, "which would send the host's git to config and hooks it could write", r, to);
}

/* Config a repository of the run's making may keep: what git needs to read it and names where
 * it came from; nothing that makes git run a program, or read another file.  Every other key
 * sets the file aside. */
static bool plain_config_key(const char *key) {
        static const char *const keys[] = {
                "core.repositoryformatversion", "core.filemode", "core.bare", "core.logallrefupdates",
                "core.ignorecase", "core.precomposeunicode", "core.symlinks", "core.worktree", "core.autocrlf",
                "core.eol", "extensions.objectformat", "extensions.worktreeconfig", "init.defaultbranch",
                "user.name", "user.email", "gc.auto", "pull.rebase", "fetch.prune",
        };
        /* SECTION.<name>.KEY */
        static const char *const subkeys[][2] = {
                { "remote", "url" },    { "remote", "fetch" },  { "remote", "pushurl" }, { "branch", "remote" },
                { "branch", "merge" },  { "branch", "rebase" }, { "submodule", "url" },  { "submodule", "active" },
        };
        const char *dot = strchr(key, '.'), *last = strrchr(key, '.');

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcasecmp(key, keys[i]) == 0)
                        return true;
        if (!dot || last == dot)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(subkeys); i++)
                if ((size_t) (dot - key) == strlen(subkeys[i][0]) && strncasecmp(key, subkeys[i][0], dot - key) == 0 &&
                    strcasecmp(last + 1, subkeys[i][1]) == 0)
                        return true;
        return false;
}

bool git_config_keys_plain(const char *names, size_t len) {
        for (const char *k = names; k < names + len; k += strlen(k) + 1)
                if (*k && !plain_config_key(k))
                        return false;
        return true;
}

/* Whether config file NAME in the git directory DIRFD (at PATH) holds only plain keys. */
static bool config_is_plain(int dirfd, const char *path, const char *name) {
        _cleanup_free_ char *file = NULL, *names = NULL;
        struct stat st;
        size_t len;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return true; /* none */
        if (!S_ISREG(st.st_mode) || asprintf(&file, "%s/%s", path, name) < 0)
                return false;
        /* from /, where git finds no repository whose config it would read first */
        return git_capture("/", (const char *const[]) { "config", "--file", file, "--no-includes", "--name-only", "--list", "-z", NULL },
                           &names, &len) == 0 &&
               git_config_keys_plain(names, len);
}

/* Whether hooks/ of DIRFD holds nothing but git's samples. */
static bool hooks_are_samples(int dirfd) {
        _cleanup_close_ int fd = openat(dirfd, "hooks", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        DIR *d;
        struct dirent *e;
        bool samples = true;

        if (fd < 0)
                return errno == ENOENT || (fstatat(dirfd, "hooks", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
        d = fdopendir(TAKE_FD(fd));
        if (!d)
                return false;
        while (samples && (e = readdir(d))) {
                size_t n = strlen(e->d_name);

                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
                    (n < 7 || strcmp(e->d_name + n - 7, ".sample") != 0))
                        samples = false;
        }
        closedir(d);
        return samples;
}

/* A submodule's git directory GITDIR (resolved, inside the workspace, written by the run):
 * what the host's git would run from it goes aside. */
static int sweep_gitdir(const char *gitdir, char ***messages) {
        _cleanup_close_ int fd = open(gitdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        static const struct {
                const char *name, *what;
        } checks[] = {
                { "config", "config that makes git run programs or read other files" },
                { "config.worktree", "config that makes git run programs or read other files" },
                { "hooks", "hooks the host's git would run" },
                { GIT_COMMONDIR, "which would send the host's git to config and hooks it could write" },
        };
        int found = 0;

        if (fd < 0)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                _cleanup_free_ char *to = NULL;
                bool safe = i < 2 ? config_is_plain(fd, gitdir, checks[i].name) : i == 2 ? hooks_are_samples(fd) : false;
                int r;

                if (safe)
                        continue;
                r = move_aside(fd, checks[i].name, &to);
                if (r == 0)
                        continue;
                if (tell(messages, gitdir, checks[i].name, checks[i].what, r, to) < 0)
                        return -ENOMEM;
                found = 1;
        }
        return found;
}

/* Whether PATH is TOP or below it. */
static bool path_within(const char *path, const char *top) {
        size_t n = strlen(top);

        return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether GITDIR is one the container could not change: TOP's own, or one under its
 * .git/modules or .git/worktrees, which were mounted read-only (git_guard_plan). */
static bool gitdir_protected(const char *top, const char *gitdir) {
        static const char *const under[] = { "/.git/modules", "/.git/worktrees" };
        size_t n = strlen(top);

        if (strncmp(gitdir, top, n) != 0)
                return false;
        if (strcmp(gitdir + n, "/.git") == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(under); i++) {
                size_t k = strlen(under[i]);

                if (strncmp(gitdir + n, under[i], k) == 0 && gitdir[n + k] == '/')
                        return true;
        }
        return false;
}

#define SUBMODULE_DEPTH_MAX 4

/* The submodules (gitlinks) of the repository at DIR, recursively: each one's git directory
 * inside the workspace TOP that the run could write is swept. */
static int sweep_submodules(const char *top, const char *dir, unsigned depth, char ***messages) {
        _cleanup_free_ char *list = NULL;
        size_t len;
        int found = 0, r;

        if (depth > SUBMODULE_DEPTH_MAX)
                return 0;
        if (git_capture(dir, (const char *const[]) { "ls-files", "--stage", "-z", NULL }, &list, &len) != 0)
                return 0; /* not a repository, or no git: the host's git has nothing to run either */
        for (const char *e = list; e < list + len; e += strlen(e) + 1) {
                _cleanup_free_ char *sub = NULL, *sub_real = NULL, *dotgit = NULL, *gitdir = NULL, *gitdir_real = NULL;
                const char *path = strchr(e, '\t');

                if (strncmp(e, "160000 ", 7) != 0 || !path)
                        continue;
                if (asprintf(&sub, "%s/%s", dir, path + 1) < 0 || asprintf(&dotgit, "%s/.git", sub) < 0)
                        return -ENOMEM;
                sub_real = realpath(sub, NULL);
                if (!sub_real || !path_within(sub_real, top))
                        continue;
                if (git_capture(top, (const char *const[]) { "rev-parse", "--resolve-git-dir", dotgit, NULL }, &gitdir, NULL) != 0)
                        continue; /* not populated: nothing for git to look into */
                gitdir[strcspn(gitdir, "\n")] = '\0';
                gitdir_real = realpath(gitdir, NULL);
                /* outside the workspace the run could not write it; the workspace's own and what
                 * is under .git/modules and .git/worktrees were read-only */
                if (!gitdir_real || !path_within(gitdir_real, top) || gitdir_protected(top, gitdir_real))
                        continue;
                r = sweep_gitdir(gitdir_real, messages);
                if (r < 0)
                        return r;
                found |= r;
                r = sweep_submodules(top, sub_real, depth + 1, messages);
                if (r < 0)
                        return r;
                found |= r;
        }
        return found;
}

int git_guard_sweep_submodules(const char *workspace, char ***messages) {
        _cleanup_free_ char *top = realpath(workspace, NULL);

        return top ? sweep_submodules(top, top, 1, messages) : 0;
}
