/* tok_internal.h — the tokenizer's inner types, shared by src/tokenizer.c and the files in src/tok.
 * The pipeline mirrors Hugging Face tokenizers: added-token split on raw text -> normalizers ->
 * added-token split on normalized text -> pre-tokenizers -> model (BPE / WordPiece / WordLevel /
 * Unigram) -> post-processor. A loaded tokenizer is immutable; every encode call owns a tok_ctx with its
 * own buffers and PCRE2 match data, so encoding is thread-safe. */
#ifndef QUIPU_TOK_INTERNAL_H
#define QUIPU_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "tokenizer.h"

/* ------------------------------------------------------------------ byte buffer */
typedef struct tok_buf {
    char *p;
    size_t n, cap;
} tok_buf;
int tok_buf_reserve(tok_buf *b, size_t extra);            /* 0 ok, -1 nomem */
int tok_buf_add(tok_buf *b, const void *s, size_t n);     /* appends; 0 ok */
int tok_buf_add_cp(tok_buf *b, uint32_t cp);              /* appends UTF-8 of cp */
void tok_buf_free(tok_buf *b);

/* ------------------------------------------------------------------ hash maps */
/* string -> int32, open addressing; keys are copied; entries keep insertion order. */
typedef struct tok_smap_ent {
    uint64_t off;  /* key offset in keys */
    uint32_t len;
    uint32_t hash;
    int32_t val;
} tok_smap_ent;
typedef struct tok_smap {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t cap;      /* power of two */
    tok_smap_ent *ents;
    size_t n, ents_cap;
    tok_buf keys;
} tok_smap;
/* Inserts or (overwrite != 0) replaces. Returns the entry index, or -1 on no memory. */
int64_t tok_smap_put(tok_smap *m, const char *k, size_t n, int32_t v, int overwrite);
/* 1 and *v if found. */
int tok_smap_get(const tok_smap *m, const char *k, size_t n, int32_t *v);
/* Entry index (insertion order) of key k, or -1. */
int64_t tok_smap_index(const tok_smap *m, const char *k, size_t n);
static inline const char *tok_smap_key(const tok_smap *m, size_t i) { return m->keys.p + m->ents[i].off; }
void tok_smap_free(tok_smap *m);

/* (uint32, uint32) -> (int32 rank, int32 val), open addressing. */
typedef struct tok_pmap {
    uint64_t *keys; /* UINT64_MAX = empty */
    int32_t *rank, *val;
    size_t cap, n;
} tok_pmap;
int tok_pmap_init(tok_pmap *m, size_t expected);
int tok_pmap_put(tok_pmap *m, uint32_t a, uint32_t b, int32_t rank, int32_t val); /* replaces */
static inline uint64_t tok_pmap_hash(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL; k ^= k >> 33;
    return k;
}
static inline int tok_pmap_get(const tok_pmap *m, uint32_t a, uint32_t b, int32_t *rank, int32_t *val) {
    if (!m->cap) return 0;
    uint64_t key = ((uint64_t)a << 32) | b;
    size_t mask = m->cap - 1, i = (size_t)tok_pmap_hash(key) & mask;
    for (;;) {
        uint64_t k = m->keys[i];
        if (k == key) { if (rank) *rank = m->rank[i]; if (val) *val = m->val[i]; return 1; }
        if (k == UINT64_MAX) return 0;
        i = (i + 1) & mask;
    }
}
void tok_pmap_free(tok_pmap *m);

