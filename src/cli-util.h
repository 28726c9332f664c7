/* What several commands share: the manager options and how a run is named on output. */
#pragma once

#include <stdbool.h>

#include "run.h"

/* The manager for this caller: the user manager for non-root, the system manager for
 * root; --user / --system (USER_FLAG / SYSTEM_FLAG) override. */
run_manager cli_manager(bool user_flag, bool system_flag);

/* Opens the run store of MANAGER; on failure reports and returns NULL. */
run_store *cli_open_store(run_manager manager);
