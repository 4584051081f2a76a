/* config.c — experiment config: libyaml events -> a small node tree that keeps every node's
 * file:line:column (or the --set that made it), --set overrides applied to that tree, then one
 * validation pass that fills quipu_config and collects every problem instead of stopping at the
 * first. Also the canonical JSON text of the effective config and its SHA-256. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "backend.h"
#include "hfcache.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ================================================================== error list */

void quipu_error_list_init(quipu_error_list *l) { memset(l, 0, sizeof *l); }

static int errlist_push(quipu_error_list *l, char *msg) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **m = realloc(l->msgs, (size_t)cap * sizeof *m);
        if (!m) return -1;
        l->msgs = m;
        l->cap = cap;
    }
    l->msgs[l->n++] = msg;
    return 0;
}

void quipu_error_list_add(quipu_error_list *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (msg = malloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!msg || errlist_push(l, msg)) free(msg);
}

void quipu_error_list_print(const quipu_error_list *l, FILE *f) {
    for (int i = 0; i < l->n; i++) fprintf(f, "%s\n", l->msgs[i]);
}

void quipu_error_list_free(quipu_error_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) free(l->msgs[i]);
    free(l->msgs);
    memset(l, 0, sizeof *l);
}

/* ================================================================== SHA-256 (FIPS 180-4) */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void quipu_config_sha256(const void *data, size_t n, uint8_t digest[32]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = n;
    for (; left >= 64; left -= 64, p += 64) sha256_block(h, p);
    uint8_t tail[128] = {0};
    if (left) memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tn = left + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) tail[tn - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_block(h, tail);
    if (tn == 128) sha256_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ================================================================== small strings */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }



/* ================================================================== names */

/* The loaders' names (src/data/load.c) and the metrics' names (src/metrics.c) at the time of
 * writing; callers pass the live lists (quipu_benchmark_names()) through quipu_config_options. */
const char *const quipu_config_builtin_benchmarks[] = {
    "crows_pairs_en", "crows_pairs_fr", "crows_pairs_en_revised", "bbq",   "bbq_full",        "mbbq_en",         "mbbq_es", "mbbq_control_en",
    "mbbq_control_es", "esbbq",         "cabbq",                  "sesgo", "stereoset_intra", "stereoset_inter", "kobbq",   NULL};
const char *const quipu_config_builtin_metrics[] = {
    "pct_stereotype", "pct_stereotype_stereo", "pct_stereotype_antistereo", "pct_neutral", "likelihood_diff",
    "acc",            "acc_ambig",             "acc_disambig",              "s_dis",       "s_amb",
    "bias_score_ambig", "bias_score_disambig", "sesgo_bias_ambig",          "sesgo_bias_disambig", "ft_minus_fo_ambig",
    "ft_minus_fo_disambig", "ss",              "lms",                       "icat",        NULL};

static const char *const backend_names[] = {"cpu", "cuda", "hip", NULL};
static const char *const dtype_names[] = {"auto", "f32", "f16", "bf16", NULL};
static const char *const format_names[] = {"builtin", "pairs", "mc", NULL};
static const char *const bad_row_names[] = {"fail", "skip", NULL};
static const char *const template_names[] = {"default", "lm-eval", NULL};
static const char *const sample_names[] = {"first", "spread", "random", NULL};
static const char *const norm_names[] = {"raw", "per_token", "per_byte", NULL};
static const char *const sharding_names[] = {"length_balanced", "round_robin", NULL};

const char *quipu_cfg_backend_name(quipu_cfg_backend b) { return (unsigned)b < 3 ? backend_names[b] : "?"; }
const char *quipu_cfg_dtype_name(quipu_cfg_dtype d) { return (unsigned)d < 4 ? dtype_names[d] : "?"; }
const char *quipu_cfg_format_name(quipu_cfg_format f) { return (unsigned)f < 3 ? format_names[f] : "?"; }
const char *quipu_cfg_bad_row_name(quipu_cfg_bad_row b) { return (unsigned)b < 2 ? bad_row_names[b] : "?"; }
const char *quipu_cfg_template_name(quipu_cfg_template t) { return (unsigned)t < 2 ? template_names[t] : "?"; }
const char *quipu_cfg_sample_name(quipu_cfg_sample s) { return (unsigned)s < 3 ? sample_names[s] : "?"; }
const char *quipu_cfg_norm_name(quipu_cfg_norm n) { return (unsigned)n < 3 ? norm_names[n] : "?"; }
const char *quipu_cfg_sharding_name(quipu_cfg_sharding s) { return (unsigned)s < 2 ? sharding_names[s] : "?"; }

/* The schema's keys, in the order docs/config.md lists them. */
static const char *const top_keys[] = {"name",    "output",  "seed",         "backend", "dtype",  "datasets_dir",      "models",
                                       "benchmarks", "metrics", "scoring", "distribution", "resume", "progress_interval", "item_text", NULL};
static const char *const model_keys[] = {"path", "name", "backend", "dtype", "max_length", NULL};
static const char *const bench_keys[] = {"name",     "label", "path",   "format",     "categories", "languages", "cultures",
                                         "limit",    "sample", "on_bad_row", "template", "prompt",     "delimiter", NULL};
static const char *const metrics_keys[] = {"include", "normalization", "bootstrap", "confidence", NULL};
static const char *const scoring_keys[] = {"batch_tokens", "threads", "prefix_sharing", NULL};
static const char *const distribution_keys[] = {"sharding", NULL};
static const char *const prompt_fields[] = {"context", "question", NULL};

/* ================================================================== "did you mean" */

/* Optimal string alignment distance (Levenshtein + adjacent transpositions), case-insensitive. */
static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 1000;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int cost = ca != cb;
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == cb &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

static size_t common_prefix(const char *a, const char *b) {
    size_t i = 0;
    while (a[i] && b[i] && tolower((unsigned char)a[i]) == tolower((unsigned char)b[i])) i++;
    return i;
}

/* 1 if one of s's '_'/'-' separated words (3+ letters) equals w, case-insensitive. */
static int has_word(const char *s, const char *w) {
    size_t wl = strlen(w);
    if (wl < 3) return 0;
    const char *p = s;
    while (*p) {
        size_t k = strcspn(p, "_-");
        if (k == wl && strncasecmp(p, w, wl) == 0) return 1;
        p += k;
        if (*p) p++;
    }
    return 0;
}

/* The closest candidate: within edit distance max(1, len/3); else sharing a 4+ letter prefix;
 * else one names a word of the other ("tokens" -> "batch_tokens"). NULL when none is close. */
static const char *suggest(const char *word, const char *const *cands) {
    const char *best = NULL;
    long best_score = 0;
    size_t wl = strlen(word);
    int thresh = wl / 3 > 1 ? (int)(wl / 3) : 1;
    for (int i = 0; cands && cands[i]; i++) {
        const char *c = cands[i];
        long score;
        int d = edit_distance(word, c);
        size_t cp = common_prefix(word, c);
        if (d <= thresh)
            score = 1000 - d;
        else if (cp >= 4)
            score = 500 + (long)cp;
        else if (has_word(c, word) || has_word(word, c))
            score = 100;
        else
            continue;
        if (!best || score > best_score) {
            best = c;
            best_score = score;
        }
    }
    return best;
}

static void join_names(sbuf *b, const char *const *names, const char *sep) {
    for (int i = 0; names[i]; i++) {
        if (i) sb_puts(b, sep);
        sb_puts(b, names[i]);
    }
}

/* ================================================================== the node tree */

enum { CN_SCALAR, CN_SEQ, CN_MAP };

typedef struct cnode {
    int kind;
    char *text;   /* scalar value */
    int plain;    /* plain (unquoted, untagged) scalar: may read as a number, bool or null */
    int line, col; /* 1-based, file nodes only */
    int set;      /* -1: from the file; else the index of the --set that made it */
    struct cnode **kid; /* seq: items; map: key, value, key, value, ... */
    int n, cap;
} cnode;

static cnode *node_new(int kind, int set, int line, int col) {
    cnode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->set = set;
    n->line = line;
    n->col = col;
    return n;
}

static void node_free(cnode *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) node_free(n->kid[i]);
    free(n->kid);
    free(n->text);
    free(n);
}

static int node_push(cnode *p, cnode *c) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        cnode **k = realloc(p->kid, (size_t)cap * sizeof *k);
        if (!k) return -1;
        p->kid = k;
        p->cap = cap;
    }
    p->kid[p->n++] = c;
    return 0;
}

static cnode *scalar_new(const char *text, int plain, int set, int line, int col) {
    cnode *n = node_new(CN_SCALAR, set, line, col);
    if (!n) return NULL;
    n->text = strdup(text);
    if (!n->text) {
        free(n);
        return NULL;
    }
    n->plain = plain;
    return n;
}

static cnode *node_copy(const cnode *s, long *budget) {
    if (--*budget < 0) return NULL;
    cnode *n = node_new(s->kind, s->set, s->line, s->col);
    if (!n) return NULL;
    n->plain = s->plain;
    if (s->text && !(n->text = strdup(s->text))) goto fail;
    for (int i = 0; i < s->n; i++) {
        cnode *c = node_copy(s->kid[i], budget);
        if (!c || node_push(n, c)) {
            node_free(c);
            goto fail;
        }
    }
    return n;
fail:
    node_free(n);
    return NULL;
}

/* map lookup: the value for key (and its key node), or NULL */
static cnode *map_get(const cnode *m, const char *key, cnode **keynode) {
    if (!m || m->kind != CN_MAP) return NULL;
    for (int i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->kid[i]->text, key) == 0) {
            if (keynode) *keynode = m->kid[i];
            return m->kid[i + 1];
        }
    return NULL;
}

/* ================================================================== the loader state */

typedef struct errent {
    int kind; /* 0: no location, 1: file line:col, 2: --set */
    int line, col, set, seq;
    char *msg; /* with its location prefix */
} errent;

typedef struct loader {
    const char *file;
    char **set_keys; /* the KEY part of each --set */
    int n_sets;
    errent *errs;
    int n_errs, cap_errs;
    int oom, yaml_failed, io_failed;
    const char *const *known_bench;
    const char *const *known_metrics;
    int skip_paths;
    /* parser state */
    struct anchor { char *name; cnode *node; } *anchors;
    int n_anchors, cap_anchors;
    cnode **junk; /* nodes dropped while parsing (duplicate keys) that anchors may still name */
    int n_junk, cap_junk;
    long node_budget;
} loader;

