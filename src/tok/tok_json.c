/* tok_json.c — loads a Hugging Face tokenizer.json (and tokenizer_config.json beside it).
 * Supported: models BPE (vocab + merges as "a b" or ["a","b"], byte_fallback, ignore_merges,
 * unk/fuse_unk, continuing_subword_prefix, end_of_word_suffix), WordPiece, WordLevel, Unigram
 * (vocab of [piece, score], unk_id, byte_fallback); normalizers NFC NFD NFKC NFKD Lowercase Strip
 * StripAccents Replace Prepend BertNormalizer Nmt ByteLevel Precompiled Sequence; pre-tokenizers
 * ByteLevel Metaspace Split Digits Punctuation Whitespace WhitespaceSplit BertPreTokenizer
 * CharDelimiterSplit Sequence; post-processors TemplateProcessing BertProcessing
 * RobertaProcessing ByteLevel Sequence; added_tokens; truncation (max_length, direction).
 * Anything else is refused with a one-line error naming the file (UnicodeScripts, ...).
 * Dropout (BPE) and Unigram sampling are ignored: encoding is deterministic, as tokenizers'
 * default. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define FAIL(code, ...) do { st = quipu_error_set(err, code, __VA_ARGS__); goto fail; } while (0)

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
static int jbool(json_t *o, const char *key, int def) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* ------------------------------------------------------------------ NUL in JSON strings */
/* jansson keeps "\u0000" in string values (JSON_ALLOW_NUL) but not in object keys, and a vocab
 * may have a NUL token. So every "\u0000" escape is first replaced by a code point that does not
 * occur in the file (the sentinel), and turned back into NUL wherever strings are read. */
static const char *const SENTINELS[] = {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBE", "\xF3\xBF\xBF\xBF", "\xEF\xBF\xBF"};

static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 5 < n; i++)
        if (s[i] == '\\') {
            if (s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0') return 1;
            i++; /* skip the escaped char */
        }
    return 0;
}

static int bytes_find(const char *s, size_t n, const char *pat, size_t pn) {
    for (size_t i = 0; i + pn <= n; i++)
        if (s[i] == pat[0] && !memcmp(s + i, pat, pn)) return 1;
    return 0;
}

/* Copies s with the sentinel replaced by NUL into a heap buffer (*out, *out_n). */
static int unsentinel(const tok_json_nul *z, const char *s, size_t n, char **out, size_t *out_n) {
    char *d = malloc(n + 1);
    if (!d) return -1;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (z->len && i + z->len <= n && !memcmp(s + i, z->sent, z->len)) {
            d[w++] = 0;
            i += z->len;
        } else {
            d[w++] = s[i++];
        }
    }
    d[w] = 0;
    *out = d;
    *out_n = w;
    return 0;
}

/* Turns the sentinel back into NUL in every string value of the tree. */
static int fix_values(const tok_json_nul *z, json_t *j) {
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (!bytes_find(s, n, z->sent, z->len)) return 0;
        char *d;
        size_t dn;
        if (unsentinel(z, s, n, &d, &dn)) return -1;
        int r = json_string_setn_nocheck(j, d, dn);
        free(d);
        return r;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (fix_values(z, v)) return -1;
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) if (fix_values(z, v)) return -1;
    }
    return 0;
}

static int parse_behavior(const char *s, tok_split_behavior *b) {
    if (!s) return -1;
    static const struct { const char *a, *b; tok_split_behavior v; } names[] = {
        {"Removed", "removed", TOK_SPLIT_REMOVED},
        {"Isolated", "isolated", TOK_SPLIT_ISOLATED},
        {"MergedWithPrevious", "merged_with_previous", TOK_SPLIT_MERGED_PREV},
        {"MergedWithNext", "merged_with_next", TOK_SPLIT_MERGED_NEXT},
        {"Contiguous", "contiguous", TOK_SPLIT_CONTIGUOUS},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].a) || !strcmp(s, names[i].b)) { *b = names[i].v; return 0; }
    return -1;
}

