/* fuzz_journal.c — the resume journal reader: the input is one journal file (checksummed lines,
 * legacy lines, damage, torn tails); every record read back must hold fields in range.
 * Seeds: scripts/make-fuzz-seeds.py journal. */
#include <math.h>

#include "fuzz_util.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s", fuzz_path("run"));
    quipu_error err = {0};
    char jd[800];
    snprintf(jd, sizeof jd, "%s/journal/h", dir);
    if (quipu_mkdir_p(jd, &err)) abort();
    char f[900];
    snprintf(f, sizeof f, "%s/rank0000-1-1.jsonl", jd);
    fuzz_write(f, data, size);
    quipu_journal_entry *e = NULL;
    size_t n = 0;
    if (quipu_journal_read_all(dir, "h", &e, &n, &err) == QUIPU_OK) {
        for (size_t i = 0; i < n; i++) {
            const quipu_item_record *r = &e[i].rec;
            if (r->n_choices < 1 || r->n_choices > QUIPU_MAX_CHOICES) abort();
            for (int c = 0; c < r->n_choices; c++)
                /* NaN: a null in the line, an item that scored non-finite (left out of the metrics) */
                if ((!isnan(r->logprob[c]) && (!isfinite(r->logprob[c]) || r->logprob[c] > 1e-6)) || r->n_tokens[c] < 0 || r->n_bytes[c] < 0 ||
                    r->is_greedy[c] > 1)
                    abort();
        }
    }
    quipu_journal_entries_free(e, n);
    return 0;
}
