/* Drives lib/podman.c from the e2e tests and benchmarks: one subcommand per client call, so
 * each operation can be checked against the real podman service, rootful and rootless.
 * Errors: one line on stderr and exit 1. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "podman.h"

static moat_error err;

static int fail(int r) {
        fprintf(stderr, "podman-probe: %s\n", moat_error_message(&err));
        (void) r;
        return 1;
}

static int write_frame(podman_stream stream, const char *data, size_t len, void *userdata) {
        FILE *f = stream == PODMAN_STREAM_STDOUT ? stdout : stderr;

        if (stream == PODMAN_STREAM_ERROR)
                fputs("podman-probe: stream error: ", stderr);
        if (fwrite(data, 1, len, f) != len)
                return -EIO;
        return 0;
}

static void print_progress(const char *message, void *userdata) {
        fprintf(stderr, "progress: %s\n", message);
}

static int cmd_create(podman_client *c, int argc, char **argv) {
        podman_mount mounts[8];
        char *env[16] = {}, *labels[16] = {};
        size_t n_env = 0, n_labels = 0;
        podman_spec spec = {};
        _cleanup_free_ char *id = NULL;
        int opt, r;

        optind = 1;
        while ((opt = getopt(argc, argv, "+n:e:l:m:w:tiN:u:M:C:k")) >= 0)
                switch (opt) {
                case 'n': spec.name = optarg; break;
                case 'e': if (n_env < 15) env[n_env++] = optarg; break;
                case 'l': if (n_labels < 15) labels[n_labels++] = optarg; break;
                case 'm': {
                        char *dst = strchr(optarg, ':');
                        if (!dst || spec.n_mounts >= ELEMENTSOF(mounts))
                                return 2;
                        *dst++ = '\0';
                        char *ro = strchr(dst, ':');
                        if (ro)
                                *ro++ = '\0';
                        mounts[spec.n_mounts++] = (podman_mount) {
                                .source = optarg, .destination = dst, .read_only = ro && strcmp(ro, "ro") == 0 };
                        break;
                }
                case 'w': spec.work_dir = optarg; break;
                case 't': spec.terminal = true; break;
                case 'i': spec.stdin_open = true; break;
                case 'N': spec.network = optarg; break;
                case 'u': spec.user = optarg; break;
                case 'M': spec.memory_bytes = strtoll(optarg, NULL, 10); break;
                case 'C': spec.cpus = strtod(optarg, NULL); break;
                case 'k': spec.keep_id = true; break;
                default: return 2;
                }
        if (optind >= argc)
                return 2;
        spec.image = argv[optind++];
        spec.command = optind < argc ? argv + optind : NULL;
        spec.env = env;
        spec.labels = labels;
        spec.mounts = mounts;
        r = podman_container_create(c, &spec, &id, &err);
        if (r < 0)
                return fail(r);
        puts(id);
        return 0;
}

/* With MOAT_PROBE_STEPS set, how long each step took goes to stderr (bench/podman-cycle.sh). */
static void step_done(const char *step, struct timespec *t) {
        struct timespec now;

        if (!getenv("MOAT_PROBE_STEPS"))
                return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        fprintf(stderr, "%s %.1f ms\n", step, (now.tv_sec - t->tv_sec) * 1e3 + (now.tv_nsec - t->tv_nsec) / 1e6);
        *t = now;
}

