/* testlib.h — tiny assertion helpers whose failures count: every CHECK that fails is printed
 * with file:line and makes test_finish() return 1. Skips print why and return 77. */
#ifndef QUIPU_TESTLIB_H
#define QUIPU_TESTLIB_H

#include "common.h"

extern int quipu_test_failures;
extern int quipu_test_checks;

#define CHECK(cond) do { quipu_test_checks++; if (!(cond)) { quipu_test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { quipu_test_checks++; if (!(cond)) { quipu_test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* Env var or a default (never NULL). */
const char *test_env(const char *name, const char *def);
/* Path join into a static rotating buffer. */
const char *test_path(const char *a, const char *b);
/* Returns 1 if the file exists. */
int test_file_exists(const char *path);
/* Prints "SKIP: reason" and returns 77 (ctest SKIP_RETURN_CODE). */
int test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the summary line and returns the exit code. */
int test_finish(const char *name);
/* Writes bytes to a fresh temp file under QUIPU_TEST_TMP; returns its path (static buffer rotation). */
const char *test_write_tmp(const char *name, const void *data, size_t len);
/* Writes text to dir/rel, making rel's folders; a failure counts as a failed check. */
void test_write_under(const char *dir, const char *rel, const char *text);

#endif
