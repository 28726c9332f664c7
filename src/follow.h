/* Printing a run's output from the journal: moat logs and moat run -f. */
#pragma once

#include <stdbool.h>

#include "journal.h"
#include "run.h"

typedef struct follow_options {
        bool follow;
        long tail;
        bool timestamps;
        /* run -f: Ctrl+C stops the run (a second one kills its container) */
        bool stop_on_interrupt;
} follow_options;

/* Prints REC's stdout lines on stdout and its stderr lines on stderr, byte for byte.  Ends
 * at the run's end record (following), or when the run has ended without one.  *ret_end
 * tells how the run ended, when that is known. */
int follow_run(const run_record *rec, const follow_options *o, journal_end *ret_end);
