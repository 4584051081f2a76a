/* csv.h — an RFC 4180 reader for the benchmark files: comma or TAB separated, fields quoted with
 * '"' ('""' inside a quoted field is one quote), line breaks inside quoted fields kept, records
 * ended by LF, CRLF or CR, a leading UTF-8 byte-order mark dropped, blank lines skipped. Lenient
 * where Python's csv module is (a quote inside an unquoted field, or text after a closing quote,
 * is kept as text) because the staged files were written by it and by pandas; the one thing it
 * cannot recover from is a quoted field that never closes, reported with the line it opened on.
 * Also small parsers for the Python literals some files embed ("['a', 'b']", numpy's
 * "['a' 'b']", "{'ans0': 'x'}") and a UTF-8 check. */
#ifndef QUIPU_DATA_CSV_H
#define QUIPU_DATA_CSV_H

#include <stddef.h>

#include "common.h"

typedef struct quipu_csv {
    char *name;          /* file name used in messages */
    char *buf;           /* the whole file, owned */
    size_t len, pos;
    char delim;
    long line;           /* line number of buf[pos] (1-based) */
    /* the current record: nf fields, each NUL-terminated, valid until the next call */
    long rec_line;       /* line the record starts on */
    size_t nf;
    char **field;
    size_t *flen;
    size_t cap_f;
    char *scratch;
    size_t cap_s;
} quipu_csv;

/* Opens a file (read whole). A missing or unreadable file is QUIPU_ERR_IO naming it. */
quipu_status quipu_csv_open(quipu_csv *c, const char *path, char delim, quipu_error *err);
/* Reads from a copy of data; name is used in messages. */
quipu_status quipu_csv_open_mem(quipu_csv *c, const char *name, const char *data, size_t len, char delim,
                                quipu_error *err);
/* Reads the next record into c->field / c->flen / c->nf and sets *got = 1, or *got = 0 at the end.
 * An unterminated quoted field is QUIPU_ERR_FORMAT "NAME:LINE: unterminated quoted field" and
 * leaves the reader at the end. */
quipu_status quipu_csv_next(quipu_csv *c, int *got, quipu_error *err);
void quipu_csv_close(quipu_csv *c);

/* Index of the header field equal to name, -1 if none. */
int quipu_csv_column(const quipu_csv *c, const char *name);

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF); otherwise 0 and
 * *bad = offset of the first bad byte. */
int quipu_utf8_valid(const char *s, size_t n, size_t *bad);

/* Python literal list of strings: "['a', \"b's\"]", or numpy's repr "['a' 'b']" (elements apart by
 * white space). Fills out[0..*n) with heap strings (caller frees) and returns 0; on a malformed
 * literal or more than max elements returns -1, frees what it made, and says why in `why`. */
int quipu_pylit_strlist(const char *s, char **out, int max, int *n, char *why, size_t whylen);
/* Python dict literal with string keys and string values: "{'ans0': 'x', 'ans1': 'y'}". */
int quipu_pylit_strdict(const char *s, char **keys, char **vals, int max, int *n, char *why, size_t whylen);

#endif
