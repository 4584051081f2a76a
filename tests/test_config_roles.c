/* test_config_roles.c — a benchmark's `role` (bias, control, neutral, knowledge) and `format: text`
 * in the run config: the defaults (blend knowledge, mbbq_control_* control, text neutral, else
 * bias), the canonical text and hash carrying a role only where it differs from the default (so a
 * config that writes a default role, or none, keeps its hash), and the refusals, one line each
 * with FILE:LINE:COL: an unknown role, neutral on a pairs benchmark, an accuracy role on pairs,
 * another role on a text benchmark, a prompt on a text benchmark. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

static int n_yaml = 0;

static const char *yaml(const char *text) {
    char name[64];
    snprintf(name, sizeof name, "roles-%d.yaml", n_yaml++);
    return test_write_tmp(name, text, strlen(text));
}

static quipu_config *load(const char *text, quipu_error_list *e, const char **path_out) {
    const char *path = yaml(text);
    if (path_out) *path_out = path;
    quipu_config_options o = {.skip_path_checks = 1};
    quipu_config *cfg = NULL;
    quipu_error_list_init(e);
    quipu_config_load_opts(&cfg, path, NULL, 0, &o, e);
    return cfg;
}

static void hash_of(const char *text, char hex[65]) {
    quipu_error_list e;
    quipu_config *cfg = load(text, &e, NULL);
    quipu_error err = {0};
    CHECK_MSG(cfg && quipu_config_hash(cfg, hex, &err) == QUIPU_OK, "%s", e.n ? e.msgs[0] : err.msg);
    if (!cfg) hex[0] = 0;
    quipu_config_free(cfg);
    quipu_error_list_free(&e);
}

/* The one error of text must be "{path}:POS: rest". */
static void expect_one(const char *what, const char *text, const char *pos_rest) {
    quipu_error_list e;
    const char *path = NULL;
    quipu_config *cfg = load(text, &e, &path);
    char want[2048];
    snprintf(want, sizeof want, "%s:%s", path, pos_rest);
    CHECK_MSG(!cfg && e.n == 1 && !strcmp(e.msgs[0], want), "%s: %d errors\n  got:      %s\n  expected: %s", what, e.n,
              e.n ? e.msgs[0] : "(none)", want);
    quipu_config_free(cfg);
    quipu_error_list_free(&e);
}

#define HEAD "models: [{path: m.gguf}]\nbenchmarks:\n"

int main(void) {
    /* defaults */
    quipu_error_list e;
    quipu_config *cfg = load(HEAD "  - crows_pairs_en\n  - blend\n  - mbbq_control_es\n  - mbbq_es\n"
                                  "  - {name: calm, path: n.jsonl, format: text}\n"
                                  "  - {name: ctl, path: c.jsonl, format: mc, role: control}\n",
                             &e, NULL);
    CHECK_MSG(cfg && e.n == 0, "%s", e.n ? e.msgs[0] : "no config");
    if (cfg) {
        const quipu_cfg_role want[] = {QUIPU_CFG_ROLE_BIAS, QUIPU_CFG_ROLE_KNOWLEDGE, QUIPU_CFG_ROLE_CONTROL,
                                       QUIPU_CFG_ROLE_BIAS, QUIPU_CFG_ROLE_NEUTRAL, QUIPU_CFG_ROLE_CONTROL};
        CHECK(cfg->n_benchmarks == 6);
        for (int i = 0; i < 6 && i < cfg->n_benchmarks; i++)
            CHECK_MSG(cfg->benchmarks[i].role == want[i], "benchmark %d: role %s, want %s", i, quipu_cfg_role_name(cfg->benchmarks[i].role),
                      quipu_cfg_role_name(want[i]));
        CHECK(cfg->benchmarks[4].format == QUIPU_CFG_FORMAT_TEXT);
        /* the canonical text names the one role that is not its benchmark's default */
        char *canon = quipu_config_canonical(cfg, 1);
        CHECK(canon && strstr(canon, "\"role\": \"control\""));
        CHECK(canon && !strstr(canon, "\"role\": \"knowledge\"") && !strstr(canon, "\"role\": \"neutral\""));
        CHECK(canon && strstr(canon, "\"format\": \"text\""));
        free(canon);
    }
    quipu_config_free(cfg);
    quipu_error_list_free(&e);

    /* a role written at its default changes neither the text nor the hash; another role does */
    char h0[65], h1[65], h2[65], h3[65];
    hash_of(HEAD "  - crows_pairs_en\n  - blend\n", h0);
    hash_of(HEAD "  - {name: crows_pairs_en, role: bias}\n  - {name: blend, role: knowledge}\n", h1);
    hash_of(HEAD "  - crows_pairs_en\n  - {name: blend, role: control}\n", h2);
    hash_of(HEAD "  - crows_pairs_en\n  - {name: blend, role: BIAS}\n", h3);
    CHECK_MSG(*h0 && !strcmp(h0, h1), "default roles written out changed the hash: %s vs %s", h0, h1);
    CHECK(*h2 && strcmp(h0, h2) != 0);
    CHECK(*h3 && strcmp(h0, h3) != 0 && strcmp(h2, h3) != 0);

    /* refusals, one line each at the role's value (line 3 = the first benchmark; in
     * "  - {name: crows_pairs_en, role: contrl}" the value starts at column 5 + 22 + 6 + 1 = 34) */
    expect_one("unknown role", HEAD "  - {name: crows_pairs_en, role: contrl}\n",
               "3:34: benchmarks.0.role: expected one of bias|control|neutral|knowledge, got 'contrl' (did you mean 'control'?)");
    expect_one("neutral on pairs", HEAD "  - {name: mine, path: p.jsonl, format: pairs, role: neutral}\n",
               "3:54: benchmarks.0.role: role 'neutral' is for neutral sentences (format: text); 'mine' is a pairs benchmark");
    expect_one("neutral on a built-in", HEAD "  - {name: bbq, role: neutral}\n",
               "3:23: benchmarks.0.role: role 'neutral' is for neutral sentences (format: text); 'bbq' is a built-in benchmark");
    expect_one("control on pairs", HEAD "  - {name: crows_pairs_fr, role: control}\n",
               "3:34: benchmarks.0.role: role 'control' reports an accuracy, which pairs items do not have ('crows_pairs_fr'); "
               "use it on a multiple-choice benchmark with gold answers");
    expect_one("knowledge on SeeGULL", HEAD "  - {name: seegull, role: knowledge}\n",
               "3:27: benchmarks.0.role: role 'knowledge' reports an accuracy, which association items do not have ('seegull'); "
               "use it on a multiple-choice benchmark with gold answers");
    expect_one("bias on text", HEAD "  - {name: calm, path: n.jsonl, format: text, role: bias}\n",
               "3:53: benchmarks.0.role: role 'bias' does not fit a format: text benchmark: neutral sentences have no stereotype or "
               "answer to score (its role is neutral)");
    expect_one("role not a word", HEAD "  - {name: bbq, role: [bias]}\n",
               "3:23: benchmarks.0.role: expected one of bias|control|neutral|knowledge, got a list");
    expect_one("prompt on text", HEAD "  - {name: calm, path: n.jsonl, format: text, prompt: \"{context}\"}\n",
               "3:55: benchmarks.0.prompt: a text benchmark scores sentences without a prompt; prompts apply to multiple choice");
    expect_one("text without path", HEAD "  - {name: calm, format: text}\n",
               "3:5: benchmarks.0: missing required key 'path' (format: text reads a JSON-lines file)");
    return test_finish("test_config_roles");
}
