/* config_read.c — reading typed values out of the node tree: integers, numbers, booleans,
 * strings, enums, string lists, sections, each reporting a wrong type or range at its node;
 * unknown keys with a "did you mean"; path values with ${VAR} expansion, and checks that files
 * and folders exist on this machine. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
const char *cfg_suggest(const char *word, const char *const *cands) {
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

void cfg_join_names(sbuf *b, const char *const *names, const char *sep) {
    for (int i = 0; names[i]; i++) {
        if (i) cfg_sb_puts(b, sep);
        cfg_sb_puts(b, names[i]);
    }
}

/* ================================================================== scalar reading */

int cfg_is_null(const cnode *n) {
    return n->kind == CN_SCALAR && n->plain && (!*n->text || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
                                                !strcmp(n->text, "Null") || !strcmp(n->text, "NULL"));
}

/* "'abc'", "the string \"42\"", "a list", "a mapping", "null" */
static void describe(const cnode *n, char *buf, size_t len) {
    if (n->kind != CN_SCALAR) {
        snprintf(buf, len, "%s", cfg_kind_name(n));
        return;
    }
    if (cfg_is_null(n)) {
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

void cfg_kp_join(char *out, size_t len, const char *base, const char *key) {
    if (base && *base)
        snprintf(out, len, "%s.%s", base, key);
    else
        snprintf(out, len, "%s", key);
}

void cfg_type_err(loader *L, const cnode *v, const char *kp, const char *expected) {
    char got[160];
    describe(v, got, sizeof got);
    int wants_plain = !strcmp(expected, "an integer") || !strcmp(expected, "a number") || !strcmp(expected, "true or false");
    if (v->kind == CN_SCALAR && !v->plain && !cfg_is_null(v) && wants_plain)
        cfg_err_key(L, v, kp, "expected %s, got %s (remove the quotes)", expected, got);
    else if (cfg_is_null(v))
        cfg_err_key(L, v, kp, "expected %s, got %s (leave the key out to use the default)", expected, got);
    else
        cfg_err_key(L, v, kp, "expected %s, got %s", expected, got);
}

void cfg_unknown_keys(loader *L, const cnode *m, const char *kp, const char *const *allowed) {
    for (int i = 0; i + 1 < m->n; i += 2) {
        const cnode *k = m->kid[i];
        int ok = 0;
        for (int j = 0; allowed[j]; j++)
            if (strcmp(allowed[j], k->text) == 0) ok = 1;
        if (ok) continue;
        const char *s = cfg_suggest(k->text, allowed);
        /* words from other tools' configs */
        static const char *const hints[][3] = {{"benchmarks", "subset", "categories"}, {"benchmarks", "language", "languages"},
                                               {"benchmarks", "category", "categories"}, {"", "model", "models"},
                                               {"", "tasks", "benchmarks"}, {"", "output_dir", "output"}, {"", "output_path", "output"}};
        if (!s)
            for (size_t j = 0; j < sizeof hints / sizeof hints[0]; j++)
                if (!strcmp(k->text, hints[j][1]) && !strncmp(kp, hints[j][0], strlen(hints[j][0])) && cfg_in_list(hints[j][2], allowed))
                    s = hints[j][2];
        char qual[128] = "";
        if (!s && !*kp) {
            /* a section's key written at the top level: batch_tokens -> scoring.batch_tokens */
            static const struct { const char *sec; const char *const *keys; } secs[] = {
                {"scoring", cfg_scoring_keys}, {"metrics", cfg_metrics_keys}, {"distribution", cfg_distribution_keys}};
            for (int j = 0; j < 3 && !*qual; j++) {
                const char *t = cfg_suggest(k->text, secs[j].keys);
                if (t) snprintf(qual, sizeof qual, "%s.%s", secs[j].sec, t);
            }
            if (*qual) s = qual;
        }
        if (s) {
            cfg_err_node(L, k, "unknown key '%s' (did you mean '%s'?)", k->text, s);
        } else {
            sbuf b = {0};
            cfg_join_names(&b, allowed, ", ");
            if (*kp)
                cfg_err_node(L, k, "unknown key '%s' in %s (expected one of: %s)", k->text, kp, b.p ? b.p : "");
            else
                cfg_err_node(L, k, "unknown key '%s' (expected one of: %s)", k->text, b.p ? b.p : "");
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

int cfg_get_int(vctx *c, const cnode *m, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, key);
    int64_t x;
    int ovf;
    if (v->kind != CN_SCALAR || !v->plain || parse_int64(v->text, &x, &ovf)) {
        cfg_type_err(c->L, v, kp, "an integer");
        return -1;
    }
    if (ovf || x < lo || x > hi) {
        if (hi == INT64_MAX)
            cfg_err_key(c->L, v, kp, "expected an integer >= %lld, got %s", (long long)lo, v->text);
        else
            cfg_err_key(c->L, v, kp, "expected an integer from %lld to %lld, got %s", (long long)lo, (long long)hi, v->text);
        return -1;
    }
    *out = x;
    return 1;
}

/* numbers: decimal with optional fraction and exponent (no hex, inf or nan). lo_open/hi_open
 * make a bound exclusive. */
int cfg_get_num(vctx *c, const cnode *m, const char *key, double lo, int lo_open, double hi, int hi_open, double *out) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, key);
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
        cfg_type_err(c->L, v, kp, "a number");
        return -1;
    }
    if ((lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi)) {
        if (lo_open && hi_open)
            cfg_err_key(c->L, v, kp, "expected a number strictly between %g and %g, got %s", lo, hi, v->text);
        else if (!lo_open && !hi_open)
            cfg_err_key(c->L, v, kp, "expected a number from %g to %g, got %s", lo, hi, v->text);
        else
            cfg_err_key(c->L, v, kp, "expected a number %s %g and %s %g, got %s", lo_open ? ">" : ">=", lo, hi_open ? "<" : "<=", hi, v->text);
        return -1;
    }
    *out = x;
    return 1;
}

int cfg_get_bool(vctx *c, const cnode *m, const char *key, int *out) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, key);
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
    cfg_type_err(c->L, v, kp, "true or false");
    return -1;
}

