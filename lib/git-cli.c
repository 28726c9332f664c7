#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "git-cli.h"
#include "git-run.h"
#include "macro.h"
#include "strv.h"

/* What git must not take from the repository it looks at, whoever wrote its config. */
static const char *const safety[] = {
        "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*",
        "-c", "core.pager=cat",       "-c", "protocol.ext.allow=never",
};

const char *git_cli_path(void) {
        static const char *const places[] = { "/usr/bin/git", "/usr/local/bin/git", "/bin/git" };

        for (size_t i = 0; i < ELEMENTSOF(places); i++)
                if (access(places[i], X_OK) == 0)
                        return places[i];
        return places[0];
}

int git_capture(const char *dir, const char *const *args, char **ret, size_t *ret_len) {
        static char *const env[] = { (char *) "GIT_TERMINAL_PROMPT=0", NULL };
        _cleanup_(strv_freep) char **argv = NULL;

        for (size_t i = 0; i < ELEMENTSOF(safety); i++)
                if (strv_push(&argv, strdup(safety[i])) < 0)
                        return -ENOMEM;
        for (const char *const *a = args; *a; a++)
                if (strv_push(&argv, strdup(*a)) < 0)
                        return -ENOMEM;
        return git_run(dir, argv, env, "git", ret, ret_len, NULL);
}
