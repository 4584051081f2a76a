/* prompts.c — what an item becomes for scoring: the prompt and continuations of each benchmark's
 * template (the paper's, or lm-evaluation-harness's task in lm-eval mode) and the digest of the
 * text scored, which keys the journal (run.c). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* ------------------------------------------------------------------ units of work */



/* lm-evaluation-harness's multiple-choice tasks (0.4.13), as quipu reproduces them in lm-eval
 * mode: the prompt, and the "unknown" wordings, in lm-eval's order, that replace the item's own
 * unknown answer after the two group answers.
 * - bbq (tasks/bbq/utils.py, UNKNOWN_RESPONSES): 10 wordings, the first at the item's unknown
 *   index, so 12 choices;
 * - esbbq, cabbq (their _common_yaml, doc_to_choice [ans0, ans1, ...]): 9 wordings after ans0 and
 *   ans1 (ans2 is always the unknown answer there), so 11 choices. */
typedef struct lm_eval_task {
    const char *benchmark;
    const char *prompt;            /* fill_template syntax */
    int n_unknown;
    const char *unknown[10];
} lm_eval_task;

static const lm_eval_task lm_eval_tasks[] = {
    {"bbq", "{context}\n\nQ: {question}\nA:", 10,
     {"Unknown", "Cannot answer", "Can't be determined", "Cannot be determined", "Can't answer", "Not known", "Not enough info",
      "Not enough information", "Not answerable", "Undetermined"}},
    {"esbbq", "Contexto: {context}\nPregunta: {question}\nRespuesta:", 9,
     {"No hay suficiente información", "No hay información suficiente", "No lo sé", "No sé", "Falta información",
      "No se puede responder", "No se sabe", "No se puede saber", "No se puede determinar"}},
    {"cabbq", "Context: {context}\nPregunta: {question}\nResposta:", 9,
     {"No hi ha prou informació", "No hi ha informació suficient", "No ho sé", "No sé", "Falta informació",
      "No es pot respondre", "No se sap", "No es pot saber", "No es pot determinar"}},
};

/* The lm-eval task of a built-in multiple-choice benchmark (config.c refuses lm-eval mode for
 * the others). */
static const lm_eval_task *lm_eval_task_of(const char *name) {
    if (!strcmp(name, "bbq_full")) name = "bbq";
    for (size_t i = 0; i < sizeof lm_eval_tasks / sizeof *lm_eval_tasks; i++)
        if (!strcmp(lm_eval_tasks[i].benchmark, name)) return &lm_eval_tasks[i];
    return NULL;
}


/* Fills {context} and {question} into a prompt template ("{{" / "}}" are literal braces). */
static char *fill_template(const char *tpl, const char *context, const char *question) {
    size_t cap = strlen(tpl) + strlen(context) + strlen(question) + 1, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "{{", 2)) { out[n++] = '{'; p += 2; }
        else if (!strncmp(p, "}}", 2)) { out[n++] = '}'; p += 2; }
        else if (!strncmp(p, "{context}", 9)) { memcpy(out + n, context, strlen(context)); n += strlen(context); p += 9; }
        else if (!strncmp(p, "{question}", 10)) { memcpy(out + n, question, strlen(question)); n += strlen(question); p += 10; }
        else out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

static char *rstrip_dup(const char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return strndup(s, n);
}

/* The digest of exactly what a unit scores: its prompt, each continuation with the record
 * index it fills, and the record's size, each length-prefixed. Two config entries of the same
 * benchmark with another template, prompt or choices get other journal keys. */
static quipu_status unit_digest(run_unit *u, quipu_error *err) {
    size_t cap = 64 + strlen(u->prompt), n = 0;
    for (int c = 0; c < u->n_cont; c++) cap += 16 + u->cont_len[c] + (u->prompts[c] ? 24 + strlen(u->prompts[c]) : 0);
    char *buf = malloc(cap);
    if (!buf) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    n += (size_t)sprintf(buf + n, "%zu:", strlen(u->prompt));
    memcpy(buf + n, u->prompt, strlen(u->prompt));
    n += strlen(u->prompt);
    n += (size_t)sprintf(buf + n, "|%d|%d", u->n_record, u->n_cont);
    for (int c = 0; c < u->n_cont; c++) {
        if (u->prompts[c]) { /* a prompt per continuation (association items); absent for the others, whose digests stay as they were */
            n += (size_t)sprintf(buf + n, "|p%zu:", strlen(u->prompts[c]));
            memcpy(buf + n, u->prompts[c], strlen(u->prompts[c]));
            n += strlen(u->prompts[c]);
        }
        n += (size_t)sprintf(buf + n, "|%d:%zu:", u->map[c], u->cont_len[c]);
        memcpy(buf + n, u->cont[c], u->cont_len[c]);
        n += u->cont_len[c];
    }
    uint8_t d[32];
    quipu_config_sha256(buf, n, d);
    free(buf);
    for (int i = 0; i < 8; i++) sprintf(u->digest + 2 * i, "%02x", d[i]);
    return QUIPU_OK;
}

