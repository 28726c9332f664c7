#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "resource-probe.h"

/* Whether PATH (a cgroup, "/a/b.scope") is a container's own: podman's scope for it
 * (libpod-<id>.scope, or rootless podman's podman-<pid>.scope), the container's id, or the
 * "container" cgroup podman nests in its scope.  The root, slices and a user manager's
 * service are shared with everything else under them. */
static bool cgroup_is_own(const char *path, size_t len) {
        const char *last;
        size_t n, hex;

        while (len > 0 && path[len - 1] == '/')
                len--;
        if (len == 0)
                return false;
        last = path + len;
        while (last > path && last[-1] != '/')
                last--;
        n = (size_t) (path + len - last);
        hex = 0;
        while (hex < n && strchr("0123456789abcdef", last[hex]))
                hex++;
        return (n > 6 && memcmp(last + n - 6, ".scope", 6) == 0) || (hex == n && n >= 32) ||
               (n == 9 && memcmp(last, "container", 9) == 0);
}

static int set_dir(char **slot, const char *root, const char *hierarchy, const char *path, size_t len) {
        char *d;

        if (*slot)
                return 0;
        if (asprintf(&d, "%s/%s%.*s", root, hierarchy, (int) len, path) < 0)
                return -ENOMEM;
        *slot = d;
        return 0;
}

/* Whether the comma-separated LIST names CONTROLLER. */
static bool list_has(const char *list, size_t len, const char *controller) {
        size_t c = strlen(controller);

        for (const char *p = list; p < list + len;) {
                const char *comma = memchr(p, ',', (size_t) (list + len - p));
                size_t n = comma ? (size_t) (comma - p) : (size_t) (list + len - p);

                if (n == c && memcmp(p, controller, c) == 0)
                        return true;
                p += n + 1;
        }
        return false;
}

int resource_probe_parse(resource_probe *p, const char *text, const char *root) {
        static const struct {
                const char *controller;
                size_t offset;
        } v1[] = {
                { "cpuacct", offsetof(resource_probe, cpuacct) },
                { "memory", offsetof(resource_probe, memory) },
                { "blkio", offsetof(resource_probe, blkio) },
                { "pids", offsetof(resource_probe, pids) },
        };
        int r = 0;

        *p = (resource_probe) {};
        for (const char *line = text; line && *line && r >= 0;) {
                const char *eol = strchr(line, '\n'), *c1, *c2, *path;
                size_t len = eol ? (size_t) (eol - line) : strlen(line), list_len, path_len;

                c1 = memchr(line, ':', len);
                c2 = c1 ? memchr(c1 + 1, ':', (size_t) (line + len - c1 - 1)) : NULL;
                if (c2) {
                        list_len = (size_t) (c2 - c1 - 1);
                        path = c2 + 1;
                        path_len = (size_t) (line + len - path);
                        if (path_len > 0 && path[0] == '/' && cgroup_is_own(path, path_len) &&
                            !memmem(path, path_len, "/..", 3)) {
                                if (list_len == 0) {
                                        r = set_dir(&p->v2, root, "unified", path, path_len);
                                        if (r >= 0)
                                                r = set_dir(&p->own, root, "unified", path, path_len);
                                } else if (list_len == 12 && memcmp(c1 + 1, "name=systemd", 12) == 0)
                                        r = set_dir(&p->own, root, "systemd", path, path_len);
                                for (size_t i = 0; i < ELEMENTSOF(v1) && r >= 0; i++)
                                        if (list_has(c1 + 1, list_len, v1[i].controller))
                                                r = set_dir((char **) ((char *) p + v1[i].offset), root,
                                                            v1[i].controller, path, path_len);
                        }
                }
                line = eol ? eol + 1 : NULL;
        }
        if (r < 0) {
                resource_probe_done(p);
                return r;
        }
        return p->own || p->cpuacct || p->memory ? 0 : -ENOENT;
}

void resource_probe_done(resource_probe *p) {
        free(p->v2);
        free(p->cpuacct);
        free(p->memory);
        free(p->blkio);
        free(p->pids);
        free(p->own);
        *p = (resource_probe) {};
}

