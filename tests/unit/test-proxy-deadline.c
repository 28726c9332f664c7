/* The life of a proxied connection in time, without its sockets: the transitions of its
 * phases, when each deadline falls (a head's does not move with its bytes, an idle relay's
 * does), and the tests' overrides of the limits. */
#include "config.h"

#include <errno.h>

#include "proxy-deadline.h"
#include "tap.h"

#define SEC 1000000ULL

static void test_defaults(void) {
        proxy_timeouts t;

        proxy_timeouts_default(&t);
        is_int(t.head, 30 * SEC, "a head has 30 s from the connection's first moment");
        is_int(t.setup, 15 * SEC, "a server has 15 s to connect and shake hands");
        is_int(t.idle, 600 * SEC, "a quiet tunnel or kept-alive connection lasts 10 minutes");
        is_int(t.linger, 2 * SEC, "a client has 2 s to close after the proxy's last byte");
}

static void test_parse(void) {
        proxy_timeouts t, before;

        proxy_timeouts_default(&t);
        ok(proxy_timeouts_parse("head=3000,idle=1500", &t) == 0, "a subset parses");
        is_int(t.head, 3 * SEC, "head in milliseconds");
        is_int(t.idle, 1500000, "idle in milliseconds");
        is_int(t.setup, 15 * SEC, "what is not named stays");
        ok(proxy_timeouts_parse("linger=0,setup=250", &t) == 0 && t.linger == 0 && t.setup == 250000,
           "0 is no limit; any order");
        before = t;
        static const char *const bad[] = { "", "head", "head=", "head=x", "head=-1", "head=1,", "head=1,,idle=2",
                                           "tail=1", "head=1s", "head=99999999999999999999", "headx=1", "hea=1" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ok(proxy_timeouts_parse(bad[i], &t) == -EINVAL, "\"%s\" is refused", bad[i]);
        ok(proxy_timeouts_parse(NULL, &t) == -EINVAL, "NULL is refused");
        ok(t.head == before.head && t.idle == before.idle && t.setup == before.setup && t.linger == before.linger,
           "a refused spec changes nothing, not even the fields before its error");
}

static void test_transitions(void) {
        static const struct {
                proxy_phase from;
                proxy_event event;
                proxy_phase to;
                const char *what;
        } cases[] = {
                { PROXY_PHASE_HEAD, PROXY_EVENT_HEAD, PROXY_PHASE_SETUP, "a whole head goes to its server" },
                { PROXY_PHASE_HEAD, PROXY_EVENT_ANSWER, PROXY_PHASE_CLOSING, "a refused head is answered, then closed" },
                { PROXY_PHASE_HEAD, PROXY_EVENT_DEADLINE, PROXY_PHASE_CLOSING, "a head too slow is answered 408" },
                { PROXY_PHASE_HEAD, PROXY_EVENT_ABORT, PROXY_PHASE_CLOSED, "a client gone before its head: closed" },
                { PROXY_PHASE_SETUP, PROXY_EVENT_READY, PROXY_PHASE_RELAY, "a server ready: the relay" },
                { PROXY_PHASE_SETUP, PROXY_EVENT_FAILED, PROXY_PHASE_HEAD,
                  "an intercepted client whose server failed: its request waits for the answer" },
                { PROXY_PHASE_SETUP, PROXY_EVENT_ANSWER, PROXY_PHASE_CLOSING, "a plain client hears a 502 at once" },
                { PROXY_PHASE_SETUP, PROXY_EVENT_DEADLINE, PROXY_PHASE_CLOSING, "a server too slow: 504" },
                { PROXY_PHASE_RELAY, PROXY_EVENT_END, PROXY_PHASE_CLOSING, "an end: what is pending goes first" },
                { PROXY_PHASE_RELAY, PROXY_EVENT_ANSWER, PROXY_PHASE_CLOSING, "a 421 inside the relay, then the close" },
                { PROXY_PHASE_RELAY, PROXY_EVENT_DEADLINE, PROXY_PHASE_CLOSED, "an idle relay is closed without a word" },
                { PROXY_PHASE_RELAY, PROXY_EVENT_READY, PROXY_PHASE_RELAY, "nothing else moves a relay" },
                { PROXY_PHASE_RELAY, PROXY_EVENT_ABORT, PROXY_PHASE_CLOSED, "an error closes a relay at once" },
                { PROXY_PHASE_CLOSING, PROXY_EVENT_END, PROXY_PHASE_CLOSED, "the client's end after the proxy's: closed" },
                { PROXY_PHASE_CLOSING, PROXY_EVENT_DEADLINE, PROXY_PHASE_CLOSED, "a client that never closes is closed" },
                { PROXY_PHASE_CLOSING, PROXY_EVENT_ANSWER, PROXY_PHASE_CLOSING, "no second answer while closing" },
                { PROXY_PHASE_CLOSED, PROXY_EVENT_HEAD, PROXY_PHASE_CLOSED, "closed stays closed" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                is_int(proxy_phase_next(cases[i].from, cases[i].event), cases[i].to, "%s", cases[i].what);
        is_int(proxy_deadline_status(PROXY_PHASE_HEAD), 408, "a head's deadline: 408");
        is_int(proxy_deadline_status(PROXY_PHASE_SETUP), 504, "a server's: 504");
        is_int(proxy_deadline_status(PROXY_PHASE_RELAY), 0, "an idle relay's: nothing said");
        is_int(proxy_deadline_status(PROXY_PHASE_CLOSING), 0, "closing: nothing said");
}

static void test_deadlines(void) {
        proxy_timeouts t = { .head = 3 * SEC, .setup = 2 * SEC, .idle = 10 * SEC, .linger = 1 * SEC };
        uint64_t start = 1000 * SEC;

        is_int(proxy_deadline(&t, PROXY_PHASE_HEAD, start, start + 2 * SEC), start + 3 * SEC,
               "a head's deadline does not move with its bytes: one byte a second is still cut");
        is_int(proxy_deadline(&t, PROXY_PHASE_SETUP, start, start + SEC), start + 2 * SEC, "setup: from its start");
        is_int(proxy_deadline(&t, PROXY_PHASE_RELAY, start, start + 7 * SEC), start + 17 * SEC,
               "a relay's moves with its last byte");
        is_int(proxy_deadline(&t, PROXY_PHASE_RELAY, start, 0), start + 10 * SEC, "and starts with the relay");
        is_int(proxy_deadline(&t, PROXY_PHASE_CLOSING, start, start + 5 * SEC), start + SEC, "closing: from its start");
        is_int(proxy_deadline(&t, PROXY_PHASE_CLOSED, start, start), PROXY_NO_DEADLINE, "closed: none");
        t.idle = 0;
        is_int(proxy_deadline(&t, PROXY_PHASE_RELAY, start, start), PROXY_NO_DEADLINE, "a limit of 0: none");
        t.head = UINT64_MAX / 2;
        ok(proxy_deadline(&t, PROXY_PHASE_HEAD, UINT64_MAX - 5, 0) == PROXY_NO_DEADLINE - 1,
           "a sum past the clock's end saturates, never wraps to the past");
}

int main(void) {
        test_defaults();
        test_parse();
        test_transitions();
        test_deadlines();
        return tap_done();
}
