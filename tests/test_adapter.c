/* test_adapter.c — applying and restoring weight modifications (src/adapter.h) on the tiny Llama
 * checkpoint, buffer by buffer: the matrices a modification touches change and no other buffer
 * does; quipu_model_restore gives back every byte; a modification that fails while being applied
 * (an overflowing edit after a good one) leaves the model as it was; identities are stable and
 * tell modifications apart. Scores against transformers + peft: tests/test_adapters.sh. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "backend.h"
#include "config.h"
#include "model.h"
#include "testlib.h"

/* Every weight buffer of the model, in a fixed order (the tied head once). */
static int model_bufs(const quipu_model *m, quipu_buf **out, int cap) {
    int n = 0;
    quipu_buf *top[] = {m->tok_embd, m->pos_embd, m->out_norm, m->out_norm_b, m->lm_head, m->freq_factors};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (top[i] && n < cap && !(i == 4 && top[i] == m->tok_embd)) out[n++] = top[i];
    for (int64_t l = 0; l < m->cfg.n_layer; l++) {
        quipu_buf **f = (quipu_buf **)&m->layers[l];
        for (size_t i = 0; i < sizeof(quipu_layer_weights) / sizeof(quipu_buf *); i++)
            if (f[i] && n < cap) out[n++] = f[i];
    }
    return n;
}

typedef struct snapshot {
    int n;
    quipu_buf *buf[256];
    void *data[256];
    size_t size[256];
} snapshot;

static void snap(const quipu_model *m, snapshot *s) {
    quipu_backend *b = m->backend;
    s->n = model_bufs(m, s->buf, 256);
    for (int i = 0; i < s->n; i++) {
        s->size[i] = b->iface->buf_size(s->buf[i]);
        s->data[i] = malloc(s->size[i]);
        quipu_error e = {0};
        CHECK(s->data[i] && b->iface->buf_read(b, s->buf[i], 0, s->data[i], s->size[i], &e) == QUIPU_OK);
    }
}

/* how many buffers differ from the snapshot, and their bytes */
static int n_changed(const quipu_model *m, const snapshot *s, size_t *bytes) {
    quipu_backend *b = m->backend;
    int n = 0;
    *bytes = 0;
    for (int i = 0; i < s->n; i++) {
        void *now = malloc(s->size[i]);
        quipu_error e = {0};
        CHECK(now && b->iface->buf_read(b, s->buf[i], 0, now, s->size[i], &e) == QUIPU_OK);
        if (now && memcmp(now, s->data[i], s->size[i])) n++, *bytes += s->size[i];
        free(now);
    }
    return n;
}

static void snap_free(snapshot *s) {
    for (int i = 0; i < s->n; i++) free(s->data[i]);
}

/* A one-tensor-pair safetensors file: NAME.delta_u [n_u] and NAME.delta_v [n_v], every value x. */
static const char *write_uv(const char *file, const char *name, int n_u, int n_v, float x) {
    char header[1024];
    int hl = snprintf(header, sizeof header,
                      "{\"%s.delta_u\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
                      "\"%s.delta_v\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%d,%d]}}",
                      name, n_u, 4 * n_u, name, n_v, 4 * n_u, 4 * (n_u + n_v));
    while (hl % 8) header[hl++] = ' ';
    size_t len = 8 + (size_t)hl + 4 * (size_t)(n_u + n_v);
    uint8_t *buf = calloc(1, len);
    uint64_t h64 = (uint64_t)hl;
    memcpy(buf, &h64, 8);
    memcpy(buf + 8, header, (size_t)hl);
    for (int i = 0; i < n_u + n_v; i++) memcpy(buf + 8 + hl + 4 * i, &x, 4);
    const char *p = test_write_tmp(file, buf, len);
    free(buf);
    return p;
}