static int read_text(const char *dir, const char *name, char *buf, size_t size) {
        char path[4096];
        ssize_t n;
        int fd;

        if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
                return -ENOENT;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -EIO;
        buf[n] = '\0';
        return (int) n;
}

static bool read_number(const char *dir, const char *name, uint64_t *ret) {
        char buf[64], *end;
        unsigned long long v;

        if (read_text(dir, name, buf, sizeof(buf)) <= 0)
                return false;
        errno = 0;
        v = strtoull(buf, &end, 10);
        if (errno || end == buf || (*end && *end != '\n'))
                return false;
        *ret = v;
        return true;
}

/* KEY's value in "key value" or "key=value" text, summed over every line that has it. */
static bool sum_key(const char *text, const char *key, char sep, uint64_t *ret) {
        size_t klen = strlen(key);
        uint64_t sum = 0;
        bool found = false;

        for (const char *p = text; (p = strstr(p, key));) {
                if ((p == text || p[-1] == ' ' || p[-1] == '\n') && p[klen] == sep) {
                        sum += strtoull(p + klen + 1, NULL, 10);
                        found = true;
                }
                p += klen;
        }
        if (found)
                *ret = sum;
        return found;
}

static void raise_to(uint64_t *slot, uint64_t v) {
        if (*slot == RUN_RESOURCE_UNKNOWN || v > *slot)
                *slot = v;
}

/* blkio.throttle.io_service_bytes: "MAJ:MIN Read N" lines (and a "Total N" at the end). */
static void blkio_bytes(const char *text, uint64_t *rd, uint64_t *wr) {
        for (const char *line = text; line && *line;) {
                unsigned long long v;
                char op[16];

                if (sscanf(line, "%*u:%*u %15s %llu", op, &v) == 2) {
                        if (strcmp(op, "Read") == 0)
                                *rd += v;
                        else if (strcmp(op, "Write") == 0)
                                *wr += v;
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
}

/* The container's processes in /proc, listed by FILE of its own cgroup: resident memory and
 * CPU time (their children's that they waited for included). */
static void proc_figures(const char *dir, const char *file, uint64_t *ret_rss, uint64_t *ret_cpu, uint64_t *ret_n) {
        char path[4096], line[32];
        long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
        uint64_t rss = 0, cpu = 0, n = 0;
        FILE *f;

        if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int) sizeof(path) || !(f = fopen(path, "re")))
                return;
        while (fgets(line, sizeof(line), f)) {
                char buf[1024], *close_paren;
                unsigned long long ut, st, cut, cst, res;
                long pid = strtol(line, NULL, 10);
                char sub[64];

                if (pid <= 0)
                        continue;
                n++;
                snprintf(sub, sizeof(sub), "/proc/%ld", pid);
                if (read_text(sub, "statm", buf, sizeof(buf)) > 0 && sscanf(buf, "%*u %llu", &res) == 1)
                        rss += res * (uint64_t) page;
                if (read_text(sub, "stat", buf, sizeof(buf)) > 0 && (close_paren = strrchr(buf, ')')) &&
                    sscanf(close_paren + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut, &st,
                           &cut, &cst) == 4 && ticks > 0)
                        cpu += (ut + st + cut + cst) * 1000000ULL / (uint64_t) ticks;
        }
        fclose(f);
        *ret_rss = rss;
        *ret_cpu = cpu;
        *ret_n = n;
}

static void proc_threads(const char *dir, uint64_t *ret) {
        char path[4096], line[32];
        uint64_t n = 0;
        FILE *f;

        if (snprintf(path, sizeof(path), "%s/tasks", dir) >= (int) sizeof(path))
                return;
        f = fopen(path, "re");
        if (!f && snprintf(path, sizeof(path), "%s/cgroup.threads", dir) < (int) sizeof(path))
                f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                n++;
        fclose(f);
        *ret = n;
}

