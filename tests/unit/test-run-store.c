/* The store in a directory of its own under the build directory (never /tmp: the tests must
 * not depend on, or leave anything in, a shared directory), removed at the end. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "tap.h"

#define N_MANY 1000

static char top[64];

static run_record *record_new(const char *id, const char *name, uint64_t created_at) {
        run_record *r = calloc(1, sizeof *r);

        if (!r)
                abort();
        memcpy(r->id, id, RUN_ID_LEN + 1);
        r->name = name ? strdup(name) : NULL;
        r->image = strdup("docker.io/library/alpine:3");
        r->workspace = strdup("/home/u/project");
        if (asprintf(&r->unit, "moat-%s.service", id) < 0 || !r->image || !r->workspace)
                abort();
        r->manager = RUN_MANAGER_USER;
        r->state = RUN_CREATED;
        r->created_at = created_at;
        return r;
}

static int create(run_store *s, const char *id, const char *name, uint64_t created_at) {
        _cleanup_(run_record_freep) run_record *r = record_new(id, name, created_at);
        moat_error err = {};
        int k;

        k = run_store_create(s, r, NULL, &err);
        if (k < 0)
                printf("# create %s: %s\n", id, moat_error_message(&err));
        moat_error_clear(&err);
        return k;
}

/* A macro, so that the compiler checks each format against its arguments. */
#define path_of(fmt, a, b)                                  \
        ({                                                  \
                char *_p;                                   \
                if (asprintf(&_p, fmt, a, b) < 0)           \
                        abort();                            \
                _p;                                         \
        })

static int mode_of(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return -errno;
        return (int) (st.st_mode & 07777);
}

static bool exists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

/* The names in DIR other than . and .., space-separated and sorted. */
static char *dir_entries(const char *dir) {
        struct dirent **entries;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int n;

        if (!f)
                abort();
        n = scandir(dir, &entries, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (strcmp(entries[i]->d_name, ".") != 0 && strcmp(entries[i]->d_name, "..") != 0)
                        fprintf(f, "%s%s", ftell(f) > 0 ? " " : "", entries[i]->d_name);
                free(entries[i]);
        }
        if (n >= 0)
                free(entries);
        fclose(f);
        return buf;
}

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");

        if (!f || fputs(content, f) < 0 || fclose(f) != 0)
                abort();
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void test_default_home(void) {
        _cleanup_free_ char *home = NULL;
        moat_error err = {};

        setenv("MOAT_HOME", "/srv/moat", 1);
        is_int(run_store_default_home(RUN_MANAGER_USER, &home, &err), 0, "MOAT_HOME is used");
        is_str(home, "/srv/moat", "MOAT_HOME as given");
        free(TAKE_PTR(home));
        is_int(run_store_default_home(RUN_MANAGER_SYSTEM, &home, &err), 0, "MOAT_HOME also for the system");
        is_str(home, "/srv/moat", "MOAT_HOME beats /var/lib/moat");
        free(TAKE_PTR(home));

        setenv("MOAT_HOME", "relative/moat", 1);
        home = (char *) 0x1;
        is_int(run_store_default_home(RUN_MANAGER_USER, &home, &err), -EINVAL, "a relative MOAT_HOME is refused");
        contains(err.msg, "relative/moat", "the error names it");
        ok(home == (char *) 0x1, "output untouched");
        home = NULL;
        moat_error_clear(&err);

        setenv("MOAT_HOME", "", 1);
        setenv("HOME", "/home/tester", 1);
        is_int(run_store_default_home(RUN_MANAGER_USER, &home, &err), 0, "empty MOAT_HOME: the default");
        is_str(home, "/home/tester/.moat", "~/.moat for the user manager");
        free(TAKE_PTR(home));
        unsetenv("MOAT_HOME");
        is_int(run_store_default_home(RUN_MANAGER_SYSTEM, &home, &err), 0, "system default");
        is_str(home, "/var/lib/moat", "/var/lib/moat for the system manager");
        free(TAKE_PTR(home));
        setenv("HOME", "/", 1);
        is_int(run_store_default_home(RUN_MANAGER_USER, &home, &err), 0, "HOME=/");
        is_str(home, "/.moat", "no double slash under /");
        free(TAKE_PTR(home));
}

