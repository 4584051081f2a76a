/* config_tree.c — the config's YAML as a small node tree: libyaml events -> nodes that keep their
 * file:line:column (or the --set that made them), the error records every later stage adds to
 * (sorted by place when the load ends), the list shorthands, and the --set overrides applied to
 * the tree before validation. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* ================================================================== error list */

void quipu_error_list_init(quipu_error_list *l) { memset(l, 0, sizeof *l); }

int cfg_errlist_push(quipu_error_list *l, char *msg) {
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
    if (!msg || cfg_errlist_push(l, msg)) free(msg);
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

/* ================================================================== small strings */

void cfg_sb_putn(sbuf *b, const char *s, size_t n) {
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
void cfg_sb_puts(sbuf *b, const char *s) { cfg_sb_putn(b, s, strlen(s)); }
void cfg_sb_putc(sbuf *b, char c) { cfg_sb_putn(b, &c, 1); }

/* ================================================================== the node tree */

cnode *cfg_node_new(int kind, int set, int line, int col) {
    cnode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->set = set;
    n->line = line;
    n->col = col;
    return n;
}

void cfg_node_free(cnode *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) cfg_node_free(n->kid[i]);
    free(n->kid);
    free(n->text);
    free(n);
}

int cfg_node_push(cnode *p, cnode *c) {
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

cnode *cfg_scalar_new(const char *text, int plain, int set, int line, int col) {
    cnode *n = cfg_node_new(CN_SCALAR, set, line, col);
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
    cnode *n = cfg_node_new(s->kind, s->set, s->line, s->col);
    if (!n) return NULL;
    n->plain = s->plain;
    if (s->text && !(n->text = strdup(s->text))) goto fail;
    for (int i = 0; i < s->n; i++) {
        cnode *c = node_copy(s->kid[i], budget);
        if (!c || cfg_node_push(n, c)) {
            cfg_node_free(c);
            goto fail;
        }
    }
    return n;
fail:
    cfg_node_free(n);
    return NULL;
}

/* map lookup: the value for key (and its key node), or NULL */
cnode *cfg_map_get(const cnode *m, const char *key, cnode **keynode) {
    if (!m || m->kind != CN_MAP) return NULL;
    for (int i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->kid[i]->text, key) == 0) {
            if (keynode) *keynode = m->kid[i];
            return m->kid[i + 1];
        }
    return NULL;
}

/* ================================================================== the loader state */

static void add_err(loader *L, int kind, int line, int col, int set, const char *fmt, va_list ap) {
    sbuf b = {0};
    char head[4200];
    if (kind == 1)
        snprintf(head, sizeof head, "%s:%d:%d: ", L->file, line, col);
    else if (kind == 2)
        snprintf(head, sizeof head, "--set %s: ", set >= 0 && set < L->n_sets ? L->set_keys[set] : "?");
    else
        snprintf(head, sizeof head, "%s: ", L->file);
    cfg_sb_puts(&b, head);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cfg_sb_puts(&b, msg);
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

void cfg_err_plain(loader *L, const char *fmt, ...) {
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
void cfg_err_node(loader *L, const cnode *n, const char *fmt, ...) {
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
void cfg_err_key(loader *L, const cnode *n, const char *kp, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->set >= 0 && n->set < L->n_sets && strcmp(L->set_keys[n->set], kp) == 0)
        cfg_err_node(L, n, "%s", msg);
    else
        cfg_err_node(L, n, "%s: %s", kp, msg);
}

int cfg_errent_cmp(const void *a, const void *b) {
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
            cfg_node_free(n); /* no anchor can outlive this parse anyway; only aliases after it would dangle */
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
        cfg_err_plain(L, "more than 1000000 YAML nodes (an alias expanding too much?)");
        if (y->set < 0) L->yaml_failed = 1;
        y->failed = 1;
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit;
        if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) == 0) plain = 0;
        n = cfg_node_new(CN_SCALAR, y->set, 0, 0);
        if (n) n->text = malloc(ev->data.scalar.length + 1);
        if (!n || !n->text) {
            cfg_node_free(n);
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
                    cfg_err_plain(L, "more than 1000000 YAML nodes (an alias expanding too much?)");
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
        n = cfg_node_new(is_map ? CN_MAP : CN_SEQ, y->set, 0, 0);
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
                if (cfg_node_push(n, c)) {
                    cfg_node_free(c);
                    L->oom = y->failed = 1;
                    break;
                }
                continue;
            }
            /* a key, then its value */
            yaml_event_t ve;
            if (next_event(y, &ve)) {
                cfg_node_free(c);
                break;
            }
            cnode *v = build_node(y, &ve, depth + 1);
            if (!v) {
                cfg_node_free(c);
                break;
            }
            if (c->kind != CN_SCALAR) {
                cfg_err_node(L, c, "a key must be a plain word, not a %s", c->kind == CN_MAP ? "mapping" : "list");
                junk_node(L, c);
                junk_node(L, v);
                continue;
            }
            cnode *first = NULL;
            if (cfg_map_get(n, c->text, &first)) {
                if (y->set >= 0)
                    cfg_err_node(L, c, "duplicate key '%s'", c->text);
                else
                    cfg_err_node(L, c, "duplicate key '%s' (first at line %d, column %d)", c->text, first->line, first->col);
                junk_node(L, c);
                junk_node(L, v);
                continue;
            }
            if (cfg_node_push(n, c) || cfg_node_push(n, v)) {
                if (n->n && n->kid[n->n - 1] == c) n->n--;
                cfg_node_free(c);
                cfg_node_free(v);
                L->oom = y->failed = 1;
                break;
            }
        }
        break;
    }
    default:
        cfg_err_plain(L, "unexpected YAML event %d", (int)ev->type);
        y->failed = 1;
        break;
    }
    yaml_event_delete(ev);
    if (y->failed) {
        cfg_node_free(n);
        return NULL;
    }
    return n;
}

