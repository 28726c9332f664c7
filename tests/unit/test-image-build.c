/* Agents' images as data: the recipe's Containerfile, its digest and tag, the one-file tar
 * context, the build request's query, how a build's progress is read from podman's stream;
 * and the recipes of the shipped providers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image-build.h"
#include "podman-spec.h"
#include "settings.h"
#include "tap.h"

static image_recipe recipe(const char *from, const char *run1, const char *run2) {
        image_recipe r = { .from = from ? strdup(from) : NULL };

        if (run1)
                strv_push(&r.run, strdup(run1));
        if (run2)
                strv_push(&r.run, strdup(run2));
        return r;
}

static void test_containerfile(void) {
        image_recipe r = recipe("busybox", "echo a > /a", "npm install -g x@1.2.3 && npm cache clean --force");
        _cleanup_free_ char *text = NULL;

        is_int(image_recipe_containerfile(&r, &text, NULL), 0, "a recipe makes a Containerfile");
        is_str(text, "FROM busybox\nRUN echo a > /a\nRUN npm install -g x@1.2.3 && npm cache clean --force\n",
               "FROM, then a RUN line per command, in order");
        image_recipe_done(&r);

        struct {
                const char *from, *run1, *run2, *says;
        } bad[] = {
                { NULL, "true", NULL, "build.from" },
                { "", "true", NULL, "build.from" },
                { "busy box", "true", NULL, "build.from" },
                { "busybox\nRUN evil", "true", NULL, "build.from" },
                { "busybox", NULL, NULL, "build.run is empty" },
                { "busybox", "true", "  ", "build.run item 2 is empty" },
                { "busybox", "true\nUSER root", NULL, "build.run item 1 spans lines" },
                { "busybox", "true", "a\rb", "build.run item 2 spans lines" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(moat_error_clear) moat_error err = {};
                _cleanup_free_ char *t = NULL;

                r = recipe(bad[i].from, bad[i].run1, bad[i].run2);
                is_int(image_recipe_containerfile(&r, &t, &err), -EINVAL, "bad recipe %zu refused", i);
                contains(moat_error_message(&err), bad[i].says, "and the error says which part");
                ok(!t, "and makes nothing");
                image_recipe_done(&r);
        }
}

static void test_digest_and_tag(void) {
        image_recipe a = recipe("busybox", "true", NULL), b = recipe("busybox", "true ", NULL);
        _cleanup_free_ char *tag_a = NULL, *tag_a2 = NULL, *tag_b = NULL;
        char digest[65];

        /* printf 'FROM busybox\nRUN true\n' | sha256sum */
        is_int(image_recipe_digest(&a, digest, NULL), 0, "digest");
        is_str(digest, "613389c155a4f718db6d69989a036fb3a19ce06bd97d3816a0a75e9f940b2565",
               "the SHA-256 of the Containerfile");
        is_int(image_recipe_tag("bb", &a, &tag_a, NULL), 0, "tag");
        is_str(tag_a, "localhost/moat/bb:613389c155a4", "localhost/moat/NAME:first 12 hex digits");
        image_recipe_tag("bb", &a, &tag_a2, NULL);
        is_str(tag_a2, tag_a, "the same recipe, the same tag");
        image_recipe_tag("bb", &b, &tag_b, NULL);
        ok(tag_b && strcmp(tag_a, tag_b) != 0, "a changed command, another tag");
        image_recipe_done(&a);
        image_recipe_done(&b);
}

static unsigned octal(const char *s, size_t n) {
        unsigned v = 0;

        for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '7'; i++)
                v = v * 8 + (unsigned) (s[i] - '0');
        return v;
}

static void test_tar(void) {
        const char *data = "FROM busybox\nRUN true\n";
        _cleanup_free_ char *t = NULL, *big = NULL;
        char path[] = "/tmp/moat-test-tar-XXXXXX", cmd[128], out[64] = "";
        unsigned sum = 0;
        size_t len = 0;
        FILE *p;
        int fd;

        is_int(build_context_tar("Containerfile", data, strlen(data), &t, &len), 0, "a one-file archive");
        is_int(len, 512 + 512 + 1024, "a header, the data in one block, two zero blocks");
        is_str(t, "Containerfile", "the name");
        is_int(octal(t + 124, 11), strlen(data), "the size, in octal");
        ok(t[156] == '0' && memcmp(t + 257, "ustar", 6) == 0, "a regular file, ustar");
        for (size_t i = 0; i < 512; i++)
                sum += i >= 148 && i < 156 ? ' ' : (unsigned char) t[i];
        is_int(octal(t + 148, 6), sum, "the header's checksum");
        is_mem(t + 512, strlen(data), data, strlen(data), "the data after the header");
        ok(t[512 + strlen(data)] == 0 && t[len - 1] == 0, "zero padding and end blocks");

        /* a real tar reads it back */
        fd = mkstemp(path);
        ok(fd >= 0 && write(fd, t, len) == (ssize_t) len, "written to a file");
        close(fd);
        snprintf(cmd, sizeof(cmd), "tar -xOf %s Containerfile", path);
        p = popen(cmd, "r");
        if (p) {
                size_t n = fread(out, 1, sizeof(out) - 1, p);

                out[n] = '\0';
                is_int(pclose(p), 0, "tar extracts it");
        } else
                ok(false, "tar runs");
        is_str(out, data, "and finds the Containerfile's text");
        unlink(path);

        big = malloc(2000);
        memset(big, 'x', 2000);
        free(t);
        t = NULL;
        is_int(build_context_tar("Containerfile", big, 2000, &t, &len), 0, "data over a block");
        is_int(len, 512 + 2048 + 1024, "padded to whole blocks");
        ok(build_context_tar("a-name-longer-than-the-header-holds-a-name-longer-than-the-header-holds-a-name-longer"
                             "-than-the-header-holds",
                             "", 0, &big, &len) == -EINVAL,
           "a name over 100 bytes is refused");
}