static void test_open(const char *home, mode_t mask) {
        _cleanup_(run_store_freep) run_store *s = NULL;
        _cleanup_free_ char *runs = path_of("%s/runs%s", home, "");
        moat_error err = {};

        umask(mask);
        is_int(run_store_open(home, &s, &err), 0, "store opened under umask %03o", (unsigned) mask);
        is_str(s ? run_store_home(s) : NULL, home, "home as given");
        is_int(mode_of(home), 0700, "MOAT_HOME created 0700 under umask %03o", (unsigned) mask);
        is_int(mode_of(runs), 0700, "runs/ created 0700 under umask %03o", (unsigned) mask);
        run_store_free(TAKE_PTR(s));
        is_int(run_store_open(home, &s, &err), 0, "an existing store opens again");
}

static void test_create_load_save(run_store *s, const char *home) {
        _cleanup_free_ char *dir = path_of("%s/runs/%s", home, "0123456789ab");
        _cleanup_free_ char *file = path_of("%s/runs/%s/metadata.json", home, "0123456789ab");
        _cleanup_free_ char *entries = NULL;
        _cleanup_(run_record_freep) run_record *r = record_new("0123456789ab", "brave-otter", 1000), *back = NULL;
        moat_error err = {};
        struct stat before, after;
        int k;

        umask(0);
        is_int(run_store_create(s, r, NULL, &err), 0, "created");
        is_int(mode_of(dir), 0700, "run directory 0700 under umask 0");
        is_int(mode_of(file), 0600, "metadata.json 0600 under umask 0");
        entries = dir_entries(dir);
        is_str(entries, "metadata.json", "only metadata.json in the run directory: no temporary file left");
        free(TAKE_PTR(entries));

        k = run_store_create(s, r, NULL, &err);
        is_int(k, -EEXIST, "creating the same ID again: -EEXIST");
        contains(err.msg, "0123456789ab", "the error names the ID");
        moat_error_clear(&err);

        is_int(run_store_load(s, "0123456789ab", &back, &err), 0, "loaded");
        is_str(back ? back->name : NULL, "brave-otter", "loaded name");
        is_int(back ? back->created_at : 0, 1000, "loaded created_at");
        is_int(back ? back->state : -1, RUN_CREATED, "loaded state");
        run_record_free(TAKE_PTR(back));

        if (stat(file, &before) < 0)
                abort();
        r->state = RUN_RUNNING;
        r->started_at = 2000;
        umask(0277);
        is_int(run_store_save(s, r, &err), 0, "saved under umask 0277");
        umask(0);
        if (stat(file, &after) < 0)
                abort();
        ok(before.st_ino != after.st_ino, "save replaced the file (a rename), not rewrote it in place");
        is_int(mode_of(file), 0600, "saved metadata.json is still 0600");
        entries = dir_entries(dir);
        is_str(entries, "metadata.json", "no temporary file left after a save");
        is_int(run_store_load(s, "0123456789ab", &back, &err), 0, "loaded after save");
        is_int(back ? back->state : -1, RUN_RUNNING, "the new state is on disk");
        is_int(back ? back->started_at : 0, 2000, "started_at is on disk");
        run_record_free(TAKE_PTR(back));

        back = (run_record *) 0x1;
        is_int(run_store_load(s, "aaaaaaaaaaaa", &back, &err), -ENOENT, "loading a missing run: -ENOENT");
        contains(err.msg, "aaaaaaaaaaaa", "the error names the ID");
        ok(back == (run_record *) 0x1, "output untouched");
        moat_error_clear(&err);
        is_int(run_store_load(s, "../runs/0123", &back, &err), -EINVAL, "loading a path: -EINVAL");
        moat_error_clear(&err);
        is_int(run_store_load(s, "0123456789AB", &back, &err), -EINVAL, "loading an uppercase ID: -EINVAL");
        moat_error_clear(&err);
        back = NULL;

        umask(0277);
        memcpy(r->id, "aaaaaaaaaaaa", RUN_ID_LEN + 1);
        is_int(run_store_create(s, r, NULL, &err), 0, "created under umask 0277");
        umask(0);
        free(dir);
        dir = path_of("%s/runs/%s", home, "aaaaaaaaaaaa");
        free(file);
        file = path_of("%s/runs/%s/metadata.json", home, "aaaaaaaaaaaa");
        is_int(mode_of(dir), 0700, "run directory 0700 under umask 0277");
        is_int(mode_of(file), 0600, "metadata.json 0600 under umask 0277");
        is_int(run_store_remove(s, "aaaaaaaaaaaa", &err), 0, "removed again");

        memcpy(r->id, "bbbbbbbbbbbb", RUN_ID_LEN + 1);
        is_int(run_store_save(s, r, &err), -ENOENT, "saving a run that was never created: -ENOENT");
        moat_error_clear(&err);
        free(r->name);
        r->name = strdup("Not Valid");
        is_int(run_store_create(s, r, NULL, &err), -EINVAL, "creating an invalid record: -EINVAL");
        moat_error_clear(&err);
        free(dir);
        dir = path_of("%s/runs/%s", home, "bbbbbbbbbbbb");
        ok(!exists(dir), "an invalid record leaves no directory behind");
}

