/* template.c — the template benchmark definition (template.h, docs/templates.md): the YAML read
 * through the config's node tree (config_internal.h, so every node keeps its file:line:column and
 * errors sort and print as the config's do), the checks, and the expansion into items held as
 * JSON objects in the generic JSON-lines layout (src/data/jsonl.c), written by `quipu expand` or
 * pushed as items for `format: template`. */
#define _POSIX_C_SOURCE 200809L
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "data/data_internal.h"
#include "stats.h"

/* Expansion stops with an error past this many items in one definition (a slot list pasted twice
 * or a product of long lists): a run of this size is no longer a benchmark but a mistake. */
#define TPL_MAX_ITEMS 5000000L

enum { ROLE_NONE = 0, ROLE_TARGET = 1, ROLE_OTHER = 2 };
enum { CH_TARGET = 0, CH_OTHER = 1, CH_UNKNOWN = 2 };

typedef struct filler {
    const char *text;        /* plain filler; NULL when it has forms */
    const cnode *forms;      /* mapping "f.sg" -> text, or NULL */
    const char *gender, *number;
    const char *group;       /* names standing for one group: the name-swap sets (docs/templates.md) */
    int role;
    const cnode *at;
    int reported;            /* template index + 1 whose missing form was reported */
} filler;

typedef struct flist {
    const cnode *key;        /* NULL for a bare list (all cultures) */
    const cnode *at;
    filler *f;
    int n;
} flist;

typedef struct slot {
    const cnode *name;
    flist *lists;
    int n_lists;
    int has_forms;
} slot;

typedef struct seg {
    char *lit;               /* literal text, or NULL for a slot */
    int slot, agree;         /* slot indices; agree -1 for none */
} seg;

typedef struct text {
    const cnode *at;
    seg *s;
    int n;
} text;

typedef struct question {
    text t;
    int neg;                 /* question polarity */
    int answer;              /* CH_TARGET / CH_OTHER: the disambiguated context's answer; -1 none */
} question;

typedef struct tpl {
    const cnode *at;
    const char *id, *category;
    const cnode *cultures;   /* restriction list or NULL */
    int direction;
    int match_gender, match_number; /* pairs: pair only fillers with the same gender / number */
    /* pairs */
    text sentence;
    int differ;
    /* mc */
    int target, other;
    text ambig, disambig;
    int has_ambig, has_disambig;
    question *q;
    int n_q;
    text choice[3];
    int order[3];            /* order[k] = role of the k-th choice */
    int *used;               /* slots this template binds, rule slots first */
    int n_used;
} tpl;

typedef struct culture {
    const cnode *key;
    const char *code, *language;
} culture;

/* The items as compact JSON lines (without "source"), one allocation each, so that large
 * expansions stay fast; each with the index of its template, whose place in the definition
 * ("FILE:LINE:COL") is kept once per template. */
struct quipu_template_set {
    quipu_item_kind kind;
    char **lines;
    uint32_t *tpl;
    size_t n, cap;
    char **where;            /* [n_templates] "FILE:LINE:COL" of each template that made items */
    size_t n_templates;
};

typedef struct def {
    loader *L;
    const char *path;
    int kind;                /* QUIPU_ITEM_PAIR / _MC; -1 unknown */
    const char *category;
    culture *cul;
    int n_cul;
    slot *slots;
    int n_slots;
    tpl *t;
    int n_t;
    quipu_template_set *out;
    quipu_strmap dup;   /* item text -> the template that made it first */
} def;

static const char *const top_keys[] = {"name", "kind", "category", "cultures", "slots", "templates", NULL};
static const char *const filler_keys[] = {"text", "forms", "gender", "number", "role", "group", NULL};
static const char *const pair_keys[] = {"id", "category", "cultures", "text", "differ", "match", "direction", NULL};
static const char *const mc_keys[] = {"id", "category", "cultures", "target", "other", "ambiguous",
                                      "disambiguated", "questions", "choices", NULL};
static const char *const question_keys[] = {"text", "polarity", "answer", NULL};
static const char *const choice_keys[] = {"target", "other", "unknown", NULL};

/* ------------------------------------------------------------------ small helpers */

static int scalar_ok(const cnode *n) { return n && n->kind == CN_SCALAR && !cfg_is_null(n); }

