#include "config.h"

#include <unistd.h>

#include "cli-util.h"
#include "cli.h"

run_manager cli_manager(bool user_flag, bool system_flag) {
        if (user_flag)
                return RUN_MANAGER_USER;
        if (system_flag)
                return RUN_MANAGER_SYSTEM;
        return geteuid() == 0 ? RUN_MANAGER_SYSTEM : RUN_MANAGER_USER;
}

run_store *cli_open_store(run_manager manager) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_free_ char *home = NULL;
        run_store *store = NULL;

        if (run_store_default_home(manager, &home, &err) < 0 || run_store_open(home, &store, &err) < 0) {
                cli_fail("%s", moat_error_message(&err));
                return NULL;
        }
        return store;
}