static void add_err(loader *L, int kind, int line, int col, int set, const char *fmt, va_list ap) {
    sbuf b = {0};
    char head[4200];
    if (kind == 1)
        snprintf(head, sizeof head, "%s:%d:%d: ", L->file, line, col);
    else if (kind == 2)
        snprintf(head, sizeof head, "--set %s: ", set >= 0 && set < L->n_sets ? L->set_keys[set] : "?");
    else
        snprintf(head, sizeof head, "%s: ", L->file);
    sb_puts(&b, head);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sb_puts(&b, msg);
    if (b.oom) {
        free(b.p);
        L->oom = 1;
        return;
    }
    if (L->n_errs == L->cap_errs) {
        int cap = L->cap_errs ? 2 * L->cap_errs : 16;
        errent *e = realloc(L->errs, (size_t)cap * sizeof *e);
        if (!e) {
            free(b.p);
            L->oom = 1;
            return;
        }
        L->errs = e;
        L->cap_errs = cap;
    }
    L->errs[L->n_errs] = (errent){kind, line, col, set, L->n_errs, b.p};
    L->n_errs++;
}

static void err_plain(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_plain(loader *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_err(L, 0, 0, 0, -1, fmt, ap);
    va_end(ap);
}

static void err_line(loader *L, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void err_line(loader *L, int line, int col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_err(L, 1, line, col, -1, fmt, ap);
    va_end(ap);
}

static void err_set(loader *L, int set, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_set(loader *L, int set, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_err(L, 2, 0, 0, set, fmt, ap);
    va_end(ap);
}

/* An error located at node n. */
static void err_node(loader *L, const cnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_node(loader *L, const cnode *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (n && n->set >= 0)
        add_err(L, 2, 0, 0, n->set, fmt, ap);
    else
        add_err(L, 1, n ? n->line : 1, n ? n->col : 1, -1, fmt, ap);
    va_end(ap);
}

/* An error about the value at key path `kp`, located at node n. "--set KP: ..." does not repeat
 * KP; a file location always names it ("f.yaml:3:7: scoring.threads: ..."). */
static void err_key(loader *L, const cnode *n, const char *kp, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void err_key(loader *L, const cnode *n, const char *kp, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->set >= 0 && n->set < L->n_sets && strcmp(L->set_keys[n->set], kp) == 0)
        err_node(L, n, "%s", msg);
    else
        err_node(L, n, "%s: %s", kp, msg);
}

static int errent_cmp(const void *a, const void *b) {
    const errent *x = a, *y = b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    if (x->kind == 1) {
        if (x->line != y->line) return x->line < y->line ? -1 : 1;
        if (x->col != y->col) return x->col < y->col ? -1 : 1;
    } else if (x->kind == 2 && x->set != y->set) {
        return x->set < y->set ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ================================================================== YAML -> tree */

static void yaml_problem(loader *L, const yaml_parser_t *p, const unsigned char *buf, size_t len, int set) {
    const char *problem = p->problem ? p->problem : "malformed YAML";
    int line, col;
    char extra[512] = "";
    if (p->error == YAML_READER_ERROR) {
        /* reader errors carry a byte offset, not a mark */
        line = 1;
        col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (buf[i] == '\n') {
                line++;
                col = 1;
            } else if ((buf[i] & 0xC0) != 0x80) {
                col++;
            }
        }
        if (p->problem_value != -1) snprintf(extra, sizeof extra, " (byte 0x%02x)", (unsigned)p->problem_value & 0xFF);
    } else {
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
        if (p->context)
            snprintf(extra, sizeof extra, " (%s at line %d, column %d)", p->context, (int)p->context_mark.line + 1,
                     (int)p->context_mark.column + 1);
        size_t at = p->problem_mark.index;
        if (at < len && buf[at] == '\t') strncat(extra, "; tabs cannot indent YAML, use spaces", sizeof extra - strlen(extra) - 1);
    }
    if (set < 0) L->yaml_failed = 1; /* a malformed --set value is bad input, not a malformed file */
    if (set >= 0)
        err_set(L, set, "invalid YAML value '%.*s': %s", (int)(len > 80 ? 80 : len), (const char *)buf, problem);
    else
        err_line(L, line, col, "%s%s", problem, extra);
}

typedef struct yreader {
    loader *L;
    yaml_parser_t p;
    const unsigned char *buf;
    size_t len;
    int set;
    int failed;
} yreader;

static int next_event(yreader *y, yaml_event_t *ev) {
    if (!yaml_parser_parse(&y->p, ev)) {
        yaml_problem(y->L, &y->p, y->buf, y->len, y->set);
        y->failed = 1;
        return -1;
    }
    return 0;
}

static void remember_anchor(yreader *y, const yaml_char_t *anchor, cnode *n) {
    loader *L = y->L;
    if (!anchor) return;
    if (L->n_anchors == L->cap_anchors) {
        int cap = L->cap_anchors ? 2 * L->cap_anchors : 8;
        struct anchor *a = realloc(L->anchors, (size_t)cap * sizeof *a);
        if (!a) {
            L->oom = 1;
            return;
        }
        L->anchors = a;
        L->cap_anchors = cap;
    }
    char *name = strdup((const char *)anchor);
    if (!name) {
        L->oom = 1;
        return;
    }
    L->anchors[L->n_anchors++] = (struct anchor){name, n};
}

static void junk_node(loader *L, cnode *n) {
    if (!n) return;
    if (L->n_junk == L->cap_junk) {
        int cap = L->cap_junk ? 2 * L->cap_junk : 8;
        cnode **j = realloc(L->junk, (size_t)cap * sizeof *j);
        if (!j) {
            node_free(n); /* no anchor can outlive this parse anyway; only aliases after it would dangle */
            L->oom = 1;
            return;
        }
        L->junk = j;
        L->cap_junk = cap;
    }
    L->junk[L->n_junk++] = n;
}

static void node_pos(yreader *y, cnode *n, const yaml_event_t *ev) {
    if (y->set >= 0) return;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
}

/* Builds the node that starts with event ev (consumed, deleted here) and reads up to its end. */
static cnode *build_node(yreader *y, yaml_event_t *ev, int depth) {
    loader *L = y->L;
    cnode *n = NULL;
    if (depth > 64) {
        if (y->set >= 0)
            err_set(L, y->set, "nesting deeper than 64 levels");
        else
            err_line(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1, "nesting deeper than 64 levels");
        if (y->set < 0) L->yaml_failed = 1;
        y->failed = 1;
        yaml_event_delete(ev);
        return NULL;
    }
    if (--L->node_budget < 0) {
        err_plain(L, "more than 1000000 YAML nodes (an alias expanding too much?)");
        if (y->set < 0) L->yaml_failed = 1;
        y->failed = 1;
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit;
        if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) == 0) plain = 0;
        n = node_new(CN_SCALAR, y->set, 0, 0);
        if (n) n->text = malloc(ev->data.scalar.length + 1);
        if (!n || !n->text) {
            node_free(n);
            L->oom = 1;
            y->failed = 1;
            break;
        }
        memcpy(n->text, ev->data.scalar.value, ev->data.scalar.length);
        n->text[ev->data.scalar.length] = '\0';
        n->plain = plain;
        node_pos(y, n, ev);
        remember_anchor(y, ev->data.scalar.anchor, n);
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (int i = L->n_anchors - 1; i >= 0; i--)
            if (strcmp(L->anchors[i].name, name) == 0) {
                n = node_copy(L->anchors[i].node, &L->node_budget);
                if (!n) {
                    err_plain(L, "more than 1000000 YAML nodes (an alias expanding too much?)");
                    if (y->set < 0) L->yaml_failed = 1;
                    y->failed = 1;
                }
                break;
            }
        if (!n && !y->failed) {
            if (y->set >= 0)
                err_set(L, y->set, "unknown alias '*%s'", name);
            else
                err_line(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1, "unknown alias '*%s'", name);
            if (y->set < 0) L->yaml_failed = 1;
            y->failed = 1;
        }
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        n = node_new(is_map ? CN_MAP : CN_SEQ, y->set, 0, 0);
        if (!n) {
            L->oom = 1;
            y->failed = 1;
            break;
        }
        node_pos(y, n, ev);
        remember_anchor(y, is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor, n);
        for (;;) {
            yaml_event_t e;
            if (next_event(y, &e)) break;
            if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            cnode *c = build_node(y, &e, depth + 1);
            if (!c) break;
            if (!is_map) {
                if (node_push(n, c)) {
                    node_free(c);
                    L->oom = y->failed = 1;
                    break;
                }
                continue;
            }
            /* a key, then its value */
            yaml_event_t ve;
            if (next_event(y, &ve)) {
                node_free(c);
                break;
            }
            cnode *v = build_node(y, &ve, depth + 1);
            if (!v) {
                node_free(c);
                break;
            }
            if (c->kind != CN_SCALAR) {
                err_node(L, c, "a key must be a plain word, not a %s", c->kind == CN_MAP ? "mapping" : "list");
                junk_node(L, c);
                junk_node(L, v);
                continue;
            }
            cnode *first = NULL;
            if (map_get(n, c->text, &first)) {
                if (y->set >= 0)
                    err_node(L, c, "duplicate key '%s'", c->text);
                else
                    err_node(L, c, "duplicate key '%s' (first at line %d, column %d)", c->text, first->line, first->col);
                junk_node(L, c);
                junk_node(L, v);
                continue;
            }
            if (node_push(n, c) || node_push(n, v)) {
                if (n->n && n->kid[n->n - 1] == c) n->n--;
                node_free(c);
                node_free(v);
                L->oom = y->failed = 1;
                break;
            }
        }
        break;
    }
    default:
        err_plain(L, "unexpected YAML event %d", (int)ev->type);
        y->failed = 1;
        break;
    }
    yaml_event_delete(ev);
    if (y->failed) {
        node_free(n);
        return NULL;
    }
    return n;
}

static void anchors_reset(loader *L) {
    for (int i = 0; i < L->n_anchors; i++) free(L->anchors[i].name);
    free(L->anchors);
    L->anchors = NULL;
    L->n_anchors = L->cap_anchors = 0;
    for (int i = 0; i < L->n_junk; i++) node_free(L->junk[i]);
    free(L->junk);
    L->junk = NULL;
    L->n_junk = L->cap_junk = 0;
}

/* Parses one YAML document. *root = NULL for an empty stream. Returns -1 on malformed input
 * (reported). */
static int yaml_to_tree(loader *L, const unsigned char *buf, size_t len, int set, cnode **root) {
    yreader y = {.L = L, .buf = buf, .len = len, .set = set};
    *root = NULL;
    if (!yaml_parser_initialize(&y.p)) {
        L->oom = 1;
        return -1;
    }
    yaml_parser_set_input_string(&y.p, buf, len); /* encoding from the BOM, else UTF-8 */
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event(&y, &ev)) break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                if (set >= 0)
                    err_set(L, set, "a value must be one YAML document");
                else
                    err_line(L, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                             "a config holds one YAML document; this is a second one ('---')");
                y.failed = 1;
                L->yaml_failed = 1;
                yaml_event_delete(&ev);
                break;
            }
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        cnode *n = build_node(&y, &ev, 0);
        if (!n) break;
        *root = n;
    }
    yaml_parser_delete(&y.p);
    anchors_reset(L);
    if (y.failed) {
        node_free(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

/* ================================================================== shorthands */

/* `- bbq` in benchmarks means `- {name: bbq}`; `- model.gguf` in models means `- {path: ...}`;
 * `metrics: all` / `metrics: [..]` mean `metrics: {include: ...}`. Rewritten before and after the
 * overrides so that `--set benchmarks.0.limit=50` and `--set metrics=all` both work. */
static cnode *wrap_in_map(cnode *v, const char *key) {
    cnode *m = node_new(CN_MAP, v->set, v->line, v->col);
    cnode *k = scalar_new(key, 1, v->set, v->line, v->col);
    if (!m || !k || node_push(m, k) || node_push(m, v)) {
        if (m && m->n == 1) m->n = 0;
        node_free(m);
        node_free(k);
        return NULL;
    }
    return m;
}

static void normalize(loader *L, cnode *root) {
    if (!root || root->kind != CN_MAP) return;
    static const char *const lists[][2] = {{"benchmarks", "name"}, {"models", "path"}};
    for (int s = 0; s < 2; s++) {
        cnode *seq = map_get(root, lists[s][0], NULL);
        if (!seq || seq->kind != CN_SEQ) continue;
        for (int i = 0; i < seq->n; i++) {
            cnode *it = seq->kid[i];
            if (it->kind != CN_SCALAR || (it->plain && (!*it->text || !strcmp(it->text, "~") || !strcasecmp(it->text, "null"))))
                continue;
            cnode *m = wrap_in_map(it, lists[s][1]);
            if (!m) {
                L->oom = 1;
                return;
            }
            seq->kid[i] = m;
        }
    }
    for (int i = 0; i + 1 < root->n; i += 2) {
        if (strcmp(root->kid[i]->text, "metrics") != 0) continue;
        cnode *v = root->kid[i + 1];
        if (v->kind == CN_MAP) break;
        cnode *m = wrap_in_map(v, "include");
        if (!m) {
            L->oom = 1;
            return;
        }
        root->kid[i + 1] = m;
        break;
    }
}

/* ================================================================== --set overrides */

static int is_index(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static const char *kind_name(const cnode *n) {
    if (n->kind == CN_MAP) return "a mapping";
    if (n->kind == CN_SEQ) return "a list";
    return "a single value";
}

/* Applies override number idx ("a.b.0.c=value") to *root. */
static void apply_override(loader *L, cnode **root, int idx, const char *text) {
    const char *eq = strchr(text, '=');
    if (!eq) {
        err_set(L, idx, "expected KEY=VALUE");
        return;
    }
    const char *key = L->set_keys[idx];
    if (strspn(text, " \t") == (size_t)(eq - text)) {
        err_set(L, idx, "empty key before '='");
        return;
    }
    /* split the key */
    char *kcopy = strdup(key);
    char *segs[64];
    int ns = 0;
    if (!kcopy) {
        L->oom = 1;
        return;
    }
    for (char *p = kcopy;;) {
        char *dot = strchr(p, '.');
        if (dot) *dot = '\0';
        if (!*p || ns == 64) {
            err_set(L, idx, ns == 64 ? "key has more than 64 parts" : "empty part in the key (two dots, or a dot at an end)");
            free(kcopy);
            return;
        }
        segs[ns++] = p;
        if (!dot) break;
        p = dot + 1;
    }
    /* the value: YAML when it starts like a flow collection or a quoted string, else the text as
     * written (so a path with ": " or " #" stays a path) */
    const char *val = eq + 1;
    while (*val == ' ' || *val == '\t') val++;
    size_t vl = strlen(val);
    while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t')) vl--;
    cnode *v = NULL;
    if (vl && strchr("[{\"'", val[0])) {
        if (yaml_to_tree(L, (const unsigned char *)val, vl, idx, &v)) {
            free(kcopy);
            return;
        }
    } else {
        char *t = strndup(val, vl);
        v = t ? scalar_new(t, 1, idx, 0, 0) : NULL;
        free(t);
    }
    if (!v) {
        if (!L->oom) v = scalar_new("", 1, idx, 0, 0);
        if (!v) {
            L->oom = 1;
            free(kcopy);
            return;
        }
    }

    if (!*root) *root = node_new(CN_MAP, idx, 0, 0);
    cnode *cur = *root;
    if (!cur || cur->kind != CN_MAP) { /* the file's own problem is reported elsewhere */
        if (!cur) L->oom = 1;
        node_free(v);
        free(kcopy);
        return;
    }
    sbuf walked = {0};
    for (int s = 0; s < ns; s++) {
        int last = s == ns - 1;
        const char *seg = segs[s];
        cnode **slot = NULL;
        if (cur->kind == CN_MAP) {
            for (int i = 0; i + 1 < cur->n; i += 2)
                if (strcmp(cur->kid[i]->text, seg) == 0) slot = &cur->kid[i + 1];
            if (!slot) {
                cnode *k = scalar_new(seg, 1, idx, 0, 0);
                cnode *c = last ? v : node_new(is_index(segs[s + 1]) ? CN_SEQ : CN_MAP, idx, 0, 0);
                if (!k || !c || node_push(cur, k) || node_push(cur, c)) {
                    if (cur->n && cur->kid[cur->n - 1] == k) cur->n--;
                    node_free(k);
                    if (c != v) node_free(c);
                    L->oom = 1;
                    goto out;
                }
                if (last) {
                    v = NULL;
                    goto out;
                }
                cur = c;
                goto next;
            }
        } else if (cur->kind == CN_SEQ) {
            if (!is_index(seg)) {
                err_set(L, idx, "'%s' is a list: '%s' is not an index (0, 1, ...)", walked.p ? walked.p : "", seg);
                goto out;
            }
            errno = 0;
            long k = strtol(seg, NULL, 10);
            if (errno || k > cur->n) {
                err_set(L, idx, "index %s is past the end of '%s' (%d item%s; use %d to add one)", seg, walked.p ? walked.p : "",
                        cur->n, cur->n == 1 ? "" : "s", cur->n);
                goto out;
            }
            if (k == cur->n) {
                cnode *c = last ? v : node_new(is_index(segs[s + 1]) ? CN_SEQ : CN_MAP, idx, 0, 0);
                if (!c || node_push(cur, c)) {
                    if (c != v) node_free(c);
                    L->oom = 1;
                    goto out;
                }
                if (last) {
                    v = NULL;
                    goto out;
                }
                cur = c;
                goto next;
            }
            slot = &cur->kid[k];
        } else {
            err_set(L, idx, "'%s' is %s, not a mapping or a list; cannot set '%s' inside it", walked.p ? walked.p : "", kind_name(cur),
                    seg);
            goto out;
        }
        if (last) {
            node_free(*slot);
            *slot = v;
            v = NULL;
            goto out;
        }
        cur = *slot;
    next:
        if (walked.n) sb_putc(&walked, '.');
        sb_puts(&walked, seg);
        /* a shorthand scalar on the way (benchmarks.0 = "bbq") becomes its mapping form */
        normalize(L, *root);
        if (walked.oom) {
            L->oom = 1;
            goto out;
        }
        if (s == 1 && (strcmp(segs[0], "benchmarks") == 0 || strcmp(segs[0], "models") == 0)) {
            cnode *seq = map_get(*root, segs[0], NULL);
            long k = strtol(segs[1], NULL, 10);
            if (seq && seq->kind == CN_SEQ && k < seq->n) cur = seq->kid[k];
        } else if (s == 0 && strcmp(segs[0], "metrics") == 0) {
            cur = map_get(*root, "metrics", NULL);
        }
    }
out:
    free(walked.p);
    node_free(v);
    free(kcopy);
}

/* ================================================================== scalar reading */

static int is_null(const cnode *n) {
    return n->kind == CN_SCALAR && n->plain && (!*n->text || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
                                                !strcmp(n->text, "Null") || !strcmp(n->text, "NULL"));
}

/* "'abc'", "the string \"42\"", "a list", "a mapping", "null" */
static void describe(const cnode *n, char *buf, size_t len) {
    if (n->kind != CN_SCALAR) {
        snprintf(buf, len, "%s", kind_name(n));
        return;
    }
    if (is_null(n)) {
        snprintf(buf, len, "%s", *n->text ? "null" : "nothing");
        return;
    }
    char shown[72];
    size_t tl = strlen(n->text);
    if (tl > 60) {
        size_t cut = 57;
        while (cut > 0 && ((unsigned char)n->text[cut] & 0xC0) == 0x80) cut--; /* whole UTF-8 characters */
        snprintf(shown, sizeof shown, "%.*s...", (int)cut, n->text);
    } else {
        snprintf(shown, sizeof shown, "%s", n->text);
    }
    for (char *p = shown; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    if (n->plain)
        snprintf(buf, len, "'%s'", shown);
    else
        snprintf(buf, len, "the string \"%s\"", shown);
}

/* validation context: the loader and the key path of the node being read */
typedef struct vctx {
    loader *L;
    char kp[512];
} vctx;

static void kp_join(char *out, size_t len, const char *base, const char *key) {
    if (base && *base)
        snprintf(out, len, "%s.%s", base, key);
    else
        snprintf(out, len, "%s", key);
}

static void type_err(loader *L, const cnode *v, const char *kp, const char *expected) {
    char got[160];
    describe(v, got, sizeof got);
    int wants_plain = !strcmp(expected, "an integer") || !strcmp(expected, "a number") || !strcmp(expected, "true or false");
    if (v->kind == CN_SCALAR && !v->plain && !is_null(v) && wants_plain)
        err_key(L, v, kp, "expected %s, got %s (remove the quotes)", expected, got);
    else if (is_null(v))
        err_key(L, v, kp, "expected %s, got %s (leave the key out to use the default)", expected, got);
    else
        err_key(L, v, kp, "expected %s, got %s", expected, got);
}

static int in_list(const char *s, const char *const *list);

static void unknown_keys(loader *L, const cnode *m, const char *kp, const char *const *allowed) {
    for (int i = 0; i + 1 < m->n; i += 2) {
        const cnode *k = m->kid[i];
        int ok = 0;
        for (int j = 0; allowed[j]; j++)
            if (strcmp(allowed[j], k->text) == 0) ok = 1;
        if (ok) continue;
        const char *s = suggest(k->text, allowed);
        /* words from other tools' configs */
        static const char *const hints[][3] = {{"benchmarks", "subset", "categories"}, {"benchmarks", "language", "languages"},
                                               {"benchmarks", "category", "categories"}, {"", "model", "models"},
                                               {"", "tasks", "benchmarks"}, {"", "output_dir", "output"}, {"", "output_path", "output"}};
        if (!s)
            for (size_t j = 0; j < sizeof hints / sizeof hints[0]; j++)
                if (!strcmp(k->text, hints[j][1]) && !strncmp(kp, hints[j][0], strlen(hints[j][0])) && in_list(hints[j][2], allowed))
                    s = hints[j][2];
        char qual[128] = "";
        if (!s && !*kp) {
            /* a section's key written at the top level: batch_tokens -> scoring.batch_tokens */
            static const struct { const char *sec; const char *const *keys; } secs[] = {
                {"scoring", scoring_keys}, {"metrics", metrics_keys}, {"distribution", distribution_keys}};
            for (int j = 0; j < 3 && !*qual; j++) {
                const char *t = suggest(k->text, secs[j].keys);
                if (t) snprintf(qual, sizeof qual, "%s.%s", secs[j].sec, t);
            }
            if (*qual) s = qual;
        }
        if (s) {
            err_node(L, k, "unknown key '%s' (did you mean '%s'?)", k->text, s);
        } else {
            sbuf b = {0};
            join_names(&b, allowed, ", ");
            if (*kp)
                err_node(L, k, "unknown key '%s' in %s (expected one of: %s)", k->text, kp, b.p ? b.p : "");
            else
                err_node(L, k, "unknown key '%s' (expected one of: %s)", k->text, b.p ? b.p : "");
            free(b.p);
        }
    }
}

/* Each get_* returns 1 when the key is present and valid (*out set), 0 when absent, -1 when
 * present but wrong (reported; *out untouched). */

static int parse_int64(const char *s, int64_t *out, int *overflow) {
    const char *p = s;
    *overflow = 0;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) *overflow = 1;
    *out = v;
    return 0;
}

static int get_int(vctx *c, const cnode *m, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    kp_join(kp, sizeof kp, c->kp, key);
    int64_t x;
    int ovf;
    if (v->kind != CN_SCALAR || !v->plain || parse_int64(v->text, &x, &ovf)) {
        type_err(c->L, v, kp, "an integer");
        return -1;
    }
    if (ovf || x < lo || x > hi) {
        if (hi == INT64_MAX)
            err_key(c->L, v, kp, "expected an integer >= %lld, got %s", (long long)lo, v->text);
        else
            err_key(c->L, v, kp, "expected an integer from %lld to %lld, got %s", (long long)lo, (long long)hi, v->text);
        return -1;
    }
    *out = x;
    return 1;
}

/* numbers: decimal with optional fraction and exponent (no hex, inf or nan). lo_open/hi_open
 * make a bound exclusive. */
static int get_num(vctx *c, const cnode *m, const char *key, double lo, int lo_open, double hi, int hi_open, double *out) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    kp_join(kp, sizeof kp, c->kp, key);
    int ok = v->kind == CN_SCALAR && v->plain && *v->text && strspn(v->text, "0123456789+-.eE") == strlen(v->text) &&
             strpbrk(v->text, "0123456789");
    double x = 0;
    if (ok) {
        char *end;
        errno = 0;
        x = strtod(v->text, &end);
        ok = *end == '\0' && isfinite(x);
    }
    if (!ok) {
        type_err(c->L, v, kp, "a number");
        return -1;
    }
    if ((lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi)) {
        if (lo_open && hi_open)
            err_key(c->L, v, kp, "expected a number strictly between %g and %g, got %s", lo, hi, v->text);
        else if (!lo_open && !hi_open)
            err_key(c->L, v, kp, "expected a number from %g to %g, got %s", lo, hi, v->text);
        else
            err_key(c->L, v, kp, "expected a number %s %g and %s %g, got %s", lo_open ? ">" : ">=", lo, hi_open ? "<" : "<=", hi, v->text);
        return -1;
    }
    *out = x;
    return 1;
}

static int get_bool(vctx *c, const cnode *m, const char *key, int *out) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    kp_join(kp, sizeof kp, c->kp, key);
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    if (v->kind == CN_SCALAR && v->plain)
        for (int i = 0; i < 3; i++) {
            if (!strcasecmp(v->text, yes[i])) {
                *out = 1;
                return 1;
            }
            if (!strcasecmp(v->text, no[i])) {
                *out = 0;
                return 1;
            }
        }
    type_err(c->L, v, kp, "true or false");
    return -1;
}

/* A string: any scalar but null. *out is a new heap string. */
static int get_str(vctx *c, const cnode *m, const char *key, int nonempty, char **out, const cnode **node) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    if (node) *node = v;
    char kp[600];
    kp_join(kp, sizeof kp, c->kp, key);
    if (v->kind != CN_SCALAR || is_null(v)) {
        type_err(c->L, v, kp, "a string");
        return -1;
    }
    if (nonempty && !*v->text) {
        err_key(c->L, v, kp, "must not be empty");
        return -1;
    }
    char *s = strdup(v->text);
    if (!s) {
        c->L->oom = 1;
        return -1;
    }
    *out = s;
    return 1;
}

