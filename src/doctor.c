/* moat doctor: whether this host gives moat what it needs, one check per line, each with the
 * fix when something is wrong. */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "host-check.h"

static const char *const status_words[] = {
        [CHECK_OK] = "ok",
        [CHECK_WARN] = "warn",
        [CHECK_FAIL] = "FAIL",
};

/* Prints one check; returns whether it failed. */
static bool report(host_check *c) {
        bool failed = c->status == CHECK_FAIL;

        printf("%-5s %-11s %s\n", status_words[c->status], c->name, c->message ?: "out of memory");
        if (c->fix)
                printf("%-5s %-11s fix: %s\n", "", "", c->fix);
        host_check_done(c);
        return failed;
}

int cmd_doctor(int argc, char **argv) {
        static const struct option options[] = {
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        cli_manager_flags mf = {};
        run_manager m;
        host_check c;
        bool failed = false, podman_ok;
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        fputs("Usage: moat doctor [--user|--system]\n"
                              "\n"
                              "Check what moat needs of this host: podman's socket and storage driver, the\n"
                              "systemd manager, moat.slice and, for the user manager, journald's rate limit\n"
                              "(moat's drop-in),\n"
                              "cgroup delegation and subordinate ids. Each problem comes with its fix.\n"
                              "Exit status: 0 when nothing failed (warnings allowed), 1 otherwise.\n"
                              "See moat-doctor(1).\n",
                              stdout);
                        return 0;
                default:
                        if (!cli_manager_option(opt, &mf))
                                return cli_fail_option(opt, argv, "doctor");
                }
        if (optind < argc)
                return cli_fail("unexpected argument '%s'; usage: moat doctor [--user|--system]", argv[optind]);
        if (cli_manager(&mf, &m) < 0)
                return cli_fail("--user and --system exclude each other");

        (void) host_check_podman(m, &c);
        podman_ok = c.status == CHECK_OK;
        failed |= report(&c);
        if (podman_ok) {
                (void) host_check_storage(m, &c);
                failed |= report(&c);
        }
        (void) host_check_manager(m, &c);
        failed |= report(&c);
        (void) host_check_slice(m, &c);
        failed |= report(&c);
        if (m == RUN_MANAGER_USER) {
                (void) host_check_journal_limits(getuid(), &c);
                failed |= report(&c);
                (void) host_check_delegation(getuid(), &c);
                failed |= report(&c);
                (void) host_check_subids(getuid(), &c);
                failed |= report(&c);
        }
        return failed ? 1 : 0;
}
