/* main() for the fuzz targets in make check: runs the target's LLVMFuzzerTestOneInput() on
 * every file of $top_srcdir/tests/fuzz/corpus/<program name>/, or on the files given as
 * arguments, and prints TAP.  A target checks its own invariants and abort()s on a
 * violation, which the TAP driver reports as an error. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int tap_count;

/* The whole file in a buffer of exactly its size, so that ASan sees any read past it. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t done = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EISDIR;

        buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        if (!buf)
                return -ENOMEM;
        while (done < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + done, (size_t) st.st_size - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO; /* shrank under us */
                done += (size_t) n;
        }

        *ret = TAKE_PTR(buf);
        *ret_size = done;
        return 0;
}

static bool replay_one(const char *path, const char *label) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        tap_count++;
        r = read_file(path, &data, &size);
        if (r < 0) {
                printf("not ok %d - %s: %s\n", tap_count, label, strerror(-r));
                return false;
        }
        /* Flushed first: if the target aborts, the output says which input did it. */
        printf("# %s (%zu bytes)\n", label, size);
        fflush(stdout);
        LLVMFuzzerTestOneInput(data, size);
        printf("ok %d - %s\n", tap_count, label);
        return true;
}

static int corpus_filter(const struct dirent *de) {
        return de->d_name[0] != '.';
}

int main(int argc, char **argv) {
        _cleanup_free_ char *dir = NULL;
        struct dirent **entries = NULL;
        const char *top, *target;
        bool all_ok = true;
        int n;

        if (argc > 1) {
                for (int i = 1; i < argc; i++)
                        all_ok = replay_one(argv[i], argv[i]) && all_ok;
                printf("1..%d\n", tap_count);
                return all_ok ? EXIT_SUCCESS : EXIT_FAILURE;
        }

        target = strrchr(argv[0], '/');
        target = target ? target + 1 : argv[0];
        if (strncmp(target, "lt-", 3) == 0) /* a libtool wrapper's real program */
                target += 3;
        top = getenv("top_srcdir");
        if (!top || top[0] == '\0')
                top = ".";
        if (asprintf(&dir, "%s/tests/fuzz/corpus/%s", top, target) < 0)
                return EXIT_FAILURE;

        n = scandir(dir, &entries, corpus_filter, alphasort);
        if (n <= 0) {
                printf("not ok 1 - corpus %s: %s\n1..1\n", dir, n < 0 ? strerror(errno) : "empty");
                free(entries);
                return EXIT_FAILURE;
        }

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, entries[i]->d_name) < 0)
                        return EXIT_FAILURE;
                all_ok = replay_one(path, entries[i]->d_name) && all_ok;
                free(entries[i]);
        }
        free(entries);

        printf("1..%d\n", tap_count);
        return all_ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
