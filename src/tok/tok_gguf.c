/* tok_gguf.c — a tokenizer from GGUF metadata (tokenizer.ggml.*) that gives the ids of the model's
 * own tokenizer.json, as llama.cpp's llama-vocab.cpp also aims to (docs/fidelity.md lists where
 * llama.cpp and transformers' GGUF conversion differ from the file):
 *  - "gpt2": byte-level BPE. Tokens outside the byte alphabet are respelled byte by byte, merges
 *    come from the file. tokenizer.ggml.pre names the model family; PRES below spells out the
 *    normalizer and pre-tokenizers of that family's tokenizer.json (e.g. smollm: Digits(individual)
 *    then ByteLevel, so " ½" is [" ", "½"]; llama-bpe: the Llama 3 split with ignore_merges; qwen2:
 *    NFC then the Qwen2 split). Names not in PRES are refused.
 *  - "llama": SentencePiece as BPE with byte fallback; merges from the file or rebuilt from the
 *    vocabulary (generate_merges: by score, or for Gemma by position in the file, after Gemma's
 *    all-space tokens are respelled with U+2581). Gemma: normalizer ' '->'▁', no prefix space.
 *    Others (Llama 2, Mistral, Phi-3): Prepend('▁') (unless tokenizer.ggml.add_space_prefix is
 *    false) + Replace(' ', '▁'), as their tokenizer.json files have it.
 *  - CONTROL tokens become special added tokens, USER_DEFINED ones plain added tokens, and the
 *    tokenizer class's default special tokens are added as transformers adds them.
 *  - add_special: [bos] $A [eos] from tokenizer.ggml.add_bos_token/add_eos_token ("llama"
 *    defaults add_bos to true). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tok/tok_internal.h"

#define NOMEM() quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path)

static const char LLAMA3_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char TEKKEN_SPLIT[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char GPT4O_SPLIT[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN35_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char GPT2_SPLIT[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char BLOOM_SPLIT[] = " ?[^(\\s|.,!?\xE2\x80\xA6\xE3\x80\x82\xEF\xBC\x8C\xE3\x80\x81\xE0\xA5\xA4\xDB\x94\xD8\x8C)]+";

/* One step of a GGUF byte-level pre-tokenizer, as the model's tokenizer.json spells it. */
typedef enum {
    PS_END,
    PS_SPLIT,        /* Split(regex, Isolated) */
    PS_DIGITS,       /* Digits(individual_digits=true) */
    PS_DIGIT_RUNS,   /* Digits(individual_digits=false) */
    PS_PUNCT,        /* Punctuation(Contiguous) */
    PS_BYTELEVEL_RX, /* ByteLevel(add_prefix_space=false, use_regex=true): GPT-2's regex, then bytes */
    PS_BYTELEVEL     /* ByteLevel(add_prefix_space=false, use_regex=false) */
} pre_step_kind;

typedef struct gguf_pre {
    const char *const *names; /* tokenizer.ggml.pre values, NULL-terminated */
    int nfc;                  /* normalizer NFC */
    int ignore_merges;        /* BPE ignore_merges: a piece that is a whole token is taken as it is */
    struct { pre_step_kind kind; const char *regex; } steps[6];
} gguf_pre;

static const char *const NAMES_GPT2[] = {"gpt-2", "gpt2", "phi-2", "olmo", "jais", "trillion", "granite-docling",
                                         "exaone4", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                                         "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0", "mellum",
                                         "modern-bert", NULL};
static const char *const NAMES_MPT[] = {"mpt", NULL};
static const char *const NAMES_DIGITS[] = {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                                           "minerva-7b", NULL};
static const char *const NAMES_LLAMA3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                                           "midm-2.0", "lfm2", "jina-v5-nano", NULL};
static const char *const NAMES_DBRX[] = {"dbrx", "smaug-bpe", NULL};
static const char *const NAMES_QWEN2[] = {"qwen2", NULL};
static const char *const NAMES_QWEN2_RX[] = {"deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
                                             "solar-open", NULL};
