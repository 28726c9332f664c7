#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"

void progress_init(progress *p) {
        struct winsize ws;
        const char *term = getenv("TERM");

        *p = (progress) { .status_line = isatty(STDERR_FILENO), .columns = 80 };
        p->color = p->status_line && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
        if (p->status_line && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                p->columns = ws.ws_col;
}

void progress_clear(progress *p) {
        if (p->shown)
                fputs("\r\033[K", stderr);
        p->shown = false;
}

/* S as it may go on the status line: control characters (escapes, \r of a program's own
 * progress) as spaces, cut at a character boundary so that it fits in ROOM columns.  Returns
 * the columns it took. */
static size_t put_fitted(const char *s, size_t room) {
        size_t n = 0;

        for (const unsigned char *c = (const unsigned char *) s; *c && n < room; c++) {
                if ((*c & 0xc0) == 0x80) { /* a UTF-8 continuation byte: its character is counted */
                        fputc(*c, stderr);
                        continue;
                }
                if ((*c & 0x80) && n + 1 >= room)
                        break;
                fputc(*c < 0x20 || *c == 0x7f ? ' ' : *c, stderr);
                n++;
        }
        return n;
}

void progress_show(progress *p, const char *label, const char *what, const char *detail, const char *line) {
        size_t used;

        if (!p->status_line) {
                if (line)
                        fprintf(stderr, "%s\n", line);
                return;
        }
        progress_clear(p);
        fprintf(stderr, p->color ? "\033[1m%s\033[0m " : "%s ", label);
        used = strlen(label) + 1;
        used += put_fitted(what ? what : "", p->columns > used + 1 ? p->columns - used - 1 : 0);
        if (detail && used + 4 < p->columns) {
                fputs(": ", stderr);
                put_fitted(detail, p->columns - used - 3);
        }
        p->shown = true;
        fflush(stderr);
}
