/* Progress of a long podman call (a build, a pull) on stderr: on a terminal one status line,
 * rewritten in place and cut to its width; elsewhere plain lines, as they come. */
#pragma once

#include <stdbool.h>

typedef struct progress {
        bool status_line; /* stderr is a terminal */
        bool color;       /* bold, unless NO_COLOR or TERM=dumb */
        unsigned columns;
        bool shown;       /* a status line is on the screen */
} progress;

void progress_init(progress *p);

/* On a terminal: the status line "LABEL WHAT: DETAIL" (LABEL in bold; DETAIL may be NULL).
 * Elsewhere: LINE, as a line of its own (nothing when NULL). */
void progress_show(progress *p, const char *label, const char *what, const char *detail, const char *line);

/* Takes the status line off the screen, before other output. */
void progress_clear(progress *p);
