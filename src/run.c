/* moat run: start a run (fire-and-forget, -f to follow, -i interactive). */
#include "config.h"

#include "cli.h"
#include "launch.h"

int cmd_run(int argc, char **argv) {
        _cleanup_(launch_done) launch l = {};
        int r;

        r = launch_parse(&l, argc, argv, "run", false);
        if (r >= 0)
                return r;
        r = launch_apply_config(&l);
        if (r >= 0)
                return r;
        /* moat.yaml may name an agent for a run given no command */
        if (!l.p.extra && !l.p.o.command && l.p.cfg.agent) {
                r = launch_provider(&l, l.p.cfg.agent);
                if (r >= 0)
                        return r;
        }
        return launch_start(&l);
}