static int get_enum(vctx *c, const cnode *m, const char *key, const char *const *names, int *out) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    kp_join(kp, sizeof kp, c->kp, key);
    sbuf b = {0};
    join_names(&b, names, "|");
    if (v->kind != CN_SCALAR || is_null(v)) {
        char exp[300];
        snprintf(exp, sizeof exp, "one of %s", b.p ? b.p : "");
        type_err(c->L, v, kp, exp);
        free(b.p);
        return -1;
    }
    for (int i = 0; names[i]; i++)
        if (!strcasecmp(v->text, names[i])) {
            free(b.p);
            *out = i;
            return 1;
        }
    char got[160];
    describe(v, got, sizeof got);
    const char *s = NULL;
    if (names == backend_names) { /* the vendor or the device, not the API */
        if (!strcasecmp(v->text, "gpu") || !strcasecmp(v->text, "nvidia")) s = "cuda";
        if (!strcasecmp(v->text, "rocm") || !strcasecmp(v->text, "amd")) s = "hip";
    }
    if (!s) s = suggest(v->text, names);
    if (s)
        err_key(c->L, v, kp, "expected one of %s, got %s (did you mean '%s'?)", b.p ? b.p : "", got, s);
    else
        err_key(c->L, v, kp, "expected one of %s, got %s", b.p ? b.p : "", got);
    free(b.p);
    return -1;
}