/* {"String": "..."} or {"Regex": "..."} */
static quipu_status parse_pattern(quipu_tokenizer *t, json_t *p, tok_pattern *out, const char *what,
                                  quipu_error *err) {
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    if (json_is_string(s)) {
        size_t n = json_string_length(s);
        out->kind = TOK_PAT_STRING;
        out->lit = malloc(n + 1);
        if (!out->lit) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        memcpy(out->lit, json_string_value(s), n + 1);
        out->lit_n = n;
        return QUIPU_OK;
    }
    if (json_is_string(r)) {
        char why[200];
        out->kind = TOK_PAT_REGEX;
        out->re = tok_regex_compile(json_string_value(r), json_string_length(r), why, sizeof why);
        if (!out->re)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: %s pattern /%s/: %s", t->path, what,
                                   json_string_value(r), why);
        return QUIPU_OK;
    }
    return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %s has no \"String\" or \"Regex\" pattern", t->path, what);
}

static uint32_t first_cp(const char *s) {
    if (!s || !*s) return 0;
    uint32_t cp;
    tok_utf8_next(s, strlen(s), 0, &cp);
    return cp;
}

/* ------------------------------------------------------------------ normalizers */
static quipu_status add_norm(quipu_tokenizer *t, json_t *n, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    if (json_is_null(n) || !n) return QUIPU_OK;
    const char *type = jstr(n, "type");
    if (!type) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: a normalizer has no \"type\"", t->path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "normalizers");
        if (!json_is_array(arr))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: normalizer Sequence has no \"normalizers\" list", t->path);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) if ((st = add_norm(t, v, err)) != QUIPU_OK) return st;
        return QUIPU_OK;
    }
    tok_norm nm;
    memset(&nm, 0, sizeof nm);
    if (!strcmp(type, "NFC")) nm.kind = TOK_NORM_NFC;
    else if (!strcmp(type, "NFD")) nm.kind = TOK_NORM_NFD;
    else if (!strcmp(type, "NFKC")) nm.kind = TOK_NORM_NFKC;
    else if (!strcmp(type, "NFKD")) nm.kind = TOK_NORM_NFKD;
    else if (!strcmp(type, "Lowercase")) nm.kind = TOK_NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents")) nm.kind = TOK_NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "Nmt")) nm.kind = TOK_NORM_NMT;
    else if (!strcmp(type, "ByteLevel")) nm.kind = TOK_NORM_BYTELEVEL;
    else if (!strcmp(type, "Strip")) {
        nm.kind = TOK_NORM_STRIP;
        nm.strip_left = jbool(n, "strip_left", 0);
        nm.strip_right = jbool(n, "strip_right", 0);
    } else if (!strcmp(type, "Precompiled")) {
        json_t *cm = json_object_get(n, "precompiled_charsmap");
        if (!json_is_string(cm))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: normalizer Precompiled has no precompiled_charsmap string",
                                   t->path);
        nm.kind = TOK_NORM_PRECOMPILED;
        if ((st = tok_charsmap_load(&nm.cmap, t->path, json_string_value(cm), json_string_length(cm), err)) != QUIPU_OK)
            return st;
    } else if (!strcmp(type, "BertNormalizer")) {
        nm.kind = TOK_NORM_BERT;
        nm.clean_text = jbool(n, "clean_text", 1);
        nm.handle_chinese = jbool(n, "handle_chinese_chars", 1);
        nm.lowercase = jbool(n, "lowercase", 1);
        nm.strip_accents = jbool(n, "strip_accents", nm.lowercase); /* null follows lowercase */
    } else if (!strcmp(type, "Replace") || !strcmp(type, "Prepend")) {
        const char *content = jstr(n, !strcmp(type, "Replace") ? "content" : "prepend");
        json_t *cj = json_object_get(n, !strcmp(type, "Replace") ? "content" : "prepend");
        if (!content)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: normalizer %s has no string content", t->path, type);
        nm.kind = !strcmp(type, "Replace") ? TOK_NORM_REPLACE : TOK_NORM_PREPEND;
        nm.content_n = json_string_length(cj);
        nm.content = malloc(nm.content_n + 1);
        if (!nm.content) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        memcpy(nm.content, content, nm.content_n + 1);
        if (nm.kind == TOK_NORM_REPLACE &&
            (st = parse_pattern(t, json_object_get(n, "pattern"), &nm.pat, "normalizer Replace", err)) != QUIPU_OK) {
            free(nm.content);
            return st;
        }
    } else {
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported", t->path, type);
    }
    tok_norm *v = realloc(t->norms, (t->n_norms + 1) * sizeof *v);
    if (!v) {
        tok_pattern_free(&nm.pat);
        free(nm.content);
        tok_charsmap_free(nm.cmap);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    }
    t->norms = v;
    t->norms[t->n_norms++] = nm;
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ pre-tokenizers */
static quipu_status add_pretok(quipu_tokenizer *t, json_t *n, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    if (json_is_null(n) || !n) return QUIPU_OK;
    const char *type = jstr(n, "type");
    if (!type) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: a pre_tokenizer has no \"type\"", t->path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "pretokenizers");
        if (!json_is_array(arr))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: pre_tokenizer Sequence has no \"pretokenizers\" list", t->path);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) if ((st = add_pretok(t, v, err)) != QUIPU_OK) return st;
        return QUIPU_OK;
    }
    tok_pretok p;
    memset(&p, 0, sizeof p);
    if (!strcmp(type, "ByteLevel")) {
        p.kind = TOK_PRE_BYTELEVEL;
        p.add_prefix_space = jbool(n, "add_prefix_space", 1);
        p.use_regex = jbool(n, "use_regex", 1);
        if (p.use_regex && (st = tok_bytelevel_regex(t, err)) != QUIPU_OK) return st;
    } else if (!strcmp(type, "Metaspace")) {
        p.kind = TOK_PRE_METASPACE;
        const char *rep = jstr(n, "replacement");
        p.replacement = rep ? first_cp(rep) : 0x2581;
        const char *sch = jstr(n, "prepend_scheme");
        p.prepend_scheme = TOK_PREPEND_ALWAYS;
        if (sch && !strcmp(sch, "first")) p.prepend_scheme = TOK_PREPEND_FIRST;
        else if (sch && !strcmp(sch, "never")) p.prepend_scheme = TOK_PREPEND_NEVER;
        else if (sch && strcmp(sch, "always"))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Metaspace prepend_scheme '%s' is unknown", t->path, sch);
        if (!jbool(n, "add_prefix_space", 1)) p.prepend_scheme = TOK_PREPEND_NEVER; /* legacy spelling */
        p.split = jbool(n, "split", 1);
    } else if (!strcmp(type, "Split")) {
        p.kind = TOK_PRE_SPLIT;
        const char *beh = jstr(n, "behavior");
        if (parse_behavior(beh, &p.behavior))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Split has an unknown behavior '%s'", t->path,
                                   beh ? beh : "(none)");
        p.invert = jbool(n, "invert", 0);
        if ((st = parse_pattern(t, json_object_get(n, "pattern"), &p.pat, "pre_tokenizer Split", err)) != QUIPU_OK)
            return st;
    } else if (!strcmp(type, "Digits")) {
        p.kind = TOK_PRE_DIGITS;
        p.individual = jbool(n, "individual_digits", 0);
    } else if (!strcmp(type, "Punctuation")) {
        p.kind = TOK_PRE_PUNCT;
        p.behavior = TOK_SPLIT_ISOLATED;
        const char *b = jstr(n, "behavior");
        if (b && parse_behavior(b, &p.behavior))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Punctuation has an unknown behavior '%s'", t->path, b);
    } else if (!strcmp(type, "Whitespace")) {
        p.kind = TOK_PRE_WHITESPACE;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p.kind = TOK_PRE_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        p.kind = TOK_PRE_BERT;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        p.kind = TOK_PRE_CHAR_DELIM;
        p.delim = first_cp(jstr(n, "delimiter"));
    } else {
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported", t->path, type);
    }
    tok_pretok *v = realloc(t->pretoks, (t->n_pretoks + 1) * sizeof *v);
    if (!v) {
        tok_pattern_free(&p.pat);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    }
    t->pretoks = v;
    t->pretoks[t->n_pretoks++] = p;
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ model */
/* Ids are bounded by the entries the file holds: the vocabulary's plus the added tokens' (which
 * may fill ids the vocabulary leaves out), so that the id table never outgrows the file. The
 * model's embedding rows bound them again when a model is loaded (model.c). */