/* A string: any scalar but null. *out is a new heap string. */
int cfg_get_str(vctx *c, const cnode *m, const char *key, int nonempty, char **out, const cnode **node) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    if (node) *node = v;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, key);
    if (v->kind != CN_SCALAR || cfg_is_null(v)) {
        cfg_type_err(c->L, v, kp, "a string");
        return -1;
    }
    if (nonempty && !*v->text) {
        cfg_err_key(c->L, v, kp, "must not be empty");
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

int cfg_get_enum(vctx *c, const cnode *m, const char *key, const char *const *names, int *out) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, key);
    sbuf b = {0};
    cfg_join_names(&b, names, "|");
    if (v->kind != CN_SCALAR || cfg_is_null(v)) {
        char exp[300];
        snprintf(exp, sizeof exp, "one of %s", b.p ? b.p : "");
        cfg_type_err(c->L, v, kp, exp);
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
    if (names == cfg_backend_names) { /* the vendor or the device, not the API */
        if (!strcasecmp(v->text, "gpu") || !strcasecmp(v->text, "nvidia")) s = "cuda";
        if (!strcasecmp(v->text, "rocm") || !strcasecmp(v->text, "amd")) s = "hip";
    }
    if (!s) s = cfg_suggest(v->text, names);
    if (s)
        cfg_err_key(c->L, v, kp, "expected one of %s, got %s (did you mean '%s'?)", b.p ? b.p : "", got, s);
    else
        cfg_err_key(c->L, v, kp, "expected one of %s, got %s", b.p ? b.p : "", got);
    free(b.p);
    return -1;
}