static void test_lock(run_store *s, const char *home) {
        _cleanup_free_ char *lock = path_of("%s/runs/%s", home, ".lock");
        _cleanup_close_ int other = -1;
        moat_error err = {};
        int fd = -1;

        is_int(run_store_lock(s, &fd, &err), 0, "locked");
        ok(fd >= 0, "a lock descriptor");
        is_int(mode_of(lock), 0600, "runs/.lock is 0600");
        other = open(lock, O_RDWR | O_CLOEXEC);
        ok(other >= 0 && flock(other, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
           "another opener cannot take the lock");
        close(fd);
        ok(flock(other, LOCK_EX | LOCK_NB) == 0, "closing the descriptor releases it");
}

/* The run's own lock is taken with its record, before anyone can read it, and the stop
 * request stays with the record until it is removed. */
static void test_run_lock_and_stop_request(run_store *s, const char *home) {
        _cleanup_(run_record_freep) run_record *r = record_new("a1a1a1a1a1a1", "held-run", 100);
        _cleanup_free_ char *dir = path_of("%s/runs/%s", home, "a1a1a1a1a1a1");
        _cleanup_free_ char *request = path_of("%s/runs/%s/stop-requested", home, "a1a1a1a1a1a1");
        moat_error err = {};
        int held = -1, other = -1;

        is_int(run_store_create(s, r, &held, &err), 0, "created, held");
        ok(held >= 0, "the run's lock descriptor");
        is_int(run_store_lock_run(s, r->id, 0, &other, &err), -EBUSY, "held: another try fails at once");
        is_int(run_store_lock_run(s, r->id, 30000, &other, &err), -ETIMEDOUT, "held: a wait ends at its deadline");
        moat_error_clear(&err);
        ok(!run_store_stop_requested(s, r->id), "no stop requested yet");
        is_int(run_store_request_stop(s, r->id, &err), 0, "a stop requested");
        ok(run_store_stop_requested(s, r->id), "the request is seen");
        is_int(mode_of(request), 0600, "the request is 0600");
        close(held);
        is_int(run_store_lock_run(s, r->id, 0, &other, &err), 0, "released: taken");
        is_int(run_store_remove(s, r->id, &err), 0, "a run with a stop request is removed whole");
        ok(!exists(dir), "nothing of it is left");
        close(other);
        is_int(run_store_lock_run(s, r->id, 0, &other, &err), -ENOENT, "no record: -ENOENT");
        moat_error_clear(&err);
}

static void test_list_and_resolve(run_store *s, const char *home) {
        static const struct {
                const char *id, *name;
                uint64_t created_at;
        } runs[] = {
                { "ab12cd34ef56", "calm-fox", 3000 },     { "ab99aa00bb11", "bold-lynx", 5000 },
                { "cd0000000000", NULL, 4000 },          { "ef1111111111", "ab12", 2000 },
                { "fe2222222222", "ab99aa00bb11", 1500 },
        };
        _cleanup_free_ char *corrupt = path_of("%s/runs/%s", home, "dddddddddddd");
        _cleanup_free_ char *corrupt_file = path_of("%s/runs/%s/metadata.json", home, "dddddddddddd");
        _cleanup_free_ char *wrong = path_of("%s/runs/%s", home, "eeeeeeeeeeee");
        _cleanup_free_ char *wrong_file = path_of("%s/runs/%s/metadata.json", home, "eeeeeeeeeeee");
        _cleanup_free_ char *junk = path_of("%s/runs/%s", home, "not-a-run");
        _cleanup_free_ char *empty = path_of("%s/runs/%s", home, "cccccccccccc");
        run_record **list = NULL, *r = NULL;
        moat_error err = {};
        size_t n = 0;
        bool sorted = true;

        for (size_t i = 0; i < ELEMENTSOF(runs); i++)
                if (create(s, runs[i].id, runs[i].name, runs[i].created_at) < 0)
                        abort();
        /* A damaged record, a record in the wrong directory, a directory that is not a run
         * and a run directory whose record was never written. */
        if (mkdir(corrupt, 0700) < 0 || mkdir(wrong, 0700) < 0 || mkdir(junk, 0700) < 0 || mkdir(empty, 0700) < 0)
                abort();
        write_file(corrupt_file, "{\"id\": \"dddddddddddd\", \"state\": \"running\", \"manag");
        write_file(wrong_file, "{\"id\": \"0123456789ab\", \"state\": \"running\", \"manager\": \"user\"}");

        is_int(run_store_list(s, &list, &n, &err), 0, "listed");
        is_int(n, ELEMENTSOF(runs) + 1, "every good record, none of the bad ones");
        for (size_t i = 1; i < n; i++)
                sorted = sorted && list[i - 1]->created_at >= list[i]->created_at;
        ok(sorted, "newest first");
        is_str(n > 0 ? list[0]->id : NULL, "ab99aa00bb11", "the newest is first");
        is_str(n > 0 ? list[n - 1]->id : NULL, "0123456789ab", "the oldest is last");
        run_records_free(list, n);

        is_int(run_store_load(s, "dddddddddddd", &r, &err), -EBADMSG, "loading the damaged record: -EBADMSG");
        contains(err.msg, "dddddddddddd", "the error names the run");
        contains(err.msg, "moat rm", "and says what to do");
        moat_error_clear(&err);
        is_int(run_store_load(s, "eeeeeeeeeeee", &r, &err), -EBADMSG, "a record under another run's ID is refused");
        moat_error_clear(&err);
        is_int(run_store_load(s, "cccccccccccc", &r, &err), -ENOENT, "a run directory without a record: -ENOENT");
        moat_error_clear(&err);

        is_int(run_store_resolve(s, "cd0000000000", &r, &err), 0, "resolved by full ID");
        is_str(r ? r->id : NULL, "cd0000000000", "the run with that ID");
        run_record_free(TAKE_PTR(r));
        is_int(run_store_resolve(s, "c", &r, &err), 0, "resolved by a 1-character unique prefix");
        is_str(r ? r->id : NULL, "cd0000000000", "the run with that prefix");
        run_record_free(TAKE_PTR(r));
        is_int(run_store_resolve(s, "ab12c", &r, &err), 0, "resolved by a longer unique prefix");
        is_str(r ? r->id : NULL, "ab12cd34ef56", "the run with that prefix");
        run_record_free(TAKE_PTR(r));
        is_int(run_store_resolve(s, "bold-lynx", &r, &err), 0, "resolved by name");
        is_str(r ? r->id : NULL, "ab99aa00bb11", "the run with that name");
        run_record_free(TAKE_PTR(r));
        is_int(run_store_resolve(s, "ab12", &r, &err), 0, "a name that is also an ID prefix");
        is_str(r ? r->id : NULL, "ef1111111111", "the name wins over the prefix");
        run_record_free(TAKE_PTR(r));
        is_int(run_store_resolve(s, "ab99aa00bb11", &r, &err), 0, "a full ID that is also a name");
        is_str(r ? r->id : NULL, "ab99aa00bb11", "the ID wins over the name");
        run_record_free(TAKE_PTR(r));

        r = (run_record *) 0x1;
        is_int(run_store_resolve(s, "ab", &r, &err), -EEXIST, "an ambiguous prefix: -EEXIST");
        contains(err.msg, "ambiguous", "the error says ambiguous");
        contains(err.msg, "calm-fox (ab12cd34ef56)", "it lists one candidate by name and ID");
        contains(err.msg, "bold-lynx (ab99aa00bb11)", "and the other");
        contains(err.msg, "more of the ID", "and says what to do");
        ok(r == (run_record *) 0x1, "output untouched");
        moat_error_clear(&err);

        is_int(run_store_resolve(s, "9", &r, &err), -ENOENT, "an unknown prefix: -ENOENT");
        contains(err.msg, "'9'", "the error names what was asked");
        contains(err.msg, "bold-lynx (ab99aa00bb11)", "and lists runs there are");
        contains(err.msg, "cd0000000000", "an unnamed run by its ID");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "quiet-owl", &r, &err), -ENOENT, "an unknown name: -ENOENT");
        contains(err.msg, "calm-fox", "candidates listed");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "dddddddddddd", &r, &err), -EBADMSG, "the full ID of a damaged record says so");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "../etc", &r, &err), -EINVAL, "a path is refused before it reaches a path");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "AB12", &r, &err), -EINVAL, "uppercase is neither ID nor name");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "ab12cd34ef567", &r, &err), -ENOENT, "13 hex digits match nothing");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "", &r, &err), -EINVAL, "an empty RUN is refused");
        moat_error_clear(&err);
        r = NULL;

        is_int(run_store_name_taken(s, "calm-fox", &err), 1, "a name in use is taken");
        is_int(run_store_name_taken(s, "quiet-owl", &err), 0, "a new name is free");
        is_int(run_store_name_taken(s, "Bad", &err), -EINVAL, "an invalid name: -EINVAL");
        moat_error_clear(&err);

        is_int(rmdir(junk), 0, "cleanup: not-a-run");
        is_int(run_store_remove(s, "dddddddddddd", &err), 0, "a damaged record can be removed");
        is_int(run_store_remove(s, "eeeeeeeeeeee", &err), 0, "a misplaced record can be removed");
        is_int(run_store_remove(s, "cccccccccccc", &err), 0, "an empty run directory can be removed");
        ok(!exists(corrupt) && !exists(wrong) && !exists(empty), "all three are gone");
}

