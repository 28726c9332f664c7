#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "run.h"

#define RUN_NAME_MAX 63

/* Names must match [a-z0-9][a-z0-9_.-]{0,62}, which test-run-id checks for every pair. */
static const char *const adjectives[] = {
        "agile", "amber", "bold",   "brave",  "bright", "brisk",  "calm",   "clever",
        "cosy",  "crisp", "daring", "deft",   "eager",  "fair",   "fierce", "gentle",
        "glad",  "grand", "happy",  "hardy",  "honest", "humble", "jolly",  "keen",
        "kind",  "lively", "lucky", "merry",  "mighty", "nimble", "noble",  "plucky",
        "proud", "quick", "quiet",  "rapid",  "sharp",  "steady", "swift",  "witty",
};

static const char *const animals[] = {
        "badger", "bat",     "bear",    "beaver", "bison",   "crane",  "crow",   "deer",
        "dingo",  "dolphin", "eagle",   "falcon", "ferret",  "finch",  "fox",    "gecko",
        "heron",  "ibex",    "jackal",  "koala",  "lemur",   "lynx",   "marten", "moose",
        "newt",   "ocelot",  "otter",   "owl",    "panda",   "puffin", "quail",  "raven",
        "robin",  "salmon",  "seal",    "stoat",  "tapir",   "walrus", "wren",   "yak",
};

/* Fills BUF with random bytes from the kernel; getrandom() returns up to 256 bytes whole
 * once the pool is initialised, but a signal can still interrupt it. */
static int random_bytes(void *buf, size_t n, moat_error *err) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = getrandom((char *) buf + done, n - done, 0);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return moat_error_set(err, -errno,
                                              "failed to get random bytes from the kernel (getrandom: %m); "
                                              "moat needs Linux 3.17 or later");
                done += (size_t) k;
        }
        return 0;
}

int run_id_new(char ret[RUN_ID_LEN + 1], moat_error *err) {
        static const char hex[] = "0123456789abcdef";
        unsigned char bytes[RUN_ID_LEN / 2];
        char id[RUN_ID_LEN + 1];
        int r;

        r = random_bytes(bytes, sizeof bytes, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof bytes; i++) {
                id[2 * i] = hex[bytes[i] >> 4];
                id[2 * i + 1] = hex[bytes[i] & 0xf];
        }
        id[RUN_ID_LEN] = '\0';
        memcpy(ret, id, sizeof id);
        return 0;
}

bool run_id_valid(const char *s) {
        return s && strspn(s, "0123456789abcdef") == RUN_ID_LEN && s[RUN_ID_LEN] == '\0';
}

char *run_unit_name(const char *id) {
        char *unit;

        return asprintf(&unit, "moat-%s.service", id) < 0 ? NULL : unit;
}

bool run_name_valid(const char *s) {
        size_t n;

        if (!s || s[0] == '\0' || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
                return false;
        n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-");
        return s[n] == '\0' && n <= RUN_NAME_MAX;
}

bool data_name_valid(const char *s) {
        size_t n;

        if (!s || s[0] == '\0' || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
                return false;
        n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");
        return s[n] == '\0' && n <= 32;
}

int run_name_random(char **ret, moat_error *err) {
        uint32_t pick[2];
        char *name;
        int r;

        r = random_bytes(pick, sizeof pick, err);
        if (r < 0)
                return r;
        /* The modulo bias of 2^32 over 40 is far below anything a name needs. */
        if (asprintf(&name, "%s-%s", adjectives[pick[0] % ELEMENTSOF(adjectives)],
                     animals[pick[1] % ELEMENTSOF(animals)]) < 0)
                return -ENOMEM;
        *ret = name;
        return 0;
}