static quipu_status load_vocab(quipu_tokenizer *t, json_t *vocab, quipu_error *err) {
    const char *key;
    json_t *val;
    if (!json_is_object(vocab))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: model has no \"vocab\" object", t->path);
    if (json_object_size(vocab) == 0) /* tokenizers loads it, but can encode nothing with it */
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: the model's vocab is empty", t->path);
    json_int_t limit = (json_int_t)json_object_size(vocab) + (json_int_t)t->n_file_added;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > INT32_MAX)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: vocab entry '%s' has no valid id", t->path, key);
        if (json_integer_value(val) >= limit)
            return quipu_error_set(err, QUIPU_ERR_FORMAT,
                                   "%s: vocab entry '%s' has id %lld, but the file holds only %lld vocab and added "
                                   "entries (ids must be below that)",
                                   t->path, key, (long long)json_integer_value(val), (long long)limit);
        int32_t id = (int32_t)json_integer_value(val);
        size_t kn = strlen(key);
        char *dk = NULL;
        const char *k = key; /* json_object_foreach needs key itself unchanged */
        if (t->json_nul.len && bytes_find(key, kn, t->json_nul.sent, t->json_nul.len)) {
            if (unsentinel(&t->json_nul, key, kn, &dk, &kn))
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
            k = dk;
        }
        int bad = tok_smap_put(&t->vocab, k, kn, id, 1) < 0 || tok_set_id_text(t, id, k, kn);
        free(dk);
        if (bad) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    }
    return QUIPU_OK;
}

