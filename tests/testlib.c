/* testlib.c — see testlib.h */
#define _POSIX_C_SOURCE 200809L
#include "testlib.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int quipu_test_failures = 0;
int quipu_test_checks = 0;

const char *test_env(const char *name, const char *def) {
    const char *v = getenv(name);
    return (v && *v) ? v : def;
}

const char *test_path(const char *a, const char *b) {
    static char bufs[8][4096];
    static int k = 0;
    char *buf = bufs[k++ & 7];
    snprintf(buf, 4096, "%s/%s", a, b);
    return buf;
}

int test_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int test_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("SKIP: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    return 77;
}

int test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, quipu_test_checks, quipu_test_failures);
    if (quipu_test_checks == 0) {
        printf("%s: no checks ran: failing\n", name);
        return 1;
    }
    return quipu_test_failures ? 1 : 0;
}

const char *test_write_tmp(const char *name, const void *data, size_t len) {
    static char bufs[8][4096];
    static int k = 0;
    char *buf = bufs[k++ & 7];
    const char *dir = test_env("QUIPU_TEST_TMP", "/tmp");
    mkdir(dir, 0755);
    snprintf(buf, 4096, "%s/%d-%s", dir, (int)getpid(), name);
    FILE *f = fopen(buf, "wb");
    if (!f) return NULL;
    if (len) fwrite(data, 1, len, f);
    fclose(f);
    return buf;
}

void test_write_under(const char *dir, const char *rel, const char *text) {
    char path[8192], sub[8192];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(sub, sizeof sub, "%s", path);
    *strrchr(sub, '/') = '\0';
    quipu_error err = {0};
    CHECK_MSG(quipu_mkdir_p(sub, &err) == QUIPU_OK, "%s", err.msg);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}