static void strlist_free(quipu_strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* A list of strings; a single scalar counts as a one-item list. The node list is returned in
 * *items (same order) for per-item checks. */
static int get_strlist(vctx *c, const cnode *m, const char *key, quipu_strlist *out, const cnode ***items) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    kp_join(kp, sizeof kp, c->kp, key);
    if (v->kind == CN_MAP || is_null(v)) {
        type_err(c->L, v, kp, "a list of strings");
        return -1;
    }
    int n = v->kind == CN_SEQ ? v->n : 1;
    quipu_strlist l = {0};
    const cnode **nodes = NULL;
    if (n > 0) {
        l.v = calloc((size_t)n, sizeof *l.v);
        nodes = calloc((size_t)n, sizeof *nodes);
        if (!l.v || !nodes) {
            free(l.v);
            free(nodes);
            c->L->oom = 1;
            return -1;
        }
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const cnode *it = v->kind == CN_SEQ ? v->kid[i] : v;
        if (it->kind != CN_SCALAR || is_null(it) || !*it->text) {
            char ikp[620];
            snprintf(ikp, sizeof ikp, "%s.%d", kp, i);
            if (it->kind == CN_SCALAR && !is_null(it))
                err_key(c->L, it, ikp, "must not be empty");
            else
                type_err(c->L, it, ikp, "a string");
            bad = 1;
            continue;
        }
        nodes[l.n] = it;
        if (!(l.v[l.n++] = strdup(it->text))) c->L->oom = bad = 1;
    }
    if (bad) {
        strlist_free(&l);
        free(nodes);
        return -1;
    }
    *out = l;
    if (items)
        *items = nodes;
    else
        free(nodes);
    return 1;
}

static int get_map(vctx *c, const cnode *m, const char *key, const cnode **out) {
    cnode *v = map_get(m, key, NULL);
    if (!v) return 0;
    if (v->kind != CN_MAP) {
        char kp[600];
        kp_join(kp, sizeof kp, c->kp, key);
        type_err(c->L, v, kp, "a mapping of keys");
        return -1;
    }
    *out = v;
    return 1;
}