/* ------------------------------------------------------------------ UTF-8 and Unicode */
/* Decodes one code point of valid UTF-8 at s[i] (i < n); returns its length. */
static inline size_t tok_utf8_next(const char *s, size_t n, size_t i, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s + i;
    unsigned char c = u[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xE0 && i + 1 < n) { *cp = ((uint32_t)(c & 0x1F) << 6) | (u[1] & 0x3F); return 2; }
    if (c < 0xF0 && i + 2 < n) {
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    if (i + 3 < n) {
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
              ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        return 4;
    }
    *cp = 0xFFFD;
    return 1;
}
static inline size_t tok_utf8_len(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
size_t tok_utf8_encode(uint32_t cp, char out[4]);
/* 1 if s is well-formed UTF-8. */
int tok_utf8_valid(const char *s, size_t n);
/* Python's bytes.decode("utf-8", errors="replace"): each maximal ill-formed subpart -> U+FFFD. */
int tok_utf8_lossy(const char *s, size_t n, tok_buf *out);

/* Character classes as Hugging Face sees them (tables from the reference, unicode_tables.c). */
int tok_u_rx_L(uint32_t cp);
int tok_u_rx_N(uint32_t cp);
int tok_u_numeric(uint32_t cp);   /* Rust char::is_numeric */
int tok_u_white(uint32_t cp);     /* Rust char::is_whitespace */
int tok_u_word(uint32_t cp);      /* regex crate \w */
int tok_u_punct(uint32_t cp);     /* ASCII punctuation or unicode_categories P* */
int tok_u_bert_other(uint32_t cp);/* Cc | Cf | Co (unicode_categories) */
int tok_u_mn(uint32_t cp);
int tok_u_mark(uint32_t cp);
/* Rust char::to_lowercase: writes up to 3 code points, returns the count. */
int tok_u_lower(uint32_t cp, uint32_t out[3]);
/* Unicode normalization (NFC/NFD/NFKC/NFKD) of valid UTF-8 into out (appended). */
int tok_u_normalize(const char *s, size_t n, int compat, int compose, tok_buf *out);

/* ------------------------------------------------------------------ patterns and regexes */
typedef enum { TOK_PAT_NONE, TOK_PAT_STRING, TOK_PAT_REGEX } tok_pat_kind;
typedef struct tok_pattern {
    tok_pat_kind kind;
    char *lit;          /* STRING: the literal (may contain NUL) */
    size_t lit_n;
    pcre2_code *re;     /* REGEX */
} tok_pattern;
/* Compiles an Oniguruma pattern (tokenizers' SysRegex) for PCRE2: \s \S \d \D \w \W \p{L} \p{N}
 * become the reference's explicit classes, nested classes [a[bc]] are flattened. On failure
 * writes a one-line reason into why (size why_n) and returns NULL. */
pcre2_code *tok_regex_compile(const char *pattern, size_t n, char *why, size_t why_n);

/* One match/gap of a pattern over a string: [start, end), is_match. */
typedef struct tok_span {
    size_t start, end;
    int is_match;
} tok_span;
typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;
int tok_spans_add(tok_spans *s, size_t a, size_t b, int m);

/* ------------------------------------------------------------------ pipeline components */
typedef enum {
    TOK_SPLIT_REMOVED, TOK_SPLIT_ISOLATED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS
} tok_split_behavior;

typedef enum {
    TOK_NORM_NFC, TOK_NORM_NFD, TOK_NORM_NFKC, TOK_NORM_NFKD, TOK_NORM_LOWERCASE, TOK_NORM_STRIP,
    TOK_NORM_STRIP_ACCENTS, TOK_NORM_REPLACE, TOK_NORM_PREPEND, TOK_NORM_BERT, TOK_NORM_NMT,
    TOK_NORM_BYTELEVEL, TOK_NORM_PRECOMPILED
} tok_norm_kind;

/* SentencePiece's precompiled_charsmap, decoded (tok_precompiled.c). units and normalized point
 * into blob; every offset read from them is bounds-checked when used. */
typedef struct tok_charsmap {
    uint8_t *blob;            /* the decoded bytes (owned) */
    size_t blob_n;
    const uint8_t *units;     /* double-array trie: n_units little-endian u32 */
    size_t n_units;
    const char *normalized;   /* replacements, NUL-terminated, valid UTF-8 */
    size_t normalized_n;
} tok_charsmap;
typedef struct tok_norm {
    tok_norm_kind kind;
    int strip_left, strip_right;                              /* STRIP */
    tok_pattern pat;                                          /* REPLACE */
    char *content;                                            /* REPLACE content / PREPEND */
    size_t content_n;
    int clean_text, handle_chinese, strip_accents, lowercase; /* BERT (strip_accents resolved) */
    tok_charsmap *cmap;                                       /* PRECOMPILED */
} tok_norm;

typedef enum {
    TOK_PRE_BYTELEVEL, TOK_PRE_METASPACE, TOK_PRE_SPLIT, TOK_PRE_DIGITS, TOK_PRE_PUNCT,
    TOK_PRE_WHITESPACE, TOK_PRE_WHITESPACE_SPLIT, TOK_PRE_BERT, TOK_PRE_CHAR_DELIM
} tok_pre_kind;
typedef enum { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER } tok_prepend_scheme;
typedef struct tok_pretok {
    tok_pre_kind kind;
    int add_prefix_space, use_regex;   /* BYTELEVEL */
    uint32_t replacement;              /* METASPACE */
    tok_prepend_scheme prepend_scheme; /* METASPACE */
    int split;                         /* METASPACE */
    tok_pattern pat;                   /* SPLIT */
    tok_split_behavior behavior;       /* SPLIT, PUNCT */
    int invert;                        /* SPLIT */
    int individual;                    /* DIGITS */
    uint32_t delim;                    /* CHAR_DELIM */
} tok_pretok;

typedef enum { TOK_MODEL_BPE, TOK_MODEL_WORDPIECE, TOK_MODEL_WORDLEVEL, TOK_MODEL_UNIGRAM } tok_model_kind;
typedef struct tok_bpe {
    tok_pmap merges;        /* (left id, right id) -> (rank, merged id) */
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;         /* -1: no unk token configured */
    int unk_missing;        /* unk_token named but not in the vocab (error when needed) */
    char *prefix, *suffix;  /* continuing_subword_prefix / end_of_word_suffix or NULL */
    size_t prefix_n, suffix_n;
    int32_t byte_ids[256];  /* "<0xXX>" ids, -1 when absent */
    size_t n_skipped_merges;/* merges whose result is not in the vocab */
} tok_bpe;
typedef struct tok_wordpiece {
    int32_t unk_id;         /* -1 when the unk token is not in the vocab */
    char *prefix;
    size_t prefix_n;
    size_t max_chars;
} tok_wordpiece;

/* Unigram (tok_unigram.c): Viterbi over a byte trie of the vocabulary, as tokenizers'
 * Unigram::encode_optimized. The trie is compact: node i's children are the edges
 * [child_at[i], child_at[i + 1]), sorted by label; node 0 is the root. */
typedef struct tok_unigram {
    double *scores;         /* per id (vocab position), as tokenizers parsed it */
    size_t n;               /* vocab entries */
    int32_t unk_id;         /* -1: none */
    int byte_fallback;
    double min_score;       /* +inf for an empty vocab */
    int32_t *term;          /* per node: the id whose piece ends here, -1 none (a repeated piece: its last id) */
    uint32_t *child_at;     /* per node + 1 */
    uint8_t *edge_label;    /* per edge */
    uint32_t *edge_node;    /* per edge */
    size_t n_nodes;
    int32_t byte_ids[256];  /* "<0xXX>" ids, -1 when absent */
} tok_unigram;

typedef struct tok_added {
    uint64_t off;   /* content in t->texts */
    uint32_t len;
    uint64_t noff;  /* normalized content (== content unless normalized and changed) */
    uint32_t nlen;
    int32_t id;
    uint8_t single_word, lstrip, rstrip, normalized, special;
} tok_added;
/* Byte trie over added-token contents, leftmost-longest matching. */
typedef struct tok_trie {
    int32_t root[256];  /* child of the root per first byte, -1 none */
    tok_pmap edges;     /* (node, byte) -> child */
    int32_t *term;      /* per node: index into t->added or -1 */
    size_t n_nodes, cap_nodes;
    int empty;
} tok_trie;

/* A post-processor step: TemplateProcessing "single" (Bert/Roberta are compiled into one). */
typedef struct tok_tmpl_item {
    int is_seq;        /* 1: the sequence ($A) */
    int32_t *ids;      /* special token ids */
    size_t n_ids;
} tok_tmpl_item;
typedef struct tok_post {
    tok_tmpl_item *items;
    size_t n_items;
} tok_post;

/* "\u0000" handling while a tokenizer.json is read (tok_json.c). */
typedef struct tok_json_nul {
    const char *sent; /* UTF-8 of the stand-in code point, or NULL */
    size_t len;
} tok_json_nul;

struct quipu_tokenizer {
    char *path;
    tok_json_nul json_nul;
    quipu_tok_kind kind;
    char model_name[32];
    char pre_name[64];

    tok_smap vocab;           /* model vocabulary: token -> id */
    int64_t n_ids;            /* max id + 1 over vocab and added tokens */
    uint64_t *id_off;         /* per id: offset of its NUL-terminated text in texts, or UINT64_MAX */
    int64_t id_cap;           /* allocated length of id_off */
    size_t n_file_added;      /* tokenizer.json: entries in added_tokens (bounds the vocab's ids) */
    tok_buf texts;

    tok_norm *norms;
    size_t n_norms;
    tok_pretok *pretoks;
    size_t n_pretoks;
    pcre2_code *re_bytelevel; /* the GPT-2 regex of ByteLevel(use_regex=true) */

    tok_model_kind model;
    tok_bpe bpe;
    tok_wordpiece wp;
    tok_unigram uni;

    tok_added *added;
    size_t n_added, cap_added;
    tok_smap added_map;       /* content -> index into added */
    tok_trie trie_raw, trie_norm;

    tok_post *posts;          /* applied in order when add_special */
    size_t n_posts;
    size_t trunc_max;         /* tokenizer.json "truncation": max_length, 0 = none */
    int trunc_left;           /* direction Left */
    int32_t wl_unk_id;        /* WordLevel unk id, -1 none */

    int32_t bos_id, eos_id, unk_id, pad_id;
    int add_bos, add_eos;
};

/* ------------------------------------------------------------------ encode context */
typedef struct tok_piece {
    size_t off, len;  /* into ctx->buf */
    int32_t id;       /* added token id, or -1 */
    int orig0;        /* starts at offset 0 of the original text (Metaspace prepend_scheme first) */
} tok_piece;
typedef struct tok_pieces {
    tok_piece *v;
    size_t n, cap;
} tok_pieces;
int tok_pieces_add(tok_pieces *p, size_t off, size_t len, int32_t id, int orig0);

typedef struct tok_ctx {
    const quipu_tokenizer *t;
    tok_buf buf;             /* all piece bytes */
    tok_pieces a, b;         /* current and next piece lists */
    tok_spans spans;
    pcre2_match_data *md;
    int32_t *ids;
    size_t n_ids, cap_ids;
    /* BPE scratch */
    void *sym;
    size_t sym_cap;
    void *heap;
    size_t heap_cap;
    /* Unigram lattice scratch */
    void *lat;
    size_t lat_cap;
    tok_buf scratch, scratch2;
    quipu_error *err;
} tok_ctx;
int tok_ctx_push_id(tok_ctx *c, int32_t id);

/* ------------------------------------------------------------------ stages */
/* Pattern matches over s[0..n) in tokenizers' convention (spans cover the whole string). */
int tok_pattern_find(tok_ctx *c, const tok_pattern *p, const char *s, size_t n, tok_spans *out);
/* NormalizedString::split: spans + behavior -> sub-pieces of piece appended to out. */
int tok_split_piece(tok_ctx *c, const tok_piece *pc, const tok_spans *sp, tok_split_behavior beh,
                    tok_pieces *out);
/* Applies norms[0..n_norms) to s[0..n) and appends the result to out; *lead_removed (may be
 * NULL) gets how many leading input bytes were dropped (for the offset-0 test of Metaspace). */
int tok_normalize(tok_ctx *c, const tok_norm *norms, size_t n_norms, const char *s, size_t n,
                  tok_buf *out, size_t *lead_removed);
int tok_pretokenize(tok_ctx *c);       /* c->a -> c->a */
int tok_model_encode(tok_ctx *c, const char *s, size_t n);
int tok_added_split(tok_ctx *c, const tok_trie *trie, const tok_piece *pc, tok_pieces *out);

/* Building (tok_build.c). All return QUIPU_OK or an error with "PATH: problem". */
quipu_tokenizer *tok_new(const char *path);
int tok_set_id_text(quipu_tokenizer *t, int32_t id, const char *s, size_t n);
quipu_status tok_bpe_add_merge(quipu_tokenizer *t, const char *a, size_t an, const char *b, size_t bn,
                               int32_t rank, quipu_error *err);
quipu_status tok_bpe_finish(quipu_tokenizer *t, quipu_error *err);
/* Adds an added token the way AddedVocabulary::add_tokens does (id from the vocab or next free). */
quipu_status tok_add_token(quipu_tokenizer *t, const char *s, size_t n, int single_word, int lstrip,
                           int rstrip, int normalized, int special, quipu_error *err);
/* The same with a given id (>= 0): a GGUF USER_DEFINED token whose vocab entry is spelled otherwise. */
quipu_status tok_add_token_id(quipu_tokenizer *t, const char *s, size_t n, int32_t id, int single_word, int lstrip,
                              int rstrip, int normalized, int special, quipu_error *err);
quipu_status tok_added_finish(quipu_tokenizer *t, quipu_error *err);
int32_t tok_token_to_id(const quipu_tokenizer *t, const char *s, size_t n);
quipu_status tok_bytelevel_regex(quipu_tokenizer *t, quipu_error *err);
tok_post *tok_post_push(quipu_tokenizer *t);
int tok_post_item(tok_post *p, int is_seq, const int32_t *ids, size_t n);
void tok_pattern_free(tok_pattern *p);

/* GPT-2 bytes_to_unicode: code point of byte b, and the reverse (-1 if not in the alphabet). */
uint32_t tok_byte_char(uint8_t b);
int tok_char_byte(uint32_t cp);

/* Precompiled (tok_precompiled.c): decodes and checks the base64 charsmap (path for messages). */
quipu_status tok_charsmap_load(tok_charsmap **out, const char *path, const char *b64, size_t n, quipu_error *err);
void tok_charsmap_free(tok_charsmap *m);
/* Appends the normalization of valid UTF-8 s[0..n) to out; -1 (error in c->err) on a corrupt map. */
int tok_precompiled_normalize(tok_ctx *c, const tok_charsmap *m, const char *s, size_t n, tok_buf *out);

/* Unigram (tok_unigram.c). The loader fills the vocab map, id texts and scores, then finish
 * builds the piece trie and the byte-fallback ids. */
quipu_status tok_unigram_finish(quipu_tokenizer *t, quipu_error *err);
int tok_unigram_encode(tok_ctx *c, const char *s, size_t n);
void tok_unigram_free(tok_unigram *u);
/* The f64 that tokenizers (serde_json without float_roundtrip) reads from the shortest decimal
 * text of d, which is how tokenizer.json files spell their scores. */
double tok_serde_f64(double d);

/* Loaders. */
quipu_status tok_load_json(quipu_tokenizer *t, const char *path, quipu_error *err);
quipu_status tok_load_gguf(quipu_tokenizer *t, const quipu_gguf *g, quipu_error *err);

#endif