static char *dup_str(const char *s, size_t *n) {
    if (!s) return NULL;
    *n = strlen(s);
    char *d = malloc(*n + 1);
    if (d) memcpy(d, s, *n + 1);
    return d;
}

static quipu_status load_bpe(quipu_tokenizer *t, json_t *m, quipu_error *err) {
    quipu_status st;
    t->model = TOK_MODEL_BPE;
    if ((st = load_vocab(t, json_object_get(m, "vocab"), err)) != QUIPU_OK) return st;
    t->bpe.byte_fallback = jbool(m, "byte_fallback", 0);
    t->bpe.fuse_unk = jbool(m, "fuse_unk", 0);
    t->bpe.ignore_merges = jbool(m, "ignore_merges", 0);
    const char *pre = jstr(m, "continuing_subword_prefix"), *suf = jstr(m, "end_of_word_suffix");
    if (pre && !(t->bpe.prefix = dup_str(pre, &t->bpe.prefix_n)))
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    if (suf && !(t->bpe.suffix = dup_str(suf, &t->bpe.suffix_n)))
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    const char *unk = jstr(m, "unk_token");
    if (unk) {
        int32_t id;
        if (tok_smap_get(&t->vocab, unk, strlen(unk), &id)) t->bpe.unk_id = t->unk_id = id;
        else t->bpe.unk_missing = 1;
    }
    json_t *merges = json_object_get(m, "merges");
    if (!json_is_array(merges))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: BPE model has no \"merges\" list", t->path);
    if (tok_pmap_init(&t->bpe.merges, json_array_size(merges) + 16))
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    size_t i;
    json_t *v;
    int32_t rank = 0;
    json_array_foreach(merges, i, v) {
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            size_t n = json_string_length(v);
            if (n >= 8 && !strncmp(s, "#version", 8)) continue;
            const char *sp = memchr(s, ' ', n);
            if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: merges[%d] '%s' is not two tokens separated by one space",
                                       t->path, rank, s);
            st = tok_bpe_add_merge(t, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp + 1 - s), rank, err);
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {
            json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
            st = tok_bpe_add_merge(t, json_string_value(a), json_string_length(a), json_string_value(b),
                                   json_string_length(b), rank, err);
        } else {
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: merges[%d] is neither \"a b\" nor [\"a\", \"b\"]",
                                   t->path, rank);
        }
        if (st != QUIPU_OK) return st;
        rank++;
    }
    return tok_bpe_finish(t, err);
}

