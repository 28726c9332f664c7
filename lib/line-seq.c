#include "config.h"

#include "line-seq.h"

void line_seq_init(line_seq *s, bool from_first) {
        *s = (line_seq) { .next = from_first ? 1 : 0 };
}

uint64_t line_seq_see(line_seq *s, uint64_t seq) {
        uint64_t missing = 0;

        if (seq == 0)
                return 0; /* not a number the writer gives */
        if (s->next != 0 && seq > s->next)
                missing = seq - s->next;
        /* an entry met twice or out of order (journal files interleaved) moves nothing back */
        if (seq >= s->next)
                s->next = seq + 1;
        s->dropped += missing;
        return missing;
}

uint64_t line_seq_end(line_seq *s, uint64_t total) {
        uint64_t missing;

        if (s->next == 0) /* nothing met at all: every entry is missing */
                missing = total;
        else
                missing = total >= s->next ? total - s->next + 1 : 0;
        s->next = total + 1;
        s->dropped += missing;
        return missing;
}