static void test_build_query(void) {
        char *labels[] = { (char *) "io.moat.provider=bb", (char *) "io.moat.recipe=sha256:ab", NULL };
        podman_build_request req = {
                .tag = "localhost/moat/bb:613389c155a4",
                .containerfile = "Containerfile",
                .labels = labels,
        };
        _cleanup_free_ char *q1 = NULL, *q2 = NULL, *q3 = NULL;
        char *bad_labels[] = { (char *) "novalue", NULL };
        _cleanup_(moat_error_clear) moat_error err = {};

        is_int(podman_build_query(&req, &q1, NULL), 0, "a build query");
        is_str(q1,
               "dockerfile=Containerfile&t=localhost%2Fmoat%2Fbb%3A613389c155a4"
               "&labels=%7B%22io.moat.provider%22%3A%22bb%22%2C%22io.moat.recipe%22%3A%22sha256%3Aab%22%7D"
               "&rm=true&forcerm=true&layers=true&httpproxy=true",
               "escaped tag and labels; the failed step's container removed; the server's proxy "
               "variables in RUN steps; no pull: only when missing");
        req.pull = req.no_cache = true;
        podman_build_query(&req, &q2, NULL);
        ok(q2 && strstr(q2, "&pullpolicy=always") && strstr(q2, "&nocache=true"), "--pull and --no-cache");
        req.labels = bad_labels;
        is_int(podman_build_query(&req, &q3, &err), -EINVAL, "a label without = is refused");
}

typedef struct seen {
        char lines[16][64];
        bool step[16];
        size_t n;
} seen;

static void record(const build_log *l, const char *line, bool step, void *userdata) {
        seen *s = userdata;

        (void) l;
        if (s->n < 16) {
                snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", line);
                s->step[s->n++] = step;
        }
}

static void test_build_log(void) {
        build_log l = {};
        seen s = {};
        char want[16];

        build_log_feed(&l, "STEP 1/3: FROM busybox\n", record, &s);
        is_int(l.step, 1, "step 1");
        is_int(l.steps, 3, "of 3");
        is_str(l.instruction, "FROM busybox", "its instruction");
        ok(s.n == 1 && s.step[0], "a step line, said to be one");

        build_log_feed(&l, "STEP 2/3: RUN echo hello\n", record, &s);
        build_log_feed(&l, "hel", record, &s);
        is_int(s.n, 2, "a part of a line waits");
        build_log_feed(&l, "lo\r\nworld\n\n", record, &s);
        is_int(s.n, 4, "then the line and the next; a blank line is no line");
        is_str(s.lines[2], "hello", "the parts joined, the \\r gone");
        ok(!s.step[2] && !s.step[3], "output lines are not steps");
        is_int(build_log_tail_count(&l), 2, "the step's output so far");
        is_str(build_log_tail_line(&l, 0), "hello", "oldest first");
        is_str(build_log_tail_line(&l, 1), "world", "then the next");
        ok(!build_log_tail_line(&l, 2), "and no more");

        for (int i = 0; i < 10; i++) {
                snprintf(want, sizeof(want), "line %d\n", i);
                build_log_feed(&l, want, NULL, NULL);
        }
        is_int(build_log_tail_count(&l), BUILD_LOG_TAIL, "the tail keeps its last lines only");
        is_str(build_log_tail_line(&l, 0), "line 2", "the oldest kept");
        is_str(build_log_tail_line(&l, BUILD_LOG_TAIL - 1), "line 9", "the newest");

        build_log_feed(&l, "STEP 3/3: RUN false\n", NULL, NULL);
        is_int(build_log_tail_count(&l), 0, "a new step starts an empty tail");
        build_log_feed(&l, "the end without a newline", record, &s);
        is_int(build_log_end(&l, record, &s), 0, "the stream ends");
        is_str(s.lines[s.n - 1], "the end without a newline", "its last line is taken");
        is_str(build_log_tail_line(&l, 0), "the end without a newline", "and is in the tail");

        build_log_feed(&l, "STEP 4: COMMIT x\n", NULL, NULL);
        ok(l.step == 4 && l.steps == 0, "an older podman's 'STEP N:' too");
        build_log_feed(&l, "STEPS 5/6: not a step\n", NULL, NULL);
        is_int(l.step, 4, "a line that only starts like one is output");
        build_log_done(&l);
}