static int cmd_cycle(podman_client *c, int argc, char **argv) {
        podman_spec spec = { .image = argv[1], .command = argv + 2 };
        _cleanup_free_ char *id = NULL;
        struct timespec t;
        int r, code;

        clock_gettime(CLOCK_MONOTONIC, &t);
        r = podman_container_create(c, &spec, &id, &err);
        step_done("create", &t);
        if (r >= 0)
                r = podman_container_start(c, id, &err);
        step_done("start", &t);
        if (r >= 0)
                r = podman_container_wait(c, id, &code, &err);
        step_done("wait", &t);
        if (id && podman_container_remove(c, id, true, r < 0 ? NULL : &err) < 0 && r >= 0)
                r = -EIO;
        step_done("remove", &t);
        if (r < 0)
                return fail(r);
        printf("%d\n", code);
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(podman_client_freep) podman_client *c = NULL;
        _cleanup_free_ char *path = NULL, *out = NULL;
        const char *cmd;
        int r, code;

        if (argc < 2) {
                fputs("usage: podman-probe COMMAND [ARG...]\n", stderr);
                return 2;
        }
        podman_global_init();
        cmd = argv[1];
        argc--, argv++;

        r = podman_socket_path(geteuid() != 0, &path, &err);
        if (r < 0)
                return fail(r);
        if (strcmp(cmd, "socket") == 0) {
                puts(path);
                return 0;
        }
        r = podman_client_new(path, &c, &err);
        if (r < 0)
                return fail(r);

        if (strcmp(cmd, "ping") == 0) {
                r = podman_ping(c, &out, &err);
                if (r >= 0)
                        puts(out);
        } else if (strcmp(cmd, "exists") == 0 && argc == 2) {
                r = podman_image_exists(c, argv[1], &err);
                if (r >= 0) {
                        puts(r ? "yes" : "no");
                        return r ? 0 : 3;
                }
        } else if (strcmp(cmd, "pull") == 0 && argc == 2) {
                r = podman_image_pull(c, argv[1], print_progress, NULL, &out, &err);
                if (r >= 0)
                        puts(out ? out : "");
        } else if (strcmp(cmd, "create") == 0) {
                return cmd_create(c, argc, argv);
        } else if (strcmp(cmd, "cycle") == 0 && argc >= 3) {
                return cmd_cycle(c, argc, argv);
        } else if (strcmp(cmd, "start") == 0 && argc == 2) {
                r = podman_container_start(c, argv[1], &err);
        } else if (strcmp(cmd, "wait") == 0 && argc == 2) {
                r = podman_container_wait(c, argv[1], &code, &err);
                if (r >= 0)
                        printf("%d\n", code);
                else if (r == -ECONNRESET)
                        return fprintf(stderr, "podman-probe: %s\n", moat_error_message(&err)), 4;
        } else if (strcmp(cmd, "logs") == 0 && argc >= 2) {
                podman_logs_options o = { .follow = strcmp(argv[1], "-f") == 0 };
                r = podman_container_logs(c, argv[argc - 1], &o, write_frame, NULL, &err);
        } else if (strcmp(cmd, "stop") == 0 && argc == 3) {
                r = podman_container_stop(c, argv[1], (unsigned) atoi(argv[2]), &err);
        } else if (strcmp(cmd, "kill") == 0 && argc == 3) {
                r = podman_container_kill(c, argv[1], argv[2], &err);
        } else if (strcmp(cmd, "resize") == 0 && argc == 4) {
                r = podman_container_resize(c, argv[1], (unsigned) atoi(argv[2]), (unsigned) atoi(argv[3]), &err);
        } else if (strcmp(cmd, "rm") == 0 && argc >= 2) {
                r = podman_container_remove(c, argv[argc - 1], strcmp(argv[1], "-f") == 0, &err);
                if (r == -ENOENT)
                        return fprintf(stderr, "podman-probe: %s\n", moat_error_message(&err)), 3;
        } else if (strcmp(cmd, "inspect") == 0 && argc == 2) {
                podman_container_state s = {};
                r = podman_container_inspect(c, argv[1], &s, &err);
                if (r == -ENOENT)
                        return fprintf(stderr, "podman-probe: %s\n", moat_error_message(&err)), 3;
                if (r >= 0)
                        printf("status=%s running=%d exit_code=%d oom_killed=%d\n", s.status,
                               s.running, s.exit_code, s.oom_killed);
                podman_container_state_free(&s);
        } else if (strcmp(cmd, "list") == 0 && argc == 2) {
                podman_container_summary *list = NULL;
                size_t n = 0;
                r = podman_container_list(c, argv[1], &list, &n, &err);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        printf("%s %s %s %s\n", list[i].id, list[i].name ? list[i].name : "-",
                               list[i].state ? list[i].state : "-", list[i].run_id ? list[i].run_id : "-");
                podman_container_summaries_free(list, n);
        } else {
                fprintf(stderr, "podman-probe: bad command or arguments: %s\n", cmd);
                return 2;
        }
        if (r < 0)
                return fail(r);
        return 0;
}