/* Unigram: "vocab" is a list of [piece, score]; the id of a piece is its position. */
static quipu_status load_unigram(quipu_tokenizer *t, json_t *m, quipu_error *err) {
    t->kind = QUIPU_TOK_UNIGRAM;
    t->model = TOK_MODEL_UNIGRAM;
    tok_unigram *u = &t->uni;
    u->unk_id = -1;
    json_t *vocab = json_object_get(m, "vocab");
    if (!json_is_array(vocab))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram model has no \"vocab\" list", t->path);
    size_t n = json_array_size(vocab);
    if (n == 0) /* tokenizers loads it, but it cannot encode a single char */
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram vocab is empty", t->path);
    if (n > (size_t)INT32_MAX)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram vocab has %zu entries, more than ids can hold", t->path, n);
    u->n = n;
    u->scores = malloc((n ? n : 1) * sizeof *u->scores);
    if (!u->scores) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    u->min_score = INFINITY;
    size_t i;
    json_t *e;
    json_array_foreach(vocab, i, e) {
        json_t *piece = json_array_get(e, 0), *score = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(piece) || !json_is_number(score))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram vocab[%zu] is not a [piece, score] pair", t->path, i);
        double sc = json_is_integer(score) ? (double)json_integer_value(score) : tok_serde_f64(json_real_value(score));
        u->scores[i] = sc;
        if (sc < u->min_score) u->min_score = sc;
        if (tok_smap_put(&t->vocab, json_string_value(piece), json_string_length(piece), (int32_t)i, 1) < 0 ||
            tok_set_id_text(t, (int32_t)i, json_string_value(piece), json_string_length(piece)))
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    }
    json_t *unk = json_object_get(m, "unk_id");
    if (unk && !json_is_null(unk)) {
        if (!json_is_integer(unk) || json_integer_value(unk) < 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram unk_id is not a non-negative integer", t->path);
        if ((json_int_t)n <= json_integer_value(unk))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram unk_id %lld is not below the vocab size %zu", t->path,
                                   (long long)json_integer_value(unk), n);
        u->unk_id = t->unk_id = (int32_t)json_integer_value(unk);
    }
    json_t *bf = json_object_get(m, "byte_fallback");
    if (bf && !json_is_boolean(bf) && !json_is_null(bf))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Unigram byte_fallback is not true or false", t->path);
    u->byte_fallback = json_is_true(bf);
    return tok_unigram_finish(t, err);
}

static quipu_status load_model(quipu_tokenizer *t, json_t *m, quipu_error *err) {
    quipu_status st;
    if (!json_is_object(m)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: no \"model\" object", t->path);
    const char *type = jstr(m, "type");
    if (!type) {
        /* old serialisations have no type: infer it as tokenizers' untagged fallback does */
        if (json_object_get(m, "merges")) type = "BPE";
        else if (json_object_get(m, "max_input_chars_per_word")) type = "WordPiece";
        else if (json_is_array(json_object_get(m, "vocab"))) type = "Unigram";
        else return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: model has no \"type\" and is not recognisable", t->path);
    }
    snprintf(t->model_name, sizeof t->model_name, "%s", type);
    if (!strcmp(type, "BPE")) {
        t->kind = QUIPU_TOK_BPE_BYTELEVEL;
        return load_bpe(t, m, err);
    }
    if (!strcmp(type, "WordPiece")) {
        t->kind = QUIPU_TOK_WORDPIECE;
        t->model = TOK_MODEL_WORDPIECE;
        if ((st = load_vocab(t, json_object_get(m, "vocab"), err)) != QUIPU_OK) return st;
        const char *unk = jstr(m, "unk_token"), *pre = jstr(m, "continuing_subword_prefix");
        if (!unk) unk = "[UNK]";
        if (!pre) pre = "##";
        int32_t id;
        if (tok_smap_get(&t->vocab, unk, strlen(unk), &id)) t->wp.unk_id = t->unk_id = id;
        if (!(t->wp.prefix = dup_str(pre, &t->wp.prefix_n)))
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        json_t *mx = json_object_get(m, "max_input_chars_per_word");
        if (json_is_integer(mx) && json_integer_value(mx) >= 0) t->wp.max_chars = (size_t)json_integer_value(mx);
        return QUIPU_OK;
    }
    if (!strcmp(type, "WordLevel")) {
        t->kind = QUIPU_TOK_WORDPIECE;
        t->model = TOK_MODEL_WORDLEVEL;
        if ((st = load_vocab(t, json_object_get(m, "vocab"), err)) != QUIPU_OK) return st;
        const char *unk = jstr(m, "unk_token");
        int32_t id;
        if (unk && tok_smap_get(&t->vocab, unk, strlen(unk), &id)) t->wl_unk_id = t->unk_id = id;
        return QUIPU_OK;
    }
    if (!strcmp(type, "Unigram")) return load_unigram(t, m, err);
    return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: unknown model type '%s'", t->path, type);
}