void resource_probe_sample(const resource_probe *p, run_resources *acc) {
        char text[4096];
        uint64_t v, rd, wr, rss = 0, cpu = 0, procs = 0, threads = 0;
        bool have_cpu = false, have_mem = false, have_tasks = false;

        if (read_text(p->v2, "cpu.stat", text, sizeof(text)) > 0 && sum_key(text, "usage_usec", ' ', &v)) {
                raise_to(&acc->cpu_usec, v);
                have_cpu = true;
        } else if (read_number(p->cpuacct, "cpuacct.usage", &v)) {
                raise_to(&acc->cpu_usec, v / 1000);
                have_cpu = true;
        }
        if (read_number(p->v2, "memory.peak", &v) || read_number(p->v2, "memory.current", &v) ||
            read_number(p->memory, "memory.max_usage_in_bytes", &v)) {
                raise_to(&acc->memory_peak_bytes, v);
                have_mem = true;
        }
        if (read_text(p->v2, "io.stat", text, sizeof(text)) >= 0) {
                rd = wr = 0;
                (void) sum_key(text, "rbytes", '=', &rd);
                (void) sum_key(text, "wbytes", '=', &wr);
                raise_to(&acc->io_read_bytes, rd);
                raise_to(&acc->io_write_bytes, wr);
        } else if (read_text(p->blkio, "blkio.throttle.io_service_bytes", text, sizeof(text)) >= 0) {
                rd = wr = 0;
                blkio_bytes(text, &rd, &wr);
                raise_to(&acc->io_read_bytes, rd);
                raise_to(&acc->io_write_bytes, wr);
        }
        if (read_number(p->v2, "pids.peak", &v) || read_number(p->v2, "pids.current", &v) ||
            read_number(p->pids, "pids.current", &v)) {
                raise_to(&acc->tasks_peak, v);
                have_tasks = true;
        }
        if (!p->own || (have_cpu && have_mem && have_tasks))
                return;
        /* what no controller of the container's own says: its processes in /proc */
        proc_figures(p->own, "cgroup.procs", &rss, &cpu, &procs);
        if (procs == 0)
                return;
        if (!have_mem)
                raise_to(&acc->memory_peak_bytes, rss);
        if (!have_cpu)
                raise_to(&acc->cpu_usec, cpu);
        if (!have_tasks) {
                /* threads: "tasks" on v1, "cgroup.threads" on v2 */
                proc_threads(p->own, &threads);
                if (threads == 0)
                        threads = procs;
                raise_to(&acc->tasks_peak, threads);
        }
}

uint64_t resource_probe_memory_now(const resource_probe *p) {
        uint64_t v, rss = 0, cpu = 0, procs = 0;

        if (read_number(p->v2, "memory.current", &v) || read_number(p->memory, "memory.usage_in_bytes", &v))
                return v;
        if (p->own)
                proc_figures(p->own, "cgroup.procs", &rss, &cpu, &procs);
        return procs > 0 ? rss : RUN_RESOURCE_UNKNOWN;
}

int resource_probe_init(resource_probe *p, pid_t pid) {
        char path[64], text[4096];
        int n;

        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        n = read_text(path, "cgroup", text, sizeof(text));
        if (n < 0)
                return n;
        return resource_probe_parse(p, text, "/sys/fs/cgroup");
}

void run_resources_format(const run_resources *r, char buf[static RESOURCES_ARG_MAX]) {
        const uint64_t v[] = { r->cpu_usec, r->memory_peak_bytes, r->io_read_bytes, r->io_write_bytes, r->tasks_peak };
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (v[i] == RUN_RESOURCE_UNKNOWN)
                        n += (size_t) snprintf(buf + n, RESOURCES_ARG_MAX - n, "%s-", i ? "," : "");
                else
                        n += (size_t) snprintf(buf + n, RESOURCES_ARG_MAX - n, "%s%" PRIu64, i ? "," : "", v[i]);
        }
}

int run_resources_parse(const char *s, run_resources *ret) {
        uint64_t v[5];
        const char *p = s;

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (i > 0 && *p++ != ',')
                        return -EINVAL;
                if (*p == '-') {
                        v[i] = RUN_RESOURCE_UNKNOWN;
                        p++;
                } else {
                        char *end;

                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        errno = 0;
                        v[i] = strtoull(p, &end, 10);
                        if (errno || v[i] == RUN_RESOURCE_UNKNOWN)
                                return -EINVAL;
                        p = end;
                }
        }
        if (*p)
                return -EINVAL;
        *ret = (run_resources) { v[0], v[1], v[2], v[3], v[4] };
        return 0;
}