static int code_ok(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

static int id_ok(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return 0;
    return 1;
}

/* "es" matches "es-CL" and "es"; whole subtags, no case */
static int lang_prefix(const char *want, const char *tag) {
    size_t n = strlen(want);
    return strncasecmp(tag, want, n) == 0 && (tag[n] == '\0' || tag[n] == '-');
}

static int find_slot(const def *d, const char *name, size_t len) {
    for (int i = 0; i < d->n_slots; i++)
        if (strlen(d->slots[i].name->text) == len && !strncmp(d->slots[i].name->text, name, len)) return i;
    return -1;
}

static void slot_names(const def *d, sbuf *b) {
    for (int i = 0; i < d->n_slots; i++) {
        if (i) cfg_sb_puts(b, ", ");
        cfg_sb_puts(b, d->slots[i].name->text);
    }
    if (!d->n_slots) cfg_sb_puts(b, "none");
}

/* ------------------------------------------------------------------ reading: cultures, slots */

static void read_cultures(def *d, const cnode *v) {
    loader *L = d->L;
    if (v->kind != CN_MAP || v->n == 0) {
        cfg_type_err(L, v, "cultures", "a mapping of culture codes to language tags (CL: es-CL)");
        return;
    }
    d->cul = calloc((size_t)v->n / 2, sizeof *d->cul);
    if (!d->cul) {
        L->oom = 1;
        return;
    }
    for (int i = 0; i + 1 < v->n; i += 2) {
        const cnode *k = v->kid[i], *x = v->kid[i + 1];
        char kp[300];
        snprintf(kp, sizeof kp, "cultures.%s", k->text);
        if (!code_ok(k->text)) {
            cfg_err_node(L, k, "culture code '%s' may hold only letters, digits, '_' and '-'", k->text);
            continue;
        }
        if (!strcmp(k->text, "all")) {
            cfg_err_node(L, k, "'all' is reserved (a slot list for every culture); name the culture otherwise");
            continue;
        }
        if (!scalar_ok(x)) {
            cfg_type_err(L, x, kp, "a BCP-47 language tag (es-CL)");
            continue;
        }
        if (!quipu_bcp47_ok(x->text)) {
            cfg_err_key(L, x, kp, "'%s' is not a BCP-47 language tag (e.g. es-CL, es-MX, fr-FR)", x->text);
            continue;
        }
        d->cul[d->n_cul++] = (culture){k, k->text, x->text};
    }
}

static void read_filler(def *d, const char *kp, const cnode *x, filler *f) {
    loader *L = d->L;
    memset(f, 0, sizeof *f);
    f->at = x;
    if (x->kind == CN_SCALAR) {
        if (cfg_is_null(x) || !*x->text) cfg_err_key(L, x, kp, "a filler must not be empty");
        f->text = x->text;
        return;
    }
    if (x->kind != CN_MAP) {
        cfg_type_err(L, x, kp, "a filler: a string, or a mapping {text or forms, gender, number, role, group}");
        f->text = "";
        return;
    }
    cfg_unknown_keys(L, x, kp, filler_keys);
    const cnode *t = cfg_map_get(x, "text", NULL), *fo = cfg_map_get(x, "forms", NULL);
    char skp[700];
    if (t && fo) cfg_err_key(L, x, kp, "a filler has 'text' or 'forms', not both");
    if (!t && !fo) cfg_err_key(L, x, kp, "a filler needs 'text' (one form) or 'forms' (one per gender/number)");
    if (t) {
        snprintf(skp, sizeof skp, "%.600s.text", kp);
        if (!scalar_ok(t) || !*t->text) cfg_type_err(L, t, skp, "a non-empty string");
        else f->text = t->text;
    }
    if (fo && !t) {
        snprintf(skp, sizeof skp, "%.600s.forms", kp);
        if (fo->kind != CN_MAP || fo->n == 0) {
            cfg_type_err(L, fo, skp, "a mapping of forms (m.sg: flojo, f.sg: floja, m.pl: flojos, f.pl: flojas)");
        } else {
            int good = 1;
            for (int i = 1; i < fo->n; i += 2)
                if (!scalar_ok(fo->kid[i]) || !*fo->kid[i]->text) {
                    char fkp[1400];
                    snprintf(fkp, sizeof fkp, "%.690s.%.600s", skp, fo->kid[i - 1]->text);
                    cfg_type_err(L, fo->kid[i], fkp, "a non-empty string");
                    good = 0;
                }
            if (good) f->forms = fo;
        }
    }
    if (!f->text && !f->forms) f->text = "";
    static const char *const feats[] = {"gender", "number"};
    for (int k = 0; k < 2; k++) {
        const cnode *g = cfg_map_get(x, feats[k], NULL);
        if (!g) continue;
        snprintf(skp, sizeof skp, "%.600s.%s", kp, feats[k]);
        if (!scalar_ok(g) || !*g->text || strchr(g->text, '.')) cfg_type_err(L, g, skp, "a word (m, f, sg, pl, ...)");
        else if (k == 0) f->gender = g->text;
        else f->number = g->text;
    }
    const cnode *r = cfg_map_get(x, "role", NULL);
    if (r) {
        snprintf(skp, sizeof skp, "%.600s.role", kp);
        if (scalar_ok(r) && !strcmp(r->text, "target")) f->role = ROLE_TARGET;
        else if (scalar_ok(r) && !strcmp(r->text, "other")) f->role = ROLE_OTHER;
        else cfg_err_key(L, r, skp, "expected target or other");
    }
    const cnode *g = cfg_map_get(x, "group", NULL);
    if (g) {
        snprintf(skp, sizeof skp, "%.600s.group", kp);
        if (!scalar_ok(g) || !*g->text || strpbrk(g->text, "/\n")) cfg_type_err(L, g, skp, "a non-empty label without '/' (the group the name stands for)");
        else f->group = g->text;
    }
}

static void read_list(def *d, const char *kp, const cnode *key, const cnode *v, flist *out) {
    loader *L = d->L;
    memset(out, 0, sizeof *out);
    out->key = key;
    out->at = v;
    if (v->kind != CN_SEQ) {
        cfg_type_err(L, v, kp, "a list of fillers");
        return;
    }
    if (v->n == 0) {
        cfg_err_key(L, v, kp, "empty list: a slot list needs at least one filler");
        return;
    }
    out->f = calloc((size_t)v->n, sizeof *out->f);
    if (!out->f) {
        L->oom = 1;
        return;
    }
    for (int i = 0; i < v->n; i++) {
        char ikp[600];
        snprintf(ikp, sizeof ikp, "%.580s.%d", kp, i);
        read_filler(d, ikp, v->kid[i], &out->f[out->n++]);
    }
}

static void read_slots(def *d, const cnode *v) {
    loader *L = d->L;
    if (v->kind != CN_MAP || v->n == 0) {
        cfg_type_err(L, v, "slots", "a mapping of slot names to filler lists");
        return;
    }
    d->slots = calloc((size_t)v->n / 2, sizeof *d->slots);
    if (!d->slots) {
        L->oom = 1;
        return;
    }
    for (int i = 0; i + 1 < v->n; i += 2) {
        const cnode *k = v->kid[i], *x = v->kid[i + 1];
        char kp[300];
        snprintf(kp, sizeof kp, "slots.%s", k->text);
        int bad = !*k->text;
        for (const char *p = k->text; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_') bad = 1;
        if (bad) {
            cfg_err_node(L, k, "slot name '%s' may hold only letters, digits and '_' (GROUP, NAME_F)", k->text);
            continue;
        }
        slot *s = &d->slots[d->n_slots++];
        s->name = k;
        if (x->kind == CN_SEQ) {
            s->lists = calloc(1, sizeof *s->lists);
            if (!s->lists) {
                L->oom = 1;
                return;
            }
            read_list(d, kp, NULL, x, &s->lists[0]);
            s->n_lists = 1;
        } else if (x->kind == CN_MAP && x->n > 0) {
            s->lists = calloc((size_t)x->n / 2, sizeof *s->lists);
            if (!s->lists) {
                L->oom = 1;
                return;
            }
            for (int j = 0; j + 1 < x->n; j += 2) {
                const cnode *lk = x->kid[j];
                char lkp[600];
                snprintf(lkp, sizeof lkp, "%s.%s", kp, lk->text);
                int known = !strcmp(lk->text, "all");
                for (int c = 0; c < d->n_cul && !known; c++)
                    known = !strcmp(d->cul[c].code, lk->text) || lang_prefix(lk->text, d->cul[c].language);
                if (!known) {
                    sbuf b = {0};
                    for (int c = 0; c < d->n_cul; c++) {
                        if (c) cfg_sb_puts(&b, ", ");
                        cfg_sb_puts(&b, d->cul[c].code);
                    }
                    cfg_err_node(L, lk, "slot '%s': '%s' is not a culture, a language of one, or 'all' (cultures: %s)",
                                 k->text, lk->text, b.p ? b.p : "none");
                    free(b.p);
                    continue;
                }
                read_list(d, lkp, lk, x->kid[j + 1], &s->lists[s->n_lists++]);
            }
        } else {
            cfg_type_err(L, x, kp, "a list of fillers, or a mapping of cultures / languages / all to lists");
        }
        for (int j = 0; j < s->n_lists; j++)
            for (int f = 0; f < s->lists[j].n; f++) s->has_forms |= s->lists[j].f[f].forms != NULL;
    }
}

/* The list slot s uses for culture c: the culture's own, else the longest matching language
 * tag, else 'all'; NULL when none. */
static const flist *list_for(const slot *s, const culture *c) {
    const flist *best = NULL;
    size_t best_len = 0;
    for (int j = 0; j < s->n_lists; j++) {
        const flist *l = &s->lists[j];
        if (!l->key) return l;
        const char *k = l->key->text;
        if (!strcmp(k, c->code)) return l;
        if (!strcmp(k, "all")) {
            if (!best) best = l;
        } else if (lang_prefix(k, c->language) && strlen(k) + 1 > best_len) {
            best = l;
            best_len = strlen(k) + 1;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ reading: templates */

static void use_slot(tpl *t, int s) {
    for (int i = 0; i < t->n_used; i++)
        if (t->used[i] == s) return;
    t->used[t->n_used++] = s;
}

/* Parses "Los {GROUP} son {ADJ:agree=GROUP}." into segments; "{{" and "}}" are literal braces. */
static void parse_text(def *d, tpl *t, const char *kp, const cnode *v, text *out) {
    loader *L = d->L;
    memset(out, 0, sizeof *out);
    out->at = v;
    if (!scalar_ok(v)) {
        cfg_type_err(L, v, kp, "a string");
        return;
    }
    const char *s = v->text;
    size_t len = strlen(s);
    out->s = calloc(len + 1, sizeof *out->s);
    if (!out->s) {
        L->oom = 1;
        return;
    }
    sbuf lit = {0};
    for (size_t i = 0; i < len;) {
        if ((s[i] == '{' && s[i + 1] == '{') || (s[i] == '}' && s[i + 1] == '}')) {
            cfg_sb_putc(&lit, s[i]);
            i += 2;
            continue;
        }
        if (s[i] == '}') {
            cfg_err_key(L, v, kp, "a lone '}' at character %zu (write '}}' for a brace)", i + 1);
            break;
        }
        if (s[i] != '{') {
            cfg_sb_putc(&lit, s[i++]);
            continue;
        }
        const char *e = strchr(s + i, '}');
        if (!e) {
            cfg_err_key(L, v, kp, "'{' at character %zu is not closed (write '{{' for a brace)", i + 1);
            break;
        }
        const char *name = s + i + 1, *colon = memchr(name, ':', (size_t)(e - name));
        size_t nl = (size_t)((colon ? colon : e) - name);
        int si = find_slot(d, name, nl), ai = -1;
        if (si < 0) {
            sbuf b = {0};
            slot_names(d, &b);
            cfg_err_key(L, v, kp, "undefined slot '%.*s' (slots: %s)", (int)nl, name, b.p ? b.p : "");
            free(b.p);
        }
        if (colon) {
            const char *a = colon + 1;
            if (strncmp(a, "agree=", 6) != 0) {
                cfg_err_key(L, v, kp, "'{%.*s}': after ':' only 'agree=SLOT' is known", (int)(e - name), name);
            } else {
                a += 6;
                ai = find_slot(d, a, (size_t)(e - a));
                if (ai < 0)
                    cfg_err_key(L, v, kp, "'{%.*s}': undefined slot '%.*s' to agree with", (int)(e - name), name,
                                (int)(e - a), a);
                else if (ai == si)
                    cfg_err_key(L, v, kp, "'{%.*s}': a slot cannot agree with itself", (int)(e - name), name);
            }
        } else if (si >= 0 && d->slots[si].has_forms) {
            cfg_err_key(L, v, kp, "slot '%s' has fillers with forms: say which slot it agrees with ({%s:agree=SLOT})",
                        d->slots[si].name->text, d->slots[si].name->text);
        }
        if (lit.n || lit.oom) {
            if (lit.oom) L->oom = 1;
            out->s[out->n++] = (seg){lit.p, -1, -1};
            lit = (sbuf){0};
        }
        if (si >= 0) {
            out->s[out->n++] = (seg){NULL, si, ai};
            use_slot(t, si);
            if (ai >= 0) use_slot(t, ai);
        }
        i = (size_t)(e - s) + 1;
    }
    if (lit.oom) L->oom = 1;
    if (lit.n) out->s[out->n++] = (seg){lit.p, -1, -1};
    else free(lit.p);
}

static int rule_slot(def *d, const cnode *m, const char *kp, const char *key) {
    const cnode *v = cfg_map_get(m, key, NULL);
    char k2[600];
    snprintf(k2, sizeof k2, "%s.%s", kp, key);
    if (!v) {
        cfg_missing(d->L, m, kp, key, " (the slot that holds the groups)");
        return -1;
    }
    if (!scalar_ok(v)) {
        cfg_type_err(d->L, v, k2, "a slot name");
        return -1;
    }
    int s = find_slot(d, v->text, strlen(v->text));
    if (s < 0) {
        sbuf b = {0};
        slot_names(d, &b);
        cfg_err_key(d->L, v, k2, "undefined slot '%s' (slots: %s)", v->text, b.p ? b.p : "");
        free(b.p);
    }
    return s;
}

static void read_template(def *d, int i, const cnode *m, tpl *t) {
    loader *L = d->L;
    char kp[64];
    snprintf(kp, sizeof kp, "templates.%d", i);
    t->at = m;
    t->differ = t->target = t->other = -1;
    t->direction = 1;
    if (m->kind != CN_MAP) {
        cfg_type_err(L, m, kp, "a mapping (id, text, ...)");
        return;
    }
    cfg_unknown_keys(L, m, kp, d->kind == QUIPU_ITEM_PAIR ? pair_keys : mc_keys);
    const cnode *idn = cfg_map_get(m, "id", NULL);
    char k2[600];
    snprintf(k2, sizeof k2, "%s.id", kp);
    if (!idn) cfg_missing(L, m, kp, "id", " (a short name for the template, e.g. lazy_1)");
    else if (!scalar_ok(idn) || !id_ok(idn->text))
        cfg_err_key(L, idn, k2, "an id holds only letters, digits, '_', '-' and '.'");
    else t->id = idn->text;
    for (int j = 0; j < i && t->id; j++)
        if (d->t[j].id && !strcmp(d->t[j].id, t->id))
            cfg_err_key(L, idn, k2, "duplicate template id '%s' (first at line %d)", t->id, d->t[j].at->line);
    const cnode *cat = cfg_map_get(m, "category", NULL);
    t->category = d->category;
    if (cat) {
        snprintf(k2, sizeof k2, "%s.category", kp);
        if (!scalar_ok(cat) || !*cat->text) cfg_type_err(L, cat, k2, "a non-empty string");
        else t->category = cat->text;
    }
    const cnode *cu = cfg_map_get(m, "cultures", NULL);
    if (cu) {
        snprintf(k2, sizeof k2, "%s.cultures", kp);
        if (cu->kind != CN_SEQ || cu->n == 0) {
            cfg_type_err(L, cu, k2, "a list of culture codes");
        } else {
            t->cultures = cu;
            for (int j = 0; j < cu->n; j++) {
                int ok = 0;
                for (int c = 0; c < d->n_cul; c++) ok |= scalar_ok(cu->kid[j]) && !strcmp(cu->kid[j]->text, d->cul[c].code);
                if (!ok) cfg_err_key(L, cu->kid[j], k2, "'%s' is not one of the definition's cultures", cu->kid[j]->text);
            }
        }
    }
    /* every slot can appear; rule slots go first in the binding order */
    t->used = calloc((size_t)d->n_slots + 1, sizeof *t->used);
    if (!t->used) {
        L->oom = 1;
        return;
    }
    if (d->kind == QUIPU_ITEM_PAIR) {
        const cnode *dn = cfg_map_get(m, "direction", NULL);
        if (dn) {
            snprintf(k2, sizeof k2, "%s.direction", kp);
            if (scalar_ok(dn) && !strcmp(dn->text, "stereo")) t->direction = 1;
            else if (scalar_ok(dn) && !strcmp(dn->text, "antistereo")) t->direction = -1;
            else cfg_err_key(L, dn, k2, "expected stereo or antistereo");
        }
        const cnode *mn = cfg_map_get(m, "match", NULL);
        if (mn) {
            snprintf(k2, sizeof k2, "%s.match", kp);
            int n = mn->kind == CN_SEQ ? mn->n : 1;
            for (int j = 0; j < n; j++) {
                const cnode *e = mn->kind == CN_SEQ ? mn->kid[j] : mn;
                if (scalar_ok(e) && !strcmp(e->text, "gender")) t->match_gender = 1;
                else if (scalar_ok(e) && !strcmp(e->text, "number")) t->match_number = 1;
                else cfg_err_key(L, e, k2, "expected gender and/or number (the features both sentences' fillers share)");
            }
        }
        t->differ = rule_slot(d, m, kp, "differ");
        if (t->differ >= 0) use_slot(t, t->differ);
        const cnode *tx = cfg_map_get(m, "text", NULL);
        snprintf(k2, sizeof k2, "%s.text", kp);
        if (!tx) cfg_missing(L, m, kp, "text", " (the sentence, with {SLOT}s)");
        else parse_text(d, t, k2, tx, &t->sentence);
        if (tx && t->differ >= 0) {
            int seen = 0;
            for (int k = 0; k < t->sentence.n; k++) seen |= t->sentence.s[k].slot == t->differ && !t->sentence.s[k].lit;
            if (!seen)
                cfg_err_key(L, tx, k2, "the text does not use slot '%s', which differs between the two sentences",
                            d->slots[t->differ].name->text);
        }
        return;
    }
    t->target = rule_slot(d, m, kp, "target");
    t->other = rule_slot(d, m, kp, "other");
    if (t->target >= 0) use_slot(t, t->target);
    if (t->other >= 0) use_slot(t, t->other);
    if (t->target >= 0 && t->target == t->other)
        cfg_err_node(L, cfg_map_get(m, "other", NULL), "%s.other: the target and the other group need two slots", kp);
    const cnode *a = cfg_map_get(m, "ambiguous", NULL), *dz = cfg_map_get(m, "disambiguated", NULL);
    snprintf(k2, sizeof k2, "%s.ambiguous", kp);
    if (!a && !dz) cfg_missing(L, m, kp, "ambiguous", " (the context that does not say who; or a 'disambiguated' one)");
    else if (a) parse_text(d, t, k2, a, &t->ambig);
    t->has_ambig = a != NULL;
    if (dz) {
        snprintf(k2, sizeof k2, "%s.disambiguated", kp);
        parse_text(d, t, k2, dz, &t->disambig);
        t->has_disambig = 1;
    }
    const cnode *qs = cfg_map_get(m, "questions", NULL);
    snprintf(k2, sizeof k2, "%s.questions", kp);
    if (!qs) {
        cfg_missing(L, m, kp, "questions", " (a list of {text, polarity, answer})");
    } else if (qs->kind != CN_SEQ || qs->n == 0) {
        cfg_type_err(L, qs, k2, "a non-empty list of {text, polarity, answer}");
    } else if (!(t->q = calloc((size_t)qs->n, sizeof *t->q))) {
        L->oom = 1;
        return;
    } else {
        for (int j = 0; j < qs->n; j++) {
            const cnode *qn = qs->kid[j];
            char qkp[640], fkp[700];
            snprintf(qkp, sizeof qkp, "%s.%d", k2, j);
            question *q = &t->q[t->n_q++];
            q->answer = -1;
            if (qn->kind != CN_MAP) {
                cfg_type_err(L, qn, qkp, "a mapping {text, polarity, answer}");
                continue;
            }
            cfg_unknown_keys(L, qn, qkp, question_keys);
            const cnode *qt = cfg_map_get(qn, "text", NULL), *qp = cfg_map_get(qn, "polarity", NULL),
                        *qa = cfg_map_get(qn, "answer", NULL);
            snprintf(fkp, sizeof fkp, "%s.text", qkp);
            if (!qt) cfg_missing(L, qn, qkp, "text", NULL);
            else parse_text(d, t, fkp, qt, &q->t);
            snprintf(fkp, sizeof fkp, "%s.polarity", qkp);
            if (!qp) cfg_missing(L, qn, qkp, "polarity", " (neg: the question names the stereotype; nonneg: its opposite)");
            else if (scalar_ok(qp) && !strcmp(qp->text, "neg")) q->neg = 1;
            else if (!scalar_ok(qp) || strcmp(qp->text, "nonneg")) cfg_err_key(L, qp, fkp, "expected neg or nonneg");
            snprintf(fkp, sizeof fkp, "%s.answer", qkp);
            if (qa) {
                if (scalar_ok(qa) && !strcmp(qa->text, "target")) q->answer = CH_TARGET;
                else if (scalar_ok(qa) && !strcmp(qa->text, "other")) q->answer = CH_OTHER;
                else cfg_err_key(L, qa, fkp, "expected target or other (who the disambiguated context says it is)");
                if (!dz) cfg_err_key(L, qa, fkp, "an answer needs a 'disambiguated' context in the template");
            } else if (dz) {
                cfg_missing(L, qn, qkp, "answer", " (target or other: the answer in the disambiguated context)");
            }
        }
    }
    const cnode *ch = cfg_map_get(m, "choices", NULL);
    snprintf(k2, sizeof k2, "%s.choices", kp);
    if (!ch) {
        cfg_missing(L, m, kp, "choices", " (a mapping target / other / unknown to answer texts)");
    } else if (ch->kind != CN_MAP) {
        cfg_type_err(L, ch, k2, "a mapping target / other / unknown to answer texts, in the order shown");
    } else {
        cfg_unknown_keys(L, ch, k2, choice_keys);
        int k = 0;
        for (int j = 0; j + 1 < ch->n && k < 3; j += 2) {
            int role = !strcmp(ch->kid[j]->text, "target") ? CH_TARGET
                       : !strcmp(ch->kid[j]->text, "other") ? CH_OTHER
                       : !strcmp(ch->kid[j]->text, "unknown") ? CH_UNKNOWN : -1;
            if (role < 0) continue;
            char ckp[640];
            snprintf(ckp, sizeof ckp, "%s.%s", k2, ch->kid[j]->text);
            parse_text(d, t, ckp, ch->kid[j + 1], &t->choice[k]);
            t->order[k++] = role;
        }
        for (int r = 0; r < 3; r++) {
            int have = 0;
            for (int j = 0; j < k; j++) have |= t->order[j] == r;
            if (!have) cfg_missing(L, ch, k2, choice_keys[r], NULL);
        }
    }
}

/* ------------------------------------------------------------------ expansion */

/* The form of filler f that agrees with g ("f.pl", then "f", then "pl"); NULL if none. */
static const char *form_for(const filler *f, const filler *g) {
    if (!f->forms) return f->text;
    char key[256];
    const char *tries[3] = {NULL, g->gender, g->number};
    if (g->gender && g->number) {
        snprintf(key, sizeof key, "%s.%s", g->gender, g->number);
        tries[0] = key;
    }
    for (int k = 0; k < 3; k++) {
        if (!tries[k]) continue;
        const cnode *v = cfg_map_get(f->forms, tries[k], NULL);
        if (v) return v->text;
    }
    return NULL;
}

static const char *filler_name(const filler *f) {
    return f->text ? f->text : f->forms ? f->forms->kid[1]->text : "";
}

/* Renders text x under the bindings; 0, or -1 when a form is missing (reported once per filler
 * and template). */
static int render(def *d, int ti, const text *x, filler *const *bind, sbuf *out) {
    out->n = 0;
    if (out->p) out->p[0] = '\0';
    cfg_sb_puts(out, "");
    for (int k = 0; k < x->n; k++) {
        const seg *s = &x->s[k];
        if (s->lit) {
            cfg_sb_puts(out, s->lit);
            continue;
        }
        filler *f = bind[s->slot];
        if (s->agree < 0) {
            cfg_sb_puts(out, filler_name(f));
            continue;
        }
        const filler *g = bind[s->agree];
        const char *form = form_for(f, g);
        if (!form) {
            if (f->reported != ti + 1) {
                f->reported = ti + 1;
                char want[200];
                if (g->gender || g->number)
                    snprintf(want, sizeof want, "%s%s%s", g->gender ? g->gender : "", g->gender && g->number ? "." : "",
                             g->number ? g->number : "");
                else
                    snprintf(want, sizeof want, "?");
                if (!g->gender && !g->number)
                    cfg_err_node(d->L, g->at, "template '%s': slot '%s' filler '%s' has no gender or number for '%s' to agree with",
                                 d->t[ti].id ? d->t[ti].id : "?", d->slots[s->agree].name->text, filler_name(g),
                                 d->slots[s->slot].name->text);
                else
                    cfg_err_node(d->L, f->at, "template '%s': slot '%s' filler '%s' has no form '%s' (variant missing, to agree with %s '%s')",
                                 d->t[ti].id ? d->t[ti].id : "?", d->slots[s->slot].name->text, filler_name(f), want,
                                 d->slots[s->agree].name->text, filler_name(g));
            }
            return -1;
        }
        cfg_sb_puts(out, form);
    }
    if (out->oom) d->L->oom = 1;
    return out->oom ? -1 : 0;
}

/* Adds the item whose JSON line (without its closing brace) is in b, of template t; -1 out of memory. */
static int set_push(def *d, sbuf *b, const tpl *t) {
    quipu_template_set *s = d->out;
    size_t ti = (size_t)(t - d->t);
    if (!s->where && !(s->where = calloc((size_t)d->n_t + 1, sizeof *s->where))) return -1;
    if (!s->where[ti] && !(s->where[ti] = quipu_asprintf("%s:%d:%d", d->path, t->at->line, t->at->col))) return -1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        char **a = realloc(s->lines, cap * sizeof *a);
        if (!a) return -1;
        s->lines = a;
        uint32_t *w = realloc(s->tpl, cap * sizeof *w);
        if (!w) return -1;
        s->tpl = w;
        s->cap = cap;
    }
    cfg_sb_putc(b, '}');
    char *line = b->oom ? NULL : malloc(b->n + 1);
    if (!line) return -1;
    memcpy(line, b->p, b->n);
    line[b->n] = '\0';
    s->lines[s->n] = line;
    s->tpl[s->n++] = (uint32_t)ti;
    return 0;
}

typedef struct expander {
    def *d;
    int ti;
    const culture *cul;
    filler **bind;
    long counter;
    int dup_reported, failed;
    sbuf a, b, c, j;         /* j: the item's JSON line */
} expander;

/* The item's JSON line is written straight into an sbuf (jansson's compact form, byte for byte:
 * keys in order, `"`, `\` and control characters escaped, other UTF-8 as it is), one allocation
 * per item instead of a tree of objects. */
static void jw_str(sbuf *b, const char *s) {
    cfg_sb_putc(b, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        cfg_sb_putn(b, run, (size_t)(s - run));
        char e[8];
        switch (c) {
        case '"': cfg_sb_puts(b, "\\\""); break;
        case '\\': cfg_sb_puts(b, "\\\\"); break;
        case '\b': cfg_sb_puts(b, "\\b"); break;
        case '\f': cfg_sb_puts(b, "\\f"); break;
        case '\n': cfg_sb_puts(b, "\\n"); break;
        case '\r': cfg_sb_puts(b, "\\r"); break;
        case '\t': cfg_sb_puts(b, "\\t"); break;
        default:
            snprintf(e, sizeof e, "\\u%04X", c);
            cfg_sb_puts(b, e);
        }
        run = s + 1;
    }
    cfg_sb_putn(b, run, (size_t)(s - run));
    cfg_sb_putc(b, '"');
}

/* ,"key":"value" */
static void jw_kv(sbuf *b, const char *key, const char *v) {
    cfg_sb_putc(b, ',');
    jw_str(b, key);
    cfg_sb_putc(b, ':');
    jw_str(b, v);
}

/* ,"key":n */
static void jw_ki(sbuf *b, const char *key, long n) {
    char v[32];
    snprintf(v, sizeof v, "%ld", n);
    cfg_sb_putc(b, ',');
    jw_str(b, key);
    cfg_sb_putc(b, ':');
    cfg_sb_puts(b, v);
}

/* The name-swap sets an item belongs to (docs/metrics.md "Name-swap consistency"): for each
 * filler with a `group`, the items that differ from this one only in that filler, among names of
 * the same group. Key: SLOT (SLOT.more / SLOT.less for a pair's differ slot) / GROUP / a hash of
 * the template, culture, question and every other filler. ,"swap":[...] when a filler has a group. */
static void swap_json(sbuf *b, const expander *x, const filler *less_group, int cond, int qi) {
    const tpl *t = &x->d->t[x->ti];
    int n_pos = 0, any = 0;
    const filler *pos[257];
    const char *pname[257];
    int pmore[257];
    for (int i = 0; i < t->n_used && n_pos < 256; i++) {
        int s = t->used[i];
        pname[n_pos] = x->d->slots[s].name->text;
        pmore[n_pos] = s == t->differ && less_group ? 1 : 0;
        pos[n_pos++] = x->bind[s];
        if (s == t->differ && less_group) {
            pname[n_pos] = x->d->slots[s].name->text;
            pmore[n_pos] = 2;
            pos[n_pos++] = less_group;
        }
    }
    for (int p = 0; p < n_pos; p++) {
        if (!pos[p]->group) continue;
        uint64_t h = quipu_hash64_str(QUIPU_HASH64_INIT, t->id ? t->id : "?");
        h = quipu_hash64_str(quipu_hash64_sep(h), x->cul->code);
        char cq[32];
        snprintf(cq, sizeof cq, "%d/%d", cond, qi);
        h = quipu_hash64_str(quipu_hash64_sep(h), cq);
        for (int o = 0; o < n_pos; o++) {
            h = quipu_hash64_sep(h);
            if (o != p) h = quipu_hash64_str(h, filler_name(pos[o]));
        }
        char key[700];
        snprintf(key, sizeof key, "%.200s%s/%.400s/%016llx", pname[p], pmore[p] == 1 ? ".more" : pmore[p] == 2 ? ".less" : "",
                 pos[p]->group, (unsigned long long)h);
        cfg_sb_puts(b, any++ ? "," : ",\"swap\":[");
        jw_str(b, key);
    }
    if (any) cfg_sb_putc(b, ']');
}

/* ,"fillers":{"SLOT":"filler", "DIFFER":{"more":..., "less":...}} */
static void fillers_json(sbuf *b, const expander *x, const filler *less_group) {
    const tpl *t = &x->d->t[x->ti];
    cfg_sb_puts(b, ",\"fillers\":{");
    for (int i = 0; i < t->n_used; i++) {
        int s = t->used[i];
        if (i) cfg_sb_putc(b, ',');
        jw_str(b, x->d->slots[s].name->text);
        cfg_sb_putc(b, ':');
        if (s == t->differ && less_group) {
            cfg_sb_puts(b, "{\"more\":");
            jw_str(b, filler_name(x->bind[s]));
            cfg_sb_puts(b, ",\"less\":");
            jw_str(b, filler_name(less_group));
            cfg_sb_putc(b, '}');
        } else {
            jw_str(b, filler_name(x->bind[s]));
        }
    }
    cfg_sb_putc(b, '}');
}

/* {"id":..,"template":..,"language":..,"culture":..[,"category":..] into b (emptied first) */
static void item_head(sbuf *b, expander *x) {
    const tpl *t = &x->d->t[x->ti];
    char id[600];
    snprintf(id, sizeof id, "%s:%s:%ld", t->id ? t->id : "?", x->cul->code, ++x->counter);
    b->n = 0;
    cfg_sb_puts(b, "{\"id\":");
    jw_str(b, id);
    jw_kv(b, "template", t->id ? t->id : "?");
    jw_kv(b, "language", x->cul->language);
    jw_kv(b, "culture", x->cul->code);
    if (t->category) jw_kv(b, "category", t->category);
}

/* Checks an item's text for repeats; reports the first repeat of each template and culture. */
static void check_dup(expander *x, const char *key) {
    def *d = x->d;
    long first_l = 0;
    int added = quipu_strmap_add(&d->dup, key, x->ti, &first_l);
    if (added < 0) {
        d->L->oom = 1;
        return;
    }
    if (added > 0 || x->dup_reported) return;
    int first = (int)first_l;
    x->dup_reported = 1;
    const tpl *t = &d->t[x->ti], *o = &d->t[first];
    const char *shown = strchr(key, '\x1f') ? strchr(key, '\x1f') + 1 : key;
    char show[160];
    snprintf(show, sizeof show, "%.*s", (int)strcspn(shown, "\x1f"), shown);
    if (first == x->ti)
        cfg_err_node(d->L, t->at, "template '%s': duplicate items for culture %s (\"%s\" comes twice: a filler listed twice?)",
                     t->id ? t->id : "?", x->cul->code, show);
    else
        cfg_err_node(d->L, t->at, "template '%s': duplicate items for culture %s (\"%s\" is also made by template '%s' at line %d)",
                     t->id ? t->id : "?", x->cul->code, show, o->id ? o->id : "?", o->at->line);
}

static void emit_pairs(expander *x, const flist *group) {
    def *d = x->d;
    const tpl *t = &d->t[x->ti];
    filler *more = x->bind[t->differ];
    for (int j = 0; j < group->n && !d->L->oom; j++) {
        filler *less = &group->f[j];
        if (less->role != ROLE_OTHER) continue;
        if (t->match_gender && (!more->gender) != (!less->gender)) continue;
        if (t->match_gender && more->gender && strcmp(more->gender, less->gender)) continue;
        if (t->match_number && (!more->number) != (!less->number)) continue;
        if (t->match_number && more->number && strcmp(more->number, less->number)) continue;
        if (render(d, x->ti, &t->sentence, x->bind, &x->a)) {
            x->failed = 1;
            return;
        }
        x->bind[t->differ] = less;
        int bad = render(d, x->ti, &t->sentence, x->bind, &x->b);
        x->bind[t->differ] = more;
        if (bad) {
            x->failed = 1;
            return;
        }
        if (!strcmp(x->a.p, x->b.p)) {
            if (!x->dup_reported)
                cfg_err_node(d->L, less->at, "template '%s': the two sentences are the same (\"%s\") for culture %s",
                             t->id ? t->id : "?", x->a.p, x->cul->code);
            x->dup_reported = 1;
            continue;
        }
        x->c.n = 0;
        cfg_sb_puts(&x->c, x->cul->code);
        cfg_sb_putc(&x->c, '\x1f');
        cfg_sb_puts(&x->c, x->a.p);
        cfg_sb_putc(&x->c, '\x1f');
        cfg_sb_puts(&x->c, x->b.p);
        if (x->c.oom) {
            d->L->oom = 1;
            return;
        }
        check_dup(x, x->c.p);
        if (d->L->n_errs) continue; /* nothing is written once a problem is found: keep checking */
        sbuf *o = &x->j;
        item_head(o, x);
        jw_kv(o, "more", x->a.p);
        jw_kv(o, "less", x->b.p);
        jw_kv(o, "direction", t->direction > 0 ? "stereo" : "antistereo");
        jw_kv(o, "group", more->group ? more->group : filler_name(more));
        fillers_json(o, x, less);
        swap_json(o, x, less, 0, 0);
        if (set_push(d, o, t)) {
            d->L->oom = 1;
            return;
        }
    }
}

static void emit_mc(expander *x) {
    def *d = x->d;
    const tpl *t = &d->t[x->ti];
    char *choice[3] = {NULL, NULL, NULL};
    int idx[3] = {-1, -1, -1};
    for (int k = 0; k < 3; k++) {
        if (render(d, x->ti, &t->choice[k], x->bind, &x->a)) goto fail;
        if (!(choice[k] = strdup(x->a.p))) {
            d->L->oom = 1;
            goto done;
        }
        idx[t->order[k]] = k;
    }
    for (int cond = 0; cond < 2; cond++) {
        if (!(cond ? t->has_disambig : t->has_ambig)) continue;
        if (render(d, x->ti, cond ? &t->disambig : &t->ambig, x->bind, &x->a)) goto fail;
        for (int qi = 0; qi < t->n_q; qi++) {
            const question *q = &t->q[qi];
            if (render(d, x->ti, &q->t, x->bind, &x->b)) goto fail;
            x->c.n = 0;
            cfg_sb_puts(&x->c, x->cul->code);
            cfg_sb_putc(&x->c, '\x1f');
            cfg_sb_puts(&x->c, x->a.p);
            cfg_sb_putc(&x->c, '\x1f');
            cfg_sb_puts(&x->c, x->b.p);
            for (int k = 0; k < 3; k++) {
                cfg_sb_putc(&x->c, '\x1f');
                cfg_sb_puts(&x->c, choice[k]);
            }
            if (x->c.oom) {
                d->L->oom = 1;
                goto done;
            }
            check_dup(x, x->c.p);
            if (d->L->n_errs) continue;
            sbuf *o = &x->j;
            item_head(o, x);
            jw_kv(o, "context", x->a.p);
            jw_kv(o, "question", x->b.p);
            cfg_sb_puts(o, ",\"choices\":[");
            for (int k = 0; k < 3; k++) {
                if (k) cfg_sb_putc(o, ',');
                jw_str(o, choice[k]);
            }
            cfg_sb_putc(o, ']');
            jw_ki(o, "label", cond ? idx[q->answer] : idx[CH_UNKNOWN]);
            jw_kv(o, "context_condition", cond ? "disambig" : "ambig");
            jw_kv(o, "question_polarity", q->neg ? "neg" : "nonneg");
            jw_ki(o, "stereotyped_choice", q->neg ? idx[CH_TARGET] : idx[CH_OTHER]);
            jw_ki(o, "unknown_choice", idx[CH_UNKNOWN]);
            jw_ki(o, "target_choice", idx[CH_TARGET]);
            jw_ki(o, "other_choice", idx[CH_OTHER]);
            const filler *tg = x->bind[t->target];
            jw_kv(o, "group", tg->group ? tg->group : filler_name(tg));
            fillers_json(o, x, NULL);
            swap_json(o, x, NULL, cond, qi);
            if (set_push(d, o, t)) {
                d->L->oom = 1;
                goto done;
            }
        }
    }
    goto done;
fail:
    x->failed = 1;
done:
    for (int k = 0; k < 3; k++) free(choice[k]);
}

/* Every combination of the template's slots for one culture, the leftmost slot slowest. */
static void expand_culture(def *d, int ti, const culture *cul, filler **bind) {
    tpl *t = &d->t[ti];
    const flist *lists[256];
    int pos[256];
    if (t->n_used > 256) {
        cfg_err_node(d->L, t->at, "template '%s' uses more than 256 slots", t->id ? t->id : "?");
        return;
    }
    int missing = 0;
    for (int i = 0; i < t->n_used; i++) {
        const slot *s = &d->slots[t->used[i]];
        lists[i] = list_for(s, cul);
        if (!lists[i]) {
            cfg_err_node(d->L, s->name, "slot '%s' has no list for culture %s (%s), which template '%s' needs: add '%s', a language "
                         "of it, or 'all' (variant missing)",
                         s->name->text, cul->code, cul->language, t->id ? t->id : "?", cul->code);
            missing = 1;
        } else if (!lists[i]->f) {
            missing = 1; /* an empty or malformed list, already reported */
        }
    }
    if (missing) return;
    double combos = 1;
    for (int i = 0; i < t->n_used; i++) combos *= lists[i]->n;
    if (t->differ >= 0) {
        const flist *g = lists[0];
        int nt = 0, no = 0;
        for (int j = 0; j < g->n; j++) nt += g->f[j].role == ROLE_TARGET, no += g->f[j].role == ROLE_OTHER;
        if (!nt || !no) {
            cfg_err_node(d->L, g->at, "slot '%s' for culture %s has no filler with role: %s (empty list), which template '%s' pairs",
                         d->slots[t->differ].name->text, cul->code, !nt ? "target" : "other", t->id ? t->id : "?");
            return;
        }
    }
    if (combos * 4 > (double)TPL_MAX_ITEMS) {
        cfg_err_node(d->L, t->at, "template '%s' makes more than %ld items for culture %s: shorten its slot lists",
                     t->id ? t->id : "?", TPL_MAX_ITEMS, cul->code);
        return;
    }
    expander x = {.d = d, .ti = ti, .cul = cul, .bind = bind};
    for (int i = 0; i < t->n_used; i++) pos[i] = 0;
    for (;;) {
        for (int i = 0; i < t->n_used; i++) bind[t->used[i]] = &lists[i]->f[pos[i]];
        if (t->differ >= 0) {
            if (bind[t->differ]->role == ROLE_TARGET) emit_pairs(&x, lists[0]);
        } else {
            emit_mc(&x);
        }
        if (x.failed || d->L->oom || d->out->n > (size_t)TPL_MAX_ITEMS) break;
        int i = t->n_used - 1;
        while (i >= 0 && ++pos[i] == lists[i]->n) pos[i--] = 0;
        if (i < 0) break;
    }
    free(x.a.p);
    free(x.b.p);
    free(x.c.p);
    free(x.j.p);
    if (d->out->n > (size_t)TPL_MAX_ITEMS)
        cfg_err_node(d->L, t->at, "the definition makes more than %ld items: shorten its slot lists", TPL_MAX_ITEMS);
}

static void expand_all(def *d) {
    filler **bind = calloc((size_t)d->n_slots + 1, sizeof *bind);
    if (!bind) {
        d->L->oom = 1;
        return;
    }
    for (int ti = 0; ti < d->n_t && !d->L->oom; ti++) {
        tpl *t = &d->t[ti];
        if (!t->used) continue;
        for (int c = 0; c < d->n_cul && !d->L->oom; c++) {
            if (t->cultures) {
                int in = 0;
                for (int j = 0; j < t->cultures->n; j++)
                    in |= scalar_ok(t->cultures->kid[j]) && !strcmp(t->cultures->kid[j]->text, d->cul[c].code);
                if (!in) continue;
            }
            expand_culture(d, ti, &d->cul[c], bind);
        }
    }
    free(bind);
}

/* ------------------------------------------------------------------ the definition */

static void text_free(text *x) {
    for (int k = 0; k < x->n; k++) free(x->s[k].lit);
    free(x->s);
}

static void def_free(def *d) {
    for (int i = 0; i < d->n_slots; i++) {
        for (int j = 0; j < d->slots[i].n_lists; j++) free(d->slots[i].lists[j].f);
        free(d->slots[i].lists);
    }
    free(d->slots);
    for (int i = 0; i < d->n_t; i++) {
        tpl *t = &d->t[i];
        text_free(&t->sentence);
        text_free(&t->ambig);
        text_free(&t->disambig);
        for (int j = 0; j < t->n_q; j++) text_free(&t->q[j].t);
        free(t->q);
        for (int k = 0; k < 3; k++) text_free(&t->choice[k]);
        free(t->used);
    }
    free(d->t);
    free(d->cul);
    quipu_strmap_free(&d->dup);
}

static void read_def(def *d, const cnode *root) {
    loader *L = d->L;
    if (!root) {
        cfg_err_plain(L, "empty definition (it needs kind, cultures, slots and templates)");
        return;
    }
    if (root->kind != CN_MAP) {
        cfg_type_err(L, root, "the definition", "a mapping of keys (kind, cultures, slots, templates)");
        return;
    }
    cfg_unknown_keys(L, root, "", top_keys);
    const cnode *k = cfg_map_get(root, "kind", NULL);
    d->kind = -1;
    if (!k) cfg_missing(L, root, "", "kind", " (pairs or mc)");
    else if (scalar_ok(k) && !strcmp(k->text, "pairs")) d->kind = QUIPU_ITEM_PAIR;
    else if (scalar_ok(k) && !strcmp(k->text, "mc")) d->kind = QUIPU_ITEM_MC;
    else cfg_err_key(L, k, "kind", "expected pairs or mc");
    const cnode *nm = cfg_map_get(root, "name", NULL);
    if (nm && (!scalar_ok(nm) || !id_ok(nm->text))) cfg_err_key(L, nm, "name", "a name holds only letters, digits, '_', '-' and '.'");
    const cnode *cat = cfg_map_get(root, "category", NULL);
    if (cat) {
        if (!scalar_ok(cat) || !*cat->text) cfg_type_err(L, cat, "category", "a non-empty string");
        else d->category = cat->text;
    }
    const cnode *cu = cfg_map_get(root, "cultures", NULL), *sl = cfg_map_get(root, "slots", NULL),
                *te = cfg_map_get(root, "templates", NULL);
    if (!cu) cfg_missing(L, root, "", "cultures", " (culture code: language tag, e.g. CL: es-CL)");
    else read_cultures(d, cu);
    if (!sl) cfg_missing(L, root, "", "slots", " (slot name: filler list)");
    else read_slots(d, sl);
    if (!te) {
        cfg_missing(L, root, "", "templates", NULL);
    } else if (te->kind != CN_SEQ || te->n == 0) {
        cfg_type_err(L, te, "templates", "a non-empty list of templates");
    } else if (d->kind >= 0 && !L->oom) {
        if (!(d->t = calloc((size_t)te->n, sizeof *d->t))) {
            L->oom = 1;
            return;
        }
        for (int i = 0; i < te->n && !L->oom; i++) {
            d->n_t = i + 1;
            read_template(d, i, te->kid[i], &d->t[i]);
        }
    }
}

void quipu_template_free(quipu_template_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->lines[i]);
    for (size_t i = 0; s->where && i <= s->n_templates; i++) free(s->where[i]);
    free(s->lines);
    free(s->tpl);
    free(s->where);
    free(s);
}

quipu_status quipu_template_expand(const char *path, const char *buf, size_t len, quipu_template_set **out,
                                   quipu_error_list *errs) {
    *out = NULL;
    loader L = {.file = path, .node_budget = 1000000};
    def d = {.L = &L, .path = path, .kind = -1};
    cnode *root = NULL;
    d.out = calloc(1, sizeof *d.out);
    if (!d.out) L.oom = 1;
    else if (!cfg_yaml_to_tree(&L, (const unsigned char *)buf, len, -1, &root)) {
        read_def(&d, root);
        /* expansion reports missing lists, forms and duplicates; it runs even after other problems
         * so that one pass shows them all, but writes nothing then */
        if (!L.oom && d.kind >= 0) expand_all(&d);
        d.out->kind = d.kind == QUIPU_ITEM_MC ? QUIPU_ITEM_MC : QUIPU_ITEM_PAIR;
        d.out->n_templates = (size_t)d.n_t;
        if (!L.n_errs && !L.oom && d.out->n == 0) cfg_err_plain(&L, "the definition makes no items");
    }
    quipu_status st = QUIPU_OK;
    if (L.oom) {
        st = QUIPU_ERR_NOMEM;
        quipu_error_list_add(errs, "%s: out of memory while expanding the definition", path);
    } else if (L.n_errs) {
        st = L.yaml_failed ? QUIPU_ERR_FORMAT : QUIPU_ERR_INVALID;
    }
    if (L.n_errs) qsort(L.errs, (size_t)L.n_errs, sizeof *L.errs, cfg_errent_cmp);
    for (int i = 0; i < L.n_errs; i++)
        if (cfg_errlist_push(errs, L.errs[i].msg)) free(L.errs[i].msg);
    free(L.errs);
    def_free(&d);
    cfg_node_free(root);
    if (st) {
        quipu_template_free(d.out);
        return st;
    }
    *out = d.out;
    return QUIPU_OK;
}

quipu_status quipu_template_expand_file(const char *path, quipu_template_set **out, quipu_error_list *errs) {
    char *buf = NULL;
    size_t len = 0;
    quipu_error e = {0};
    *out = NULL;
    if (quipu_read_file_max(path, QUIPU_READ_MAX_CONFIG_JSON, "template definition", &buf, &len, &e)) {
        quipu_error_list_add(errs, "%s", e.msg);
        return e.code ? e.code : QUIPU_ERR_IO;
    }
    quipu_status st = quipu_template_expand(path, buf, len, out, errs);
    free(buf);
    return st;
}

size_t quipu_template_count(const quipu_template_set *s) { return s ? s->n : 0; }
quipu_item_kind quipu_template_kind(const quipu_template_set *s) { return s ? s->kind : QUIPU_ITEM_PAIR; }
size_t quipu_template_n_templates(const quipu_template_set *s) { return s ? s->n_templates : 0; }

quipu_status quipu_template_write_jsonl(const quipu_template_set *s, FILE *f, quipu_error *err) {
    /* each line is the item's object with "source" added last: the template's place, escaped once */
    char **esc = calloc(s->n_templates + 1, sizeof *esc);
    quipu_status st = esc ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory writing items");
    for (size_t i = 0; i < s->n && !st; i++) {
        uint32_t t = s->tpl[i];
        if (!esc[t]) {
            json_t *w = json_string(s->where[t]);
            esc[t] = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
            json_decref(w);
            if (!esc[t]) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory writing item %zu", i + 1);
        }
        size_t len = strlen(s->lines[i]); /* ends with the object's '}' */
        if (!st && (fwrite(s->lines[i], 1, len - 1, f) != len - 1 || fputs(",\"source\":", f) < 0 || fputs(esc[t], f) < 0 ||
                    fputs("}\n", f) < 0))
            st = quipu_error_set(err, QUIPU_ERR_IO, "write failed: %s", strerror(errno));
    }
    for (size_t t = 0; esc && t <= s->n_templates; t++) free(esc[t]);
    free(esc);
    return st;
}

/* ------------------------------------------------------------------ items for a run */

static const char *jstr(const json_t *o, const char *k) {
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jint(const json_t *o, const char *k) {
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

quipu_status quipu_template_push_items(const quipu_template_set *s, struct ld_ctx *c) {
    for (size_t i = 0; i < s->n && !c->done; i++) {
        json_t *o = json_loads(s->lines[i], 0, NULL);
        if (!o) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", s->where[s->tpl[i]]);
        c->rep->rows_read++;
        quipu_item *it = ld_push(c);
        if (!it) {
            json_decref(o);
            return QUIPU_ERR_NOMEM;
        }
        int oom = 0;
        const char *cat = jstr(o, "category");
        char id[1024];
        snprintf(id, sizeof id, "%s:%s", c->bench, jstr(o, "id"));
        it->id = ld_strdup(id, &oom);
        it->source = ld_strdup(s->where[s->tpl[i]], &oom);
        it->benchmark = ld_strdup(c->bench, &oom);
        it->language = ld_strdup(jstr(o, "language"), &oom);
        it->culture = ld_strdup(jstr(o, "culture"), &oom);
        it->category = ld_strdup(cat ? cat : "", &oom);
        it->template_id = ld_strdup(jstr(o, "template"), &oom);
        it->kind = s->kind;
        if (ld_swap_keys(json_object_get(o, "swap"), &it->swap) < 0) oom = 1;
        if (s->kind == QUIPU_ITEM_PAIR) {
            it->more = ld_strdup(jstr(o, "more"), &oom);
            it->less = ld_strdup(jstr(o, "less"), &oom);
            it->direction = !strcmp(jstr(o, "direction"), "stereo") ? 1 : -1;
        } else {
            const json_t *ch = json_object_get(o, "choices");
            it->context = ld_strdup(jstr(o, "context"), &oom);
            it->question = ld_strdup(jstr(o, "question"), &oom);
            it->n_choices = (int)json_array_size(ch);
            for (int k = 0; k < it->n_choices; k++) it->choices[k] = ld_strdup(json_string_value(json_array_get(ch, (size_t)k)), &oom);
            it->group = ld_strdup(jstr(o, "group"), &oom);
            it->label = jint(o, "label");
            it->condition = !strcmp(jstr(o, "context_condition"), "ambig") ? QUIPU_COND_AMBIG : QUIPU_COND_DISAMBIG;
            it->polarity = !strcmp(jstr(o, "question_polarity"), "neg") ? QUIPU_POL_NEG : QUIPU_POL_NONNEG;
            it->unknown_choice = jint(o, "unknown_choice");
            it->target_choice = jint(o, "target_choice");
            it->other_choice = jint(o, "other_choice");
            it->biased_choice = jint(o, "stereotyped_choice");
            it->biased_mask = it->biased_choice >= 0 ? 1u << it->biased_choice : 0;
        }
        json_decref(o);
        if (oom) {
            ld_discard(c);
            return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", s->where[s->tpl[i]]);
        }
        ld_commit(c);
    }
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ quipu expand */

static void usage_expand(FILE *f) {
    fprintf(f, "usage: quipu expand DEF.yaml [-o OUT.jsonl]\n"
               "Expands a template benchmark definition (docs/templates.md) into the generic JSON lines\n"
               "(pairs or mc, by the definition's kind) on stdout or into OUT. Every problem is printed as\n"
               "FILE:LINE:COL: problem; then nothing is written and the exit status is 2.\n");
}

int quipu_template_main(int argc, char **argv) {
    const char *def_path = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_expand(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "quipu expand: %s needs a file name\n", argv[i]);
                return 2;
            }
            out_path = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "quipu expand: unknown option '%s' (try 'quipu expand --help')\n", argv[i]);
            return 2;
        } else if (def_path) {
            fprintf(stderr, "quipu expand: one definition at a time ('%s' and '%s')\n", def_path, argv[i]);
            return 2;
        } else {
            def_path = argv[i];
        }
    }
    if (!def_path) {
        usage_expand(stderr);
        return 2;
    }
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    quipu_template_set *s = NULL;
    if (quipu_template_expand_file(def_path, &s, &errs)) {
        quipu_error_list_print(&errs, stderr);
        quipu_error_list_free(&errs);
        return 2;
    }
    quipu_error_list_free(&errs);
    FILE *f = stdout;
    if (out_path && !(f = fopen(out_path, "w"))) {
        fprintf(stderr, "quipu expand: %s: cannot write: %s\n", out_path, strerror(errno));
        quipu_template_free(s);
        return 2;
    }
    quipu_error e = {0};
    quipu_status st = quipu_template_write_jsonl(s, f, &e);
    int to_stdout = f == stdout;
    if (!to_stdout && fclose(f) != 0 && !st) st = quipu_error_set(&e, QUIPU_ERR_IO, "write failed: %s", strerror(errno));
    else if (to_stdout && fflush(stdout) != 0 && !st) st = quipu_error_set(&e, QUIPU_ERR_IO, "write failed: %s", strerror(errno));
    if (st) {
        fprintf(stderr, "quipu expand: %s: %s\n", out_path ? out_path : "stdout", e.msg);
        quipu_template_free(s);
        return 2;
    }
    fprintf(stderr, "quipu expand: %zu %s items from %zu template%s%s%s (load with format: %s)\n", s->n,
            s->kind == QUIPU_ITEM_PAIR ? "pairs" : "mc", s->n_templates, s->n_templates == 1 ? "" : "s",
            out_path ? " -> " : "", out_path ? out_path : "",
            s->kind == QUIPU_ITEM_PAIR ? "pairs" : "mc");
    quipu_template_free(s);
    return 0;
}
