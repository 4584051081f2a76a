/* test_journal.c — resume journals: records read back bit for bit, files from several ranks and
 * attempts merge, a torn last line (kill -9 mid-write) is ignored, a damaged line (checksum,
 * unparsable, field out of range) is dropped so its item is rescored, journals from before
 * checksums still read, duplicates keep the first record, an unwritable folder is a clear error. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "testlib.h"

static quipu_item_record rec(double a, double b, int nc) {
    quipu_item_record r;
    memset(&r, 0, sizeof r);
    r.n_choices = nc;
    for (int c = 0; c < nc; c++) {
        r.logprob[c] = (c ? b : a) / (c + 1) + 0.0; /* the journal stores -0 as +0 */
        r.n_tokens[c] = 3 + c;
        r.n_bytes[c] = 11 + c;
        r.is_greedy[c] = (uint8_t)(c & 1);
    }
    return r;
}

/* the single journal file in dir/journal/h (for corruption tests) */
static const char *only_file(const char *dir, const char *h) {
    static char p[4096];
    char d[3000];
    snprintf(d, sizeof d, "%s/journal/%s", dir, h);
    DIR *dh = opendir(d);
    struct dirent *de;
    p[0] = '\0';
    while (dh && (de = readdir(dh)))
        if (strstr(de->d_name, ".jsonl")) snprintf(p, sizeof p, "%s/%s", d, de->d_name);
    if (dh) closedir(dh);
    return p;
}

