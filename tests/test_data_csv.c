/* test_data_csv.c — the CSV/TSV reader (quotes, doubled quotes, embedded line breaks, CRLF, CR,
 * BOM, TAB, blank lines, ragged rows, an unterminated quote), the Python-literal parsers and the
 * UTF-8 check of src/data/csv.h. */
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "testlib.h"

/* Reads all records of data; returns the count and keeps "f1|f2|..." per record in out[]. */
static int read_all(const char *data, char delim, char out[][256], long *lines, int max, quipu_status *st,
                    quipu_error *err) {
    quipu_csv c;
    *st = quipu_csv_open_mem(&c, "t.csv", data, strlen(data), delim, err);
    if (*st) return -1;
    int n = 0, got = 0;
    for (;;) {
        *st = quipu_csv_next(&c, &got, err);
        if (*st || !got) break;
        if (n < max) {
            out[n][0] = '\0';
            for (size_t i = 0; i < c.nf; i++) {
                if (i) strcat(out[n], "|");
                strncat(out[n], c.field[i], 255 - strlen(out[n]));
            }
            lines[n] = c.rec_line;
        }
        n++;
    }
    quipu_csv_close(&c);
    return n;
}

static void test_csv(void) {
    char r[16][256];
    long ln[16];
    quipu_status st;
    quipu_error err = {0};

    /* plain, quoted with comma, doubled quote, empty fields, no final newline */
    int n = read_all("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n,,\n\"\",z,\"\"\"\"", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 4);
    CHECK(strcmp(r[0], "a|b|c") == 0);
    CHECK(strcmp(r[1], "1|x, y|say \"hi\"") == 0);
    CHECK(strcmp(r[2], "||") == 0);
    CHECK(strcmp(r[3], "|z|\"") == 0);
    CHECK(ln[0] == 1 && ln[1] == 2 && ln[2] == 3 && ln[3] == 4);

    /* embedded LF and CRLF inside quotes; CRLF records; the next record's line counts them */
    n = read_all("h1,h2\r\n\"two\r\nlines\",x\r\n\"three\nline\nfield\",y\r\nlast,z\r\n", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 4);
    CHECK(strcmp(r[1], "two\r\nlines|x") == 0);
    CHECK(strcmp(r[2], "three\nline\nfield|y") == 0);
    CHECK(strcmp(r[3], "last|z") == 0);
    CHECK(ln[1] == 2 && ln[2] == 4 && ln[3] == 7);

    /* BOM dropped; blank lines (LF, CRLF, CR) skipped but counted in line numbers */
    n = read_all("\xEF\xBB\xBFid,v\n\n1,a\r\n\r\n\r2,b\n", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 3);
    CHECK(strcmp(r[0], "id|v") == 0);
    CHECK(strcmp(r[1], "1|a") == 0 && ln[1] == 3);
    CHECK(strcmp(r[2], "2|b") == 0 && ln[2] == 6);

    /* TAB variant: commas are text, quotes still quote (the French CrowS-Pairs files) */
    n = read_all("\tsent_more\tsent_less\n0\ta, b\t\"He said \"\"no\"\"\tthen\"\n", '\t', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 2);
    CHECK(strcmp(r[0], "|sent_more|sent_less") == 0);
    CHECK(strcmp(r[1], "0|a, b|He said \"no\"\tthen") == 0);

    /* lenient like Python's csv: a quote inside an unquoted field, text after a closing quote */
    n = read_all("a\"b,\"c\"d,e\n", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 1 && strcmp(r[0], "a\"b|cd|e") == 0);

    /* ragged rows are returned as they are (the loaders count fields) */
    n = read_all("a,b,c\n1,2\n1,2,3,4\n", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 3 && strcmp(r[1], "1|2") == 0 && strcmp(r[2], "1|2|3|4") == 0);

    /* unterminated quote: an error naming the line where the record starts */
    quipu_error_clear(&err);
    n = read_all("a,b\n1,2\n3,\"never\nclosed\n", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_ERR_FORMAT && n == 2);
    CHECK_MSG(strstr(err.msg, "t.csv:3: unterminated quoted field") != NULL, "%s", err.msg);

    /* empty input: no records */
    quipu_error_clear(&err);
    n = read_all("", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 0);
    n = read_all("\xEF\xBB\xBF\n\n", ',', r, ln, 16, &st, &err);
    CHECK(st == QUIPU_OK && n == 0);

    /* column lookup */
    quipu_csv c;
    CHECK(quipu_csv_open_mem(&c, "h.csv", ",x,y\n", 5, ',', &err) == QUIPU_OK);
    int got = 0;
    CHECK(quipu_csv_next(&c, &got, &err) == QUIPU_OK && got == 1);
    CHECK(quipu_csv_column(&c, "") == 0 && quipu_csv_column(&c, "y") == 2 && quipu_csv_column(&c, "z") == -1);
    quipu_csv_close(&c);

    /* a missing file is an I/O error naming it */
    quipu_error_clear(&err);
    CHECK(quipu_csv_open(&c, "/nonexistent/q.csv", ',', &err) == QUIPU_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/q.csv") != NULL);
}

static void test_utf8(void) {
    size_t bad = 99;
    CHECK(quipu_utf8_valid("plain", 5, &bad));
    CHECK(quipu_utf8_valid("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14, &bad));
    CHECK(!quipu_utf8_valid("ab\xC3", 3, &bad) && bad == 2);            /* truncated */
    CHECK(!quipu_utf8_valid("a\xC0\xAF", 3, &bad) && bad == 1);         /* overlong '/' */
    CHECK(!quipu_utf8_valid("\xED\xA0\x80", 3, &bad) && bad == 0);      /* surrogate */
    CHECK(!quipu_utf8_valid("x\xF4\x90\x80\x80", 5, &bad) && bad == 1); /* > U+10FFFF */
    CHECK(!quipu_utf8_valid("\xE9t\xE9", 3, &bad) && bad == 0);         /* Latin-1 */
    CHECK(!quipu_utf8_valid("ok\x80", 3, &bad) && bad == 2);            /* stray continuation */
}

static void test_pylit(void) {
    char *v[8], *k[8];
    int n = 0;
    char why[128];
    CHECK(quipu_pylit_strlist("['a', \"b's\", 'c\\'d']", v, 8, &n, why, sizeof why) == 0 && n == 3);
    if (n == 3) {
        CHECK(strcmp(v[0], "a") == 0 && strcmp(v[1], "b's") == 0 && strcmp(v[2], "c'd") == 0);
        for (int i = 0; i < n; i++) free(v[i]);
    }
    /* numpy repr: white space between elements, line breaks included */
    CHECK(quipu_pylit_strlist("['The people are thin.'\n 'They are \"fat\".' \"It's a cat.\"]", v, 8, &n, why,
                              sizeof why) == 0 && n == 3);
    if (n == 3) {
        CHECK(strcmp(v[1], "They are \"fat\".") == 0 && strcmp(v[2], "It's a cat.") == 0);
        for (int i = 0; i < n; i++) free(v[i]);
    }
    CHECK(quipu_pylit_strlist("[]", v, 8, &n, why, sizeof why) == 0 && n == 0);
    CHECK(quipu_pylit_strlist("['\\xe9\\u00e9\\n', '알 수 없음']", v, 8, &n, why, sizeof why) == 0 && n == 2);
    if (n == 2) {
        CHECK(strcmp(v[0], "\xC3\xA9\xC3\xA9\n") == 0 && strcmp(v[1], "알 수 없음") == 0);
        for (int i = 0; i < n; i++) free(v[i]);
    }
    CHECK(quipu_pylit_strlist("['a', 'b'", v, 8, &n, why, sizeof why) == -1 && n == 0);
    CHECK(quipu_pylit_strlist("['a', 'b] ", v, 8, &n, why, sizeof why) == -1);
    CHECK(strstr(why, "unterminated string") != NULL);
    CHECK(quipu_pylit_strlist("['a'] x", v, 8, &n, why, sizeof why) == -1);
    CHECK(quipu_pylit_strlist("['a', 1]", v, 8, &n, why, sizeof why) == -1);
    CHECK(quipu_pylit_strlist("['a','b','c']", v, 2, &n, why, sizeof why) == -1 && strstr(why, "too many"));
    CHECK(quipu_pylit_strlist("", v, 8, &n, why, sizeof why) == -1);

    CHECK(quipu_pylit_strdict("{'ans0': 'El grupo', 'ans1': \"L'autre\", 'ans2': 'No hay'}", k, v, 8, &n, why,
                              sizeof why) == 0 && n == 3);
    if (n == 3) {
        CHECK(strcmp(k[0], "ans0") == 0 && strcmp(v[0], "El grupo") == 0);
        CHECK(strcmp(k[1], "ans1") == 0 && strcmp(v[1], "L'autre") == 0);
        CHECK(strcmp(k[2], "ans2") == 0 && strcmp(v[2], "No hay") == 0);
        for (int i = 0; i < n; i++) {
            free(k[i]);
            free(v[i]);
        }
    }
    CHECK(quipu_pylit_strdict("{'ans0' 'x'}", k, v, 8, &n, why, sizeof why) == -1 && strstr(why, "':'"));
    CHECK(quipu_pylit_strdict("{'ans0': 'x',}", k, v, 8, &n, why, sizeof why) == 0 && n == 1);
    if (n == 1) {
        free(k[0]);
        free(v[0]);
    }
    CHECK(quipu_pylit_strdict("{'ans0': 'x'", k, v, 8, &n, why, sizeof why) == -1 && n == 0);
}

int main(void) {
    test_csv();
    test_utf8();
    test_pylit();
    return test_finish("test_data_csv");
}
