/* Reading a descriptor to its end and writing one whole: every byte, a NUL after them, and a
 * limit that holds. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file-util.h"
#include "macro.h"
#include "tap.h"

/* A pipe whose write end a child fills with LEN bytes of 'a'..'z', then closes. */
static int pipe_of(size_t len) {
        int p[2];
        pid_t pid;

        if (pipe(p) < 0)
                abort();
        pid = fork();
        if (pid == 0) {
                char *data = malloc(len + 1);

                close(p[0]);
                for (size_t i = 0; i < len; i++)
                        data[i] = (char) ('a' + i % 26);
                _exit(fd_write_all(p[1], data, len) < 0 ? 1 : 0);
        }
        close(p[1]);
        return p[0];
}

static void test_read_all(void) {
        _cleanup_free_ char *buf = NULL, *none = NULL, *big = NULL;
        size_t len = 1;
        bool same = true;
        int fd;

        fd = pipe_of(100000);
        is_int(fd_read_all(fd, 1 << 20, &buf, &len), 0, "a pipe read to its end");
        is_int(len, 100000, "every byte, across many reads and buffers");
        for (size_t i = 0; i < len; i++)
                same = same && buf[i] == (char) ('a' + i % 26);
        ok(same && buf[len] == '\0', "in order, with a NUL after them");
        close(fd);
        while (wait(NULL) > 0)
                ;

        fd = pipe_of(0);
        is_int(fd_read_all(fd, 10, &none, &len), 0, "an empty one");
        ok(len == 0 && none && none[0] == '\0', "gives an empty string");
        close(fd);
        while (wait(NULL) > 0)
                ;

        fd = pipe_of(5000);
        is_int(fd_read_all(fd, 5000, &big, &len), 0, "as many bytes as the limit: read");
        ok(len == 5000, "all of them");
        big = mfree(big);
        close(fd);
        while (wait(NULL) > 0)
                ;

        fd = pipe_of(5000);
        is_int(fd_read_all(fd, 4999, &big, &len), -E2BIG, "one byte past the limit: -E2BIG");
        ok(!big, "and nothing returned");
        close(fd);
        while (wait(NULL) > 0)
                ;
        is_int(fd_read_all(-1, 10, &big, &len), -EBADF, "a descriptor that is none: its errno");
}

int main(void) {
        test_read_all();
        return tap_done();
}