/* The shipped agents: each builds from a node image with its npm package pinned, and the
 * request for it is what podman is sent. */
static void test_shipped_providers(void) {
        const char *top = getenv("top_srcdir");
        const struct {
                const char *name, *package;
        } agents[] = {
                { "claude", "@anthropic-ai/claude-code@" },
                { "codex", "@openai/codex@" },
                { "gemini", "@google/gemini-cli@" },
        };

        for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++) {
                _cleanup_(moat_error_clear) moat_error err = {};
                _cleanup_free_ char *path = NULL, *text = NULL, *cf = NULL, *prefix = NULL, *query = NULL;
                const char *pin;
                provider p = {};
                size_t len = 0;
                FILE *f;

                if (asprintf(&path, "%s/providers/%s.yaml", top ? top : ".", agents[i].name) < 0)
                        abort();
                f = fopen(path, "re");
                if (!ok(f != NULL, "%s is readable", path))
                        continue;
                text = malloc(65536);
                len = fread(text, 1, 65535, f);
                fclose(f);
                is_int(provider_parse(agents[i].name, path, text, len, &p, &err), 0, "%s parses", agents[i].name);
                if (err.code)
                        printf("# %s\n", moat_error_message(&err));
                ok(p.build.from && strncmp(p.build.from, "docker.io/library/node:", 23) == 0,
                   "%s builds from a node image", agents[i].name);
                image_recipe_containerfile(&p.build, &cf, NULL);
                pin = cf ? strstr(cf, agents[i].package) : NULL;
                ok(pin && pin[strlen(agents[i].package)] >= '0' && pin[strlen(agents[i].package)] <= '9',
                   "%s installs %s pinned to a version", agents[i].name, agents[i].package);
                ok(cf && strstr(cf, "RUN npm install -g "), "with npm, in a RUN step");
                if (asprintf(&prefix, "localhost/moat/%s:", agents[i].name) < 0)
                        abort();
                ok(p.image && strncmp(p.image, prefix, strlen(prefix)) == 0 &&
                           strlen(p.image) == strlen(prefix) + IMAGE_RECIPE_TAG_LEN &&
                           strspn(p.image + strlen(prefix), "0123456789abcdef") == IMAGE_RECIPE_TAG_LEN,
                   "its image is %s<digest>: %s", prefix, p.image);
                {
                        char *labels[] = { NULL };
                        const podman_build_request req = { .tag = p.image, .containerfile = "Containerfile",
                                                           .labels = labels };
                        _cleanup_free_ char *want = NULL;

                        podman_build_query(&req, &query, NULL);
                        /* the tag's '/' and ':' escaped */
                        if (asprintf(&want, "dockerfile=Containerfile&t=localhost%%2Fmoat%%2F%s%%3A%s&labels=%%7B%%7D"
                                     "&rm=true&forcerm=true&layers=true&httpproxy=true",
                                     agents[i].name, p.image + strlen(prefix)) < 0)
                                abort();
                        is_str(query, want, "%s's build request", agents[i].name);
                }
                provider_done(&p);
        }
}

static void test_provider_build_section(void) {
        static const char both[] = "image: x\nbuild: {from: busybox, run: [true]}\ncommand: [a]\n",
                          no_from[] = "build: {run: [true]}\ncommand: [a]\n",
                          bad_run[] = "build: {from: busybox, run: [\"a\\nb\"]}\ncommand: [a]\n",
                          good[] = "build:\n  from: busybox\n  run: [true]\n  extra: 1\ncommand: [a]\n";
        _cleanup_(moat_error_clear) moat_error e1 = {}, e2 = {}, e3 = {};
        provider p = {};

        is_int(provider_parse("bb", "bb.yaml", both, strlen(both), &p, &e1), -EINVAL, "image: and build: both");
        contains(moat_error_message(&e1), "either image: or build:", "is refused, saying so");
        is_int(provider_parse("bb", "bb.yaml", no_from, strlen(no_from), &p, &e2), -EINVAL, "build: without from:");
        contains(moat_error_message(&e2), "build needs from:", "is refused, saying so");
        is_int(provider_parse("bb", "bb.yaml", bad_run, strlen(bad_run), &p, &e3), -EINVAL, "a command of two lines");
        contains(moat_error_message(&e3), "bb.yaml:1: build.run item 1 spans lines", "is refused, with the line");
        is_int(provider_parse("bb", "bb.yaml", good, strlen(good), &p, NULL), 0, "a build section");
        is_str(p.image, "localhost/moat/bb:613389c155a4", "names its image by the recipe");
        ok(p.warnings && strstr(p.warnings[0], "unknown key 'extra'"), "an unknown key in it is a warning");
        provider_done(&p);
}

int main(void) {
        test_containerfile();
        test_digest_and_tag();
        test_tar();
        test_build_query();
        test_build_log();
        test_provider_build_section();
        test_shipped_providers();
        return tap_done();
}