static void test_remove(run_store *s, const char *home, const char *outside) {
        _cleanup_free_ char *dir = path_of("%s/runs/%s", home, "0123456789ab");
        _cleanup_free_ char *leftover = path_of("%s/runs/%s/.metadata.json.0a0b0c0d0e0f", home, "0123456789ab");
        _cleanup_free_ char *victim = path_of("%s/%s", outside, "victim");
        _cleanup_free_ char *victim_file = path_of("%s/%s", outside, "victim/metadata.json");
        _cleanup_free_ char *target = path_of("%s/%s", outside, "precious");
        _cleanup_free_ char *link_dir = path_of("%s/runs/%s", home, "111111111111");
        _cleanup_free_ char *linked = path_of("%s/runs/%s/metadata.json", home, "222222222222");
        _cleanup_free_ char *foreign = path_of("%s/runs/%s/notes.txt", home, "333333333333");
        run_record *r = NULL;
        moat_error err = {};

        write_file(leftover, "{");
        is_int(run_store_remove(s, "0123456789ab", &err), 0, "removed");
        ok(!exists(dir), "the run directory is gone, with the leftover of a save");
        is_int(run_store_load(s, "0123456789ab", &r, &err), -ENOENT, "loading it now: -ENOENT");
        moat_error_clear(&err);
        is_int(run_store_remove(s, "0123456789ab", &err), -ENOENT, "removing it again: -ENOENT");
        moat_error_clear(&err);
        is_int(run_store_remove(s, "../../x", &err), -EINVAL, "removing a path: -EINVAL");
        moat_error_clear(&err);

        /* runs/<id> a link to a directory outside the store that looks like a run. */
        if (mkdir(victim, 0700) < 0 || symlink(victim, link_dir) < 0)
                abort();
        write_file(victim_file, "{\"id\": \"111111111111\", \"state\": \"exited\", \"manager\": \"user\"}");
        is_int(run_store_remove(s, "111111111111", &err), -ELOOP, "removing a symlinked run directory is refused");
        contains(err.msg, "symbolic link", "the error says why");
        moat_error_clear(&err);
        ok(exists(victim_file), "what the link points to is untouched");
        ok(exists(link_dir), "the link itself is left for a human");
        is_int(run_store_load(s, "111111111111", &r, &err), -ELOOP, "loading through it is refused too");
        moat_error_clear(&err);
        is_int(run_store_resolve(s, "1", &r, &err), -ENOENT, "and a prefix does not find it");
        moat_error_clear(&err);
        if (unlink(link_dir) < 0)
                abort();

        /* metadata.json a link to a file outside the store. */
        if (create(s, "222222222222", NULL, 1) < 0)
                abort();
        write_file(target, "precious\n");
        if (unlink(linked) < 0 || symlink(target, linked) < 0)
                abort();
        is_int(run_store_load(s, "222222222222", &r, &err), -ELOOP, "a symlinked metadata.json is not read");
        moat_error_clear(&err);
        is_int(run_store_remove(s, "222222222222", &err), 0, "a run whose record is a link can be removed");
        ok(exists(target), "the link's target survives");

        /* A file moat did not write. */
        if (create(s, "333333333333", NULL, 1) < 0)
                abort();
        write_file(foreign, "mine\n");
        is_int(run_store_remove(s, "333333333333", &err), -ENOTEMPTY, "a run directory with a foreign file stays");
        contains(err.msg, "notes.txt", "the error names the file");
        moat_error_clear(&err);
        is_int(run_store_load(s, "333333333333", &r, &err), 0, "and nothing of it was removed");
        run_record_free(TAKE_PTR(r));
        unlink(foreign);
        is_int(run_store_remove(s, "333333333333", &err), 0, "removed once the file is gone");
}

