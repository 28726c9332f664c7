#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-state.h"
#include "file-util.h"
#include "git-cli.h"
#include "git-run.h"
#include "macro.h"
#include "run-branch.h"
#include "strv.h"

#define NAME_MAX_LEN 100
#define WORKTREES_DIR "worktrees"
#define BASES_DIR "bases"
#define REPO_FILE "repo"
#define SMALL_FILE_MAX 4096

bool run_branch_name_valid(const char *name) {
        size_t len;

        if (!name)
                return false;
        len = strlen(name);
        if (len == 0 || len > NAME_MAX_LEN)
                return false;
        if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
              (name[0] >= '0' && name[0] <= '9')))
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr("._-", *c)))
                        return false;
        if (strstr(name, "..") || name[len - 1] == '.')
                return false;
        return !(len >= 5 && strcmp(name + len - 5, ".lock") == 0);
}

int git_status_count(const char *data, size_t len, size_t *ret) {
        size_t n = 0, i = 0;

        while (i < len) {
                const char *entry = data + i, *end = memchr(entry, '\0', len - i);

                /* "XY PATH": two status letters, a space, a path */
                if (!end || end - entry < 4 || entry[2] != ' ')
                        return -EBADMSG;
                i = (size_t) (end - data) + 1;
                /* a rename or a copy: the source path follows as an entry of its own */
                if (entry[0] == 'R' || entry[0] == 'C' || entry[1] == 'R' || entry[1] == 'C') {
                        end = i < len ? memchr(data + i, '\0', len - i) : NULL;
                        if (!end || end == data + i)
                                return -EBADMSG;
                        i = (size_t) (end - data) + 1;
                }
                n++;
        }
        *ret = n;
        return 0;
}

/* What to set KEY ("section.sub.section.var", section and var lowercase as git lists them)
 * to, so that it runs or reads nothing; NULL when it is harmless. */
static const char *disarmed_value(const char *key) {
        static const char *const empty_keys[] = {
                "core.sshcommand", "core.pager",    "core.editor", "core.askpass", "core.gitproxy",
                "core.alternaterefscommand", "sequence.editor", "gpg.program", "diff.external",
                "credential.helper", "core.fsmonitor", "core.hookspath",
        };
        const char *dot = strchr(key, '.'), *last = strrchr(key, '.');
        size_t section_len;

        if (strcmp(key, "core.fsmonitor") == 0)
                return "false";
        if (strcmp(key, "core.hookspath") == 0)
                return "/dev/null";
        for (size_t i = 0; i < ELEMENTSOF(empty_keys); i++)
                if (strcmp(key, empty_keys[i]) == 0)
                        return "";
        if (!dot || dot == last)
                return NULL;
        section_len = (size_t) (dot - key);
        /* SECTION.SUBSECTION.VAR */
        if (section_len == 6 && strncmp(key, "filter", 6) == 0)
                return strcmp(last, ".required") == 0 ? "false" : "";
        if (section_len == 4 && strncmp(key, "diff", 4) == 0 &&
            (strcmp(last, ".command") == 0 || strcmp(last, ".textconv") == 0))
                return "";
        if (section_len == 5 && strncmp(key, "merge", 5) == 0 && strcmp(last, ".driver") == 0)
                return "";
        if (section_len == 10 && strncmp(key, "credential", 10) == 0 && strcmp(last, ".helper") == 0)
                return "";
        if (section_len == 3 && strncmp(key, "gpg", 3) == 0 && strcmp(last, ".program") == 0)
                return "";
        return NULL;
}

int git_config_disarm(const char *data, size_t len, char ***args) {
        size_t i = 0;

        while (i < len) {
                const char *entry = data + i, *end = memchr(entry, '\0', len - i), *nl;
                _cleanup_free_ char *key = NULL;
                const char *value;

                if (!end || end == entry)
                        return -EBADMSG;
                i = (size_t) (end - data) + 1;
                /* "KEY\nVALUE", or "KEY" alone for a key without a value */
                nl = memchr(entry, '\n', (size_t) (end - entry));
                key = strndup(entry, nl ? (size_t) (nl - entry) : (size_t) (end - entry));
                if (!key)
                        return -ENOMEM;
                if (!*key || strchr(key, '=') == key)
                        return -EBADMSG;
                value = disarmed_value(key);
                if (value && (strv_push(args, strdup(key)) < 0 || strv_push(args, strdup(value)) < 0))
                        return -ENOMEM;
        }
        return 0;
}