static const char *const NAMES_QWEN35[] = {"qwen35", NULL};
static const char *const NAMES_TEKKEN[] = {"tekken", NULL};
static const char *const NAMES_GPT4O[] = {"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2", NULL};
static const char *const NAMES_FALCON[] = {"falcon", NULL};
static const char *const NAMES_BLOOM[] = {"bloom", "poro-chat", "gpt3-finnish", NULL};
static const char *const NAMES_DEFAULT[] = {"default", NULL};

/* The byte-level pre-tokenizers quipu reproduces, each as the model's own tokenizer.json has it
 * (the pipelines llama.cpp's llama-vocab.cpp also follows for these names). Where a model family's
 * tokenizer.json carries a normalizer (GPT-NeoX/MPT and Qwen2: NFC), it is applied here too;
 * llama.cpp omits it (docs/fidelity.md). "default" (and no name) has no tokenizer.json behind it:
 * llama.cpp's own default split. */
static const gguf_pre PRES[] = {
    {NAMES_GPT2, 0, 0, {{PS_BYTELEVEL_RX, NULL}}},
    {NAMES_MPT, 1, 0, {{PS_BYTELEVEL_RX, NULL}}},
    {NAMES_DIGITS, 0, 0, {{PS_DIGITS, NULL}, {PS_BYTELEVEL_RX, NULL}}},
    {NAMES_LLAMA3, 0, 1, {{PS_SPLIT, LLAMA3_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_DBRX, 0, 0, {{PS_SPLIT, LLAMA3_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_QWEN2, 1, 0, {{PS_SPLIT, QWEN2_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_QWEN2_RX, 0, 0, {{PS_SPLIT, QWEN2_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_QWEN35, 0, 0, {{PS_SPLIT, QWEN35_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_TEKKEN, 0, 1, {{PS_SPLIT, TEKKEN_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_GPT4O, 0, 0, {{PS_SPLIT, GPT4O_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_FALCON, 0, 0, {{PS_PUNCT, NULL}, {PS_BYTELEVEL_RX, NULL}, {PS_DIGIT_RUNS, NULL}, {PS_SPLIT, "[0-9][0-9][0-9]"}}},
    {NAMES_BLOOM, 0, 0, {{PS_SPLIT, BLOOM_SPLIT}, {PS_BYTELEVEL, NULL}}},
    {NAMES_DEFAULT, 0, 0, {{PS_SPLIT, "[\\p{P}\\$\\+<=>\\^~\\|]+"}, {PS_SPLIT, GPT2_SPLIT}, {PS_SPLIT, "\\p{N}+"},
                           {PS_SPLIT, "[0-9][0-9][0-9]"}, {PS_BYTELEVEL, NULL}}},
};

static const gguf_pre *find_pre(const char *name) {
    for (size_t i = 0; i < sizeof PRES / sizeof PRES[0]; i++)
        for (const char *const *n = PRES[i].names; *n; n++)
            if (!strcmp(*n, name)) return &PRES[i];
    return NULL;
}

typedef struct gguf_vocab {
    const quipu_gguf_kv *tokens, *types, *merges, *scores;
    char **spell;     /* per index: the spelling used in the vocab (heap) */
    size_t *spell_n;
    uint64_t n;
} gguf_vocab;

static void vocab_free(gguf_vocab *v) {
    if (v->spell)
        for (uint64_t i = 0; i < v->n; i++) free(v->spell[i]);
    free(v->spell);
    free(v->spell_n);
}

static int token_type(const gguf_vocab *v, uint64_t i) {
    int64_t x;
    if (!v->types || i >= v->types->arr_count || !quipu_gguf_arr_get_int(v->types, i, &x)) return 1;
    return (int)x;
}

/* Python str.isspace() for one code point (str.strip() with no argument). */
static int py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static int set_spelling(gguf_vocab *v, uint64_t i, const char *s, size_t n) {
    v->spell[i] = malloc(n + 1);
    if (!v->spell[i]) return -1;
    memcpy(v->spell[i], s, n);
    v->spell[i][n] = 0;
    v->spell_n[i] = n;
    return 0;
}

/* mode 0: as stored; 1: byte-level respelling; 2: Gemma all-space tokens -> U+2581 x len */
static quipu_status spell_tokens(quipu_tokenizer *t, gguf_vocab *v, int mode, quipu_error *err) {
    v->spell = calloc(v->n ? v->n : 1, sizeof *v->spell);
    v->spell_n = calloc(v->n ? v->n : 1, sizeof *v->spell_n);
    if (!v->spell || !v->spell_n) return NOMEM();
    tok_buf b = {0};
    for (uint64_t i = 0; i < v->n; i++) {
        const char *s = v->tokens->arr_strs[i].ptr;
        size_t n = (size_t)v->tokens->arr_strs[i].len;
        if (!tok_utf8_valid(s, n)) {
            tok_buf_free(&b);
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%llu] is not valid UTF-8",
                                   t->path, (unsigned long long)i);
        }
        b.n = 0;
        int respell = 0;
        if (mode == 1) {
            for (size_t j = 0; j < n;) {
                uint32_t cp;
                j += tok_utf8_next(s, n, j, &cp);
                if (tok_char_byte(cp) < 0) { respell = 1; break; }
            }
            if (respell)
                for (size_t j = 0; j < n; j++)
                    if (tok_buf_add_cp(&b, tok_byte_char((uint8_t)s[j]))) { tok_buf_free(&b); return NOMEM(); }
        } else if (mode == 2 && memchr(s, ' ', n)) {
            size_t chars = 0;
            int all_space = 1;
            for (size_t j = 0; j < n;) {
                uint32_t cp;
                j += tok_utf8_next(s, n, j, &cp);
                chars++;
                if (!py_isspace(cp)) all_space = 0;
            }
            if (all_space) {
                respell = 1;
                for (size_t k = 0; k < chars; k++)
                    if (tok_buf_add(&b, "\xE2\x96\x81", 3)) { tok_buf_free(&b); return NOMEM(); }
            }
        }
        if (respell ? set_spelling(v, i, b.p ? b.p : "", b.n) : set_spelling(v, i, s, n)) {
            tok_buf_free(&b);
            return NOMEM();
        }
    }
    tok_buf_free(&b);
    for (uint64_t i = 0; i < v->n; i++) {
        /* {token: index}: a repeated token keeps its last index */
        if (tok_smap_put(&t->vocab, v->spell[i], v->spell_n[i], (int32_t)i, 1) < 0 ||
            tok_set_id_text(t, (int32_t)i, v->spell[i], v->spell_n[i]))
            return NOMEM();
    }
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ merges */
static quipu_status merges_from_file(quipu_tokenizer *t, const gguf_vocab *v, quipu_error *err) {
    if (tok_pmap_init(&t->bpe.merges, v->merges->arr_count + 16)) return NOMEM();
    for (uint64_t i = 0; i < v->merges->arr_count; i++) {
        const char *s = v->merges->arr_strs[i].ptr;
        size_t n = (size_t)v->merges->arr_strs[i].len;
        const char *sp = memchr(s, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
            return quipu_error_set(err, QUIPU_ERR_FORMAT,
                                   "%s: tokenizer.ggml.merges[%llu] '%.*s' is not two tokens separated by one space",
                                   t->path, (unsigned long long)i, (int)n, s);
        quipu_status st = tok_bpe_add_merge(t, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp + 1 - s), (int32_t)i, err);
        if (st != QUIPU_OK) return st;
    }
    return QUIPU_OK;
}

typedef struct gen_merge {
    double score;
    uint32_t len_l, len_r; /* in code points */
    int32_t id_l, id_r, id_new;
    uint32_t seq;
} gen_merge;

static int gen_merge_cmp(const void *pa, const void *pb) {
    const gen_merge *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->len_l != b->len_l) return a->len_l > b->len_l ? -1 : 1;
    if (a->len_r != b->len_r) return a->len_r > b->len_r ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}
static int local_cmp(const void *pa, const void *pb) {
    const gen_merge *a = pa, *b = pb;
    if (a->id_l != b->id_l) return a->id_l < b->id_l ? -1 : 1;
    return (a->id_r > b->id_r) - (a->id_r < b->id_r);
}

/* transformers' generate_merges(vocab, vocab_scores): every split of every token into two vocab
 * tokens, best score first (then longer left part, longer right part), stable. by_position:
 * the score of a token is minus its (last) index (Gemma); else its score from the file. */
static quipu_status merges_generate(quipu_tokenizer *t, const gguf_vocab *v, int by_position, quipu_error *err) {
    const tok_smap *vm = &t->vocab;
    gen_merge *all = NULL;
    size_t n = 0, cap = 0;
    uint32_t seq = 0;
    double *last_score = NULL;
    if (!by_position) {
        /* dict(zip(tokens, scores)): a repeated token keeps its last score */
        if (!v->scores)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: no tokenizer.ggml.merges and no tokenizer.ggml.scores", t->path);
        last_score = calloc(vm->n ? vm->n : 1, sizeof *last_score);
        if (!last_score) return NOMEM();
        for (uint64_t i = 0; i < v->n; i++) {
            double sc = 0;
            quipu_gguf_arr_get_float(v->scores, i, &sc);
            int64_t ei = tok_smap_index(vm, v->spell[i], v->spell_n[i]);
            if (ei >= 0) last_score[ei] = sc;
        }
    }
    gen_merge *local = NULL;
    size_t local_cap = 0;
    for (size_t ei = 0; ei < vm->n; ei++) {
        const char *s = tok_smap_key(vm, ei);
        size_t sn = vm->ents[ei].len;
        int32_t id_new = vm->ents[ei].val;
        double score = by_position ? -(double)id_new : last_score[ei];
        size_t nl = 0, chars = 0;
        for (size_t j = 0; j < sn; j++) chars += ((unsigned char)s[j] & 0xC0) != 0x80;
        size_t k = 0;
        for (size_t j = 0; j < sn;) {
            j += tok_utf8_len((unsigned char)s[j]);
            k++;
            if (j >= sn) break;
            int32_t il, ir;
            if (tok_smap_get(vm, s, j, &il) && tok_smap_get(vm, s + j, sn - j, &ir)) {
                if (nl == local_cap) {
                    size_t c2 = local_cap ? local_cap * 2 : 64;
                    gen_merge *p = realloc(local, c2 * sizeof *p);
                    if (!p) { free(local); free(all); free(last_score); return NOMEM(); }
                    local = p;
                    local_cap = c2;
                }
                local[nl++] = (gen_merge){score, (uint32_t)k, (uint32_t)(chars - k), il, ir, id_new, 0};
            }
        }
        if (!nl) continue;
        qsort(local, nl, sizeof local[0], local_cmp); /* (vocab[l], vocab[r]); keys are unique */
        if (n + nl > cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            while (ncap < n + nl) ncap *= 2;
            gen_merge *p = realloc(all, ncap * sizeof *p);
            if (!p) { free(local); free(all); free(last_score); return NOMEM(); }
            all = p;
            cap = ncap;
        }
        for (size_t q = 0; q < nl; q++) {
            local[q].seq = seq++;
            all[n++] = local[q];
        }
    }
    free(local);
    free(last_score);
    if (n) qsort(all, n, sizeof *all, gen_merge_cmp);
    if (tok_pmap_init(&t->bpe.merges, n + 16)) { free(all); return NOMEM(); }
    for (size_t i = 0; i < n; i++)
        if (tok_pmap_put(&t->bpe.merges, (uint32_t)all[i].id_l, (uint32_t)all[i].id_r, (int32_t)i, all[i].id_new)) {
            free(all);
            return NOMEM();
        }
    free(all);
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ pieces of the pipeline */
static quipu_status push_norm(quipu_tokenizer *t, tok_norm nm, quipu_error *err) {
    tok_norm *v = realloc(t->norms, (t->n_norms + 1) * sizeof *v);
    if (!v) { free(nm.content); tok_pattern_free(&nm.pat); return NOMEM(); }
    t->norms = v;
    v[t->n_norms++] = nm;
    return QUIPU_OK;
}
static quipu_status push_pretok(quipu_tokenizer *t, tok_pretok p, quipu_error *err) {
    tok_pretok *v = realloc(t->pretoks, (t->n_pretoks + 1) * sizeof *v);
    if (!v) { tok_pattern_free(&p.pat); return NOMEM(); }
    t->pretoks = v;
    v[t->n_pretoks++] = p;
    return QUIPU_OK;
}
static int str_pattern(tok_pattern *p, const char *s) {
    p->kind = TOK_PAT_STRING;
    p->lit_n = strlen(s);
    p->lit = malloc(p->lit_n + 1);
    if (!p->lit) return -1;
    memcpy(p->lit, s, p->lit_n + 1);
    return 0;
}
static char *dupz(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Adds a special token named by the config if its text is not an added token yet
 * (transformers adds the special tokens map this way). */
static quipu_status add_named_special(quipu_tokenizer *t, const char *s, size_t n, quipu_error *err) {
    int32_t idx;
    if (!s || tok_smap_get(&t->added_map, s, n, &idx)) return QUIPU_OK;
    return tok_add_token(t, s, n, 0, 0, 0, 0, 1, err);
}

static quipu_status add_file_tokens(quipu_tokenizer *t, const gguf_vocab *v, int byte_level, int mode_gemma,
                                    quipu_error *err) {
    quipu_status st;
    if (!v->types) return QUIPU_OK;
    for (uint64_t i = 0; i < v->n; i++) {
        if (token_type(v, i) != 3) continue; /* CONTROL */
        const char *s = v->tokens->arr_strs[i].ptr;
        size_t n = (size_t)v->tokens->arr_strs[i].len;
        if (byte_level) {
            int ok = 1;
            for (size_t j = 0; j < n;) {
                uint32_t cp;
                j += tok_utf8_next(s, n, j, &cp);
                if (tok_char_byte(cp) < 0) { ok = 0; break; }
            }
            if (!ok) continue; /* mislabelled in the file: transformers skips it */
        }
        if ((st = tok_add_token(t, s, n, 0, 0, 0, 0, 1, err)) != QUIPU_OK) return st;
    }
    for (uint64_t i = 0; i < v->n; i++) {
        if (token_type(v, i) != 4) continue; /* USER_DEFINED */
        const char *s = v->tokens->arr_strs[i].ptr;
        size_t n = (size_t)v->tokens->arr_strs[i].len;
        if (byte_level || mode_gemma) {
            /* matched in the raw text with its own id, as the tokenizer.json's added token is and as
             * llama.cpp matches user-defined tokens: GPT-NeoX's space runs, Gemma's whitespace runs */
            if ((st = tok_add_token_id(t, s, n, (int32_t)i, 0, 0, 0, 0, 0, err)) != QUIPU_OK) return st;
            continue;
        }
        if (tok_token_to_id(t, s, n) < 0) continue; /* other SentencePiece: if its text is in the vocab */
        if ((st = tok_add_token(t, s, n, 0, 0, 0, 0, 0, err)) != QUIPU_OK) return st;
    }
    return QUIPU_OK;
}

/* Phi-3's tokenizer.json gives its chat and end tokens rstrip=true (they eat the spaces after
 * them), not <unk>, <s> and <|endoftext|>; a GGUF has no such flag, so it is set by name, as
 * llama.cpp also does. */
static void phi3_rstrip(quipu_tokenizer *t) {
    for (size_t i = 0; i < t->n_added; i++) {
        tok_added *a = &t->added[i];
        const char *s = t->texts.p + a->off;
        if (!a->special && strcmp(s, "</s>")) continue;
        a->rstrip = strcmp(s, "<unk>") && strcmp(s, "<s>") && strcmp(s, "<|endoftext|>");
    }
}

static const char *kv_token(const gguf_vocab *v, int64_t id, size_t *n) {
    if (id < 0 || (uint64_t)id >= v->n) return NULL;
    *n = (size_t)v->tokens->arr_strs[id].len;
    return v->tokens->arr_strs[id].ptr;
}

quipu_status tok_load_gguf(quipu_tokenizer *t, const quipu_gguf *g, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    gguf_vocab v;
    memset(&v, 0, sizeof v);
    if (!g) return quipu_error_set(err, QUIPU_ERR_INVALID, "tokenizer: no GGUF file given");
    quipu_gguf_str model = quipu_gguf_get_str(g, "tokenizer.ggml.model");
    quipu_gguf_str arch = quipu_gguf_get_str(g, "general.architecture");
    quipu_gguf_str pre = quipu_gguf_get_str(g, "tokenizer.ggml.pre");
    if (!model.ptr) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: no tokenizer.ggml.model in the metadata", t->path);
    snprintf(t->model_name, sizeof t->model_name, "%.*s", (int)model.len, model.ptr);
    snprintf(t->pre_name, sizeof t->pre_name, "%.*s", pre.ptr ? (int)pre.len : 0, pre.ptr ? pre.ptr : "");
    char archs[64];
    snprintf(archs, sizeof archs, "%.*s", arch.ptr ? (int)arch.len : 0, arch.ptr ? arch.ptr : "");

    v.tokens = quipu_gguf_find(g, "tokenizer.ggml.tokens");
    if (!v.tokens || v.tokens->type != QUIPU_GGUF_ARRAY || v.tokens->arr_type != QUIPU_GGUF_STRING || !v.tokens->arr_strs)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tokenizer.ggml.tokens is missing or not an array of strings", t->path);
    if (v.tokens->arr_count > INT32_MAX)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tokenizer.ggml.tokens has too many entries", t->path);
    v.n = v.tokens->arr_count;
    v.types = quipu_gguf_find(g, "tokenizer.ggml.token_type");
    if (v.types && (v.types->type != QUIPU_GGUF_ARRAY || v.types->arr_count != v.n))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tokenizer.ggml.token_type does not match the tokens", t->path);
    v.merges = quipu_gguf_find(g, "tokenizer.ggml.merges");
    if (v.merges && (v.merges->type != QUIPU_GGUF_ARRAY || v.merges->arr_type != QUIPU_GGUF_STRING || !v.merges->arr_strs))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tokenizer.ggml.merges is not an array of strings", t->path);
    v.scores = quipu_gguf_find(g, "tokenizer.ggml.scores");
    if (v.scores && (v.scores->type != QUIPU_GGUF_ARRAY || v.scores->arr_count != v.n))
        v.scores = NULL;

    int64_t ids[4] = {-1, -1, -1, -1};
    const char *idkeys[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                             "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
    for (int k = 0; k < 4; k++) {
        if (!quipu_gguf_get_int(g, idkeys[k], &ids[k])) ids[k] = -1;
        else if (ids[k] < 0 || (uint64_t)ids[k] >= v.n)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %s = %lld is outside the vocabulary", t->path, idkeys[k],
                                   (long long)ids[k]);
    }
    int add_bos = 0, add_eos = 0, has_bos_key, has_eos_key;
    has_bos_key = quipu_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos);
    has_eos_key = quipu_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &add_eos);
    (void)has_eos_key;

    int is_gpt2 = model.len == 4 && !memcmp(model.ptr, "gpt2", 4);
    int is_llama = model.len == 5 && !memcmp(model.ptr, "llama", 5);
    if (!is_gpt2 && !is_llama)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: tokenizer.ggml.model '%s' is not supported (gpt2 and llama are)", t->path, t->model_name);
    int gemma = is_llama && (!strcmp(archs, "gemma") || !strcmp(archs, "gemma2") || !strcmp(archs, "gemma3"));
    t->model = TOK_MODEL_BPE;

    /* the class defaults that transformers adds as special tokens */
    static const char *const gpt2_defaults[] = {"<|endoftext|>", NULL};
    static const char *const llama_defaults[] = {"<s>", "</s>", "<unk>", NULL};
    static const char *const gemma_defaults[] = {"<bos>", "<eos>", "<unk>", "<pad>", "<mask>", NULL};
    const char *const *defaults;

    if (is_gpt2) {
        const gguf_pre *pr = find_pre(pre.ptr && pre.len ? t->pre_name : "default");
        if (!pr)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                   "%s: tokenizer.ggml.pre '%s' is not supported (quipu reproduces the pre-tokenizers "
                                   "listed in docs/fidelity.md); tokenize with the checkpoint's tokenizer.json instead",
                                   t->path, t->pre_name);
        if (!v.merges)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: byte-level BPE without tokenizer.ggml.merges", t->path);
        t->kind = QUIPU_TOK_BPE_BYTELEVEL;
        if ((st = spell_tokens(t, &v, 1, err)) != QUIPU_OK) goto done;
        if ((st = merges_from_file(t, &v, err)) != QUIPU_OK) goto done;
        t->bpe.ignore_merges = pr->ignore_merges;
        if (pr->nfc) {
            tok_norm nm;
            memset(&nm, 0, sizeof nm);
            nm.kind = TOK_NORM_NFC;
            if ((st = push_norm(t, nm, err)) != QUIPU_OK) goto done;
        }
        for (size_t i = 0; i < sizeof pr->steps / sizeof pr->steps[0] && pr->steps[i].kind != PS_END; i++) {
            tok_pretok p;
            memset(&p, 0, sizeof p);
            switch (pr->steps[i].kind) {
            case PS_SPLIT: {
                char why[200];
                p.kind = TOK_PRE_SPLIT;
                p.behavior = TOK_SPLIT_ISOLATED;
                p.pat.kind = TOK_PAT_REGEX;
                p.pat.re = tok_regex_compile(pr->steps[i].regex, strlen(pr->steps[i].regex), why, sizeof why);
                if (!p.pat.re) {
                    st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: pre-tokenizer regex: %s", t->path, why);
                    goto done;
                }
                break;
            }
            case PS_DIGITS:
            case PS_DIGIT_RUNS:
                p.kind = TOK_PRE_DIGITS;
                p.individual = pr->steps[i].kind == PS_DIGITS;
                break;
            case PS_PUNCT:
                p.kind = TOK_PRE_PUNCT;
                p.behavior = TOK_SPLIT_CONTIGUOUS;
                break;
            case PS_BYTELEVEL_RX:
                p.kind = TOK_PRE_BYTELEVEL;
                p.use_regex = 1;
                if ((st = tok_bytelevel_regex(t, err)) != QUIPU_OK) goto done;
                break;
            default:
                p.kind = TOK_PRE_BYTELEVEL;
                break;
            }
            if ((st = push_pretok(t, p, err)) != QUIPU_OK) goto done;
        }
        defaults = gpt2_defaults;
    } else {
        t->kind = QUIPU_TOK_SPM;
        if ((st = spell_tokens(t, &v, gemma ? 2 : 0, err)) != QUIPU_OK) goto done;
        st = v.merges ? merges_from_file(t, &v, err) : merges_generate(t, &v, gemma, err);
        if (st != QUIPU_OK) goto done;
        t->bpe.byte_fallback = 1;
        t->bpe.fuse_unk = 1;
        if (gemma) {
            int32_t uid;
            if (tok_smap_get(&t->vocab, "<unk>", 5, &uid)) t->bpe.unk_id = uid;
            else t->bpe.unk_missing = 1;
            tok_norm nm;
            memset(&nm, 0, sizeof nm);
            nm.kind = TOK_NORM_REPLACE;
            if (str_pattern(&nm.pat, " ") || !(nm.content = dupz("\xE2\x96\x81"))) { st = NOMEM(); tok_pattern_free(&nm.pat); goto done; }
            nm.content_n = 3;
            if ((st = push_norm(t, nm, err)) != QUIPU_OK) goto done;
            tok_pretok p;
            memset(&p, 0, sizeof p);
            p.kind = TOK_PRE_SPLIT;
            p.behavior = TOK_SPLIT_MERGED_PREV;
            if (str_pattern(&p.pat, " ")) { st = NOMEM(); goto done; }
            if ((st = push_pretok(t, p, err)) != QUIPU_OK) goto done;
            defaults = gemma_defaults;
        } else {
            /* Llama 2 / Mistral / Phi-3 tokenizer.json: Prepend("\u2581") + Replace(" ", "\u2581"), as
             * llama.cpp's add_space_prefix + whitespace escaping (not transformers' rebuilt Metaspace) */
            int space_prefix = 1;
            quipu_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &space_prefix);
            tok_norm nm;
            if (space_prefix) {
                memset(&nm, 0, sizeof nm);
                nm.kind = TOK_NORM_PREPEND;
                if (!(nm.content = dupz("\xE2\x96\x81"))) { st = NOMEM(); goto done; }
                nm.content_n = 3;
                if ((st = push_norm(t, nm, err)) != QUIPU_OK) goto done;
            }
            memset(&nm, 0, sizeof nm);
            nm.kind = TOK_NORM_REPLACE;
            if (str_pattern(&nm.pat, " ") || !(nm.content = dupz("\xE2\x96\x81"))) { st = NOMEM(); tok_pattern_free(&nm.pat); goto done; }
            nm.content_n = 3;
            if ((st = push_norm(t, nm, err)) != QUIPU_OK) goto done;
            defaults = llama_defaults;
        }
        if (!has_bos_key) add_bos = 1; /* transformers: setdefault("add_bos_token", True) for llama */
    }
    if ((st = tok_bpe_finish(t, err)) != QUIPU_OK) goto done;

    /* added tokens, in the order transformers adds them */
    for (size_t i = 0; defaults[i]; i++)
        if ((st = add_named_special(t, defaults[i], strlen(defaults[i]), err)) != QUIPU_OK) goto done;
    if ((st = add_file_tokens(t, &v, is_gpt2, gemma, err)) != QUIPU_OK) goto done;
    if (!strcmp(archs, "phi3")) phi3_rstrip(t);
    for (int k = 0; k < 4; k++) {
        size_t n;
        const char *s = kv_token(&v, ids[k], &n);
        if (s && (st = add_named_special(t, s, n, err)) != QUIPU_OK) goto done;
    }
    if (gemma && (st = add_named_special(t, "<mask>", 5, err)) != QUIPU_OK) goto done;
    if ((st = tok_added_finish(t, err)) != QUIPU_OK) goto done;

    /* special ids and the BOS/EOS template */
    int32_t *dst[4] = {&t->bos_id, &t->eos_id, &t->unk_id, &t->pad_id};
    for (int k = 0; k < 4; k++) {
        size_t n;
        const char *s = kv_token(&v, ids[k], &n);
        *dst[k] = s ? tok_token_to_id(t, s, n) : -1;
    }
    if (t->bos_id < 0) add_bos = 0;
    if (t->eos_id < 0) add_eos = 0;
    t->add_bos = add_bos;
    t->add_eos = add_eos;
    tok_post *p = tok_post_push(t);
    if (!p || (add_bos && tok_post_item(p, 0, &t->bos_id, 1)) || tok_post_item(p, 1, NULL, 0) ||
        (add_eos && tok_post_item(p, 0, &t->eos_id, 1))) {
        st = NOMEM();
        goto done;
    }
done:
    vocab_free(&v);
    return st;
}
