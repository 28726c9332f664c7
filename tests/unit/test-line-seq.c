/* Gap detection in a run's numbered output: where journald dropped entries, and how many. */
#include "config.h"

#include "line-seq.h"
#include "tap.h"

/* Feeds SEQS (0-terminated); MISSING[i] is what was reported missing before SEQS[i]. */
static void feed(line_seq *s, const uint64_t *seqs, uint64_t *missing) {
        for (size_t i = 0; seqs[i]; i++)
                missing[i] = line_seq_see(s, seqs[i]);
}

static void test_whole(void) {
        const uint64_t seqs[] = { 1, 2, 3, 4, 0 };
        uint64_t missing[4];
        line_seq s;

        line_seq_init(&s, true);
        feed(&s, seqs, missing);
        ok(missing[0] == 0 && missing[1] == 0 && missing[2] == 0 && missing[3] == 0, "no gap in 1..4");
        ok(line_seq_end(&s, 4) == 0, "the end record's 4 lines: nothing missing at the end");
        ok(s.dropped == 0, "nothing dropped in all");
}

static void test_missing_first(void) {
        const uint64_t seqs[] = { 2, 3, 0 };
        uint64_t missing[2];
        line_seq s;

        line_seq_init(&s, true);
        feed(&s, seqs, missing);
        ok(missing[0] == 1, "reading from the start, a first entry numbered 2 means 1 missing before it");
        ok(missing[1] == 0, "then none");
        ok(line_seq_end(&s, 3) == 0 && s.dropped == 1, "1 dropped in all");
}

static void test_tail_starts_anywhere(void) {
        const uint64_t seqs[] = { 996, 997, 1000, 0 };
        uint64_t missing[3];
        line_seq s;

        line_seq_init(&s, false);
        feed(&s, seqs, missing);
        ok(missing[0] == 0, "the last lines: the first one met is where counting starts");
        ok(missing[2] == 2, "998 and 999 missing before 1000");
        ok(line_seq_end(&s, 1000) == 0 && s.dropped == 2, "2 dropped in all");
}

static void test_gap_in_middle(void) {
        const uint64_t seqs[] = { 1, 2, 37408, 37409, 0 };
        uint64_t missing[4];
        line_seq s;

        line_seq_init(&s, true);
        feed(&s, seqs, missing);
        ok(missing[2] == 37405, "3..37407 missing before 37408 (%llu)", (unsigned long long) missing[2]);
        ok(missing[3] == 0, "none after it");
}

static void test_missing_last(void) {
        const uint64_t seqs[] = { 1, 2, 3, 0 };
        uint64_t missing[3];
        line_seq s;

        line_seq_init(&s, true);
        feed(&s, seqs, missing);
        ok(line_seq_end(&s, 5) == 2, "the end record says 5: the last 2 are missing");
        ok(s.dropped == 2, "counted in all");
        ok(line_seq_end(&s, 5) == 0, "asking again finds nothing more");
}

/* Without its end record, the run record's count closes the reading in the same way. */
static void test_missing_end_record(void) {
        const uint64_t seqs[] = { 1, 2, 0 };
        uint64_t missing[2];
        line_seq s;

        line_seq_init(&s, true);
        feed(&s, seqs, missing);
        ok(line_seq_end(&s, 200000) == 199998, "the record's 200000 lines: 199998 missing at the end");
        line_seq_init(&s, true);
        ok(line_seq_end(&s, 7) == 7, "nothing met at all: every line is missing");
        line_seq_init(&s, false);
        ok(line_seq_end(&s, 0) == 0, "a run without output misses nothing");
}

static void test_out_of_order(void) {
        const uint64_t seqs[] = { 1, 2, 3, 2, 4, 0 };
        uint64_t missing[5];
        line_seq s;

        line_seq_init(&s, true);
        feed(&s, seqs, missing);
        ok(missing[3] == 0 && missing[4] == 0, "an entry met twice is no gap and moves nothing back");
        ok(line_seq_see(&s, 0) == 0, "0 is no number of the writer's: ignored");
        ok(line_seq_end(&s, 4) == 0 && s.dropped == 0, "nothing dropped");
}

int main(void) {
        test_whole();
        test_missing_first();
        test_tail_starts_anywhere();
        test_gap_in_middle();
        test_missing_last();
        test_missing_end_record();
        test_out_of_order();
        return tap_done();
}
