/* fuzz_util.h — what the libFuzzer targets share: quipu's readers take paths, so each input is
 * written to a file in a per-process scratch folder first (tests/fuzz/README.md). */
#ifndef QUIPU_FUZZ_UTIL_H
#define QUIPU_FUZZ_UTIL_H
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* The scratch folder, made once: $TMPDIR (else /tmp)/quipu-fuzz-PID. */
static const char *fuzz_dir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/quipu-fuzz-%d", t && *t ? t : "/tmp", (int)getpid());
        mkdir(dir, 0700);
        quipu_log_set_level(QUIPU_LOG_ERROR); /* warnings on every input would drown the fuzzer's output */
    }
    return dir;
}

/* dir/name, in a static buffer (one of four in rotation). */
static const char *fuzz_path(const char *name) {
    static char bufs[4][1024];
    static int k;
    char *p = bufs[k++ & 3];
    snprintf(p, 1024, "%s/%s", fuzz_dir(), name);
    return p;
}

static void fuzz_write(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

/* Splits data at the first occurrence of sep: [data, *a_len) and the rest after sep. */
static void fuzz_split(const uint8_t *data, size_t size, const char *sep, size_t *a_len, const uint8_t **b, size_t *b_len) {
    size_t sl = strlen(sep);
    for (size_t i = 0; i + sl <= size; i++)
        if (!memcmp(data + i, sep, sl)) {
            *a_len = i;
            *b = data + i + sl;
            *b_len = size - i - sl;
            return;
        }
    *a_len = size;
    *b = data + size;
    *b_len = 0;
}

#endif
