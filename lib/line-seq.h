/* Where journald lost a run's output.  The writer numbers each output entry (MOAT_SEQ 1, 2,
 * 3, ...) and the end record says how many there were (MOAT_LINES); a reader that meets the
 * numbers in order knows how many entries are missing, and where. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct line_seq {
        uint64_t next;    /* the number the next entry should have; 0 while not known */
        uint64_t dropped; /* entries found missing so far */
} line_seq;

/* FROM_FIRST: the reader starts at the run's first entry, so a missing first entry counts;
 * otherwise (the last N lines) the first entry met sets where it starts. */
void line_seq_init(line_seq *s, bool from_first);

/* The entry numbered SEQ was met: returns how many are missing right before it. */
uint64_t line_seq_see(line_seq *s, uint64_t seq);

/* The run wrote TOTAL entries in all: returns how many are missing after the last one met
 * (all of them when none was met: a reader that skipped entries on purpose does not ask). */
uint64_t line_seq_end(line_seq *s, uint64_t total);