int main(void) {
    const char *src = test_env("QUIPU_SOURCE_DIR", ".");
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    if (!test_file_exists(test_path(shared, "tokenizers")))
        return test_skip("needs %s/tokenizers (the project's shared data: CI has it beside the clone, a bare clone does not)", shared);
    char dir[] = "/tmp/quipu-adapter-XXXXXX";
    if (!mkdtemp(dir)) return test_skip("cannot create a temp folder");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp %s/tests/models/tiny-llama/* %s/ && cp %s/tokenizers/$(cat %s/tests/models/tiny-llama/tokenizer.source)/tokenizer.json %s/",
             src, dir, shared, src, dir);
    CHECK(system(cmd) == 0);
    char ad[3][4096];
    snprintf(ad[0], sizeof ad[0], "%s/tests/models/adapters/llama-lora-r8", src);
    snprintf(ad[1], sizeof ad[1], "%s/tests/models/adapters/llama-delta-full", src);
    snprintf(ad[2], sizeof ad[2], "%s/tests/models/adapters/llama-delta-rank1", src);

    quipu_error err = {0};
    quipu_backend *b = NULL;
    quipu_model *m = NULL;
    CHECK(quipu_backend_init(&b, "cpu", 2, &err) == QUIPU_OK);
    CHECK_MSG(b && quipu_model_load(&m, dir, b, &err) == QUIPU_OK, "%s", err.msg);
    if (!m) return test_finish("test_adapter");
    snapshot s;
    snap(m, &s);
    size_t bytes = 0;

    /* LoRA r8 on all 7 projections of 2 layers, then a delta on up_proj, v_proj and the tied embedding */
    const char *two[] = {ad[0], ad[1]};
    quipu_model_edits *e = NULL;
    CHECK_MSG(quipu_model_apply_adapters(m, two, 2, &e, &err) == QUIPU_OK, "%s", err.msg);
    int changed = n_changed(m, &s, &bytes);
    CHECK_MSG(changed == 15, "%d buffers changed, expected 14 projections + the tied embedding", changed);
    CHECK_MSG(quipu_model_edits_bytes(e) == bytes, "kept %zu bytes, %zu changed", quipu_model_edits_bytes(e), bytes);
    CHECK(quipu_model_restore(m, e, &err) == QUIPU_OK);
    CHECK_MSG(n_changed(m, &s, &bytes) == 0, "%zu bytes differ after the restore", bytes);

    /* a good edit, then one that overflows while being applied: the model is left as it was */
    const char *over = write_uv("overflow.safetensors", "model.layers.1.mlp.down_proj.weight", 32, 64, 3e38f);
    const char *bad[] = {ad[2], over};
    quipu_error e2 = {0};
    e = NULL;
    CHECK(quipu_model_apply_adapters(m, bad, 2, &e, &e2) == QUIPU_ERR_NUMERIC);
    CHECK_MSG(strstr(e2.msg, "the edited weight is not finite") != NULL, "%s", e2.msg);
    CHECK(e == NULL);
    CHECK_MSG(n_changed(m, &s, &bytes) == 0, "%zu bytes differ after a failed apply", bytes);

    /* checked before anything changes: a bad shape in the second modification changes nothing */
    const char *wide = write_uv("wide.safetensors", "model.layers.0.mlp.down_proj.weight", 32, 65, 0.5f);
    const char *bad2[] = {ad[0], wide};
    quipu_error e3 = {0};
    CHECK(quipu_model_apply_adapters(m, bad2, 2, &e, &e3) == QUIPU_ERR_FORMAT);
    CHECK_MSG(strstr(e3.msg, "has shape [65], expected [64]") != NULL, "%s", e3.msg);
    CHECK(n_changed(m, &s, &bytes) == 0);

    /* the same check without loading (quipu run's precheck) */
    quipu_error e4 = {0};
    CHECK(quipu_adapter_precheck(dir, two, 2, &e4) == QUIPU_OK);
    CHECK(quipu_adapter_precheck(dir, bad2, 2, &e4) == QUIPU_ERR_FORMAT && strstr(e4.msg, "expected [64]"));

    /* identities: stable, distinct */
    char h1[65], h2[65], h3[65];
    quipu_error e5 = {0};
    CHECK(quipu_adapter_identity(ad[0], h1, &e5) == QUIPU_OK && quipu_adapter_identity(ad[0], h2, &e5) == QUIPU_OK);
    CHECK(quipu_adapter_identity(ad[1], h3, &e5) == QUIPU_OK);
    CHECK(!strcmp(h1, h2) && strcmp(h1, h3) && strlen(h1) == 64);

    /* in a config: each adapter's SHA-256 is in the canonical text and the hash; no adapters, no key */
    char *hashes[3] = {0};
    const char *line = "{\"id\": 1, \"more\": \"a\", \"less\": \"b\", \"language\": \"en\"}\n";
    const char *pairs = test_write_tmp("pairs.jsonl", line, strlen(line));
    char copy[4200];
    snprintf(copy, sizeof copy, "%s/lora-copy", dir);
    snprintf(cmd, sizeof cmd, "cp -r %s %s", ad[0], copy);
    CHECK(system(cmd) == 0);
    for (int v = 0; v < 3; v++) {
        if (v == 2) { /* the same adapter with one more byte in its config: another identity */
            snprintf(cmd, sizeof cmd, "echo >> %s/adapter_config.json", copy);
            CHECK(system(cmd) == 0);
        }
        char yaml[16384];
        snprintf(yaml, sizeof yaml, "models:\n  - path: %s\n%s%s%s\nbenchmarks: [{name: mine, path: %s, format: pairs}]\n", dir,
                 v ? "    adapters: [" : "", v ? copy : "", v ? "]" : "", pairs);
        const char *cp = test_write_tmp("adapters.yaml", yaml, strlen(yaml));
        quipu_config *cfg = NULL;
        quipu_error_list errs;
        quipu_error_list_init(&errs);
        CHECK_MSG(quipu_config_load(&cfg, cp, NULL, 0, NULL, &errs) == QUIPU_OK, "%s", errs.n ? errs.msgs[0] : "?");
        if (cfg) {
            char *canon = quipu_config_canonical(cfg, 1), hex[65];
            quipu_error he = {0};
            CHECK(canon && (strstr(canon, "\"adapters\"") != NULL) == (v > 0));
            CHECK(v == 0 || (cfg->models[0].adapter_ids[0] && strstr(canon, cfg->models[0].adapter_ids[0])));
            CHECK(quipu_config_hash(cfg, hex, &he) == QUIPU_OK);
            hashes[v] = strdup(hex);
            free(canon);
        }
        quipu_config_free(cfg);
        quipu_error_list_free(&errs);
    }
    CHECK(hashes[0] && hashes[1] && hashes[2] && strcmp(hashes[0], hashes[1]) && strcmp(hashes[1], hashes[2]));
    for (int v = 0; v < 3; v++) free(hashes[v]);

    snap_free(&s);
    quipu_model_free(m);
    quipu_backend_free(b);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("test_adapter");
}