/* Builds the prompt and continuations of an item under its benchmark's template. */
quipu_status run_build_unit(run_unit *u, quipu_item *it, const quipu_config_benchmark *cb, quipu_error *err) {
    memset(u, 0, sizeof *u);
    u->item = it;
    if (it->kind == QUIPU_ITEM_ASSOC) {
        /* log P(attribute | prompt of choice c): the item's own prompts; the scorer moves each
         * prompt's trailing space to the attribute, as lm-evaluation-harness does */
        if (!it->contexts) return quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: association item without prompts", it->id);
        u->prompt = strdup("");
        u->n_cont = u->n_record = it->n_choices;
        for (int c = 0; c < it->n_choices; c++) {
            u->prompts[c] = strdup(it->contexts[c] ? it->contexts[c] : "");
            u->cont[c] = strdup(it->choices[c] ? it->choices[c] : "");
            u->map[c] = c;
            if (!u->prompts[c]) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        }
    } else if (it->kind == QUIPU_ITEM_TEXT) {
        /* a neutral sentence, scored as a pair's sentence is: empty context (the prefix token) */
        u->prompt = strdup("");
        u->n_cont = u->n_record = 1;
        u->cont[0] = strdup(it->choices[0] ? it->choices[0] : "");
        u->map[0] = 0;
    } else if (it->kind == QUIPU_ITEM_PAIR) {
        u->prompt = strdup("");
        u->n_cont = u->n_record = 2;
        u->cont[0] = strdup(it->more ? it->more : "");
        u->cont[1] = strdup(it->less ? it->less : "");
        u->map[0] = 0;
        u->map[1] = 1;
    } else {
        const char *q = it->question ? it->question : "";
        const lm_eval_task *lt = cb->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL ? lm_eval_task_of(cb->name) : NULL;
        if (cb->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL && !lt)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "lm-evaluation-harness has no task for '%s'", cb->name);
        /* lm-eval mode keeps the context as it is, as lm-eval does */
        char *ctx = lt ? strdup(it->context ? it->context : "") : rstrip_dup(it->context ? it->context : "");
        const char *delim;
        if (cb->prompt) {
            u->prompt = fill_template(cb->prompt, ctx, q);
            delim = cb->delimiter ? cb->delimiter : " ";
        } else if (lt) {
            u->prompt = fill_template(lt->prompt, ctx, q);
            delim = cb->delimiter ? cb->delimiter : " ";
        } else if (*q) {
            /* the BBQ paper's layout, for every BBQ-style benchmark and language */
            u->prompt = quipu_asprintf("%s\n\nQ: %s\nA:", ctx, q);
            delim = cb->delimiter ? cb->delimiter : " ";
        } else {
            /* StereoSet: intrasentence contexts end where the blank was (a trailing space moves to
             * the continuation, as lm-eval does); intersentence choices follow a space */
            const char *raw = it->context ? it->context : "";
            size_t rl = strlen(raw);
            int ends_space = rl > 0 && (raw[rl - 1] == ' ');
            u->prompt = strdup(raw);
            delim = cb->delimiter ? cb->delimiter : (ends_space ? "" : " ");
        }
        free(ctx);
        u->delim_len = strlen(delim);
        if (lt && it->unknown_choice >= 0 && it->n_choices == 3 && lt->n_unknown == 10) {
            /* bbq, 12 choices: the two group answers (original indices), then the 10 wordings: the
             * first at the item's unknown index, the others at 3..11 (metrics read any index
             * >= 3 that is neither group answer as "unknown") */
            int k = 0;
            for (int c = 0; c < 3; c++)
                if (c != it->unknown_choice) {
                    u->cont[k] = quipu_asprintf("%s%s", delim, it->choices[c]);
                    u->map[k++] = c;
                }
            for (int w = 0; w < lt->n_unknown; w++) {
                u->cont[k] = quipu_asprintf("%s%s", delim, lt->unknown[w]);
                u->map[k++] = w == 0 ? it->unknown_choice : 2 + w;
            }
            u->n_cont = u->n_record = k;
        } else if (lt && it->n_choices == 3 && it->unknown_choice == 2) {
            /* esbbq, cabbq, 11 choices: ans0, ans1, then the wordings, the first in ans2's place */
            int k = 0;
            for (int c = 0; c < 2; c++) {
                u->cont[k] = quipu_asprintf("%s%s", delim, it->choices[c]);
                u->map[k++] = c;
            }
            for (int w = 0; w < lt->n_unknown; w++) {
                u->cont[k] = quipu_asprintf("%s%s", delim, lt->unknown[w]);
                u->map[k++] = 2 + w;
            }
            u->n_cont = u->n_record = k;
        } else if (lt) {
            return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: item '%s' does not have the three answers (the unknown one last for %s) "
                                   "that lm-eval mode needs", cb->where, it->id, cb->name);
        } else {
            u->n_cont = u->n_record = it->n_choices;
            for (int c = 0; c < it->n_choices; c++) {
                u->cont[c] = quipu_asprintf("%s%s", delim, it->choices[c]);
                u->map[c] = c;
            }
        }
    }
    if (!u->prompt) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    u->cost = (int64_t)strlen(u->prompt);
    for (int c = 0; c < u->n_cont; c++) {
        if (!u->cont[c]) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        u->cont_len[c] = strlen(u->cont[c]);
        u->cost += (int64_t)u->cont_len[c] + (u->prompts[c] ? (int64_t)strlen(u->prompts[c]) : 0);
    }
    return unit_digest(u, err);
}

void run_unit_free(run_unit *u) {
    free(u->prompt);
    for (int c = 0; c < u->n_cont; c++) {
        free(u->cont[c]);
        free(u->prompts[c]);
    }
}

size_t run_unit_groups(const run_unit *u, quipu_score_group *out) {
    if (u->n_cont == 0 || !u->prompts[0]) {
        out[0] = (quipu_score_group){u->prompt, strlen(u->prompt), u->n_cont, (const char *const *)u->cont, u->cont_len,
                                     u->item && u->item->kind == QUIPU_ITEM_PAIR};
        return 1;
    }
    for (int c = 0; c < u->n_cont; c++)
        out[c] = (quipu_score_group){u->prompts[c], strlen(u->prompts[c]), 1, (const char *const *)&u->cont[c], &u->cont_len[c], 0};
    return (size_t)u->n_cont;
}
