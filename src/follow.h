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
        /* moat trace: the records of the run's proxy instead of its output */
        int (*event)(const journal_event *ev, void *userdata);
        void *userdata;
} follow_options;

/* How a run ended, as far as its journal and its record tell. */
typedef struct follow_end {
        bool known;          /* from the end record, or from the run record when journald lost it */
        run_state state;
        bool has_exit_code;
        int exit_code;
        char *error;         /* a failed run's reason, from the run record */
        char *stop_reason;   /* a stopped run's, from the run record: "timeout" or NULL */
        uint64_t dropped;    /* lines of output that journald dropped */
} follow_end;

void follow_end_done(follow_end *e);

/* Prints REC's stdout lines on stdout and its stderr lines on stderr, byte for byte, and
 * "moat: journald dropped N lines of this run here" on stderr where lines are missing.  Ends
 * at the run's end record (following), or when the run has ended without one.  *ret_end
 * tells how the run ended, when that is known, and how many lines were missing. */
int follow_run(const run_record *rec, const follow_options *o, follow_end *ret_end);
