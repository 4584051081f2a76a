/* common.h — status codes, the sticky error record, logging, small memory helpers.
 * Every fallible function returns quipu_status and fills a quipu_error whose message is one
 * line a user can act on ("FILE: problem"). Only main.c turns an error into an exit code. */
#ifndef QUIPU_COMMON_H
#define QUIPU_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum quipu_status {
    QUIPU_OK = 0,
    QUIPU_ERR_IO,          /* open/read/write/mmap failed */
    QUIPU_ERR_FORMAT,      /* malformed or truncated input file */
    QUIPU_ERR_UNSUPPORTED, /* valid input we do not handle (architecture, quant type) */
    QUIPU_ERR_INVALID,     /* bad argument or bad user input (JSON line, UTF-8) */
    QUIPU_ERR_NOMEM,
    QUIPU_ERR_NUMERIC,     /* NaN/Inf in weights or activations */
    QUIPU_ERR_INTERNAL
} quipu_status;

typedef struct quipu_error {
    quipu_status code;
    char msg[1024];
} quipu_error;

/* Records code and a printf-style message in err (if non-NULL) and returns code.
 * Sticky: a message already set is kept (the first, lowest-level cause wins) unless
 * quipu_error_clear was called. */
quipu_status quipu_error_set(quipu_error *err, quipu_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void quipu_error_clear(quipu_error *err);
const char *quipu_status_name(quipu_status s);

/* Logging: prefixes the MPI rank when one is set; INFO only from rank 0. */
typedef enum { QUIPU_LOG_DEBUG, QUIPU_LOG_INFO, QUIPU_LOG_WARN, QUIPU_LOG_ERROR } quipu_log_level;
void quipu_log_set_rank(int rank);
void quipu_log_set_level(quipu_log_level lvl);
void quipu_log(quipu_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation with overflow checks; return NULL on failure (callers report QUIPU_ERR_NOMEM). */
void *quipu_malloc_array(size_t n, size_t size);
void *quipu_calloc_array(size_t n, size_t size);
/* Heap copies of strings (NULL reads as ""); NULL when out of memory. */
char *quipu_strdup(const char *s);
char *quipu_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* a*b with overflow detection: returns 0 and sets *out on success, -1 on overflow. */
int quipu_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out);

/* 1 if t has the shape of a BCP-47 language tag: 2-3 letters, then "-" subtags of 1-8 letters or
 * digits ("es", "es-CL", "fr-FR", "zh-Hant-TW") */
int quipu_bcp47_ok(const char *t);

/* A set of strings, each with a value (open addressing, FNV-1a; keys copied): the repeat check of
 * ids and items. Zero-initialize; quipu_strmap_free releases. */
typedef struct quipu_strmap {
    char **key;
    long *val;
    size_t cap, n;
} quipu_strmap;
/* Adds key with val: 1 if added, 0 if already there (*old = its value), -1 out of memory. */
int quipu_strmap_add(quipu_strmap *m, const char *key, long val, long *old);
/* 1 and *val if key is there, else 0. */
int quipu_strmap_get(const quipu_strmap *m, const char *key, long *val);
void quipu_strmap_free(quipu_strmap *m);

/* A read-only memory map of a whole file. */
typedef struct quipu_mmap {
    const uint8_t *data;
    size_t size;
} quipu_mmap;
quipu_status quipu_mmap_open(quipu_mmap *m, const char *path, quipu_error *err);
void quipu_mmap_close(quipu_mmap *m);
/* Runs fn(ctx) with SIGBUS caught on this thread: a read past the end of a mapped file that
 * shrank after it was mapped (rewritten, truncated by another job) becomes an error naming path
 * instead of killing the process. fn must leave what it allocates reachable from ctx, since it is
 * left mid-way; nothing else may use the mapping afterwards. */
quipu_status quipu_guard_sigbus(const char *path, quipu_status (*fn)(void *ctx, quipu_error *err), void *ctx, quipu_error *err);

/* Reads a whole (small) file into a NUL-terminated heap buffer: regular files only (a FIFO,
 * device or directory is an error naming what it is: `/dev/zero` must not eat memory, a FIFO must
 * not hang), at most QUIPU_READ_MAX_DEFAULT bytes. */
quipu_status quipu_read_file(const char *path, char **out, size_t *len, quipu_error *err);
/* Per-kind size caps (docs/bad-input.md); a file over its cap is refused before it is read,
 * with an error naming the file, its size, the cap and `what` ("dataset file", "journal"...). */
#define QUIPU_READ_MAX_DEFAULT (1ull << 30)     /* tokenizer.json and anything else: 1 GiB */
#define QUIPU_READ_MAX_CONFIG_JSON (16ull << 20) /* config.json, tokenizer_config.json: 16 MiB */
#define QUIPU_READ_MAX_INDEX_JSON (64ull << 20)  /* model.safetensors.index.json: 64 MiB */
#define QUIPU_READ_MAX_DATASET (2ull << 30)      /* one CSV/TSV/JSON-lines dataset file: 2 GiB */
#define QUIPU_READ_MAX_JOURNAL (4ull << 30)      /* one resume journal file: 4 GiB */
quipu_status quipu_read_file_max(const char *path, uint64_t max_bytes, const char *what, char **out, size_t *len,
                                 quipu_error *err);
/* 0 if path can be opened as a regular file (without blocking on a FIFO); else sets err
 * ("PATH: is a FIFO, expected a regular file") and returns its code. */
quipu_status quipu_check_regular_file(const char *path, quipu_error *err);

/* fp16 / bf16 -> fp32, exact. */
float quipu_fp16_to_fp32(uint16_t h);
float quipu_bf16_to_fp32(uint16_t b);

/* Monotonic seconds. */
double quipu_time_now(void);

/* The shortest text that reads back to the same double ("0.95", "10", "1e-07"). */
void quipu_format_shortest(char *buf, size_t len, double x);
/* Every real number of a JSON text rewritten in place in that form (strings untouched). */
void quipu_json_shortest_reals(char *text);
/* Creates path and its missing parents (mode 0775); an existing non-folder is an error naming it. */
quipu_status quipu_mkdir_p(const char *path, quipu_error *err);

#endif