/* The certificates a run's proxy writes: readable by the container, removed with the run. */
static void test_tls(run_store *s, const char *home) {
        _cleanup_free_ char *dir = NULL, *ca = path_of("%s/tls/%s/ca.crt", home, "abcabcabcabc");
        _cleanup_free_ char *stray = path_of("%s/tls/%s/key.pem", home, "abcabcabcabc");
        _cleanup_free_ char *run_dir = path_of("%s/runs/%s", home, "abcabcabcabc");
        _cleanup_free_ char *tls_dir = path_of("%s/tls/%s", home, "abcabcabcabc");
        struct stat st;
        moat_error err = {};

        if (create(s, "abcabcabcabc", "tls-run", 1) < 0)
                abort();
        is_int(run_store_tls_dir(s, "abcabcabcabc", &dir, &err), 0, "the TLS directory is made");
        ok(dir && strcmp(dir, tls_dir) == 0 && stat(dir, &st) == 0 && (st.st_mode & 07777) == 0755, "tls/ID, 0755");
        is_int(run_store_write_tls(s, "abcabcabcabc", RUN_TLS_CA, "PEM\n", 4, &err), 0, "the CA written");
        ok(stat(ca, &st) == 0 && (st.st_mode & 07777) == 0644 && st.st_size == 4, "0644, whole");
        is_int(run_store_write_tls(s, "abcabcabcabc", RUN_TLS_CA, "PEM2\n", 5, &err), 0, "written again");
        ok(stat(ca, &st) == 0 && st.st_size == 5, "replaced whole");
        is_int(run_store_write_tls(s, "abcabcabcabc", "../metadata.json", "x", 1, &err), -EINVAL,
               "no other name is written");
        moat_error_clear(&err);
        write_file(stray, "x");
        is_int(run_store_remove(s, "abcabcabcabc", &err), -ENOTEMPTY, "a file moat did not write there stops the remove");
        contains(err.msg, "key.pem", "and is named");
        moat_error_clear(&err);
        ok(unlink(stray) == 0, "moved away");
        is_int(run_store_remove(s, "abcabcabcabc", &err), 0, "the run is removed");
        ok(!exists(run_dir) && !exists(tls_dir), "with its TLS directory");
        moat_error_clear(&err);
}

