/* Starting a run: everything `moat run` does before it prints "Started".  Validates all
 * input first; on any failure leaves nothing behind (no container, no record, no unit). */
#pragma once

#include "error.h"
#include "run-plan.h"

/* Starts the run: container created, record written, unit started and its monitor running
 * the container.  *ret (may be NULL) is the record as the monitor left it. */
int runner_start(const run_options *o, run_record **ret, moat_error *err);

/* Whether WORD, taken for a workspace that does not exist, could have been meant as a command
 * (a bare name such as 'date' or 'python3', no path): then the error says to put it after '--'. */
bool run_word_could_be_command(const char *word);

/* When podman's error in ERR says REC's command could not be run, rewrites ERR to say which
 * command and image, with podman run's exit status (127 not found, 126 not executable) in
 * err->exit_status, and returns that status; 0 (ERR untouched) for any other error. */
int run_exec_failure(const run_record *rec, moat_error *err);

/* Removes an ended run: its container when one is left (--keep), then its record. */
int runner_remove(run_store *store, const run_record *rec, moat_error *err);