static void missing(loader *L, const cnode *m, const char *kp, const char *key, const char *why) {
    if (*kp)
        err_node(L, m, "%s: missing required key '%s'%s", kp, key, why ? why : "");
    else
        err_node(L, m, "missing required key '%s'%s", key, why ? why : "");
}

static char *node_where(loader *L, const cnode *n) {
    char *s = n->set >= 0 ? quipu_asprintf("--set %s", L->set_keys[n->set]) : quipu_asprintf("%s:%d:%d", L->file, n->line, n->col);
    if (!s) L->oom = 1;
    return s;
}

/* ================================================================== paths */

static int append_env(sbuf *b, const char *name, size_t nl, const char *def, size_t dl, int colon, int has_def, char *why, size_t wl,
                      int depth);

static int expand_into(sbuf *b, const char *s, size_t n, char *why, size_t wl, int depth) {
    if (depth > 8) {
        snprintf(why, wl, "${...} nested too deeply");
        return -1;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] != '$') {
            size_t k = i;
            while (k < n && s[k] != '$') k++;
            sb_putn(b, s + i, k - i);
            i = k;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '$') {
            sb_putc(b, '$');
            i += 2;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '{') {
            size_t j = i + 2, name0 = j;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
            size_t nl = j - name0;
            if (!nl || isdigit((unsigned char)s[name0])) {
                snprintf(why, wl, "'${' must be followed by a variable name");
                return -1;
            }
            int colon = 0, has_def = 0;
            size_t d0 = j, d1 = j;
            if (j < n && s[j] == '}') {
                j++;
            } else if (j < n && (s[j] == '-' || (s[j] == ':' && j + 1 < n && s[j + 1] == '-'))) {
                colon = s[j] == ':';
                j += colon ? 2 : 1;
                has_def = 1;
                d0 = j;
                int lvl = 1;
                while (j < n) {
                    if (s[j] == '$' && j + 1 < n && s[j + 1] == '{') {
                        lvl++;
                        j += 2;
                        continue;
                    }
                    if (s[j] == '}' && --lvl == 0) break;
                    j++;
                }
                if (j >= n) {
                    snprintf(why, wl, "unclosed '${%.*s'", (int)nl, s + name0);
                    return -1;
                }
                d1 = j;
                j++;
            } else {
                snprintf(why, wl, "unclosed or malformed '${%.*s' (expected ${VAR}, ${VAR:-default} or ${VAR-default})", (int)nl,
                         s + name0);
                return -1;
            }
            if (append_env(b, s + name0, nl, s + d0, d1 - d0, colon, has_def, why, wl, depth)) return -1;
            i = j;
            continue;
        }
        if (i + 1 < n && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '_')) {
            size_t j = i + 1;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
            if (append_env(b, s + i + 1, j - i - 1, NULL, 0, 0, 0, why, wl, depth)) return -1;
            i = j;
            continue;
        }
        sb_putc(b, '$'); /* a lone $ */
        i++;
    }
    return 0;
}

static int append_env(sbuf *b, const char *name, size_t nl, const char *def, size_t dl, int colon, int has_def, char *why, size_t wl,
                      int depth) {
    char var[256];
    if (nl >= sizeof var) {
        snprintf(why, wl, "variable name too long");
        return -1;
    }
    memcpy(var, name, nl);
    var[nl] = '\0';
    const char *val = getenv(var);
    if (val && (*val || !colon)) {
        sb_puts(b, val);
        return 0;
    }
    if (has_def) return expand_into(b, def, dl, why, wl, depth + 1);
    if (!val) {
        snprintf(why, wl, "environment variable %s is not set (write ${%s:-default} for a fallback)", var, var);
        return -1;
    }
    return 0;
}

char *quipu_config_expand(const char *in, char *why, size_t why_len) {
    sbuf b = {0};
    if (why_len) why[0] = '\0';
    if (expand_into(&b, in, strlen(in), why, why_len, 0)) {
        free(b.p);
        return NULL;
    }
    if (!b.p) sb_puts(&b, "");
    if (b.oom) {
        free(b.p);
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    if (b.p[0] == '~' && (b.p[1] == '\0' || b.p[1] == '/')) {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            snprintf(why, why_len, "'~' needs HOME to be set");
            free(b.p);
            return NULL;
        }
        char *s = quipu_asprintf("%s%s", home, b.p + 1);
        free(b.p);
        if (!s) snprintf(why, why_len, "out of memory");
        return s;
    }
    return b.p;
}

/* Reads a path-valued key: expanded; *raw_out (optional) keeps the text as written. */
static int get_path(vctx *c, const cnode *m, const char *key, char **out, const cnode **node) {
    char *raw = NULL;
    const cnode *v = NULL;
    int r = get_str(c, m, key, 1, &raw, &v);
    if (r <= 0) return r;
    if (node) *node = v;
    char why[512];
    char *x = quipu_config_expand(raw, why, sizeof why);
    if (!x) {
        char kp[600];
        kp_join(kp, sizeof kp, c->kp, key);
        err_key(c->L, v, kp, "%s", why);
        free(raw);
        return -1;
    }
    free(raw);
    *out = x;
    return 1;
}

static void check_exists(loader *L, const cnode *v, const char *kp, const char *path, int want_dir) {
    struct stat st;
    char from[600] = "";
    if (v->kind == CN_SCALAR && strcmp(v->text, path) != 0) snprintf(from, sizeof from, " (from '%s')", v->text);
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            err_key(L, v, kp, "'%s' does not exist%s", path, from);
        else
            err_key(L, v, kp, "cannot read '%s': %s%s", path, strerror(errno), from);
    } else if (want_dir && !S_ISDIR(st.st_mode)) {
        err_key(L, v, kp, "'%s' is not a folder%s", path, from);
    }
}

/* The output folder may not exist yet; its nearest existing ancestor must be a writable folder. */
static void check_output(loader *L, const cnode *at, const char *kp, const char *out) {
    struct stat st;
    if (stat(out, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            err_key(L, at, kp, "'%s' exists and is not a folder", out);
        else if (access(out, W_OK | X_OK) != 0)
            err_key(L, at, kp, "'%s' is not writable: %s", out, strerror(errno));
        return;
    }
    char *p = strdup(out);
    if (!p) {
        L->oom = 1;
        return;
    }
    for (;;) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
        char *slash = strrchr(p, '/');
        if (!slash) {
            strcpy(p, ".");
        } else if (slash == p) {
            p[1] = '\0';
        } else {
            *slash = '\0';
        }
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                err_key(L, at, kp, "cannot create '%s': '%s' is not a folder", out, p);
            else if (access(p, W_OK | X_OK) != 0)
                err_key(L, at, kp, "cannot create '%s': '%s' is not writable", out, p);
            break;
        }
        if (!strcmp(p, ".") || !strcmp(p, "/")) break;
    }
    free(p);
}

/* ================================================================== validation */

static int valid_name(const char *s) {
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

static void check_name(loader *L, const cnode *v, const char *kp, const char *name) {
    if (!valid_name(name))
        err_key(L, v, kp, "'%s' may only contain letters, digits, '.', '_' and '-' (it names files)", name);
}

int quipu_config_language_matches(const char *filter, const char *tag) {
    size_t fl = strlen(filter);
    return strncasecmp(filter, tag, fl) == 0 && (tag[fl] == '\0' || tag[fl] == '-');
}

static int valid_language(const char *s) {
    size_t k = 0;
    while (isalpha((unsigned char)s[k])) k++;
    if (k < 2 || k > 3) return 0;
    s += k;
    while (*s == '-') {
        s++;
        k = 0;
        while (isalnum((unsigned char)s[k])) k++;
        if (k < 1 || k > 8) return 0;
        s += k;
    }
    return *s == '\0';
}

/* "{context}" and "{question}"; "{{" and "}}" are literal braces. */
static void check_prompt(loader *L, const cnode *v, const char *kp, const char *p) {
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '{' && p[i + 1] == '{') {
            i++;
            continue;
        }
        if (p[i] == '}' && p[i + 1] == '}') {
            i++;
            continue;
        }
        if (p[i] == '}') {
            err_key(L, v, kp, "unmatched '}' (write '}}' for a literal brace)");
            return;
        }
        if (p[i] != '{') continue;
        size_t j = i + 1;
        while (p[j] && p[j] != '}' && p[j] != '{') j++;
        if (p[j] != '}') {
            err_key(L, v, kp, "unclosed '{' (write '{{' for a literal brace)");
            return;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(j - i - 1), p + i + 1);
        int ok = 0;
        for (int k = 0; prompt_fields[k]; k++)
            if (!strcmp(prompt_fields[k], name)) ok = 1;
        if (!ok) {
            const char *s = suggest(name, prompt_fields);
            if (s)
                err_key(L, v, kp, "unknown placeholder '{%s}' (did you mean '{%s}'?)", name, s);
            else
                err_key(L, v, kp, "unknown placeholder '{%s}' (known: {context}, {question})", name);
            return;
        }
        i = j;
    }
}