static void test_many(run_store *s) {
        run_record **list = NULL;
        uint64_t best = UINT64_MAX;
        moat_error err = {};
        size_t n = 0, failed = 0;
        bool sorted = true;

        for (unsigned i = 0; i < N_MANY; i++) {
                char id[RUN_ID_LEN + 1], name[32];

                snprintf(id, sizeof id, "%012x", i);
                snprintf(name, sizeof name, "run-%u", i);
                failed += create(s, id, name, 1000000 + (uint64_t) (i * 7919 % N_MANY)) < 0;
        }
        is_int(failed, 0, "%d runs created", N_MANY);

        for (int attempt = 0; attempt < 3; attempt++) {
                uint64_t t = now_usec(), dt;

                if (run_store_list(s, &list, &n, &err) < 0)
                        break;
                dt = now_usec() - t;
                if (dt < best)
                        best = dt;
                if (attempt < 2)
                        run_records_free(TAKE_PTR(list), n);
        }
        is_int(n, N_MANY, "all %d listed", N_MANY);
        for (size_t i = 1; i < n; i++)
                sorted = sorted && list[i - 1]->created_at >= list[i]->created_at;
        ok(sorted, "newest first");
        /* a figure for the reader; the budget is bench/list.sh's to check, not make check's */
        printf("# run_store_list of %d records: %.2f ms (best of 3)\n", N_MANY, best / 1000.0);
        run_records_free(list, n);
}

