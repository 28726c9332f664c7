/* The journal's native protocol alone: N numbered lines as N entries (MESSAGE and PRIORITY),
 * as fast as sd_journal_sendv goes.  bench/journal-ceiling.sh compares it with journald's
 * stdout stream transport; it is not part of moat. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

int main(int argc, char **argv) {
        long n = argc > 1 ? atol(argv[1]) : 200000;
        char msg[64];

        for (long i = 1; i <= n; i++) {
                struct iovec iov[2] = {
                        { msg, (size_t) snprintf(msg, sizeof(msg), "MESSAGE=%ld", i) },
                        { (char *) "PRIORITY=6", 10 },
                };

                if (sd_journal_sendv(iov, 2) < 0)
                        return 1;
        }
        return 0;
}