/* ------------------------------------------------------------------ post-processors */
static quipu_status template_from_items(quipu_tokenizer *t, json_t *single, json_t *specials, quipu_error *err) {
    tok_post *p = tok_post_push(t);
    if (!p) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    if (json_is_string(single)) {
        /* "[CLS]:0 $A:0 [SEP]:0" form */
        const char *s = json_string_value(single);
        while (*s) {
            while (*s == ' ') s++;
            if (!*s) break;
            const char *e = s;
            while (*e && *e != ' ') e++;
            const char *colon = e;
            for (const char *q = s; q < e; q++) if (*q == ':') colon = q;
            size_t nn = (size_t)(colon - s);
            if (nn >= 1 && s[0] == '$') {
                if (tok_post_item(p, 1, NULL, 0)) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
            } else {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)nn, s);
                json_t *sp = json_object_get(specials, name);
                json_t *ids = json_object_get(sp, "ids");
                if (!json_is_array(ids))
                    return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: template token '%s' is not in special_tokens", t->path, name);
                int32_t buf[16];
                size_t k = 0, i;
                json_t *x;
                json_array_foreach(ids, i, x) if (k < 16 && json_is_integer(x)) buf[k++] = (int32_t)json_integer_value(x);
                if (tok_post_item(p, 0, buf, k)) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
            }
            s = e;
        }
        return QUIPU_OK;
    }
    if (!json_is_array(single))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: TemplateProcessing has no \"single\" template", t->path);
    size_t i;
    json_t *it;
    json_array_foreach(single, i, it) {
        json_t *seq = json_object_get(it, "Sequence"), *sp = json_object_get(it, "SpecialToken");
        if (seq) {
            if (tok_post_item(p, 1, NULL, 0)) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        } else if (sp) {
            const char *name = jstr(sp, "id");
            json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
            if (!name || !json_is_array(ids))
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: template token '%s' is not in special_tokens",
                                       t->path, name ? name : "?");
            size_t k = json_array_size(ids), j;
            int32_t *buf = malloc((k ? k : 1) * sizeof *buf);
            if (!buf) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
            json_t *x;
            json_array_foreach(ids, j, x) buf[j] = (int32_t)json_integer_value(x);
            int r = tok_post_item(p, 0, buf, k);
            free(buf);
            if (r) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        } else {
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: template item %zu is neither Sequence nor SpecialToken", t->path, i);
        }
    }
    return QUIPU_OK;
}

static quipu_status add_post(quipu_tokenizer *t, json_t *n, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    if (!n || json_is_null(n)) return QUIPU_OK;
    const char *type = jstr(n, "type");
    if (!type) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: a post_processor has no \"type\"", t->path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "processors");
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) if ((st = add_post(t, v, err)) != QUIPU_OK) return st;
        return QUIPU_OK;
    }
    if (!strcmp(type, "ByteLevel")) return QUIPU_OK; /* offsets only */
    if (!strcmp(type, "TemplateProcessing"))
        return template_from_items(t, json_object_get(n, "single"), json_object_get(n, "special_tokens"), err);
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        json_t *cls = json_object_get(n, "cls"), *sep = json_object_get(n, "sep");
        if (!json_is_array(cls) || !json_is_array(sep) || !json_is_integer(json_array_get(cls, 1)) ||
            !json_is_integer(json_array_get(sep, 1)))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %s needs cls and sep as [token, id]", t->path, type);
        int32_t c = (int32_t)json_integer_value(json_array_get(cls, 1));
        int32_t s = (int32_t)json_integer_value(json_array_get(sep, 1));
        tok_post *p = tok_post_push(t);
        if (!p || tok_post_item(p, 0, &c, 1) || tok_post_item(p, 1, NULL, 0) || tok_post_item(p, 0, &s, 1))
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        return QUIPU_OK;
    }
    return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported", t->path, type);
}