int main(void) {
    char dir[] = "/tmp/quipu-journal-XXXXXX";
    if (!mkdtemp(dir)) return test_skip("cannot create a temp folder");
    quipu_error err = {0};
    quipu_journal *j0 = NULL, *j1 = NULL;
    /* awkward doubles: they must come back with the same bits */
    double vals[] = {-42.537727490300696, -1e-300, -0.1 - 0.2, -123456789.123456789, -5e-324};
    CHECK(quipu_journal_open(&j0, dir, "abc123", 0, &err) == QUIPU_OK);
    CHECK(quipu_journal_open(&j1, dir, "abc123", 1, &err) == QUIPU_OK);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "bench:%04d", i);
        quipu_item_record r = rec(vals[i], vals[4 - i], i % 2 ? 2 : 3);
        CHECK(quipu_journal_add(i % 2 ? j1 : j0, id, &r, &err) == QUIPU_OK);
    }
    quipu_item_record q = rec(-1.5, -2.5, 2);
    CHECK(quipu_journal_add(j1, "caf\xc3\xa9:\"quoted\"", &q, &err) == QUIPU_OK);
    CHECK(quipu_journal_sync(j0, &err) == QUIPU_OK && quipu_journal_sync(j1, &err) == QUIPU_OK);
    /* a second attempt repeats item 0 with other numbers: the first record must win */
    quipu_journal *j2 = NULL;
    CHECK(quipu_journal_open(&j2, dir, "abc123", 0, &err) == QUIPU_OK);
    quipu_item_record dup = rec(-999.0, -999.0, 3);
    CHECK(quipu_journal_add(j2, "bench:0000", &dup, &err) == QUIPU_OK);
    CHECK(quipu_journal_sync(j2, &err) == QUIPU_OK);
    quipu_journal_close(j0);
    quipu_journal_close(j1);
    quipu_journal_close(j2);

    quipu_journal_entry *e = NULL;
    size_t n = 0;
    CHECK(quipu_journal_read_all(dir, "abc123", &e, &n, &err) == QUIPU_OK);
    CHECK_MSG(n == 6, "n = %zu", n);
    for (size_t k = 0; k < n; k++) {
        int i;
        if (sscanf(e[k].id, "bench:%d", &i) == 1) {
            quipu_item_record r = rec(vals[i], vals[4 - i], i % 2 ? 2 : 3);
            CHECK_MSG(e[k].rec.n_choices == r.n_choices, "%s", e[k].id);
            CHECK_MSG(!memcmp(e[k].rec.logprob, r.logprob, sizeof(double) * (size_t)r.n_choices), "%s: log-probs not bit-identical", e[k].id);
            CHECK(!memcmp(e[k].rec.n_tokens, r.n_tokens, sizeof(int32_t) * (size_t)r.n_choices));
            CHECK(!memcmp(e[k].rec.n_bytes, r.n_bytes, sizeof(int32_t) * (size_t)r.n_choices));
            CHECK(!memcmp(e[k].rec.is_greedy, r.is_greedy, (size_t)r.n_choices));
        } else {
            CHECK(!strcmp(e[k].id, "caf\xc3\xa9:\"quoted\"") && e[k].rec.logprob[1] == -1.25);
        }
        if (k) CHECK(strcmp(e[k - 1].id, e[k].id) < 0);
    }
    quipu_journal_entries_free(e, n);
    CHECK(quipu_journal_read_all(dir, "no-such-hash", &e, &n, &err) == QUIPU_OK && n == 0);

    /* torn last line ignored; damaged middle line reported with file:line */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/t", dir);
    mkdir(sub, 0775);
    quipu_journal *jt = NULL;
    CHECK(quipu_journal_open(&jt, sub, "h", 0, &err) == QUIPU_OK);
    quipu_item_record a = rec(-1, -2, 2);
    quipu_journal_add(jt, "x:1", &a, &err);
    quipu_journal_add(jt, "x:2", &a, &err);
    quipu_journal_sync(jt, &err);
    quipu_journal_close(jt);
    const char *f = only_file(sub, "h");
    FILE *fp = fopen(f, "a");
    fputs("{\"id\": \"x:3\", \"lp\": [-1.0, -2", fp); /* no newline: a torn write */
    fclose(fp);
    CHECK(quipu_journal_read_all(sub, "h", &e, &n, &err) == QUIPU_OK && n == 2);
    quipu_journal_entries_free(e, n);
    /* the torn line, now followed by others, is damage in the middle; a line without a
     * checksum in a checksummed file too: both dropped (their items rescored), no error */
    fp = fopen(f, "a");
    fputs("\n{\"id\": \"x:4\", \"lp\": [-1.0], \"nt\": [1], \"nb\": [1], \"g\": [0]}\n", fp);
    fclose(fp);
    quipu_error_clear(&err);
    CHECK(quipu_journal_read_all(sub, "h", &e, &n, &err) == QUIPU_OK && n == 2);
    for (size_t k = 0; k < n; k++) CHECK(strcmp(e[k].id, "x:3") && strcmp(e[k].id, "x:4"));
    quipu_journal_entries_free(e, n);

    /* a changed digit in a checksummed line: detected, that item dropped, the others kept */
    {
        char s2[4300];
        snprintf(s2, sizeof s2, "%s/ck", dir);
        mkdir(s2, 0775);
        quipu_journal *jc = NULL;
        CHECK(quipu_journal_open(&jc, s2, "h", 0, &err) == QUIPU_OK);
        quipu_item_record a2 = rec(-1.25, -2.5, 2);
        quipu_journal_add(jc, "y:1", &a2, &err);
        quipu_journal_add(jc, "y:2", &a2, &err);
        quipu_journal_add(jc, "y:3", &a2, &err);
        CHECK(quipu_journal_sync(jc, &err) == QUIPU_OK);
        quipu_journal_close(jc);
        const char *fc = only_file(s2, "h");
        char *text = NULL;
        size_t tl = 0;
        CHECK(quipu_read_file(fc, &text, &tl, &err) == QUIPU_OK);
        CHECK(text && strstr(text, "\"ck\": \"") != NULL);
        char *l2 = text ? strstr(text, "\"y:2\"") : NULL;
        char *dig = l2 ? strstr(l2, "-1.25") : NULL;
        CHECK(dig != NULL);
        if (dig) dig[1] = '7'; /* -7.25: still a valid record, but not the one written */
        fp = fopen(fc, "wb");
        if (fp && text) fwrite(text, 1, tl, fp);
        if (fp) fclose(fp);
        free(text);
        CHECK(quipu_journal_read_all(s2, "h", &e, &n, &err) == QUIPU_OK);
        CHECK_MSG(n == 2, "n = %zu", n);
        for (size_t k = 0; k < n; k++) CHECK(strcmp(e[k].id, "y:2") != 0);
        quipu_journal_entries_free(e, n);
    }

    /* a journal from before checksums reads; its out-of-range records are dropped */
    {
        char s3[4300], d3[4400], f3[4500];
        snprintf(s3, sizeof s3, "%s/old", dir);
        snprintf(d3, sizeof d3, "%s/journal/h", s3);
        CHECK(quipu_mkdir_p(d3, &err) == QUIPU_OK);
        snprintf(f3, sizeof f3, "%s/rank0000-1-1.jsonl", d3);
        fp = fopen(f3, "wb");
        fputs("{\"id\": \"o:1\", \"lp\": [-1.5, -2.5], \"nt\": [2, 3], \"nb\": [5, 6], \"g\": [1, 0]}\n"
              "{\"id\": \"o:2\", \"lp\": [1e308, -2.5], \"nt\": [2, 3], \"nb\": [5, 6], \"g\": [1, 0]}\n"
              "{\"id\": \"o:3\", \"lp\": [-1.5, 3.0], \"nt\": [2, 3], \"nb\": [5, 6], \"g\": [1, 0]}\n"
              "{\"id\": \"o:4\", \"lp\": [-1.5, -2.5], \"nt\": [-2, 3], \"nb\": [5, 6], \"g\": [1, 0]}\n"
              "{\"id\": \"o:5\", \"lp\": [-1.5, -2.5], \"nt\": [2, 3], \"nb\": [5, 99999999999], \"g\": [1, 0]}\n"
              "{\"id\": \"o:6\", \"lp\": [-1.5, -2.5], \"nt\": [2, 3], \"nb\": [5, 6], \"g\": [2, 0]}\n"
              "{\"id\": \"o:7\", \"lp\": [-1.5, -2.5], \"nt\": [2, 33554432], \"nb\": [5, 6], \"g\": [1, 0]}\n",
              fp);
        fclose(fp);
        CHECK(quipu_journal_read_all(s3, "h", &e, &n, &err) == QUIPU_OK);
        CHECK_MSG(n == 1 && !strcmp(e[0].id, "o:1") && e[0].rec.logprob[1] == -2.5 && e[0].rec.is_greedy[0] == 1, "n = %zu", n);
        quipu_journal_entries_free(e, n);
    }

    /* unwritable folder */
    quipu_error_clear(&err);
    quipu_journal *jb = NULL;
    CHECK(quipu_journal_open(&jb, "/proc/quipu-cannot-write", "h", 0, &err) != QUIPU_OK && jb == NULL);
    CHECK_MSG(strstr(err.msg, "/proc/quipu-cannot-write") && strstr(err.msg, "cannot create"), "message: %s", err.msg);

    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("test_journal");
}
