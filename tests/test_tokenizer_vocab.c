/* test_tokenizer_vocab.c — llama.cpp's 46 tokenizer test strings against Hugging Face's ids
 * (shared/tokenizers/<vocab>/hf-ids.out, made with tokenizer.json and add_special_tokens=False)
 * for every tokenizer.json under shared/tokenizers (and each _pending folder once a tokenizer.json is
 * there). Reports per vocabulary: strings, exact matches, first mismatches. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "tokenizer.h"

static const char SEP[] = "\n__ggml_vocab_test__\n";

static void print_ids(const char *label, const int32_t *v, size_t n) {
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", v[i]);
    if (n > 40) fprintf(stderr, " ... (%zu ids)", n);
    fputc('\n', stderr);
}

/* Returns 1 if the vocabulary was tested (all strings equal), 0 if it was skipped, -1 on mismatches. */
static int check_vocab(const char *dir, const char *inp_path) {
    char tj[1024], out[1024];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    snprintf(out, sizeof out, "%s/hf-ids.out", dir);
    if (!test_file_exists(tj) || !test_file_exists(out)) return 0;
    quipu_error err = {0};
    quipu_tokenizer *t = NULL;
    double t0 = quipu_time_now();
    if (quipu_tokenizer_from_json(&t, tj, &err) != QUIPU_OK) {
        CHECK_MSG(0, "load %s: %s", tj, err.msg);
        return -1;
    }
    double t_load = quipu_time_now() - t0;
    char *inp = NULL, *outs = NULL;
    size_t inp_n = 0, outs_n = 0;
    CHECK(quipu_read_file(inp_path, &inp, &inp_n, &err) == QUIPU_OK);
    CHECK(quipu_read_file(out, &outs, &outs_n, &err) == QUIPU_OK);
    if (!inp || !outs) {
        quipu_tokenizer_free(t);
        free(inp);
        free(outs);
        return -1;
    }
    size_t n_str = 0, n_ok = 0, shown = 0;
    char *p = inp, *line = outs;
    for (;;) {
        char *e = strstr(p, SEP);
        if (!e) break;
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        int32_t exp[4096];
        size_t ne = 0;
        for (char *q = line; *q && ne < 4096;) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q) break;
            exp[ne++] = (int32_t)v;
            q = end;
        }
        int32_t *ids = NULL;
        size_t n = 0;
        quipu_status st = quipu_tokenizer_encode(t, p, (size_t)(e - p), 0, &ids, &n, &err);
        n_str++;
        int same = st == QUIPU_OK && n == ne && (n == 0 || memcmp(ids, exp, n * sizeof *ids) == 0);
        if (same) n_ok++;
        else if (shown++ < 3) {
            fprintf(stderr, "  %s: mismatch on string %zu \"%.*s\"%s\n", dir, n_str - 1, (int)((e - p) > 80 ? 80 : (e - p)), p,
                    st == QUIPU_OK ? "" : err.msg);
            print_ids("expected", exp, ne);
            print_ids("got     ", ids, n);
        }
        free(ids);
        p = e + sizeof SEP - 1;
        line = nl + 1;
    }
    const char *name = strstr(dir, "tokenizers/");
    name = name ? name + strlen("tokenizers/") : dir;
    printf("%-22s %2zu strings, %2zu exact (load %.2fs)\n", name, n_str, n_ok, t_load);
    CHECK_MSG(n_str == 46 && n_ok == n_str, "%s: %zu of %zu strings equal", dir, n_ok, n_str);
    quipu_tokenizer_free(t);
    free(inp);
    free(outs);
    return n_ok == n_str ? 1 : -1;
}

int main(void) {
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    char root[1024];
    snprintf(root, sizeof root, "%s/tokenizers", shared);
    char inp[1100];
    snprintf(inp, sizeof inp, "%s/vocab-test.inp", root);
    if (!test_file_exists(inp)) return test_skip("no %s", inp);
    static const char *const vocabs[] = {"gpt-2", "falcon", "mpt", "refact", "smollm", "llama-spm", "phi-3", "bert-bge"};
    int tested = 0;
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        char dir[1200], own[1300];
        snprintf(dir, sizeof dir, "%s/%s", root, vocabs[i]);
        snprintf(own, sizeof own, "%s/vocab-test.inp", dir);
        int r = check_vocab(dir, test_file_exists(own) ? own : inp);
        CHECK_MSG(r != 0, "%s: no tokenizer.json / hf-ids.out", dir);
        tested += r != 0;
    }
    char pend[1200];
    snprintf(pend, sizeof pend, "%s/_pending", root);
    DIR *d = opendir(pend);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char dir[1500], own[1600];
            snprintf(dir, sizeof dir, "%s/%s", pend, e->d_name);
            snprintf(own, sizeof own, "%s/vocab-test.inp", dir);
            tested += check_vocab(dir, test_file_exists(own) ? own : inp) != 0;
        }
        closedir(d);
    }
    printf("%d vocabularies tested\n", tested);
    return test_finish("test_tokenizer_vocab");
}