static int in_list(const char *s, const char *const *list) {
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static void validate_model(vctx *top, const cnode *m, int i, quipu_config *cfg, quipu_config_model *md) {
    loader *L = top->L;
    vctx c = {.L = L};
    snprintf(c.kp, sizeof c.kp, "models.%d", i);
    md->backend = cfg->backend;
    md->dtype = cfg->dtype;
    md->where = node_where(L, m);
    unknown_keys(L, m, c.kp, model_keys);
    const cnode *pn = NULL;
    int r = get_path(&c, m, "path", &md->path, &pn);
    if (r == 0) missing(L, m, c.kp, "path", " (a GGUF file or a checkpoint folder)");
    const cnode *nn = NULL;
    char kp[600];
    if (get_str(&c, m, "name", 1, &md->name, &nn) > 0) {
        kp_join(kp, sizeof kp, c.kp, "name");
        check_name(L, nn, kp, md->name);
    } else if (md->path) {
        /* default: the file (or folder) name without .gguf */
        char *p = strdup(md->path);
        if (!p) {
            L->oom = 1;
            return;
        }
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
        if (quipu_hf_is_spec(p) && strchr(p, '@')) *strchr(p, '@') = '\0'; /* hf:ORG/NAME@REV: NAME */
        char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        size_t bl = strlen(base);
        if (bl > 5 && !strcasecmp(base + bl - 5, ".gguf")) base[bl - 5] = '\0';
        md->name = strdup(base);
        free(p);
        if (!md->name) {
            L->oom = 1;
            return;
        }
        if (!valid_name(md->name)) {
            kp_join(kp, sizeof kp, c.kp, "name");
            err_key(L, m, kp, "the name taken from the file name, '%s', may only contain letters, digits, '.', '_' and '-'; set 'name'",
                    md->name);
        }
    }
    int e;
    if (get_enum(&c, m, "backend", backend_names, &e) > 0) md->backend = (quipu_cfg_backend)e;
    if (get_enum(&c, m, "dtype", dtype_names, &e) > 0) md->dtype = (quipu_cfg_dtype)e;
    get_int(&c, m, "max_length", 0, 1 << 24, &md->max_length);
    /* the backend must be built into this quipu and honour the dtype: said now, not after loading */
    char why[512];
    int bad = L->skip_paths ? 0 : quipu_backend_check(quipu_cfg_backend_name(md->backend), quipu_cfg_dtype_name(md->dtype), why, sizeof why);
    if (bad) {
        const char *key = bad == -2 ? "dtype" : "backend";
        kp_join(kp, sizeof kp, c.kp, key);
        const cnode *kn = map_get(m, key, NULL);
        err_key(L, kn ? kn : m, kp, "%s", why);
    }
    if (md->path && pn && !L->skip_paths && quipu_hf_is_spec(md->path)) {
        /* hf:ORG/NAME[@REV]: where it already is on disk (hfcache.h) */
        quipu_error he = {0};
        char *found = NULL;
        kp_join(kp, sizeof kp, c.kp, "path");
        if (quipu_hf_resolve(md->path, &found, &he)) {
            err_key(L, pn, kp, "%s", he.msg);
        } else {
            free(md->path);
            md->path = found;
        }
    } else if (md->path && pn && !L->skip_paths) {
        kp_join(kp, sizeof kp, c.kp, "path");
        check_exists(L, pn, kp, md->path, 0);
    }
}

static void validate_benchmark(vctx *top, const cnode *m, int i, quipu_config_benchmark *b, int *needs_datasets) {
    loader *L = top->L;
    vctx c = {.L = L};
    char kp[600];
    snprintf(c.kp, sizeof c.kp, "benchmarks.%d", i);
    b->where = node_where(L, m);
    unknown_keys(L, m, c.kp, bench_keys);
    const cnode *nn = NULL, *pn = NULL, *fn = map_get(m, "format", NULL);
    int has_name = get_str(&c, m, "name", 1, &b->name, &nn);
    if (has_name == 0) missing(L, m, c.kp, "name", NULL);
    int e;
    if (get_enum(&c, m, "format", format_names, &e) > 0) b->format = (quipu_cfg_format)e;
    int has_path = get_path(&c, m, "path", &b->path, &pn);
    int builtin = has_name > 0 && in_list(b->name, L->known_bench);
    if (has_name > 0) {
        if (b->format != QUIPU_CFG_FORMAT_BUILTIN && builtin) {
            err_node(L, nn, "'%s' is a built-in benchmark; give your %s benchmark another name", b->name,
                     quipu_cfg_format_name(b->format));
        } else if (b->format == QUIPU_CFG_FORMAT_BUILTIN && fn && !builtin) {
            err_node(L, fn, "format: 'builtin' needs a built-in benchmark name, and '%s' is not one", b->name);
        } else if (b->format == QUIPU_CFG_FORMAT_BUILTIN && !builtin && !fn) {
            const char *s = suggest(b->name, L->known_bench);
            if (s) {
                err_node(L, nn, "unknown benchmark '%s' (did you mean '%s'?)", b->name, s);
            } else if (map_get(m, "path", NULL)) {
                err_node(L, nn, "unknown benchmark '%s': a benchmark of your own needs 'format: pairs' or 'format: mc'", b->name);
            } else {
                sbuf names = {0};
                join_names(&names, L->known_bench, ", ");
                err_node(L, nn, "unknown benchmark '%s' (built-in: %s; or give 'path' and 'format: pairs|mc' for a JSON-lines file)",
                         b->name, names.p ? names.p : "");
                free(names.p);
            }
        } else if (!builtin && !valid_name(b->name)) {
            kp_join(kp, sizeof kp, c.kp, "name");
            check_name(L, nn, kp, b->name);
        }
    }
    if (b->format != QUIPU_CFG_FORMAT_BUILTIN && has_path == 0) {
        char why[80];
        snprintf(why, sizeof why, " (format: %s reads a JSON-lines file)", quipu_cfg_format_name(b->format));
        missing(L, m, c.kp, "path", why);
    }
    if (has_path > 0 && pn && !L->skip_paths) {
        kp_join(kp, sizeof kp, c.kp, "path");
        check_exists(L, pn, kp, b->path, builtin && b->format == QUIPU_CFG_FORMAT_BUILTIN);
    }
    if (builtin && has_path == 0) *needs_datasets = 1;

    const cnode *ln = NULL;
    if (get_str(&c, m, "label", 1, &b->label, &ln) > 0) {
        kp_join(kp, sizeof kp, c.kp, "label");
        check_name(L, ln, kp, b->label);
    } else if (b->name) {
        if (!(b->label = strdup(b->name))) L->oom = 1;
    }
    get_strlist(&c, m, "categories", &b->categories, NULL);
    get_strlist(&c, m, "cultures", &b->cultures, NULL);
    const cnode **items = NULL;
    if (get_strlist(&c, m, "languages", &b->languages, &items) > 0) {
        for (int k = 0; k < b->languages.n; k++)
            if (!valid_language(b->languages.v[k])) {
                char ikp[620];
                snprintf(ikp, sizeof ikp, "%s.languages.%d", c.kp, k);
                err_key(L, items[k], ikp, "'%s' is not a BCP-47 language tag (e.g. es, es-419, fr-FR)", b->languages.v[k]);
            }
    }
    free(items);
    get_int(&c, m, "limit", 0, 1000000000, &b->limit);
    if (get_enum(&c, m, "sample", sample_names, &e) > 0) b->sample = (quipu_cfg_sample)e;
    if (get_enum(&c, m, "on_bad_row", bad_row_names, &e) > 0) b->on_bad_row = (quipu_cfg_bad_row)e;
    if (get_enum(&c, m, "template", template_names, &e) > 0) {
        b->template_mode = (quipu_cfg_template)e;
        /* lm-eval mode reproduces a task of lm-evaluation-harness: only where it has one */
        static const char *const lm_eval_tasks[] = {"bbq", "bbq_full", "esbbq", "cabbq", "crows_pairs_en",
                                                    "crows_pairs_en_revised", "crows_pairs_fr", NULL};
        int known = 0;
        for (int k = 0; lm_eval_tasks[k]; k++) known |= b->name && !strcmp(b->name, lm_eval_tasks[k]);
        if (b->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL && b->name && (!known || b->format != QUIPU_CFG_FORMAT_BUILTIN)) {
            kp_join(kp, sizeof kp, c.kp, "template");
            err_key(L, map_get(m, "template", NULL), kp,
                    "lm-evaluation-harness has no task for '%s' (lm-eval mode exists for bbq, bbq_full, esbbq, cabbq, "
                    "crows_pairs_en, crows_pairs_en_revised, crows_pairs_fr); use template: default",
                    b->name);
        }
    }
    const cnode *prn = NULL;
    if (get_str(&c, m, "prompt", 0, &b->prompt, &prn) > 0) {
        kp_join(kp, sizeof kp, c.kp, "prompt");
        if (b->format == QUIPU_CFG_FORMAT_PAIRS)
            err_key(L, prn, kp, "a pairs benchmark scores sentences without a prompt; prompts apply to multiple choice");
        else
            check_prompt(L, prn, kp, b->prompt);
    }
    get_str(&c, m, "delimiter", 0, &b->delimiter, NULL);
}

static void validate(loader *L, const cnode *root, quipu_config *cfg, const char *path) {
    vctx c = {.L = L};
    unknown_keys(L, root, "", top_keys);

    /* name: default from the file name */
    const cnode *nn = NULL;
    if (get_str(&c, root, "name", 1, &cfg->name, &nn) > 0) {
        check_name(L, nn, "name", cfg->name);
    } else {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t bl = strlen(base);
        if (bl > 5 && !strcmp(base + bl - 5, ".yaml"))
            bl -= 5;
        else if (bl > 4 && !strcmp(base + bl - 4, ".yml"))
            bl -= 4;
        cfg->name = strndup(base, bl);
        if (!cfg->name) L->oom = 1;
    }
    const cnode *on = NULL;
    if (get_path(&c, root, "output", &cfg->output, &on) == 0 && cfg->name) {
        cfg->output = quipu_asprintf("results/%s", cfg->name);
        if (!cfg->output) L->oom = 1;
    }
    int64_t seed = 0;
    if (get_int(&c, root, "seed", 0, INT64_MAX, &seed) > 0) cfg->seed = (uint64_t)seed;
    int e;
    if (get_enum(&c, root, "backend", backend_names, &e) > 0) cfg->backend = (quipu_cfg_backend)e;
    if (get_enum(&c, root, "dtype", dtype_names, &e) > 0) cfg->dtype = (quipu_cfg_dtype)e;
    const cnode *dn = NULL;
    if (get_path(&c, root, "datasets_dir", &cfg->datasets_dir, &dn) == 0) {
        char why[256];
        cfg->datasets_dir = quipu_config_expand("${QUIPU_DATASETS:-../shared/datasets}", why, sizeof why);
        if (!cfg->datasets_dir) L->oom = 1;
    }

    /* models */
    cnode *mkey = NULL;
    const cnode *ms = map_get(root, "models", &mkey);
    if (!ms) {
        missing(L, root, "", "models", " (a list of models, each with a 'path')");
    } else if (ms->kind != CN_SEQ || ms->n == 0) {
        if (ms->kind == CN_SEQ)
            err_key(L, ms, "models", "expected a non-empty list");
        else
            type_err(L, ms, "models", "a list of models");
    } else {
        cfg->models = calloc((size_t)ms->n, sizeof *cfg->models);
        if (!cfg->models) {
            L->oom = 1;
            return;
        }
        cfg->n_models = ms->n;
        for (int i = 0; i < ms->n; i++) {
            const cnode *m = ms->kid[i];
            if (m->kind != CN_MAP) {
                char kp[64];
                snprintf(kp, sizeof kp, "models.%d", i);
                type_err(L, m, kp, "a model (a path, or a mapping with 'path')");
                continue;
            }
            validate_model(&c, m, i, cfg, &cfg->models[i]);
        }
        for (int i = 0; i < ms->n; i++)
            for (int j = 0; j < i; j++)
                if (cfg->models[i].name && cfg->models[j].name && !strcmp(cfg->models[i].name, cfg->models[j].name)) {
                    char kp[64];
                    snprintf(kp, sizeof kp, "models.%d", i);
                    err_key(L, ms->kid[i], kp, "another model is also named '%s' (models.%d); set 'name' to tell them apart",
                            cfg->models[i].name, j);
                    break;
                }
    }

    /* benchmarks */
    cnode *bkey = NULL;
    const cnode *bs = map_get(root, "benchmarks", &bkey);
    int needs_datasets = 0;
    if (!bs) {
        missing(L, root, "", "benchmarks", " (a list of built-in names or {name, path, format} entries)");
    } else if (bs->kind != CN_SEQ || bs->n == 0) {
        if (bs->kind == CN_SEQ)
            err_key(L, bs, "benchmarks", "expected a non-empty list");
        else
            type_err(L, bs, "benchmarks", "a list of benchmarks");
    } else {
        cfg->benchmarks = calloc((size_t)bs->n, sizeof *cfg->benchmarks);
        if (!cfg->benchmarks) {
            L->oom = 1;
            return;
        }
        cfg->n_benchmarks = bs->n;
        for (int i = 0; i < bs->n; i++) {
            const cnode *m = bs->kid[i];
            if (m->kind != CN_MAP) {
                char kp[64];
                snprintf(kp, sizeof kp, "benchmarks.%d", i);
                type_err(L, m, kp, "a benchmark (a name, or a mapping with 'name')");
                continue;
            }
            validate_benchmark(&c, m, i, &cfg->benchmarks[i], &needs_datasets);
        }
        for (int i = 0; i < bs->n; i++)
            for (int j = 0; j < i; j++)
                if (cfg->benchmarks[i].label && cfg->benchmarks[j].label && !strcmp(cfg->benchmarks[i].label, cfg->benchmarks[j].label)) {
                    char kp[64];
                    snprintf(kp, sizeof kp, "benchmarks.%d", i);
                    err_key(L, bs->kid[i], kp, "'%s' is already benchmarks.%d; give one of them a distinct 'label'",
                            cfg->benchmarks[i].label, j);
                    break;
                }
    }

    /* metrics */
    cfg->metrics.all = 1;
    cfg->metrics.bootstrap = 1000;
    cfg->metrics.confidence = 0.95;
    const cnode *mm = NULL;
    if (get_map(&c, root, "metrics", &mm) > 0) {
        vctx mc = {.L = L};
        snprintf(mc.kp, sizeof mc.kp, "metrics");
        unknown_keys(L, mm, "metrics", metrics_keys);
        cnode *inc = map_get(mm, "include", NULL);
        const char *kpi = inc && inc->set >= 0 && !strcmp(L->set_keys[inc->set], "metrics") ? "metrics" : "metrics.include";
        if (inc && inc->kind == CN_SCALAR && !strcasecmp(inc->text, "all")) {
            cfg->metrics.all = 1;
        } else if (inc && (inc->kind != CN_SEQ || inc->n == 0)) {
            if (inc->kind == CN_SEQ)
                err_key(L, inc, kpi, "expected 'all' or a non-empty list of metric names");
            else
                type_err(L, inc, kpi, "'all' or a list of metric names");
        } else if (inc) {
            const cnode **items = NULL;
            quipu_strlist names = {0};
            if (get_strlist(&mc, mm, "include", &names, &items) > 0) {
                cfg->metrics.all = 0;
                for (int k = 0; k < names.n; k++) {
                    char ikp[600];
                    snprintf(ikp, sizeof ikp, "%s.%d", kpi, k);
                    const char *canon = NULL;
                    for (int j = 0; L->known_metrics[j]; j++)
                        if (!strcasecmp(L->known_metrics[j], names.v[k])) canon = L->known_metrics[j];
                    if (!canon) {
                        const char *s = suggest(names.v[k], L->known_metrics);
                        sbuf kn = {0};
                        join_names(&kn, L->known_metrics, ", ");
                        if (s)
                            err_key(L, items[k], ikp, "unknown metric '%s' (did you mean '%s'?)", names.v[k], s);
                        else
                            err_key(L, items[k], ikp, "unknown metric '%s' (known: %s)", names.v[k], kn.p ? kn.p : "");
                        free(kn.p);
                        continue;
                    }
                    int dup = 0;
                    for (int j = 0; j < k; j++)
                        if (!strcasecmp(names.v[j], names.v[k])) dup = 1;
                    if (dup) {
                        err_key(L, items[k], ikp, "metric '%s' is listed twice", canon);
                        continue;
                    }
                    char *cs = strdup(canon);
                    if (!cs) {
                        L->oom = 1;
                        continue;
                    }
                    free(names.v[k]);
                    names.v[k] = cs;
                }
                cfg->metrics.names = names;
            }
            free(items);
        }
        if (get_enum(&mc, mm, "normalization", norm_names, &e) > 0) cfg->metrics.normalization = (quipu_cfg_norm)e;
        get_int(&mc, mm, "bootstrap", 0, 1000000, &cfg->metrics.bootstrap);
        get_num(&mc, mm, "confidence", 0, 1, 1, 1, &cfg->metrics.confidence);
    }

    /* scoring */
    cfg->scoring.batch_tokens = 2048;
    cfg->scoring.prefix_sharing = 1;
    const cnode *sm = NULL;
    if (get_map(&c, root, "scoring", &sm) > 0) {
        vctx sc = {.L = L};
        snprintf(sc.kp, sizeof sc.kp, "scoring");
        unknown_keys(L, sm, "scoring", scoring_keys);
        get_int(&sc, sm, "batch_tokens", 1, (int64_t)1 << 26, &cfg->scoring.batch_tokens);
        get_int(&sc, sm, "threads", 0, 4096, &cfg->scoring.threads);
        get_bool(&sc, sm, "prefix_sharing", &cfg->scoring.prefix_sharing);
    }

    /* distribution */
    const cnode *dm = NULL;
    if (get_map(&c, root, "distribution", &dm) > 0) {
        vctx dc = {.L = L};
        snprintf(dc.kp, sizeof dc.kp, "distribution");
        unknown_keys(L, dm, "distribution", distribution_keys);
        if (get_enum(&dc, dm, "sharding", sharding_names, &e) > 0) cfg->distribution.sharding = (quipu_cfg_sharding)e;
    }

    get_bool(&c, root, "resume", &cfg->resume);
    get_bool(&c, root, "item_text", &cfg->item_text);
    cfg->progress_interval = 10;
    get_num(&c, root, "progress_interval", 0, 0, 86400, 0, &cfg->progress_interval);

    /* files and folders, after everything else is known */
    if (!L->skip_paths) {
        if (needs_datasets && cfg->datasets_dir) {
            struct stat st;
            if (stat(cfg->datasets_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                /* the fix, said where the problem is: fetch the datasets, or point at them */
                if (dn)
                    err_key(L, dn, "datasets_dir",
                            "'%s' is not a folder: fetch the datasets with scripts/fetch-datasets.sh, or set datasets_dir (or "
                            "QUIPU_DATASETS) to a folder that has them",
                            cfg->datasets_dir);
                else
                    err_node(L, bkey,
                             "datasets_dir: '%s' (the default) is not a folder: fetch the datasets with scripts/fetch-datasets.sh, or set "
                             "datasets_dir or QUIPU_DATASETS to a folder that has them",
                             cfg->datasets_dir);
            }
        }
        if (cfg->output) check_output(L, on ? on : root, "output", cfg->output);
    }
}

/* ================================================================== load */

void quipu_config_free(quipu_config *cfg) {
    if (!cfg) return;
    for (int i = 0; i < cfg->n_models; i++) {
        quipu_config_model *m = &cfg->models[i];
        free(m->name);
        free(m->path);
        free(m->where);
    }
    free(cfg->models);
    for (int i = 0; i < cfg->n_benchmarks; i++) {
        quipu_config_benchmark *b = &cfg->benchmarks[i];
        free(b->name);
        free(b->label);
        free(b->path);
        strlist_free(&b->categories);
        strlist_free(&b->languages);
        strlist_free(&b->cultures);
        free(b->prompt);
        free(b->delimiter);
        free(b->where);
    }
    free(cfg->benchmarks);
    strlist_free(&cfg->metrics.names);
    free(cfg->source);
    free(cfg->name);
    free(cfg->output);
    free(cfg->datasets_dir);
    free(cfg);
}

static int read_whole(const char *path, unsigned char **buf, size_t *len, int *err) {
    FILE *f = fopen(path, "rb");
    *buf = NULL;
    *len = 0;
    if (!f) {
        *err = errno;
        return -1;
    }
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        unsigned char *nb = cap > ((size_t)1 << 26) ? NULL : realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            errno = EFBIG;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int rerr = b ? ferror(f) : 1;
    *err = b && !rerr ? 0 : (errno ? errno : EIO);
    fclose(f);
    if (rerr) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

quipu_status quipu_config_load_opts(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                                    const quipu_config_options *opts, quipu_error_list *errs) {
    *out = NULL;
    loader L = {.file = path, .node_budget = 1000000};
    L.known_bench = opts && opts->known_benchmarks ? opts->known_benchmarks : quipu_config_builtin_benchmarks;
    L.known_metrics = opts && opts->known_metrics ? opts->known_metrics : quipu_config_builtin_metrics;
    L.skip_paths = opts ? opts->skip_path_checks : 0;
    quipu_config *cfg = NULL;
    cnode *root = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;

    if (n_overrides < 0) n_overrides = 0;
    L.set_keys = calloc((size_t)n_overrides + 1, sizeof *L.set_keys);
    if (!L.set_keys) {
        L.oom = 1;
        goto done;
    }
    L.n_sets = n_overrides;
    for (int i = 0; i < n_overrides; i++) {
        const char *t = overrides[i] ? overrides[i] : "";
        const char *eq = strchr(t, '=');
        size_t kl = eq ? (size_t)(eq - t) : strlen(t);
        while (kl && (t[kl - 1] == ' ' || t[kl - 1] == '\t')) kl--;
        while (kl && (*t == ' ' || *t == '\t')) t++, kl--;
        if (!kl) kl = strlen(t); /* "=3": name the override by its whole text */
        if (!(L.set_keys[i] = strndup(t, kl))) {
            L.oom = 1;
            goto done;
        }
    }

    int rerr = 0;
    if (read_whole(path, &buf, &len, &rerr)) {
        err_plain(&L, "cannot read the config: %s", strerror(rerr));
        L.io_failed = 1;
        goto done;
    }
    if (yaml_to_tree(&L, buf, len, -1, &root)) goto done;
    if (root && root->kind != CN_MAP) {
        type_err(&L, root, "the config", "a mapping of keys (models, benchmarks, ...)");
        goto done;
    }
    if (!root && !(root = node_new(CN_MAP, -1, 1, 1))) {
        L.oom = 1;
        goto done;
    }
    normalize(&L, root);
    for (int i = 0; i < n_overrides; i++) apply_override(&L, &root, i, overrides[i] ? overrides[i] : "");
    normalize(&L, root);
    if (L.oom) goto done;

    cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->source = strdup(path))) {
        L.oom = 1;
        goto done;
    }
    validate(&L, root, cfg, path);

done:;
    quipu_status st = QUIPU_OK;
    if (L.oom) {
        st = QUIPU_ERR_NOMEM;
        quipu_error_list_add(errs, "%s: out of memory while reading the config", path);
    } else if (L.n_errs) {
        st = L.io_failed ? QUIPU_ERR_IO : L.yaml_failed ? QUIPU_ERR_FORMAT : QUIPU_ERR_INVALID;
    }
    if (L.n_errs) qsort(L.errs, (size_t)L.n_errs, sizeof *L.errs, errent_cmp);
    for (int i = 0; i < L.n_errs; i++) {
        if (errlist_push(errs, L.errs[i].msg)) free(L.errs[i].msg);
    }
    free(L.errs);
    for (int i = 0; i < L.n_sets; i++) free(L.set_keys[i]);
    free(L.set_keys);
    node_free(root);
    free(buf);
    if (st != QUIPU_OK) {
        quipu_config_free(cfg);
        return st;
    }
    *out = cfg;
    return QUIPU_OK;
}

quipu_status quipu_config_load(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                               const char *const *known_benchmarks, quipu_error_list *errs) {
    quipu_config_options o = {.known_benchmarks = known_benchmarks};
    return quipu_config_load_opts(out, path, overrides, n_overrides, &o, errs);
}

/* ================================================================== canonical JSON */

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *jlist(const quipu_strlist *l) {
    json_t *a = json_array();
    for (int i = 0; a && i < l->n; i++) json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static json_t *config_json(const quipu_config *cfg, int hashed) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "schema", json_integer(QUIPU_CONFIG_SCHEMA));
    json_object_set_new(o, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(o, "backend", json_string(quipu_cfg_backend_name(cfg->backend)));
    json_object_set_new(o, "dtype", json_string(quipu_cfg_dtype_name(cfg->dtype)));
    json_object_set_new(o, "datasets_dir", jstr(cfg->datasets_dir));
    if (!hashed) {
        json_object_set_new(o, "name", jstr(cfg->name));
        json_object_set_new(o, "output", jstr(cfg->output));
        json_object_set_new(o, "resume", json_boolean(cfg->resume));
        json_object_set_new(o, "progress_interval", json_real(cfg->progress_interval));
        json_object_set_new(o, "item_text", json_boolean(cfg->item_text));
    }
    json_t *ms = json_array();
    for (int i = 0; ms && i < cfg->n_models; i++) {
        const quipu_config_model *m = &cfg->models[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", jstr(m->name));
        json_object_set_new(j, "path", jstr(m->path));
        json_object_set_new(j, "backend", json_string(quipu_cfg_backend_name(m->backend)));
        json_object_set_new(j, "dtype", json_string(quipu_cfg_dtype_name(m->dtype)));
        json_object_set_new(j, "max_length", json_integer(m->max_length));
        json_array_append_new(ms, j);
    }
    json_object_set_new(o, "models", ms);
    json_t *bs = json_array();
    for (int i = 0; bs && i < cfg->n_benchmarks; i++) {
        const quipu_config_benchmark *b = &cfg->benchmarks[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", jstr(b->name));
        json_object_set_new(j, "label", jstr(b->label));
        json_object_set_new(j, "path", jstr(b->path));
        json_object_set_new(j, "format", json_string(quipu_cfg_format_name(b->format)));
        json_object_set_new(j, "categories", jlist(&b->categories));
        json_object_set_new(j, "languages", jlist(&b->languages));
        json_object_set_new(j, "cultures", jlist(&b->cultures));
        json_object_set_new(j, "limit", json_integer(b->limit));
        json_object_set_new(j, "sample", json_string(quipu_cfg_sample_name(b->sample)));
        json_object_set_new(j, "on_bad_row", json_string(quipu_cfg_bad_row_name(b->on_bad_row)));
        json_object_set_new(j, "template", json_string(quipu_cfg_template_name(b->template_mode)));
        json_object_set_new(j, "prompt", jstr(b->prompt));
        json_object_set_new(j, "delimiter", jstr(b->delimiter));
        json_array_append_new(bs, j);
    }
    json_object_set_new(o, "benchmarks", bs);
    json_t *mt = json_object();
    if (mt) {
        json_object_set_new(mt, "include", cfg->metrics.all ? json_string("all") : jlist(&cfg->metrics.names));
        json_object_set_new(mt, "normalization", json_string(quipu_cfg_norm_name(cfg->metrics.normalization)));
        json_object_set_new(mt, "bootstrap", json_integer(cfg->metrics.bootstrap));
        json_object_set_new(mt, "confidence", json_real(cfg->metrics.confidence));
    }
    json_object_set_new(o, "metrics", mt);
    json_t *sc = json_object();
    if (sc) {
        if (!hashed) {
            json_object_set_new(sc, "batch_tokens", json_integer(cfg->scoring.batch_tokens));
            json_object_set_new(sc, "threads", json_integer(cfg->scoring.threads));
        }
        json_object_set_new(sc, "prefix_sharing", json_boolean(cfg->scoring.prefix_sharing));
    }
    json_object_set_new(o, "scoring", sc);
    if (!hashed) {
        json_t *d = json_object();
        if (d) json_object_set_new(d, "sharding", json_string(quipu_cfg_sharding_name(cfg->distribution.sharding)));
        json_object_set_new(o, "distribution", d);
    }
    return o;
}

static void fmt_double(char *buf, size_t len, double x) { quipu_format_shortest(buf, len, x); }

static void emit_string(sbuf *b, const char *s) {
    sb_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\r': sb_puts(b, "\\r"); break;
        default:
            if (*p < 0x20) {
                char e[8];
                snprintf(e, sizeof e, "\\u%04x", *p);
                sb_puts(b, e);
            } else {
                sb_putc(b, (char)*p);
            }
        }
    }
    sb_putc(b, '"');
}

static int key_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void emit_json(sbuf *b, json_t *v, int indent) {
    char num[40];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        if (!n) {
            sb_puts(b, "{}");
            return;
        }
        const char **keys = malloc(n * sizeof *keys);
        if (!keys) {
            b->oom = 1;
            return;
        }
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) keys[k++] = key;
        qsort(keys, n, sizeof *keys, key_cmp);
        sb_puts(b, "{\n");
        for (size_t i = 0; i < n; i++) {
            for (int s = 0; s < indent + 2; s++) sb_putc(b, ' ');
            emit_string(b, keys[i]);
            sb_puts(b, ": ");
            emit_json(b, json_object_get(v, keys[i]), indent + 2);
            sb_puts(b, i + 1 < n ? ",\n" : "\n");
        }
        for (int s = 0; s < indent; s++) sb_putc(b, ' ');
        sb_putc(b, '}');
        free(keys);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        int flat = 1;
        for (size_t i = 0; i < n; i++)
            if (json_is_object(json_array_get(v, i)) || json_is_array(json_array_get(v, i))) flat = 0;
        if (!n) {
            sb_puts(b, "[]");
            return;
        }
        sb_puts(b, flat ? "[" : "[\n");
        for (size_t i = 0; i < n; i++) {
            if (!flat)
                for (int s = 0; s < indent + 2; s++) sb_putc(b, ' ');
            emit_json(b, json_array_get(v, i), indent + 2);
            if (i + 1 < n) sb_puts(b, flat ? ", " : ",\n");
        }
        if (!flat) {
            sb_putc(b, '\n');
            for (int s = 0; s < indent; s++) sb_putc(b, ' ');
        }
        sb_putc(b, ']');
        return;
    }
    case JSON_STRING: emit_string(b, json_string_value(v)); return;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        sb_puts(b, num);
        return;
    case JSON_REAL:
        fmt_double(num, sizeof num, json_real_value(v));
        sb_puts(b, num);
        return;
    case JSON_TRUE: sb_puts(b, "true"); return;
    case JSON_FALSE: sb_puts(b, "false"); return;
    case JSON_NULL: sb_puts(b, "null"); return;
    }
}

char *quipu_config_canonical(const quipu_config *cfg, int hashed) {
    json_t *j = config_json(cfg, hashed);
    if (!j) return NULL;
    sbuf b = {0};
    emit_json(&b, j, 0);
    sb_putc(&b, '\n');
    json_decref(j);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

quipu_status quipu_config_hash(const quipu_config *cfg, char hex[65], quipu_error *err) {
    char *text = quipu_config_canonical(cfg, 1);
    if (!text) return quipu_error_set(err, QUIPU_ERR_NOMEM, "config hash: out of memory");
    uint8_t d[32];
    quipu_config_sha256(text, strlen(text), d);
    free(text);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return QUIPU_OK;
}