static void anchors_reset(loader *L) {
    for (int i = 0; i < L->n_anchors; i++) free(L->anchors[i].name);
    free(L->anchors);
    L->anchors = NULL;
    L->n_anchors = L->cap_anchors = 0;
    for (int i = 0; i < L->n_junk; i++) cfg_node_free(L->junk[i]);
    free(L->junk);
    L->junk = NULL;
    L->n_junk = L->cap_junk = 0;
}

/* Parses one YAML document. *root = NULL for an empty stream. Returns -1 on malformed input
 * (reported). */
int cfg_yaml_to_tree(loader *L, const unsigned char *buf, size_t len, int set, cnode **root) {
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
        cfg_node_free(*root);
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
    cnode *m = cfg_node_new(CN_MAP, v->set, v->line, v->col);
    cnode *k = cfg_scalar_new(key, 1, v->set, v->line, v->col);
    if (!m || !k || cfg_node_push(m, k) || cfg_node_push(m, v)) {
        if (m && m->n == 1) m->n = 0;
        cfg_node_free(m);
        cfg_node_free(k);
        return NULL;
    }
    return m;
}

void cfg_normalize(loader *L, cnode *root) {
    if (!root || root->kind != CN_MAP) return;
    static const char *const lists[][2] = {{"benchmarks", "name"}, {"models", "path"}};
    for (int s = 0; s < 2; s++) {
        cnode *seq = cfg_map_get(root, lists[s][0], NULL);
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

const char *cfg_kind_name(const cnode *n) {
    if (n->kind == CN_MAP) return "a mapping";
    if (n->kind == CN_SEQ) return "a list";
    return "a single value";
}

/* Applies override number idx ("a.b.0.c=value") to *root. */
void cfg_apply_override(loader *L, cnode **root, int idx, const char *text) {
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
        if (cfg_yaml_to_tree(L, (const unsigned char *)val, vl, idx, &v)) {
            free(kcopy);
            return;
        }
    } else {
        char *t = strndup(val, vl);
        v = t ? cfg_scalar_new(t, 1, idx, 0, 0) : NULL;
        free(t);
    }
    if (!v) {
        if (!L->oom) v = cfg_scalar_new("", 1, idx, 0, 0);
        if (!v) {
            L->oom = 1;
            free(kcopy);
            return;
        }
    }

    if (!*root) *root = cfg_node_new(CN_MAP, idx, 0, 0);
    cnode *cur = *root;
    if (!cur || cur->kind != CN_MAP) { /* the file's own problem is reported elsewhere */
        if (!cur) L->oom = 1;
        cfg_node_free(v);
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
                cnode *k = cfg_scalar_new(seg, 1, idx, 0, 0);
                cnode *c = last ? v : cfg_node_new(is_index(segs[s + 1]) ? CN_SEQ : CN_MAP, idx, 0, 0);
                if (!k || !c || cfg_node_push(cur, k) || cfg_node_push(cur, c)) {
                    if (cur->n && cur->kid[cur->n - 1] == k) cur->n--;
                    cfg_node_free(k);
                    if (c != v) cfg_node_free(c);
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
                cnode *c = last ? v : cfg_node_new(is_index(segs[s + 1]) ? CN_SEQ : CN_MAP, idx, 0, 0);
                if (!c || cfg_node_push(cur, c)) {
                    if (c != v) cfg_node_free(c);
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
            err_set(L, idx, "'%s' is %s, not a mapping or a list; cannot set '%s' inside it", walked.p ? walked.p : "", cfg_kind_name(cur),
                    seg);
            goto out;
        }
        if (last) {
            cfg_node_free(*slot);
            *slot = v;
            v = NULL;
            goto out;
        }
        cur = *slot;
    next:
        if (walked.n) cfg_sb_putc(&walked, '.');
        cfg_sb_puts(&walked, seg);
        /* a shorthand scalar on the way (benchmarks.0 = "bbq") becomes its mapping form */
        cfg_normalize(L, *root);
        if (walked.oom) {
            L->oom = 1;
            goto out;
        }
        if (s == 1 && (strcmp(segs[0], "benchmarks") == 0 || strcmp(segs[0], "models") == 0)) {
            cnode *seq = cfg_map_get(*root, segs[0], NULL);
            long k = strtol(segs[1], NULL, 10);
            if (seq && seq->kind == CN_SEQ && k < seq->n) cur = seq->kid[k];
        } else if (s == 0 && strcmp(segs[0], "metrics") == 0) {
            cur = cfg_map_get(*root, "metrics", NULL);
        }
    }
out:
    free(walked.p);
    cfg_node_free(v);
    free(kcopy);
}