void cfg_strlist_free(quipu_strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* A list of strings; a single scalar counts as a one-item list. The node list is returned in
 * *items (same order) for per-item checks. */
int cfg_get_strlist(vctx *c, const cnode *m, const char *key, quipu_strlist *out, const cnode ***items) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, key);
    if (v->kind == CN_MAP || cfg_is_null(v)) {
        cfg_type_err(c->L, v, kp, "a list of strings");
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
        if (it->kind != CN_SCALAR || cfg_is_null(it) || !*it->text) {
            char ikp[620];
            snprintf(ikp, sizeof ikp, "%s.%d", kp, i);
            if (it->kind == CN_SCALAR && !cfg_is_null(it))
                cfg_err_key(c->L, it, ikp, "must not be empty");
            else
                cfg_type_err(c->L, it, ikp, "a string");
            bad = 1;
            continue;
        }
        nodes[l.n] = it;
        if (!(l.v[l.n++] = strdup(it->text))) c->L->oom = bad = 1;
    }
    if (bad) {
        cfg_strlist_free(&l);
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

int cfg_get_map(vctx *c, const cnode *m, const char *key, const cnode **out) {
    cnode *v = cfg_map_get(m, key, NULL);
    if (!v) return 0;
    if (v->kind != CN_MAP) {
        char kp[600];
        cfg_kp_join(kp, sizeof kp, c->kp, key);
        cfg_type_err(c->L, v, kp, "a mapping of keys");
        return -1;
    }
    *out = v;
    return 1;
}

void cfg_missing(loader *L, const cnode *m, const char *kp, const char *key, const char *why) {
    if (*kp)
        cfg_err_node(L, m, "%s: missing required key '%s'%s", kp, key, why ? why : "");
    else
        cfg_err_node(L, m, "missing required key '%s'%s", key, why ? why : "");
}

char *cfg_node_where(loader *L, const cnode *n) {
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
            cfg_sb_putn(b, s + i, k - i);
            i = k;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '$') {
            cfg_sb_putc(b, '$');
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
        cfg_sb_putc(b, '$'); /* a lone $ */
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
        cfg_sb_puts(b, val);
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
    if (!b.p) cfg_sb_puts(&b, "");
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
int cfg_get_path(vctx *c, const cnode *m, const char *key, char **out, const cnode **node) {
    char *raw = NULL;
    const cnode *v = NULL;
    int r = cfg_get_str(c, m, key, 1, &raw, &v);
    if (r <= 0) return r;
    if (node) *node = v;
    char why[512];
    char *x = quipu_config_expand(raw, why, sizeof why);
    if (!x) {
        char kp[600];
        cfg_kp_join(kp, sizeof kp, c->kp, key);
        cfg_err_key(c->L, v, kp, "%s", why);
        free(raw);
        return -1;
    }
    free(raw);
    *out = x;
    return 1;
}

void cfg_check_exists(loader *L, const cnode *v, const char *kp, const char *path, int want_dir) {
    struct stat st;
    char from[600] = "";
    if (v->kind == CN_SCALAR && strcmp(v->text, path) != 0) snprintf(from, sizeof from, " (from '%s')", v->text);
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            cfg_err_key(L, v, kp, "'%s' does not exist%s", path, from);
        else
            cfg_err_key(L, v, kp, "cannot read '%s': %s%s", path, strerror(errno), from);
    } else if (want_dir && !S_ISDIR(st.st_mode)) {
        cfg_err_key(L, v, kp, "'%s' is not a folder%s", path, from);
    }
}

/* The output folder may not exist yet; its nearest existing ancestor must be a writable folder. */
void cfg_check_output(loader *L, const cnode *at, const char *kp, const char *out) {
    struct stat st;
    if (stat(out, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            cfg_err_key(L, at, kp, "'%s' exists and is not a folder", out);
        else if (access(out, W_OK | X_OK) != 0)
            cfg_err_key(L, at, kp, "'%s' is not writable: %s", out, strerror(errno));
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
                cfg_err_key(L, at, kp, "cannot create '%s': '%s' is not a folder", out, p);
            else if (access(p, W_OK | X_OK) != 0)
                cfg_err_key(L, at, kp, "cannot create '%s': '%s' is not writable", out, p);
            break;
        }
        if (!strcmp(p, ".") || !strcmp(p, "/")) break;
    }
    free(p);
}