void run_branch_done(run_branch *b) {
        free(b->name);
        free(b->repo);
        free(b->objects);
        free(b->key_dir);
        free(b->checkout);
        free(b->base);
        *b = (run_branch) {};
}

/* A small text file's first line, or NULL. */
static char *read_line_file(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len;

        if (asprintf(&path, "%s/%s", dir, name) < 0 || file_read_all(path, SMALL_FILE_MAX, &text, &len) < 0)
                return NULL;
        text[strcspn(text, "\n")] = '\0';
        return *text ? strdup(text) : NULL;
}

/* Writes TEXT as DIRFD/NAME whole (a temporary file renamed over it), never through a link. */
static int write_file_at(int dirfd, const char *name, const char *text) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = strlen(text);

        if (asprintf(&tmp, ".%s.moat-tmp", name) < 0)
                return -ENOMEM;
        (void) unlinkat(dirfd, tmp, 0);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t) len || renameat(dirfd, tmp, dirfd, name) < 0) {
                int r = -errno ?: -EIO;

                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 0;
}

/* Opens the directory PATH/REL..., every component below PATH a real directory, no link. */
static int open_dir_below(const char *path, const char *const *rel) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        for (; fd >= 0 && *rel; rel++) {
                int next = openat(fd, *rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                safe_close(fd);
                fd = next;
        }
        return fd < 0 ? -errno : fd;
}

