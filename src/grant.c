/* moat grant: the credentials that runs' proxies add for their hosts, so that containers
 * never hold them.  add reads the value from stdin or a prompt without echo, never from argv. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"
#include "settings.h"

/* Reads the value: a line at a prompt with echo off on a terminal, else all of stdin.  The
 * buffer is wiped by the caller. */
static int read_value(const char *name, char *buf, size_t size, size_t *ret_len) {
        struct termios saved, quiet;
        bool tty = isatty(STDIN_FILENO);
        size_t len = 0;

        if (tty) {
                fprintf(stderr, "Value of the grant %s (not shown): ", name);
                if (tcgetattr(STDIN_FILENO, &saved) < 0)
                        return -errno;
                quiet = saved;
                quiet.c_lflag &= ~(tcflag_t) ECHO;
                quiet.c_lflag |= ECHONL;
                if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
                        return -errno;
        }
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf + len, size - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len == size || (tty && buf[len - 1] == '\n'))
                        break;
        }
        if (tty)
                (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        *ret_len = len;
        return 0;
}

static int grant_add(cli_context *ctx, const char *name) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(strv_freep) char **hosts = NULL;
        _cleanup_free_ char *list = NULL;
        char buf[GRANT_VALUE_MAX + 3];
        grant_def def = {};
        size_t len = 0;
        int r;

        if (grant_find(name, &def, &err) < 0)
                return cli_fail("%s; see 'moat grant list --all'", moat_error_message(&err));
        r = grant_hosts(&def, &hosts);
        grant_def_done(&def);
        if (r < 0 || !(list = strv_join(hosts, ", ")))
                return cli_fail("out of memory");
        r = read_value(name, buf, sizeof(buf), &len);
        if (r >= 0)
                r = grant_value_check(buf, len, &len, &err);
        if (r >= 0)
                r = grant_store_put(run_store_home(ctx->store), name, buf, len, &err);
        explicit_bzero(buf, sizeof(buf));
        if (r < 0)
                return cli_fail("cannot store the grant %s: %s", name,
                                err.code ? moat_error_message(&err) : strerror(-r));
        printf("Stored the grant %s, for %s.\n", name, list);
        return 0;
}

static int grant_list(cli_context *ctx, bool all) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(strv_freep) char **stored = NULL;
        grant_def *defs = NULL;
        size_t n_defs = 0;

        if (grant_store_list(run_store_home(ctx->store), &stored, &err) < 0 ||
            grant_find_all(&defs, &n_defs, &err) < 0)
                return cli_fail("%s", moat_error_message(&err));
        printf("%-16s %-20s %s\n", "NAME", "ADDED", "HOSTS");
        for (size_t i = 0; i < n_defs; i++) {
                _cleanup_(strv_freep) char **hosts = NULL;
                _cleanup_free_ char *list = NULL;
                char added[32] = "-";
                int64_t mtime;

                if (grant_store_stat(run_store_home(ctx->store), defs[i].name, &mtime, NULL) >= 0) {
                        time_t t = (time_t) mtime;
                        struct tm tm;

                        strftime(added, sizeof(added), "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
                } else if (!all)
                        continue;
                if (grant_hosts(&defs[i], &hosts) >= 0)
                        list = strv_join(hosts, ", ");
                printf("%-16s %-20s %s\n", defs[i].name, added, list ?: "?");
        }
        /* stored, but no provider says what it is for any more */
        for (char **s = stored; *s; s++) {
                bool defined = false;

                for (size_t i = 0; i < n_defs; i++)
                        defined |= strcmp(defs[i].name, *s) == 0;
                if (!defined)
                        printf("%-16s %-20s %s\n", *s, "?", "(no provider defines it)");
        }
        grant_defs_free(defs, n_defs);
        return 0;
}

static int grant_rm(cli_context *ctx, char **names) {
        int rc = 0;

        for (char **n = names; *n; n++) {
                _cleanup_(moat_error_clear) moat_error err = {};
                int r = grant_store_remove(run_store_home(ctx->store), *n, &err);

                if (r == -ENOENT)
                        rc = cli_fail("no grant '%s' is stored; see 'moat grant list'", *n);
                else if (r < 0)
                        rc = cli_fail("%s", moat_error_message(&err));
        }
        return rc;
}

static void usage(FILE *out) {
        fputs("Usage: moat grant add NAME     store a credential (read from stdin, or a prompt)\n"
              "       moat grant list [--all] the stored grants: name, date, hosts (--all: every\n"
              "                               grant the providers define)\n"
              "       moat grant rm NAME...   forget credentials\n"
              "Options: --user, --system (whose store: the user's, or root's for the system manager)\n"
              "\n"
              "A run's proxy adds a grant's credential to the requests for its hosts; the\n"
              "container gets a placeholder, never the value. See moat-grant(1).\n",
              out);
}

int cmd_grant(int argc, char **argv) {
        enum { OPT_ALL = OPT_OWN };
        static const struct option options[] = {
                { "all", no_argument, NULL, OPT_ALL },
                CLI_MANAGER_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(cli_context_close) cli_context ctx = {};
        cli_manager_flags mf = {};
        bool all = false;
        const char *verb;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case OPT_ALL:
                        all = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        if (!cli_manager_option(c, &mf))
                                return cli_fail_option(c, argv, "grant");
                }
        if (optind >= argc)
                return cli_fail("give add, list or rm; see 'moat grant --help'");
        verb = argv[optind++];
        if (strcmp(verb, "add") == 0 && argc - optind != 1)
                return cli_fail("give exactly one grant; usage: moat grant add NAME (the value comes on stdin)");
        if (strcmp(verb, "rm") == 0 && argc - optind < 1)
                return cli_fail("give the grants to remove; usage: moat grant rm NAME...");
        if (strcmp(verb, "list") == 0 && argc - optind != 0)
                return cli_fail("unexpected argument '%s'; usage: moat grant list [--all]", argv[optind]);
        if (strcmp(verb, "add") != 0 && strcmp(verb, "rm") != 0 && strcmp(verb, "list") != 0)
                return cli_fail("unknown grant command '%s'; use add, list or rm", verb);
        if (all && strcmp(verb, "list") != 0)
                return cli_fail("--all goes with 'moat grant list'");
        for (int i = optind; i < argc; i++)
                if (!data_name_valid(argv[i]))
                        return cli_fail("invalid grant name '%s': use 1-32 of a-z, 0-9, '_', '-'", argv[i]);
        if (cli_context_open(&ctx, &mf, false) != 0)
                return EXIT_MOAT_ERROR;
        if (strcmp(verb, "add") == 0)
                return grant_add(&ctx, argv[optind]);
        if (strcmp(verb, "rm") == 0)
                return grant_rm(&ctx, argv + optind);
        return grant_list(&ctx, all);
}
