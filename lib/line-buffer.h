/* Cuts a byte stream into lines.  Bytes are kept exactly: a line is everything up to (not
 * including) '\n', CR and NUL and invalid UTF-8 included; what is left at the end, with no
 * newline, comes out marked partial.  Complete lines in a chunk are handed on without a copy. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A buffer grown past this for one long line is given back once the line is out: the relay
 * lives as long as the run, and one 1 MiB line must not cost 1 MiB for the rest of it. */
#define LINE_BUFFER_KEEP_CAP 65536

/* A negative return stops the feed, which returns it. */
typedef int (*line_fn)(const char *line, size_t len, bool partial, void *userdata);

typedef struct line_buffer {
        char *buf; /* the start of a line whose end has not arrived yet */
        size_t len, cap;
} line_buffer;

int line_buffer_feed(line_buffer *b, const char *data, size_t len, line_fn fn, void *userdata);

/* Hands on what is left (a last line without newline) as partial, when anything is. */
int line_buffer_flush(line_buffer *b, line_fn fn, void *userdata);

void line_buffer_free(line_buffer *b);
