#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-state.h"
#include "file-util.h"
#include "macro.h"

#define KEY_NAME_MAX 32
#define KEY_DIGEST_HEX 16
#define SEED_PATH_MAX 255
#define WORKSPACE_FILE "workspace"
#define HOME_DIR "home"

void agent_seeds_free(agent_seed *s, size_t n) {
        for (size_t i = 0; s && i < n; i++) {
                free(s[i].path);
                free(s[i].content);
        }
        free(s);
}

bool agent_seed_path_valid(const char *path) {
        size_t len = strlen(path);
        const char *p = path;

        if (len == 0 || len > SEED_PATH_MAX || path[0] == '/')
                return false;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!slash)
                        return true;
                p = slash + 1;
        }
}

int agent_state_key(const char *workspace, char **ret) {
        const char *base = strrchr(workspace, '/');
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        char name[KEY_NAME_MAX + 1];
        size_t len = 0;

        base = base ? base + 1 : workspace;
        for (const char *c = base; *c && len < KEY_NAME_MAX; c++)
                name[len++] = (strchr("._-", *c) || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                               (*c >= '0' && *c <= '9'))
                                      ? *c
                                      : '_';
        name[len] = '\0';
        /* "." and ".." (and nothing, for "/") must not become directory names */
        if (len == 0 || strspn(name, ".") == len)
                snprintf(name, sizeof(name), "root");
        if (!EVP_Digest(workspace, strlen(workspace), md, &n, EVP_sha256(), NULL) || n < KEY_DIGEST_HEX / 2)
                return -EIO;
        if (asprintf(ret, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", name, md[0], md[1], md[2], md[3], md[4], md[5], md[6],
                     md[7]) < 0)
                return -ENOMEM;
        return 0;
}

