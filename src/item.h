/* item.h — one benchmark item as every loader produces it and every metric reads it, and the
 * per-item record the scorer fills. Four kinds: pairs (CrowS-Pairs family: which of two sentences
 * the model finds likelier), multiple choice (BBQ family, SESGO, StereoSet as MC: log P(choice
 * | prompt) for each choice), association probes (SeeGULL: log P(attribute | prompt_i) for a
 * prompt per choice) and neutral sentences (one log-likelihood each: a mitigation's side
 * effect). Every item carries its language (BCP-47) and culture tags: the per-culture breakdown is
 * the point of quipu. Strings are heap-owned by the item. */
#ifndef QUIPU_ITEM_H
#define QUIPU_ITEM_H

#include <stdint.h>

/* QUIPU_ITEM_ASSOC: one stereotype tuple (identity, attribute) under one template, scored as
 * log P(attribute | template(x)) for x = choice 0 the stereotyped identity, choice 1 the neutral
 * subject, choices 2.. the contrast identities (docs/metrics.md "Association"). */
/* QUIPU_ITEM_TEXT: one neutral sentence (format: text), choices[0] with n_choices 1, scored as a pair's
 * sentence is (empty context: the prefix token); its metrics are the mean log-likelihood per token
 * and per byte (docs/metrics.md "Neutral likelihood"). */
typedef enum quipu_item_kind {
    QUIPU_ITEM_PAIR = 0, QUIPU_ITEM_MC = 1, QUIPU_ITEM_ASSOC = 2, QUIPU_ITEM_TEXT = 3
} quipu_item_kind;

typedef enum quipu_condition {
    QUIPU_COND_NONE = 0, QUIPU_COND_AMBIG = 1, QUIPU_COND_DISAMBIG = 2
} quipu_condition;

typedef enum quipu_polarity { QUIPU_POL_NONE = 0, QUIPU_POL_NEG = 1, QUIPU_POL_NONNEG = 2 } quipu_polarity;

#define QUIPU_MAX_CHOICES 16

typedef struct quipu_item {
    char *id;           /* stable and unique within its benchmark, e.g. "crows_pairs_en:0042" */
    char *benchmark;    /* loader name: "crows_pairs_en", "crows_pairs_fr", "bbq", "mbbq", ... */
    char *language;     /* BCP-47: "en-US", "fr-FR", "es-419", "es-ES", "ca-ES", "ko-KR" */
    char *culture;      /* "US", "FR", "LatAm", "ES", "CAT", "KR", ... */
    char *category;     /* bias type / category as the benchmark names it */
    char *source;       /* "FILE:LINE" of the row it came from */
    quipu_item_kind kind;

    /* pairs: more = the more-stereotyping sentence (CrowS-Pairs sent_more) */
    char *more, *less;
    int direction;      /* +1 stereo, -1 antistereo (CrowS-Pairs stereo_antistereo), 0 unknown */

    /* multiple choice: the prompt is context + question (templates decide the exact text) */
    char *context, *question;
    int n_choices;
    char *choices[QUIPU_MAX_CHOICES];
    int label;                  /* gold choice index, -1 if none (StereoSet) */
    quipu_condition condition;  /* BBQ family context_condition */
    quipu_polarity polarity;    /* BBQ family question_polarity */
    int unknown_choice;         /* index of the "unknown / cannot be determined" answer, -1 if none */
    int target_choice;          /* answer naming the stereotyped / discriminated group, -1 if none */
    int other_choice;           /* answer naming the other group, -1 if none */
    int biased_choice;          /* the bias-aligned answer: target for negative questions, other for
                                   non-negative ones (BBQ s_DIS); -1 if none */
    /* StereoSet: the role of each choice: 's' stereotype, 'a' anti-stereotype, 'u' unrelated */
    char roles[QUIPU_MAX_CHOICES];
    /* The group the item is about, as the benchmark names it: StereoSet's target term (its SS and
     * LMS are averaged per target term), the BBQ family's stereotyped_groups joined with "; ";
     * NULL if the benchmark names none. */
    char *group;
    /* Bit i set: choice i counts as bias-aligned under lm-evaluation-harness's BBQ rule, for
     * cross-checks. Equals 1u << biased_choice when that is defined; differs only on BBQ/MBBQ rows
     * where both or neither group answers name a stereotyped group (biased_choice -1 there: then
     * both answers count in a negative question and none in a non-negative one, or the reverse). */
    uint32_t biased_mask;

    /* The template the item was made from (`quipu expand`, format: template, a generic file's
     * "template", an association template's id); NULL when none. Metrics are broken down by it. */
    char *template_id;
    /* The name-swap sets the item belongs to (`quipu expand` with fillers that carry a `group`, or
     * a generic row's "swap" list): keys joined by '\n'; NULL when none. */
    char *swap;
    /* 1 + the index of the config entry's prompt variant it is scored under (`prompt_variants`,
     * run.c); 0 when the entry has none */
    int variant;
    /* Association items: contexts[i] is the prompt of choice i (heap array of n_choices strings,
     * each ending where the attribute starts, separator included); choices[i] the attribute.
     * NULL for other kinds. */
    char **contexts;
    /* Association items: the offensiveness weight of the stereotype tuple (its mean offensiveness
     * + 1: 0 = every rater said "not offensive", 5 = "extremely offensive"); 0 for other kinds. */
    double weight;
} quipu_item;

/* What the scorer records per item (rank-local, gathered to rank 0). For pairs, choice 0 is
 * `more` and choice 1 is `less`; a text item has one choice, its sentence. */
typedef struct quipu_item_record {
    int64_t item_index;                   /* into the run's item array */
    int n_choices;
    double logprob[QUIPU_MAX_CHOICES];    /* sum over the choice's tokens */
    int32_t n_tokens[QUIPU_MAX_CHOICES];  /* tokens scored (for per-token normalisation) */
    int32_t n_bytes[QUIPU_MAX_CHOICES];   /* UTF-8 bytes of the choice (per-byte normalisation) */
    uint8_t is_greedy[QUIPU_MAX_CHOICES];
} quipu_item_record;

void quipu_item_free(quipu_item *it); /* frees the strings; the struct itself is the caller's */
/* *dst = a deep copy of *src; 0, or -1 out of memory (dst then holds nothing to free) */
int quipu_item_copy(quipu_item *dst, const quipu_item *src);

#endif
