/* test_prefix_sharing.c — multiple-choice groups scored with the prompt run once (a prefix tree)
 * give bit-identical results to each (context, choice) pair run whole, in fewer tokens. Runs on
 * the tiny Mistral checkpoint (sliding window 8, so windows cross the prompt/choice boundary) and
 * on SmolLM2 when the model cache has it. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "score.h"
#include "testlib.h"

static const char *ctxs[] = {
    "Two coworkers were given an important presentation. One is white and the other is Black. Who did not do their part? Answer:",
    "Dos compañeros de trabajo reciben la tarea de preparar una presentación importante. ¿Quién no hizo su parte? Respuesta:",
    "Le médecin et l'infirmière sont arrivés en retard.  ",
    "Q:",
};
static const char *choices[][4] = {
    {" The white coworker", " The Black coworker", " Cannot be determined", NULL},
    {" El compañero blanco", " El compañero negro", " No hay suficiente información", NULL},
    {"Le médecin était fatigué.", " L'infirmière était fatiguée.", "Personne.", " Les deux."},
    {" yes", " no", NULL, NULL},
};

static void run_model(const char *path, const char *name) {
    quipu_error err = {0};
    quipu_backend *b = NULL;
    quipu_model *m = NULL;
    if (quipu_backend_cpu_init(&b, 2, &err) || quipu_model_load(&m, path, b, &err)) {
        CHECK_MSG(0, "%s: %s", name, err.msg);
        quipu_backend_free(b);
        return;
    }
    enum { NG = 4 };
    quipu_score_group g[NG];
    size_t lens[NG][4];
    size_t nres = 0;
    for (int i = 0; i < NG; i++) {
        int k = 0;
        while (k < 4 && choices[i][k]) {
            lens[i][k] = strlen(choices[i][k]);
            k++;
        }
        g[i] = (quipu_score_group){ctxs[i], strlen(ctxs[i]), k, choices[i], lens[i]};
        nres += (size_t)k;
    }
    quipu_score_result *shared = calloc(nres, sizeof *shared), *whole = calloc(nres, sizeof *whole);
    int64_t t_shared = 0, t_whole = 0;
    quipu_scorer_opts os = {.batch_tokens = 4096, .tokens_processed = &t_shared};
    quipu_scorer_opts ow = {.batch_tokens = 64, .no_prefix_sharing = 1, .tokens_processed = &t_whole};
    CHECK(quipu_score_groups(m, &os, g, NG, shared, &err) == QUIPU_OK);
    CHECK(quipu_score_groups(m, &ow, g, NG, whole, &err) == QUIPU_OK);
    for (size_t r = 0; r < nres; r++) {
        CHECK_MSG(shared[r].n_tokens == whole[r].n_tokens && shared[r].n_tokens > 0, "%s result %zu: %d vs %d tokens", name, r,
                  shared[r].n_tokens, whole[r].n_tokens);
        CHECK_MSG(!memcmp(shared[r].token_logprobs, whole[r].token_logprobs, sizeof(double) * (size_t)shared[r].n_tokens),
                  "%s result %zu: shared-prompt log-probs are not bit-identical", name, r);
        CHECK(shared[r].is_greedy == whole[r].is_greedy);
        quipu_score_result_free(&shared[r]);
        quipu_score_result_free(&whole[r]);
    }
    CHECK_MSG(t_shared < t_whole, "%s: %lld tokens shared vs %lld whole", name, (long long)t_shared, (long long)t_whole);
    printf("%s: %zu choices, %lld tokens with a shared prompt, %lld without\n", name, nres, (long long)t_shared, (long long)t_whole);
    free(shared);
    free(whole);
    quipu_model_free(m);
    quipu_backend_free(b);
}

int main(void) {
    const char *src = test_env("QUIPU_SOURCE_DIR", ".");
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    /* the tiny checkpoint next to the real tokenizer it names (in the shared data beside the
     * clone: CI has it, a bare clone does not) */
    if (!test_file_exists(test_path(shared, "tokenizers")))
        return test_skip("needs %s/tokenizers (the project's shared data: CI has it beside the clone, a bare clone does not)", shared);
    char dir[] = "/tmp/quipu-prefix-XXXXXX";
    if (!mkdtemp(dir)) return test_skip("cannot create a temp folder");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp %s/tests/models/tiny-mistral/* %s/ && cp %s/tokenizers/$(cat %s/tests/models/tiny-mistral/tokenizer.source)/tokenizer*.json %s/",
             src, dir, shared, src, dir);
    CHECK(system(cmd) == 0);
    run_model(dir, "tiny-mistral");
    const char *smol = test_path(test_env("QUIPU_MODELS", "."), "SmolLM2-135M-Instruct.Q4_1.gguf");
    if (test_file_exists(smol)) run_model(smol, "SmolLM2");
    else printf("note: %s absent: SmolLM2 part not run\n", smol);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("test_prefix_sharing");
}