/* Opens directory NAME under DIRFD, made 0700 when missing; never through a link. */
static int open_dir_at(int dirfd, const char *name, bool create, bool *ret_created) {
        int fd;

        if (ret_created)
                *ret_created = false;
        if (create) {
                if (mkdirat(dirfd, name, 0700) == 0) {
                        if (ret_created)
                                *ret_created = true;
                } else if (errno != EEXIST)
                        return -errno;
        }
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Writes a seed under HOME unless something is there already: its parents are made as
 * needed, and a link anywhere on the way stops it (the agent's home is the agent's). */
static int write_seed(int home, const agent_seed *s) {
        _cleanup_free_ char *copy = strdup(s->path);
        _cleanup_close_ int dir = -1, fd = -1;
        char *name, *slash;
        size_t len;

        if (!copy)
                return -ENOMEM;
        dir = fcntl(home, F_DUPFD_CLOEXEC, 3);
        if (dir < 0)
                return -errno;
        name = copy;
        while ((slash = strchr(name, '/'))) {
                int next;

                *slash = '\0';
                next = open_dir_at(dir, name, true, NULL);
                if (next < 0)
                        return next;
                safe_close(dir);
                dir = next;
                name = slash + 1;
        }
        fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return errno == EEXIST ? 0 : -errno;
        len = strlen(s->content);
        for (const char *p = s->content; len > 0;) {
                ssize_t k = write(fd, p, len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                p += k;
                len -= (size_t) k;
        }
        return 0;
}

/* Opens $MOAT_HOME/agents/AGENT, made when CREATE. */
static int open_agent_dir(const char *moat_home, const char *agent, bool create, moat_error *err) {
        _cleanup_close_ int top = -1, agents = -1;
        int fd;

        if (create && mkdir(moat_home, 0700) < 0 && errno != EEXIST)
                return moat_error_set(err, -errno, "cannot create %s: %s", moat_home, strerror(errno));
        top = open(moat_home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return moat_error_set(err, -errno, "cannot open %s: %s", moat_home, strerror(errno));
        agents = open_dir_at(top, AGENT_STATE_DIR, create, NULL);
        if (agents < 0)
                return moat_error_set(err, agents, "cannot open %s/" AGENT_STATE_DIR ": %s", moat_home,
                                      strerror(-agents));
        fd = open_dir_at(agents, agent, create, NULL);
        if (fd < 0)
                return moat_error_set(err, fd, "cannot open %s/" AGENT_STATE_DIR "/%s: %s", moat_home, agent,
                                      strerror(-fd));
        return fd;
}

int agent_state_prepare(const char *moat_home, const char *agent, const char *workspace, const agent_seed *seeds,
                        size_t n_seeds, char **ret_home, bool *ret_created, moat_error *err) {
        _cleanup_close_ int agent_dir = -1, key_dir = -1, home = -1;
        _cleanup_free_ char *key = NULL, *path = NULL;
        bool created;
        int r;

        r = agent_state_key(workspace, &key);
        if (r < 0)
                return moat_error_set(err, r, "out of memory");
        agent_dir = open_agent_dir(moat_home, agent, true, err);
        if (agent_dir < 0)
                return agent_dir;
        key_dir = open_dir_at(agent_dir, key, true, NULL);
        if (key_dir < 0)
                return moat_error_set(err, key_dir, "cannot create the state of %s in %s/" AGENT_STATE_DIR "/%s: %s",
                                      agent, moat_home, agent, strerror(-key_dir));
        home = open_dir_at(key_dir, HOME_DIR, true, &created);
        if (home < 0)
                return moat_error_set(err, home, "cannot create the state of %s in %s/" AGENT_STATE_DIR "/%s/%s: %s",
                                      agent, moat_home, agent, key, strerror(-home));
        if (created) {
                _cleanup_close_ int fd = openat(key_dir, WORKSPACE_FILE,
                                                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

                if (fd < 0 || dprintf(fd, "%s\n", workspace) < 0)
                        return moat_error_set(err, -errno, "cannot record the workspace of %s's state: %s", agent,
                                              strerror(errno));
        }
        for (size_t i = 0; i < n_seeds; i++) {
                r = write_seed(home, &seeds[i]);
                if (r < 0)
                        return moat_error_set(err, r, "cannot write %s into the state of %s: %s", seeds[i].path, agent,
                                              strerror(-r));
        }
        if (asprintf(&path, "%s/" AGENT_STATE_DIR "/%s/%s/" HOME_DIR, moat_home, agent, key) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        *ret_home = TAKE_PTR(path);
        if (ret_created)
                *ret_created = created;
        return 0;
}

void agent_state_entries_free(agent_state_entry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++) {
                free(e[i].agent);
                free(e[i].key);
                free(e[i].workspace);
                free(e[i].home);
        }
        free(e);
}

static int entry_cmp(const void *a, const void *b) {
        const agent_state_entry *x = a, *y = b;
        int c = strcmp(x->agent, y->agent);

        return c ?: strcmp(x->workspace ?: x->key, y->workspace ?: y->key);
}

/* The small file NAME under DIRFD, never through a link. */
static int file_read_at(int dir, const char *name, char **ret) {
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[4097];
        ssize_t k;

        if (fd < 0)
                return -errno;
        k = read(fd, buf, sizeof(buf) - 1);
        if (k <= 0)
                return k < 0 ? -errno : -ENODATA;
        *ret = strndup(buf, (size_t) k);
        return *ret ? 0 : -ENOMEM;
}

/* Adds the homes under DIRFD (an agent's directory) to *LIST. */
static int list_agent(const char *moat_home, const char *agent, int fd, agent_state_entry **list, size_t *n) {
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        struct dirent *de;

        if (!d) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                _cleanup_close_ int key = -1;
                _cleanup_free_ char *ws = NULL;
                agent_state_entry *more, *e;
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                key = open_dir_at(dirfd(d), de->d_name, false, NULL);
                if (key < 0 || fstatat(key, HOME_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (file_read_at(key, WORKSPACE_FILE, &ws) >= 0)
                        ws[strcspn(ws, "\n")] = '\0';
                more = realloc(*list, (*n + 1) * sizeof(**list));
                if (!more)
                        return -ENOMEM;
                *list = more;
                e = &more[*n];
                *e = (agent_state_entry) { .agent = strdup(agent), .key = strdup(de->d_name), .workspace = TAKE_PTR(ws),
                                           .used_at = (uint64_t) st.st_mtim.tv_sec * 1000000 +
                                                      (uint64_t) st.st_mtim.tv_nsec / 1000 };
                (*n)++;
                if (!e->agent || !e->key ||
                    asprintf(&e->home, "%s/" AGENT_STATE_DIR "/%s/%s/" HOME_DIR, moat_home, agent, de->d_name) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int agent_state_list(const char *moat_home, agent_state_entry **ret, size_t *ret_n, moat_error *err) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        agent_state_entry *list = NULL;
        size_t n = 0;
        struct dirent *de;
        int r = 0;

        if (asprintf(&path, "%s/" AGENT_STATE_DIR, moat_home) < 0)
                return moat_error_set(err, -ENOMEM, "out of memory");
        d = opendir(path);
        if (!d && errno != ENOENT)
                return moat_error_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
        while (d && (de = readdir(d)) && r >= 0) {
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                fd = open_dir_at(dirfd(d), de->d_name, false, NULL);
                if (fd >= 0)
                        r = list_agent(moat_home, de->d_name, fd, &list, &n);
        }
        if (r < 0) {
                agent_state_entries_free(list, n);
                return moat_error_set(err, r, "cannot read %s: %s", path, strerror(-r));
        }
        if (n > 1)
                qsort(list, n, sizeof(*list), entry_cmp);
        *ret = list;
        *ret_n = n;
        return 0;
}

int agent_state_remove(const char *moat_home, const char *agent, const char *workspace, moat_error *err) {
        _cleanup_close_ int agent_dir = -1;
        _cleanup_free_ char *key = NULL;
        int r;

        r = agent_state_key(workspace, &key);
        if (r < 0)
                return moat_error_set(err, r, "out of memory");
        agent_dir = open_agent_dir(moat_home, agent, false, NULL);
        if (agent_dir == -ENOENT || (agent_dir >= 0 && faccessat(agent_dir, key, F_OK, AT_SYMLINK_NOFOLLOW) < 0))
                return moat_error_set(err, -ENOENT, "%s keeps no state for %s", agent, workspace);
        if (agent_dir < 0)
                return moat_error_set(err, agent_dir, "cannot open the state of %s: %s", agent, strerror(-agent_dir));
        r = file_remove_tree_at(agent_dir, key);
        if (r < 0)
                return moat_error_set(err, r, "cannot remove the state of %s for %s: %s", agent, workspace,
                                      strerror(-r));
        return 0;
}
