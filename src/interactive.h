/* moat run -i: the terminal (or piped stdin) attached to the run's container. */
#pragma once

#include "runner.h"

/* Starts the run with O (interactive), attached before its container starts, and holds the
 * terminal until the run ends.  Returns the exit status for moat. */
int interactive_run(run_options *o);