static void test_open_refuses_links(const char *home, const char *outside) {
        _cleanup_free_ char *runs = path_of("%s/%s", home, "runs");
        run_store *s = (run_store *) 0x1;
        moat_error err = {};

        if (mkdir(home, 0700) < 0 || symlink(outside, runs) < 0)
                abort();
        is_int(run_store_open(home, &s, &err), -ELOOP, "a store whose runs/ is a symlink is refused");
        contains(err.msg, "symbolic link", "the error says why");
        ok(s == (run_store *) 0x1, "output untouched");
        moat_error_clear(&err);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

int main(void) {
        _cleanup_(run_store_freep) run_store *s = NULL;
        _cleanup_(run_store_freep) run_store *many = NULL;
        _cleanup_free_ char *home = NULL, *outside = NULL, *home2 = NULL, *home3 = NULL, *home4 = NULL;
        moat_error err = {};

        snprintf(top, sizeof top, "./test-run-store.XXXXXX");
        if (!mkdtemp(top)) {
                printf("not ok 1 - mkdtemp in the build directory: %m\n1..1\n");
                return EXIT_FAILURE;
        }
        home = path_of("%s/%s", top, "home");
        home2 = path_of("%s/%s", top, "home-umask");
        home3 = path_of("%s/%s", top, "home-linked");
        home4 = path_of("%s/%s", top, "home-many");
        outside = path_of("%s/%s", top, "outside");
        if (mkdir(outside, 0700) < 0)
                abort();

        test_default_home();
        test_open(home2, 0277);
        test_open(home, 0);
        test_open_refuses_links(home3, outside);
        if (run_store_open(home, &s, &err) < 0)
                abort();
        test_create_load_save(s, home);
        test_lock(s, home);
        test_run_lock_and_stop_request(s, home);
        test_list_and_resolve(s, home);
        test_remove(s, home, outside);
        test_tls(s, home);
        if (run_store_open(home4, &many, &err) < 0)
                abort();
        test_many(many);

        run_store_free(TAKE_PTR(s));
        run_store_free(TAKE_PTR(many));
        ok(nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "test directory removed");
        return tap_done();
}
