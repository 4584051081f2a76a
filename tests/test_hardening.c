/* test_hardening.c — issue 11's file-reading fixes at the library level: quipu_read_file and
 * the model map take regular files only (a FIFO must not hang, /dev/zero must not eat memory, a
 * directory is named as one), the per-kind size cap names the file, the kind and the cap, and a
 * GGUF whose tensors overlap is refused. (Through the commands: test_bad_inputs.sh.) */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "testlib.h"

static void expect(quipu_status st, const quipu_error *err, const char *a, const char *b) {
    CHECK_MSG(st != QUIPU_OK && strstr(err->msg, a) && strstr(err->msg, b), "status %d, message '%s' (want '%s' ... '%s')", st, err->msg, a, b);
}

int main(void) {
    alarm(60); /* a FIFO that blocks the reader would otherwise hang the test until ctest kills it */
    const char *base = test_env("QUIPU_TEST_TMP", "/tmp");
    mkdir(base, 0755);
    char dir[1024], fifo[1100];
    snprintf(dir, sizeof dir, "%s/hardening-%d", base, (int)getpid());
    mkdir(dir, 0700);
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    CHECK(mkfifo(fifo, 0600) == 0);

    quipu_error err = {0};
    char *text = NULL;
    size_t len = 0;
    expect(quipu_read_file(fifo, &text, &len, &err), &err, fifo, "is a FIFO, expected a regular file");
    CHECK(text == NULL);
    quipu_error_clear(&err);
    expect(quipu_read_file("/dev/zero", &text, &len, &err), &err, "/dev/zero", "is a character device");
    quipu_error_clear(&err);
    expect(quipu_read_file(dir, &text, &len, &err), &err, dir, "is a directory");
    quipu_error_clear(&err);
    quipu_mmap m;
    expect(quipu_mmap_open(&m, fifo, &err), &err, fifo, "is a FIFO");
    quipu_error_clear(&err);
    CHECK(quipu_gguf_is_gguf(fifo) == 0);
    quipu_gguf *g = NULL;
    expect(quipu_gguf_open(&g, fifo, &err), &err, fifo, "is a FIFO");
    quipu_error_clear(&err);

    /* the cap: at the limit reads, one byte over is refused naming the kind and the cap */
    const char *f = test_write_tmp("cap.json", "0123456789", 10);
    CHECK(quipu_read_file_max(f, 10, "config.json", &text, &len, &err) == QUIPU_OK && len == 10 && !strcmp(text, "0123456789"));
    free(text);
    text = NULL;
    expect(quipu_read_file_max(f, 9, "config.json", &text, &len, &err), &err, f, "10 bytes is larger than the limit of 9 bytes for a config.json");
    CHECK(text == NULL);
    quipu_error_clear(&err);
    /* an empty file is fine */
    const char *e = test_write_tmp("empty.txt", "", 0);
    CHECK(quipu_read_file(e, &text, &len, &err) == QUIPU_OK && len == 0 && text && text[0] == '\0');
    free(text);

    /* GGUF: two tensors whose data overlap (ggml lays them out one after another) */
    {
        unsigned char buf[4096];
        size_t n = 0;
#define PUT(p, k) (memcpy(buf + n, (p), (k)), n += (k))
        uint32_t u32;
        uint64_t u64;
        PUT("GGUF", 4);
        u32 = 3, PUT(&u32, 4);
        u64 = 2, PUT(&u64, 8); /* tensors */
        u64 = 0, PUT(&u64, 8); /* kv */
        const char *names[2] = {"a", "b"};
        const uint64_t offs[2] = {0, 32}; /* a: 64 floats = 256 bytes from 0; b starts inside it */
        for (int t = 0; t < 2; t++) {
            u64 = 1, PUT(&u64, 8);
            PUT(names[t], 1);
            u32 = 1, PUT(&u32, 4);
            u64 = 64, PUT(&u64, 8);
            u32 = 0, PUT(&u32, 4); /* F32 */
            u64 = offs[t], PUT(&u64, 8);
        }
        while (n % 32) buf[n++] = 0;
        memset(buf + n, 0, 512);
        n += 512;
#undef PUT
        const char *p = test_write_tmp("overlap.gguf", buf, n);
        expect(quipu_gguf_open(&g, p, &err), &err, p, "tensors 'a' (data bytes 0..256) and 'b' (from byte 32) overlap");
        quipu_error_clear(&err);
    }
    unlink(fifo);
    rmdir(dir);
    return test_finish("test_hardening");
}