/* Every id a post-processor adds must be one of the tokenizer's ids. */
static quipu_status check_post_ids(quipu_tokenizer *t, quipu_error *err) {
    for (size_t i = 0; i < t->n_posts; i++)
        for (size_t j = 0; j < t->posts[i].n_items; j++)
            for (size_t k = 0; k < t->posts[i].items[j].n_ids; k++) {
                int32_t id = t->posts[i].items[j].ids[k];
                if (id < 0 || (int64_t)id >= t->n_ids)
                    return quipu_error_set(err, QUIPU_ERR_FORMAT,
                                           "%s: post_processor adds id %d, which is not a token id (0..%lld)", t->path,
                                           id, (long long)t->n_ids - 1);
            }
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ tokenizer_config.json */
static const char *config_token(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v)) return jstr(v, "content");
    return NULL;
}

static quipu_status read_config(quipu_tokenizer *t, const char *path, quipu_error *err) {
    const char *slash = strrchr(path, '/');
    size_t dn = slash ? (size_t)(slash - path + 1) : 0;
    char *cpath = malloc(dn + sizeof "tokenizer_config.json");
    if (!cpath) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    memcpy(cpath, path, dn);
    memcpy(cpath + dn, "tokenizer_config.json", sizeof "tokenizer_config.json");
    FILE *f = fopen(cpath, "rb");
    if (!f) { free(cpath); return QUIPU_OK; }
    fclose(f);
    json_error_t je;
    json_t *cfg = json_load_file(cpath, JSON_ALLOW_NUL, &je);
    if (!cfg) {
        quipu_status st = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s:%d: not valid JSON: %s", cpath, je.line, je.text);
        free(cpath);
        return st;
    }
    free(cpath);
    const char *names[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    int32_t *dst[4] = {&t->bos_id, &t->eos_id, &t->unk_id, &t->pad_id};
    for (int k = 0; k < 4; k++) {
        const char *s = config_token(cfg, names[k]);
        int32_t id = s ? tok_token_to_id(t, s, strlen(s)) : -1;
        if (id >= 0) *dst[k] = id;
    }
    json_t *ab = json_object_get(cfg, "add_bos_token"), *ae = json_object_get(cfg, "add_eos_token");
    if (json_is_boolean(ab) || json_is_boolean(ae)) {
        /* transformers: an explicit add_bos_token/add_eos_token rebuilds the post-processor as
         * "[bos] $A [eos]" (update_post_processor), dropping what tokenizer.json said */
        const char *bos = config_token(cfg, "bos_token"), *eos = config_token(cfg, "eos_token");
        int add_bos = json_is_true(ab) && bos, add_eos = json_is_true(ae) && eos;
        int32_t bid = add_bos ? tok_token_to_id(t, bos, strlen(bos)) : -1;
        int32_t eid = add_eos ? tok_token_to_id(t, eos, strlen(eos)) : -1;
        for (size_t i = 0; i < t->n_posts; i++) {
            for (size_t j = 0; j < t->posts[i].n_items; j++) free(t->posts[i].items[j].ids);
            free(t->posts[i].items);
        }
        t->n_posts = 0;
        tok_post *p = tok_post_push(t);
        if (!p || (bid >= 0 && tok_post_item(p, 0, &bid, 1)) || tok_post_item(p, 1, NULL, 0) ||
            (eid >= 0 && tok_post_item(p, 0, &eid, 1))) {
            json_decref(cfg);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        }
    }
    json_decref(cfg);
    return QUIPU_OK;
}

/* After loading: what add_special adds, for quipu_tokenizer_get_info. */
static void info_from_posts(quipu_tokenizer *t) {
    t->add_bos = t->add_eos = 0;
    for (size_t i = 0; i < t->n_posts; i++) {
        const tok_post *p = &t->posts[i];
        int seen_seq = 0;
        for (size_t j = 0; j < p->n_items; j++) {
            if (p->items[j].is_seq) { seen_seq = 1; continue; }
            if (!p->items[j].n_ids) continue;
            if (!seen_seq) {
                t->add_bos = 1;
                if (t->bos_id < 0) t->bos_id = p->items[j].ids[0];
            } else {
                t->add_eos = 1;
                if (t->eos_id < 0) t->eos_id = p->items[j].ids[0];
            }
        }
    }
}

quipu_status tok_load_json(quipu_tokenizer *t, const char *path, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    json_error_t je;
    char *text = NULL;
    size_t text_n = 0;
    quipu_error ioerr = {0};
    if (quipu_read_file(path, &text, &text_n, &ioerr) != QUIPU_OK)
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot read tokenizer file", path);
    tok_json_nul z = {0};
    if (has_nul_escape(text, text_n)) {
        for (size_t k = 0; k < sizeof SENTINELS / sizeof SENTINELS[0] && !z.len; k++)
            if (!bytes_find(text, text_n, SENTINELS[k], strlen(SENTINELS[k]))) {
                z.sent = SENTINELS[k];
                z.len = strlen(SENTINELS[k]);
            }
        if (!z.len) {
            free(text);
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: NUL characters in strings are not supported here", path);
        }
        size_t w = 0;
        for (size_t i = 0; i < text_n;) {
            if (text[i] == '\\' && i + 5 < text_n && text[i + 1] == 'u' && !memcmp(text + i + 2, "0000", 4)) {
                /* the escape is 6 bytes, the sentinel at most 4: rewriting in place is safe */
                memcpy(text + w, z.sent, z.len);
                w += z.len;
                i += 6;
            } else if (text[i] == '\\' && i + 1 < text_n) {
                text[w++] = text[i++];
                text[w++] = text[i++];
            } else {
                text[w++] = text[i++];
            }
        }
        text_n = w;
    }
    json_t *root = json_loadb(text, text_n, JSON_ALLOW_NUL, &je);
    free(text);
    if (!root) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s:%d: not valid JSON: %s", path, je.line, je.text);
    t->json_nul = z;
    if (z.len && fix_values(&z, root)) FAIL(QUIPU_ERR_NOMEM, "%s: out of memory", path);
    if (!json_is_object(root)) FAIL(QUIPU_ERR_FORMAT, "%s: not a tokenizer.json (top level is not an object)", path);
    const char *ver = jstr(root, "version");
    if (ver && strcmp(ver, "1.0")) FAIL(QUIPU_ERR_UNSUPPORTED, "%s: unknown tokenizer.json version '%s'", path, ver);
    json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_array(added) && !json_is_null(added))
        FAIL(QUIPU_ERR_FORMAT, "%s: \"added_tokens\" is not a list", path);
    t->n_file_added = json_is_array(added) ? json_array_size(added) : 0;
    if ((st = load_model(t, json_object_get(root, "model"), err)) != QUIPU_OK) goto fail;
    if ((st = add_norm(t, json_object_get(root, "normalizer"), err)) != QUIPU_OK) goto fail;
    if ((st = add_pretok(t, json_object_get(root, "pre_tokenizer"), err)) != QUIPU_OK) goto fail;
    if ((st = add_post(t, json_object_get(root, "post_processor"), err)) != QUIPU_OK) goto fail;
    json_t *tr = json_object_get(root, "truncation");
    if (json_is_object(tr)) {
        json_t *ml = json_object_get(tr, "max_length");
        if (json_is_integer(ml) && json_integer_value(ml) > 0) t->trunc_max = (size_t)json_integer_value(ml);
        const char *dir = jstr(tr, "direction");
        t->trunc_left = dir && !strcmp(dir, "Left");
    }
    /* a Metaspace or ByteLevel pre-tokenizer tells the kind */
    t->kind = t->model == TOK_MODEL_BPE ? QUIPU_TOK_SPM : t->kind;
    for (size_t i = 0; i < t->n_pretoks; i++)
        if (t->pretoks[i].kind == TOK_PRE_BYTELEVEL && t->model == TOK_MODEL_BPE) t->kind = QUIPU_TOK_BPE_BYTELEVEL;
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *c = json_object_get(a, "content");
        if (!json_is_string(c)) FAIL(QUIPU_ERR_FORMAT, "%s: added token %zu has no content", path, i);
        int special = jbool(a, "special", 0);
        if ((st = tok_add_token(t, json_string_value(c), json_string_length(c), jbool(a, "single_word", 0),
                                jbool(a, "lstrip", 0), jbool(a, "rstrip", 0), jbool(a, "normalized", !special),
                                special, err)) != QUIPU_OK)
            goto fail;
    }
    if ((st = tok_added_finish(t, err)) != QUIPU_OK) goto fail;
    if ((st = check_post_ids(t, err)) != QUIPU_OK) goto fail;
    if ((st = read_config(t, path, err)) != QUIPU_OK) goto fail;
    info_from_posts(t);
    json_decref(root);
    return QUIPU_OK;
fail:
    json_decref(root);
    return st;
}