/* The checkout borrows OBJECTS: its alternates say so, whatever the agent wrote there. */
static int set_alternates(const char *checkout, const char *objects, moat_error *err) {
        static const char *const info[] = { ".git", "objects", "info", NULL };
        _cleanup_close_ int fd = open_dir_below(checkout, info);
        _cleanup_free_ char *text = NULL;
        int r;

        if (fd == -ENOENT) {
                static const char *const objs[] = { ".git", "objects", NULL };
                _cleanup_close_ int ofd = open_dir_below(checkout, objs);

                if (ofd >= 0 && mkdirat(ofd, "info", 0755) < 0 && errno != EEXIST)
                        return moat_error_set(err, -errno, "cannot set the alternates of %s: %s", checkout,
                                              strerror(errno));
                fd = open_dir_below(checkout, info);
        }
        if (fd < 0)
                return moat_error_set(err, fd,
                                      "the checkout %s has no .git/objects/info directory of its own (%s): remove it "
                                      "with 'moat branches rm'",
                                      checkout, strerror(-fd));
        if (asprintf(&text, "%s\n", objects) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = write_file_at(fd, "alternates", text);
        if (r < 0)
                return moat_error_set(err, r, "cannot set the alternates of %s: %s", checkout, strerror(-r));
        return 0;
}

/* git in the user's repository REPO, which is the user's own (its config included). */
static int repo_git(const char *repo, char *const *argv, const char *what, char **ret, moat_error *err) {
        _cleanup_(strv_freep) char **full = NULL;
        static char *const env[] = { (char *) "GIT_TERMINAL_PROMPT=0", (char *) "GIT_PAGER=cat", NULL };

        /* what moat does there runs no hook of it and no fsmonitor */
        if (strv_push(&full, strdup("-c")) < 0 || strv_push(&full, strdup("core.hooksPath=/dev/null")) < 0 ||
            strv_push(&full, strdup("-c")) < 0 || strv_push(&full, strdup("core.fsmonitor=false")) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        for (char *const *a = argv; *a; a++)
                if (strv_push(&full, strdup(*a)) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
        return git_run(repo, full, env, what, ret, NULL, err);
}

int run_branch_plan(const char *moat_home, const char *workspace, const char *name, run_branch *ret,
                    moat_error *err) {
        char *argv[] = { (char *) "rev-parse", (char *) "--path-format=absolute", (char *) "--show-toplevel",
                         (char *) "--git-common-dir", NULL };
        _cleanup_(run_branch_done) run_branch b = {};
        _cleanup_free_ char *out = NULL, *key = NULL, *objects = NULL, *bases = NULL;
        char *nl;
        int r;

        if (!run_branch_name_valid(name))
                return moat_error_set(err, -EINVAL,
                                      "invalid branch name '%s': use 1-100 of A-Z, a-z, 0-9, '.', '_', '-', starting "
                                      "with a letter or digit, without '..' (the branch is moat/NAME)",
                                      name);
        r = repo_git(workspace, argv, "--branch needs a git repository", &out, err);
        if (r < 0) {
                moat_error_clear(err);
                return moat_error_set(err, -EINVAL, "the workspace %s is not in a git repository with a working tree; "
                                                    "--branch needs one", workspace);
        }
        nl = strchr(out, '\n');
        if (!nl || !nl[1])
                return moat_error_set(err, -EBADMSG, "git rev-parse in %s said nothing usable", workspace);
        *nl = '\0';
        nl[1 + strcspn(nl + 1, "\n")] = '\0';
        b.repo = realpath(out, NULL);
        if (asprintf(&objects, "%s/objects", nl + 1) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        b.objects = realpath(objects, NULL);
        if (!b.repo || !b.objects)
                return moat_error_set(err, -errno, "cannot resolve the repository of %s: %s", workspace,
                                      strerror(errno));
        r = agent_state_key(b.repo, &key);
        if (r < 0)
                return moat_error_set(err, r, "out of memory");
        b.name = strdup(name);
        if (!b.name || asprintf(&b.key_dir, "%s/" RUN_BRANCH_DIR "/%s", moat_home, key) < 0 ||
            asprintf(&b.checkout, "%s/" WORKTREES_DIR "/%s", b.key_dir, name) < 0 ||
            asprintf(&bases, "%s/" BASES_DIR, b.key_dir) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        b.base = read_line_file(bases, name);
        *ret = b;
        b = (run_branch) {};
        return 0;
}

/* MOAT_HOME/checkouts/KEY with its worktrees and bases, 0700, and KEY/repo naming the
 * repository. */
static int make_key_dir(const run_branch *b, moat_error *err) {
        _cleanup_free_ char *top = strndup(b->key_dir, (size_t) (strrchr(b->key_dir, '/') - b->key_dir));
        _cleanup_close_ int fd = -1;
        int r;

        if (!top)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if ((mkdir(top, 0700) < 0 && errno != EEXIST) || (mkdir(b->key_dir, 0700) < 0 && errno != EEXIST))
                return moat_error_set(err, -errno, "cannot make %s: %s", b->key_dir, strerror(errno));
        fd = open(b->key_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return moat_error_set(err, -errno, "cannot open %s: %s", b->key_dir, strerror(errno));
        if ((mkdirat(fd, WORKTREES_DIR, 0700) < 0 && errno != EEXIST) ||
            (mkdirat(fd, BASES_DIR, 0700) < 0 && errno != EEXIST))
                return moat_error_set(err, -errno, "cannot make the directories of %s: %s", b->key_dir,
                                      strerror(errno));
        if (faccessat(fd, REPO_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        {
                _cleanup_free_ char *text = NULL;

                if (asprintf(&text, "%s\n", b->repo) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                r = write_file_at(fd, REPO_FILE, text);
        }
        if (r < 0)
                return moat_error_set(err, r, "cannot write %s/" REPO_FILE ": %s", b->key_dir, strerror(-r));
        return 0;
}

/* The commit moat/NAME of the user's repository points at, or NULL (in *ret) when none. */
static int user_branch_tip(const run_branch *b, char **ret, moat_error *err) {
        _cleanup_free_ char *ref = NULL, *out = NULL;
        char *argv[] = { (char *) "for-each-ref", (char *) "--format=%(objectname)", NULL, NULL };
        int r;

        if (asprintf(&ref, "refs/heads/" RUN_BRANCH_PREFIX "%s", b->name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        argv[2] = ref;
        r = repo_git(b->repo, argv, "cannot read the branches of the repository", &out, err);
        if (r < 0)
                return r;
        out[strcspn(out, "\n")] = '\0';
        *ret = *out ? TAKE_PTR(out) : NULL;
        return 0;
}

/* The commit FROM names in the user's repository. */
static int resolve_commit(const run_branch *b, const char *from, char **ret, moat_error *err) {
        _cleanup_free_ char *spec = NULL, *out = NULL;
        char *argv[] = { (char *) "rev-parse", (char *) "--verify", (char *) "--quiet", (char *) "--end-of-options",
                         NULL, NULL };
        int r;

        if (asprintf(&spec, "%s^{commit}", from) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        argv[4] = spec;
        r = repo_git(b->repo, argv, "", &out, err);
        if (r < 0) {
                moat_error_clear(err);
                return moat_error_set(err, -EINVAL, "'%s' is not a commit in %s%s", from, b->repo,
                                      strcmp(from, "HEAD") == 0 ? " (a repository without commits?)" : "");
        }
        out[strcspn(out, "\n")] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

/* The user's name and e-mail for git, as the repository sees them, into the checkout's config:
 * the agent's commits are made in the user's name, as with a checkout of their own. */
static void copy_identity(const run_branch *b) {
        static const char *const keys[] = { "user.name", "user.email" };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char *get[] = { (char *) "config", (char *) "--get", (char *) keys[i], NULL };
                _cleanup_free_ char *value = NULL;
                moat_error e = {};

                if (repo_git(b->repo, get, "", &value, &e) >= 0 && *value) {
                        char *set[] = { (char *) "config", (char *) keys[i], value, NULL };

                        value[strcspn(value, "\n")] = '\0';
                        (void) repo_git(b->checkout, set, "", NULL, &e);
                }
                moat_error_clear(&e);
        }
}

/* A new checkout at START, on moat/NAME. */
static int make_checkout(run_branch *b, const char *start, moat_error *err) {
        char *clone[] = { (char *) "clone", (char *) "--shared", (char *) "--no-checkout", (char *) "--quiet",
                          (char *) "--no-tags", (char *) "--", b->repo, b->checkout, NULL };
        _cleanup_free_ char *branch = NULL;
        int r;

        if (asprintf(&branch, RUN_BRANCH_PREFIX "%s", b->name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = repo_git(b->repo, clone, "cannot make the checkout", NULL, err);
        if (r >= 0) {
                /* its own branches only: nothing of the user's refs (origin/...) */
                char *rm_origin[] = { (char *) "remote", (char *) "remove", (char *) "origin", NULL };
                char *checkout[] = { (char *) "checkout", (char *) "--quiet", (char *) "-b", branch, (char *) start,
                                     NULL };

                r = repo_git(b->checkout, rm_origin, "cannot make the checkout", NULL, err);
                if (r >= 0)
                        r = repo_git(b->checkout, checkout, "cannot check out the branch", NULL, err);
        }
        if (r >= 0)
                copy_identity(b);
        return r;
}

static int prepare(run_branch *b, const char *from, bool *ret_created, moat_error *err);
static void key_dir_prune(const run_branch *b);

int run_branch_prepare(run_branch *b, const char *from, bool *ret_created, moat_error *err) {
        int r;

        *ret_created = false;
        r = make_key_dir(b, err);
        if (r >= 0)
                r = prepare(b, from, ret_created, err);
        /* a failure leaves nothing it made: the repository's directory when it is empty */
        if (r < 0)
                key_dir_prune(b);
        return r;
}

static int prepare(run_branch *b, const char *from, bool *ret_created, moat_error *err) {
        _cleanup_free_ char *tip = NULL, *start = NULL, *bases = NULL;
        _cleanup_close_ int bases_fd = -1;
        struct stat st;
        int r;

        if (lstat(b->checkout, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return moat_error_set(err, -ENOTDIR, "%s is not a directory: remove it", b->checkout);
                if (from)
                        return moat_error_set(err, -EEXIST,
                                              "the branch " RUN_BRANCH_PREFIX "%s has a checkout already; --from is "
                                              "for a new branch (remove it with 'moat branches rm -f %s')",
                                              b->name, b->name);
                return set_alternates(b->checkout, b->objects, err);
        }
        r = user_branch_tip(b, &tip, err);
        if (r < 0)
                return r;
        if (tip && from)
                return moat_error_set(err, -EEXIST,
                                      "%s has a branch " RUN_BRANCH_PREFIX "%s already; drop --from to continue it, "
                                      "or choose another name",
                                      b->repo, b->name);
        if (tip)
                start = TAKE_PTR(tip);
        else {
                r = resolve_commit(b, from ?: "HEAD", &start, err);
                if (r < 0)
                        return r;
        }
        *ret_created = true;
        r = make_checkout(b, start, err);
        if (r >= 0)
                r = set_alternates(b->checkout, b->objects, err);
        if (r < 0) {
                run_branch_discard(b);
                *ret_created = false;
                return r;
        }
        /* the base: kept from the branch's first checkout, else where it starts now */
        if (!b->base) {
                b->base = strdup(start);
                if (!b->base || asprintf(&bases, "%s/" BASES_DIR, b->key_dir) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                bases_fd = open(bases, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (bases_fd >= 0) {
                        _cleanup_free_ char *text = NULL;

                        if (asprintf(&text, "%s\n", start) >= 0 && write_file_at(bases_fd, b->name, text) >= 0)
                                b->base_written = true;
                }
        }
        return 0;
}

/* The repository's directory goes when it holds no checkout and no base. */
static void key_dir_prune(const run_branch *b) {
        _cleanup_close_ int fd = open(b->key_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0 && unlinkat(fd, WORKTREES_DIR, AT_REMOVEDIR) == 0 && unlinkat(fd, BASES_DIR, AT_REMOVEDIR) == 0 &&
            unlinkat(fd, REPO_FILE, 0) == 0)
                (void) rmdir(b->key_dir);
}

void run_branch_discard(const run_branch *b) {
        _cleanup_close_ int fd = open(b->key_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), wt = -1, bases = -1;

        if (fd < 0)
                return;
        wt = openat(fd, WORKTREES_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (wt >= 0)
                (void) file_remove_tree_at(wt, b->name);
        bases = openat(fd, BASES_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (bases >= 0 && b->base_written)
                (void) unlinkat(bases, b->name, 0);
        key_dir_prune(b);
}

/* Single-quoted for sh. */
static char *shell_quote(const char *s) {
        size_t n = 2;
        char *q, *p;

        for (const char *c = s; *c; c++)
                n += *c == '\'' ? 4 : 1;
        q = malloc(n + 1);
        if (!q)
                return NULL;
        p = q;
        *p++ = '\'';
        for (const char *c = s; *c; c++) {
                if (*c == '\'') {
                        memcpy(p, "'\\''", 4);
                        p += 4;
                } else
                        *p++ = *c;
        }
        *p++ = '\'';
        *p = '\0';
        return q;
}

/* The checkout's .git: a directory of its own, not a link (which could lead anywhere). */
static int check_git_dir(const char *checkout, moat_error *err) {
        static const char *const git[] = { ".git", NULL };
        _cleanup_close_ int fd = open_dir_below(checkout, git);

        if (fd < 0)
                return moat_error_set(err, fd, "%s/.git is not a directory of its own (%s)", checkout, strerror(-fd));
        return 0;
}

/* The objects directory of REPO, resolved. */
static int repo_objects(const char *repo, char **ret, moat_error *err) {
        char *argv[] = { (char *) "rev-parse", (char *) "--path-format=absolute", (char *) "--git-common-dir", NULL };
        _cleanup_free_ char *out = NULL, *objects = NULL;
        int r;

        r = repo_git(repo, argv, "cannot find the repository's objects", &out, err);
        if (r < 0)
                return r;
        out[strcspn(out, "\n")] = '\0';
        if (asprintf(&objects, "%s/objects", out) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret = realpath(objects, NULL);
        return *ret ? 0 : moat_error_set(err, -errno, "cannot resolve %s: %s", objects, strerror(errno));
}

int run_branch_fetch(const char *repo, const char *checkout, const char *name, moat_error *err) {
        _cleanup_free_ char *objects = NULL, *quoted = NULL, *upload_pack = NULL, *refspec = NULL, *what = NULL;
        int r;

        if (asprintf(&what, "cannot bring " RUN_BRANCH_PREFIX "%s back into %s", name, repo) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = check_git_dir(checkout, err);
        if (r >= 0)
                r = repo_objects(repo, &objects, err);
        /* what the agent wrote there could point the fetch at any objects the user can read */
        if (r >= 0)
                r = set_alternates(checkout, objects, err);
        if (r < 0)
                return moat_error_prefix(err, "%s", what);
        quoted = shell_quote(checkout);
        /* upload-pack in the checkout reads its config: nothing there runs */
        if (!quoted ||
            asprintf(&upload_pack,
                     "%s -c core.hooksPath=/dev/null -c core.fsmonitor=false -c core.alternateRefsCommand=true "
                     "-c safe.directory=%s upload-pack",
                     git_cli_path(), quoted) < 0 ||
            asprintf(&refspec, "+refs/heads/" RUN_BRANCH_PREFIX "%s:refs/heads/" RUN_BRANCH_PREFIX "%s", name, name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        {
                char *argv[] = { (char *) "fetch", (char *) "--quiet", (char *) "--no-write-fetch-head",
                                 (char *) "--no-tags", (char *) "--no-recurse-submodules", (char *) "--upload-pack",
                                 upload_pack, (char *) "--", (char *) checkout, refspec, NULL };

                return repo_git(repo, argv, what, NULL, err);
        }
}

int run_branch_ahead(const char *repo, const char *name, const char *base, long *ret, moat_error *err) {
        _cleanup_free_ char *range = NULL, *out = NULL;
        char *argv[] = { (char *) "rev-list", (char *) "--count", NULL, (char *) "--", NULL };
        int r;

        if (asprintf(&range, "%s..refs/heads/" RUN_BRANCH_PREFIX "%s", base, name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        argv[2] = range;
        r = repo_git(repo, argv, "cannot count the branch's commits", &out, err);
        if (r < 0)
                return r;
        *ret = strtol(out, NULL, 10);
        return 0;
}

/* git in the checkout, whose config is the agent's: an explicit git directory (no commondir,
 * no core.worktree of its choosing), and every key of its config that could run a command
 * disarmed. */
int run_branch_dirty(const char *checkout, size_t *ret, moat_error *err) {
        _cleanup_free_ char *git_dir = NULL, *work_tree = NULL, *common = NULL, *list = NULL, *status = NULL;
        _cleanup_(strv_freep) char **env = NULL, **pairs = NULL;
        char *list_argv[] = { (char *) "config", (char *) "--null", (char *) "--list", NULL };
        char *status_argv[] = { (char *) "status", (char *) "--porcelain=v1", (char *) "-z",
                                (char *) "--untracked-files=all", (char *) "--ignore-submodules=all",
                                (char *) "--no-renames", NULL };
        size_t len, n;
        int r;

        r = check_git_dir(checkout, err);
        if (r < 0)
                return r;
        if (asprintf(&git_dir, "GIT_DIR=%s/.git", checkout) < 0 ||
            asprintf(&common, "GIT_COMMON_DIR=%s/.git", checkout) < 0 ||
            asprintf(&work_tree, "GIT_WORK_TREE=%s", checkout) < 0 || strv_push(&env, TAKE_PTR(git_dir)) < 0 ||
            strv_push(&env, TAKE_PTR(common)) < 0 || strv_push(&env, TAKE_PTR(work_tree)) < 0 ||
            strv_push(&env, strdup("GIT_OPTIONAL_LOCKS=0")) < 0 || strv_push(&env, strdup("GIT_PAGER=cat")) < 0 ||
            strv_push(&env, strdup("GIT_TERMINAL_PROMPT=0")) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = git_run(checkout, list_argv, env, "cannot read the checkout's config", &list, &len, err);
        if (r < 0)
                return r;
        /* always, whatever the list says */
        if (strv_push(&pairs, strdup("core.fsmonitor")) < 0 || strv_push(&pairs, strdup("false")) < 0 ||
            strv_push(&pairs, strdup("core.hooksPath")) < 0 || strv_push(&pairs, strdup("/dev/null")) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        r = git_config_disarm(list, len, &pairs);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the checkout's config: %s",
                                      r == -EBADMSG ? "git's output is malformed" : strerror(-r));
        {
                size_t n_pairs = strv_length(pairs) / 2;
                char *kv;

                if (asprintf(&kv, "GIT_CONFIG_COUNT=%zu", n_pairs) < 0 || strv_push(&env, kv) < 0)
                        return moat_error_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < n_pairs; i++)
                        if (asprintf(&kv, "GIT_CONFIG_KEY_%zu=%s", i, pairs[2 * i]) < 0 || strv_push(&env, kv) < 0 ||
                            asprintf(&kv, "GIT_CONFIG_VALUE_%zu=%s", i, pairs[2 * i + 1]) < 0 ||
                            strv_push(&env, kv) < 0)
                                return moat_error_set(err, -ENOMEM, "out of memory");
        }
        r = git_run(checkout, status_argv, env, "cannot read the checkout's status", &status, &len, err);
        if (r < 0)
                return r;
        r = git_status_count(status, len, &n);
        if (r < 0)
                return moat_error_set(err, r, "cannot read the checkout's status: git's output is malformed");
        *ret = n;
        return 0;
}

void run_branch_entries_free(run_branch_entry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].name);
                free(e[i].repo);
                free(e[i].checkout);
                free(e[i].base);
        }
        free(e);
}

static int entry_cmp(const void *a, const void *b) {
        const run_branch_entry *x = a, *y = b;
        int c = strcmp(x->repo ?: "", y->repo ?: "");

        return c ? c : strcmp(x->name, y->name);
}

/* The checkouts of KEY_DIR, appended to *LIST. */
static int list_key(const char *key_dir, run_branch_entry **list, size_t *n) {
        _cleanup_free_ char *worktrees = NULL, *bases = NULL, *repo = read_line_file(key_dir, REPO_FILE);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (asprintf(&worktrees, "%s/" WORKTREES_DIR, key_dir) < 0 || asprintf(&bases, "%s/" BASES_DIR, key_dir) < 0)
                return -ENOMEM;
        d = opendir(worktrees);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                run_branch_entry *more, *e;

                if (!run_branch_name_valid(de->d_name))
                        continue;
                more = realloc(*list, (*n + 1) * sizeof(*more));
                if (!more) {
                        r = -ENOMEM;
                        break;
                }
                *list = more;
                e = &more[*n];
                *e = (run_branch_entry) { .name = strdup(de->d_name), .repo = repo ? strdup(repo) : NULL };
                (*n)++;
                if (!e->name || (repo && !e->repo) || asprintf(&e->checkout, "%s/%s", worktrees, de->d_name) < 0) {
                        e->checkout = NULL;
                        r = -ENOMEM;
                        break;
                }
                e->base = read_line_file(bases, de->d_name);
        }
        closedir(d);
        return r;
}

int run_branch_list(const char *moat_home, run_branch_entry **ret, size_t *ret_n, moat_error *err) {
        _cleanup_free_ char *top = NULL;
        run_branch_entry *list = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (asprintf(&top, "%s/" RUN_BRANCH_DIR, moat_home) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        d = opendir(top);
        if (!d && errno != ENOENT)
                return moat_error_set(err, -errno, "cannot read %s: %s", top, strerror(errno));
        while (d && r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *key_dir = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&key_dir, "%s/%s", top, de->d_name) < 0)
                        r = -ENOMEM;
                else
                        r = list_key(key_dir, &list, &n);
        }
        if (d)
                closedir(d);
        if (r < 0) {
                run_branch_entries_free(list, n);
                return moat_error_set(err, r, "out of memory");
        }
        if (n > 1)
                qsort(list, n, sizeof(*list), entry_cmp);
        *ret = list;
        *ret_n = n;
        return 0;
}

int run_branch_remove(const run_branch_entry *e, bool delete_branch, moat_error *err) {
        _cleanup_free_ char *key_dir = NULL, *worktrees = NULL, *branch = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        /* KEY_DIR/worktrees/NAME */
        worktrees = strndup(e->checkout, (size_t) (strrchr(e->checkout, '/') - e->checkout));
        if (!worktrees)
                return moat_error_set(err, -ENOMEM, "out of memory");
        key_dir = strndup(worktrees, (size_t) (strrchr(worktrees, '/') - worktrees));
        if (!key_dir || asprintf(&branch, RUN_BRANCH_PREFIX "%s", e->name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        if (delete_branch && e->repo && access(e->repo, F_OK) == 0) {
                char *argv[] = { (char *) "branch", (char *) "--quiet", (char *) "-D", (char *) "--", branch, NULL };
                _cleanup_free_ char *tip = NULL;
                run_branch b = { .repo = e->repo, .name = e->name };

                r = user_branch_tip(&b, &tip, err);
                if (r >= 0 && tip)
                        r = repo_git(e->repo, argv, "cannot delete the branch", NULL, err);
                if (r < 0)
                        return r;
        }
        fd = open(worktrees, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return moat_error_set(err, -errno, "cannot open %s: %s", worktrees, strerror(errno));
        r = file_remove_tree_at(fd, e->name);
        if (r < 0 && r != -ENOENT)
                return moat_error_set(err, r, "cannot remove %s: %s", e->checkout, strerror(-r));
        if (delete_branch) {
                _cleanup_free_ char *bases = NULL;

                if (asprintf(&bases, "%s/" BASES_DIR "/%s", key_dir, e->name) >= 0)
                        (void) unlink(bases);
        }
        return 0;
}

int run_branch_merged(const char *repo, const char *name, moat_error *err) {
        _cleanup_free_ char *pattern = NULL, *out = NULL;
        char *argv[] = { (char *) "branch", (char *) "--merged", (char *) "HEAD", (char *) "--format=%(refname)",
                         (char *) "--list", NULL, NULL };
        int r;

        if (asprintf(&pattern, RUN_BRANCH_PREFIX "%s", name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        argv[5] = pattern;
        r = repo_git(repo, argv, "cannot tell whether the branch is merged", &out, err);
        if (r < 0)
                return r;
        return *out ? 1 : 0;
}

int run_branch_diff(const char *repo, const char *name, const char *base, char **ret, moat_error *err) {
        _cleanup_free_ char *tip = NULL;
        char *argv[] = { (char *) "diff", (char *) "--no-ext-diff", (char *) "--no-textconv", (char *) "--no-color",
                         (char *) base, NULL, (char *) "--", NULL };

        if (asprintf(&tip, "refs/heads/" RUN_BRANCH_PREFIX "%s", name) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        argv[5] = tip;
        return repo_git(repo, argv, "cannot show the branch's changes", ret, err);
}

int run_branch_last_run(run_store *store, const run_branch_entry *e, run_record **ret, moat_error *err) {
        run_record **list = NULL;
        size_t n = 0;
        int r;

        *ret = NULL;
        r = run_store_list(store, &list, &n, err);
        if (r < 0)
                return r;
        /* newest first */
        for (size_t i = 0; i < n && !*ret; i++)
                if (list[i]->branch && strcmp(list[i]->branch, e->name) == 0 && list[i]->repository && e->repo &&
                    strcmp(list[i]->repository, e->repo) == 0)
                        *ret = TAKE_PTR(list[i]);
        run_records_free(list, n);
        return 0;
}

int run_branch_find(run_branch_entry *entries, size_t n, const char *cwd, const char *name,
                    run_branch_entry **ret, moat_error *err) {
        char *argv[] = { (char *) "rev-parse", (char *) "--show-toplevel", NULL };
        _cleanup_free_ char *top = NULL, *here = NULL;
        run_branch_entry *found = NULL;
        size_t matches = 0;
        moat_error e = {};

        if (git_run(cwd, argv, NULL, "", &top, NULL, &e) >= 0) {
                top[strcspn(top, "\n")] = '\0';
                here = realpath(top, NULL);
        }
        moat_error_clear(&e);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(entries[i].name, name) != 0)
                        continue;
                if (here && entries[i].repo && strcmp(entries[i].repo, here) == 0) {
                        *ret = &entries[i];
                        return 0;
                }
                found = &entries[i];
                matches++;
        }
        if (matches == 0)
                return moat_error_set(err, -ENOENT, "no checkout of a branch " RUN_BRANCH_PREFIX "%s; see 'moat branches'",
                                      name);
        if (matches > 1)
                return moat_error_set(err, -EEXIST,
                                      "several repositories have a branch " RUN_BRANCH_PREFIX "%s; run this in the "
                                      "one you mean",
                                      name);
        *ret = found;
        return 0;
}

/* Whether E may go in a clean: its runs ended, merged, nothing uncommitted. */
static bool clean_candidate(run_store *store, const run_branch_entry *e) {
        _cleanup_(run_record_freep) run_record *last = NULL;
        moat_error err = {};
        size_t dirty = 1;
        bool ok = false;

        if (!e->repo || access(e->repo, F_OK) < 0)
                return false;
        if (run_branch_last_run(store, e, &last, &err) >= 0 && (!last || run_state_is_final(last->state)) &&
            run_branch_fetch(e->repo, e->checkout, e->name, &err) >= 0 && run_branch_merged(e->repo, e->name, &err) > 0 &&
            run_branch_dirty(e->checkout, &dirty, &err) >= 0 && dirty == 0)
                ok = true;
        moat_error_clear(&err);
        return ok;
}

int run_branch_clean(run_store *store, unsigned *ret_n, moat_error *err) {
        run_branch_entry *list = NULL;
        size_t n = 0;
        int r;

        *ret_n = 0;
        r = run_branch_list(run_store_home(store), &list, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_close_ int lock_fd = -1;

                /* held while deciding: a run that starts on the branch meanwhile has its record */
                r = run_store_lock(store, &lock_fd, err);
                if (r < 0 || !clean_candidate(store, &list[i]))
                        continue;
                r = run_branch_remove(&list[i], false, err);
                if (r >= 0)
                        (*ret_n)++;
        }
        run_branch_entries_free(list, n);
        return r;
}
