/* adapter.c — LoRA adapters and weight deltas applied to a loaded model (adapter.h), in four
 * steps: find the files; map every tensor of the modification onto a weight matrix of the base
 * (targets, below); check names, shapes, ranks, PEFT options and finiteness for all of them; then
 * change the matrices in place, keeping each one's original bytes for quipu_model_restore.
 * The merge arithmetic is fixed (docs/mitigation.md) and this file is compiled without FP
 * contraction (CMakeLists.txt), so a merged checkpoint written by scripts/merge_adapter.py with the
 * same arithmetic scores bit for bit the same on the CPU.
 * Shape letters: D width, QD = H·HD, KD = HKV·HD, F FFN width, V vocabulary, r rank; a matrix is
 * [out, in] ("module orientation", as quipu and torch.nn.Linear hold it). */
#define _POSIX_C_SOURCE 200809L
#include "adapter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "safetensors.h"

/* ---------------------------------------------------------------- the base's editable matrices */

/* The matrices a modification may change. QKV is a fused [Q; K; V] projection (GPT-2's c_attn,
 * Phi-3's qkv_proj) and GATEUP Phi-3's fused [gate; up] (quipu holds them split); EMBD, POS and
 * HEAD are the token embedding, GPT-2's position embedding and an untied LM head. */
typedef enum { TK_Q, TK_K, TK_V, TK_O, TK_GATE, TK_UP, TK_DOWN, TK_QKV, TK_GATEUP, TK_EMBD, TK_POS, TK_HEAD, TK_COUNT } target_kind;

/* How an architecture names its matrices (Hugging Face module paths under model.layers.N /
 * transformer.h.N, or top-level names). */
typedef enum { NAMING_LLAMA, NAMING_GPT2, NAMING_PHI3, NAMING_COUNT } naming;

static const struct {
    const char *name[NAMING_COUNT]; /* NULL: the architecture has no such matrix */
    int per_layer, linear;
} tk_info[TK_COUNT] = {
    [TK_Q] = {{"self_attn.q_proj", NULL, NULL}, 1, 1},
    [TK_K] = {{"self_attn.k_proj", NULL, NULL}, 1, 1},
    [TK_V] = {{"self_attn.v_proj", NULL, NULL}, 1, 1},
    [TK_O] = {{"self_attn.o_proj", "attn.c_proj", "self_attn.o_proj"}, 1, 1},
    [TK_GATE] = {{"mlp.gate_proj", NULL, NULL}, 1, 1},
    [TK_UP] = {{"mlp.up_proj", "mlp.c_fc", NULL}, 1, 1},
    [TK_DOWN] = {{"mlp.down_proj", "mlp.c_proj", "mlp.down_proj"}, 1, 1},
    [TK_QKV] = {{NULL, "attn.c_attn", "self_attn.qkv_proj"}, 1, 1},
    [TK_GATEUP] = {{NULL, NULL, "mlp.gate_up_proj"}, 1, 1},
    [TK_EMBD] = {{"embed_tokens", "wte", "embed_tokens"}, 0, 0},
    [TK_POS] = {{NULL, "wpe", NULL}, 0, 0},
    [TK_HEAD] = {{"lm_head", NULL, "lm_head"}, 0, 1},
};

/* The naming of an architecture (quipu_arch_name), -1 where quipu does not edit it yet. */
static int naming_of(const char *family) {
    static const char *const llama[] = {"llama", "gemma3", "qwen3", "gemma2", "olmo2", NULL};
    for (int i = 0; llama[i]; i++)
        if (!strcmp(family, llama[i])) return NAMING_LLAMA;
    if (!strcmp(family, "gpt2")) return NAMING_GPT2;
    if (!strcmp(family, "phi3")) return NAMING_PHI3;
    return -1;
}

/* What the checks need to know of the base, from the loaded model or, before loading, from
 * quipu_model_describe. */
typedef struct base_info {
    const char *path;
    int naming;
    int64_t n_expert;    /* a mixture of experts: refused (adapters_open) */
    char family[32];     /* quipu_arch_name */
    char arch_name[32];  /* as the file names it */
    int64_t n_layer, D, QD, KD, F, V, n_ctx, n_head, n_head_kv, head_dim;
    int tied;
    int qk_permuted; /* GGUF Llama: Q/K rows in llama.cpp's interleaved order (rope "norm") */
} base_info;

static const char *tk_module(const base_info *b, int k) { return b->naming >= 0 ? tk_info[k].name[b->naming] : NULL; }

/* Conv1D: the Hugging Face tensor is [in, out], the transpose of what quipu holds */
static int tk_conv1d(const base_info *b, int k) { return b->naming == NAMING_GPT2 && tk_info[k].per_layer; }

/* 1 if this base has matrix k (an lm_head only when untied); then [out, in] in *out, *in, with
 * *out = -1 for the vocabulary-sized ones while V is unknown (before loading some checkpoints). */
static int tk_shape(const base_info *b, int k, int64_t *out, int64_t *in) {
    if (!tk_module(b, k) || (k == TK_HEAD && b->tied)) return 0;
    int64_t o = 0, i = b->D;
    switch ((target_kind)k) {
    case TK_Q: o = b->QD; break;
    case TK_K: case TK_V: o = b->KD; break;
    case TK_O: o = b->D; i = b->QD; break;
    case TK_GATE: case TK_UP: o = b->F; break;
    case TK_DOWN: o = b->D; i = b->F; break;
    case TK_QKV: o = b->QD + 2 * b->KD; break;
    case TK_GATEUP: o = 2 * b->F; break;
    case TK_EMBD: case TK_HEAD: o = b->V > 0 ? b->V : -1; break;
    case TK_POS: o = b->n_ctx; break;
    case TK_COUNT: return 0;
    }
    *out = o;
    *in = i;
    return 1;
}

/* The linear layers' names, for messages: "q_proj, k_proj, ..." */
static void tk_list(const base_info *b, char *out, size_t len) {
    size_t o = 0;
    out[0] = '\0';
    for (int k = 0; k < TK_COUNT; k++) {
        int64_t r, c;
        if (!tk_info[k].linear || !tk_shape(b, k, &r, &c)) continue;
        if (o < len) o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ", " : "", tk_module(b, k));
    }
}

static const char *const llama_prefixes[] = {"model.", "model.language_model.", "language_model.model.", "", NULL};
static const char *const llama_head_prefixes[] = {"", "language_model.", NULL};
static const char *const gpt2_prefixes[] = {"transformer.", "", NULL};

/* Maps a module path ("model.layers.3.mlp.down_proj", no ".weight") onto (kind, layer). Returns 1
 * when it names a matrix kind of this architecture (*layer may still be past the last layer: the
 * caller says so), 0 otherwise. prefix receives what came before "layers." ("model."). */
static int parse_module(const base_info *b, const char *name, int *kind, int64_t *layer, char *prefix, size_t plen) {
    int gpt2 = b->naming == NAMING_GPT2;
    const char *const *pre = gpt2 ? gpt2_prefixes : llama_prefixes;
    const char *container = gpt2 ? "h." : "layers.";
    size_t cl = strlen(container);
    for (int p = 0; pre[p]; p++) {
        size_t pl = strlen(pre[p]);
        if (strncmp(name, pre[p], pl) != 0) continue;
        const char *rest = name + pl;
        if (!strncmp(rest, container, cl)) {
            const char *d = rest + cl;
            int64_t l = 0;
            int nd = 0;
            while (*d >= '0' && *d <= '9' && nd < 10) l = l * 10 + (*d++ - '0'), nd++;
            if (nd == 0 || nd == 10 || *d != '.' || (nd > 1 && rest[cl] == '0')) continue;
            for (int k = 0; k < TK_COUNT; k++) {
                if (!tk_info[k].per_layer || !tk_module(b, k) || strcmp(d + 1, tk_module(b, k))) continue;
                *kind = k;
                *layer = l;
                if (prefix) snprintf(prefix, plen, "%.*s", (int)pl, pre[p]);
                return 1;
            }
            continue;
        }
        for (int k = 0; k < TK_COUNT; k++) {
            if (tk_info[k].per_layer || k == TK_HEAD || !tk_module(b, k) || strcmp(rest, tk_module(b, k))) continue;
            *kind = k;
            *layer = -1;
            if (prefix) snprintf(prefix, plen, "%.*s", (int)pl, pre[p]);
            return 1;
        }
    }
    if (!gpt2)
        for (int p = 0; llama_head_prefixes[p]; p++) {
            size_t pl = strlen(llama_head_prefixes[p]);
            if (!strncmp(name, llama_head_prefixes[p], pl) && !strcmp(name + pl, "lm_head")) {
                *kind = TK_HEAD;
                *layer = -1;
                return 1;
            }
        }
    return 0;
}

/* The module name of (k, l) as the base model names it, with prefix before layers. */
static void module_name(const base_info *b, int k, int64_t l, const char *prefix, char *out, size_t len) {
    if (tk_info[k].per_layer)
        snprintf(out, len, "%s%s%lld.%s", prefix, b->naming == NAMING_GPT2 ? "h." : "layers.", (long long)l, tk_module(b, k));
    else if (k == TK_HEAD)
        snprintf(out, len, "%slm_head", !strcmp(prefix, "language_model.model.") ? "language_model." : "");
    else
        snprintf(out, len, "%s%s", prefix, tk_module(b, k));
}

static void base_from_model(base_info *b, const quipu_model *m) {
    const quipu_model_config *c = &m->cfg;
    memset(b, 0, sizeof *b);
    b->path = m->path;
    snprintf(b->family, sizeof b->family, "%s", quipu_arch_name(c->arch));
    b->naming = naming_of(b->family);
    snprintf(b->arch_name, sizeof b->arch_name, "%s", c->arch_name);
    b->n_layer = c->n_layer;
    b->D = c->n_embd;
    b->n_head = c->n_head;
    b->n_head_kv = c->n_head_kv;
    b->head_dim = c->head_dim;
    b->QD = c->n_head * c->head_dim;
    b->KD = c->n_head_kv * c->head_dim;
    b->F = c->n_ff;
    b->V = c->n_vocab;
    b->n_ctx = m->pos_embd ? c->n_ctx : 0;
    b->tied = m->lm_head == m->tok_embd;
    b->qk_permuted = c->rope_kind == QUIPU_ROPE_NORM;
    b->n_expert = c->n_expert;
}

/* Before loading: what `quipu inspect` prints, read back. */
static quipu_status base_from_path(base_info *b, const char *path, quipu_error *err) {
    char *text = NULL;
    size_t len = 0;
    memset(b, 0, sizeof *b);
    b->path = path;
    FILE *f = open_memstream(&text, &len);
    if (!f) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    quipu_status st = quipu_model_describe(path, f, err);
    fclose(f);
    json_t *doc = st ? NULL : json_loadb(text ? text : "", len, 0, NULL);
    free(text);
    if (st) return st;
    json_t *hp = json_object_get(doc, "hyperparameters");
    const char *fam = json_string_value(json_object_get(doc, "family"));
    const char *an = json_string_value(json_object_get(doc, "architecture"));
    if (!json_is_object(hp) || !fam) {
        json_decref(doc);
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: cannot read the model's description", path);
    }
    snprintf(b->family, sizeof b->family, "%s", fam);
    b->naming = naming_of(fam);
    snprintf(b->arch_name, sizeof b->arch_name, "%s", an ? an : fam);
#define HPI(k) ((int64_t)json_integer_value(json_object_get(hp, k)))
    b->n_layer = HPI("n_layer");
    b->D = HPI("n_embd");
    b->n_head = HPI("n_head");
    b->n_head_kv = HPI("n_head_kv");
    b->head_dim = HPI("head_dim");
    b->QD = b->n_head * b->head_dim;
    b->KD = b->n_head_kv * b->head_dim;
    b->F = HPI("n_ff");
    b->V = HPI("n_vocab"); /* 0 when the describer did not find the embedding: checked at load */
    b->n_ctx = b->naming == NAMING_GPT2 ? HPI("n_ctx") : 0;
#undef HPI
    b->tied = json_is_true(json_object_get(hp, "tied_embeddings"));
    b->n_expert = (int64_t)json_integer_value(json_object_get(hp, "experts"));
    const char *rope = json_string_value(json_object_get(hp, "rope"));
    b->qk_permuted = rope && !strcmp(rope, "norm");
    json_decref(doc);
    return QUIPU_OK;
}

/* ---------------------------------------------------------------- files and identity */

static int path_kind(const char *p) { /* 0 absent, 1 file, 2 folder */
    struct stat st;
    if (stat(p, &st) != 0) return 0;
    return S_ISDIR(st.st_mode) ? 2 : 1;
}

/* The files of a modification: LoRA: config + weights; delta: the one safetensors file. */
static quipu_status adapter_locate(const char *path, int *is_lora, char **cfg_path, char **st_path, quipu_error *err) {
    *cfg_path = *st_path = NULL;
    int k = path_kind(path);
    if (k == 0) return quipu_error_set(err, QUIPU_ERR_IO, "%s: adapter not found (%s)", path, strerror(errno));
    if (k == 1) {
        *is_lora = 0;
        *st_path = strdup(path);
        return *st_path ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    char *c = quipu_asprintf("%s/adapter_config.json", path), *w = quipu_asprintf("%s/adapter_model.safetensors", path);
    char *d = quipu_asprintf("%s/delta.safetensors", path), *bin = quipu_asprintf("%s/adapter_model.bin", path);
    quipu_status st = QUIPU_OK;
    if (!c || !w || !d || !bin) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    } else if (path_kind(c) == 1) {
        *is_lora = 1;
        if (path_kind(w) == 1) {
            *cfg_path = c;
            *st_path = w;
            c = w = NULL;
        } else if (path_kind(bin) == 1) {
            st = quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: a pickled adapter is not read; save it with safe_serialization=True (adapter_model.safetensors)", bin);
        } else {
            st = quipu_error_set(err, QUIPU_ERR_IO, "%s: missing (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)", w);
        }
    } else if (path_kind(d) == 1) {
        *is_lora = 0;
        *st_path = d;
        d = NULL;
    } else {
        st = quipu_error_set(err, QUIPU_ERR_FORMAT,
                             "%s: not an adapter: expected adapter_config.json + adapter_model.safetensors (PEFT LoRA) or delta.safetensors (a weight delta)", path);
    }
    free(c);
    free(w);
    free(d);
    free(bin);
    return st;
}

static quipu_status file_sha256(const char *path, char hex[65], uint64_t *bytes, quipu_error *err) {
    quipu_mmap mm = {0};
    if (quipu_check_regular_file(path, err) || quipu_mmap_open(&mm, path, err)) return err->code;
    uint8_t d[32];
    quipu_config_sha256(mm.data, mm.size, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    *bytes = mm.size;
    quipu_mmap_close(&mm);
    return QUIPU_OK;
}

quipu_status quipu_adapter_files(const char *path, const char **kind, quipu_adapter_file **files, int *n, quipu_error *err) {
    int is_lora = 0;
    char *cp = NULL, *sp = NULL;
    *files = NULL;
    *n = 0;
    if (adapter_locate(path, &is_lora, &cp, &sp, err)) return err->code;
    *kind = is_lora ? "lora" : "delta";
    quipu_adapter_file *f = calloc(2, sizeof *f);
    int k = 0;
    quipu_status st = f ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    char *paths[2] = {cp, sp};
    for (int i = 0; i < 2 && !st; i++) {
        if (!paths[i]) continue;
        f[k].path = paths[i];
        paths[i] = NULL;
        st = file_sha256(f[k].path, f[k].sha256, &f[k].bytes, err);
        k++;
    }
    free(paths[0]);
    free(paths[1]);
    if (st) {
        quipu_adapter_files_free(f, k);
        return st;
    }
    *files = f;
    *n = k;
    return QUIPU_OK;
}

void quipu_adapter_files_free(quipu_adapter_file *files, int n) {
    for (int i = 0; files && i < n; i++) free(files[i].path);
    free(files);
}

quipu_status quipu_adapter_identity(const char *path, char hex[65], quipu_error *err) {
    const char *kind = NULL;
    quipu_adapter_file *f = NULL;
    int n = 0;
    if (quipu_adapter_files(path, &kind, &f, &n, err)) return err->code;
    char buf[1024];
    size_t o = (size_t)snprintf(buf, sizeof buf, "quipu-adapter/1\n%s\n", kind);
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(f[i].path, '/') ? strrchr(f[i].path, '/') + 1 : f[i].path;
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%.200s %s\n", base, f[i].sha256);
    }
    uint8_t d[32];
    quipu_config_sha256(buf, o < sizeof buf ? o : sizeof buf - 1, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    quipu_adapter_files_free(f, n);
    return QUIPU_OK;
}

json_t *quipu_adapter_json(const char *path, quipu_error *err) {
    const char *kind = NULL;
    quipu_adapter_file *f = NULL;
    int n = 0;
    if (quipu_adapter_files(path, &kind, &f, &n, err)) return NULL;
    json_t *o = json_object(), *files = json_array();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "kind", json_string(kind));
    for (int i = 0; i < n; i++) {
        json_t *e = json_object();
        const char *base = strrchr(f[i].path, '/') ? strrchr(f[i].path, '/') + 1 : f[i].path;
        json_object_set_new(e, "name", json_string(base));
        json_object_set_new(e, "sha256", json_string(f[i].sha256));
        json_object_set_new(e, "bytes", json_integer((json_int_t)f[i].bytes));
        json_array_append_new(files, e);
    }
    json_object_set_new(o, "files", files);
    quipu_adapter_files_free(f, n);
    return o;
}

/* ---------------------------------------------------------------- one modification, checked */

/* How a matrix's ΔW is given. LORA and FACTORS: d = s · B·A with B [out, r], A [r, in] in module
 * orientation once read; FULL: d given whole. */
enum { FORM_LORA, FORM_FULL, FORM_FACTORS };

typedef struct mod {
    int kind;
    int64_t layer;          /* -1: not per layer */
    char name[256];         /* the module (LoRA) or base tensor (delta), for messages */
    int form;
    const quipu_st_tensor *ta, *tb; /* LORA: lora_A, lora_B; FACTORS: delta_A (or delta_v), delta_B (or delta_u) */
    const quipu_st_tensor *tf;      /* FULL */
    int64_t out, in, r;
    int transposed;         /* delta on a Conv1D: the file holds [in, out] layouts */
    double scale;
} mod;

typedef struct adapter {
    char *path, *cfg_path, *st_path;
    int is_lora;
    quipu_safetensors *st;
    mod *mods;
    int n_mods, cap_mods;
} adapter;

static void adapter_free(adapter *a) {
    if (!a) return;
    quipu_safetensors_free(a->st);
    free(a->mods);
    free(a->path);
    free(a->cfg_path);
    free(a->st_path);
    free(a);
}

static mod *mod_find(adapter *a, int kind, int64_t layer) {
    for (int i = 0; i < a->n_mods; i++)
        if (a->mods[i].kind == kind && a->mods[i].layer == layer) return &a->mods[i];
    return NULL;
}

static mod *mod_get(adapter *a, int kind, int64_t layer, const char *name, quipu_error *err) {
    mod *m = mod_find(a, kind, layer);
    if (m) return m;
    if (a->n_mods == a->cap_mods) {
        int nc = a->cap_mods ? 2 * a->cap_mods : 16;
        mod *nm = realloc(a->mods, (size_t)nc * sizeof *nm);
        if (!nm) {
            quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            return NULL;
        }
        a->mods = nm;
        a->cap_mods = nc;
    }
    m = &a->mods[a->n_mods++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->layer = layer;
    m->form = -1;
    snprintf(m->name, sizeof m->name, "%s", name);
    return m;
}

static void shape_text(const quipu_st_tensor *t, char *out, size_t len) {
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t d = 0; d < t->n_dims && o < len; d++) o += (size_t)snprintf(out + o, len - o, "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
}

static int shape_is(const quipu_st_tensor *t, int nd, int64_t d0, int64_t d1) {
    if ((int)t->n_dims != nd) return 0;
    if (nd >= 1 && d0 >= 0 && (int64_t)t->shape[0] != d0) return 0;
    if (nd >= 2 && d1 >= 0 && (int64_t)t->shape[1] != d1) return 0;
    return 1;
}

static quipu_status bad_shape(const adapter *a, const base_info *b, const quipu_st_tensor *t, const char *want, quipu_error *err) {
    char got[128];
    shape_text(t, got, sizeof got);
    return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected %s for this %s model (%s): an adapter for another base model?",
                           a->st_path, t->name, got, want, b->arch_name, b->path);
}

/* The target named by a module path, checked against the base: known kind, existing layer, a
 * matrix this base has. Sets *kind, *layer; otherwise an error naming the tensor. */
static quipu_status resolve_target(const adapter *a, const base_info *b, const char *module, const char *tensor, char *prefix, size_t plen,
                                   int *kind, int64_t *layer, quipu_error *err) {
    char list[256];
    if (!parse_module(b, module, kind, layer, prefix, plen)) {
        tk_list(b, list, sizeof list);
        if (a->is_lora)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': unknown target module '%s': not a layer of this %s model (its linear layers: %s)",
                                   a->st_path, tensor, module, b->arch_name, list);
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: tensor '%s': this %s model has no weight matrix '%s.weight' that quipu can edit (its layers' %s, the embeddings, an untied lm_head)",
                               a->st_path, tensor, b->arch_name, module, list);
    }
    if (*layer >= b->n_layer)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': layer %lld does not exist (this %s model has %lld layers): an adapter for another base model?",
                               a->st_path, tensor, (long long)*layer, b->arch_name, (long long)b->n_layer);
    int64_t o, i;
    if (*kind == TK_HEAD && b->tied)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: tensor '%s': this model ties lm_head to the token embedding; %s", a->st_path, tensor,
                               a->is_lora ? "a LoRA on lm_head is not supported there"
                                          : "edit the embedding's tensor instead (it changes both, as in a merged checkpoint)");
    if (!tk_shape(b, *kind, &o, &i))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': this %s model has no '%s'", a->st_path, tensor, b->arch_name, module);
    return QUIPU_OK;
}

/* Reads tensor t as fp32 into a new array, every value finite. */
static quipu_status read_tensor(const adapter *a, const quipu_st_tensor *t, float **out, quipu_error *err) {
    uint64_t n = quipu_st_tensor_numel(t);
    float *v = quipu_malloc_array(n ? n : 1, sizeof(float));
    *out = NULL;
    if (!v) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory reading '%s'", a->st_path, t->name);
    if (quipu_safetensors_read_f32(a->st, t, v, n, err)) {
        free(v);
        return err->code;
    }
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            const char *what = isnan(v[i]) ? "NaN" : "Inf";
            free(v);
            return quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value (%s) at element %llu", a->st_path, t->name,
                                   what, (unsigned long long)i);
        }
    *out = v;
    return QUIPU_OK;
}

/* ---------------------------------------------------------------- PEFT LoRA */

/* A JSON value that must be absent, null, false, empty or equal to `ok` for quipu to apply the
 * adapter as plain LoRA. */
static int json_unset(const json_t *v) {
    return !v || json_is_null(v) || json_is_false(v) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0) || (json_is_string(v) && json_string_length(v) == 0);
}

typedef struct lora_cfg {
    int64_t r;
    double alpha;
    int rslora;
    json_t *target, *exclude, *layers, *rank_pattern, *alpha_pattern; /* borrowed from the document */
    int all_linear;
} lora_cfg;

/* Python's re.fullmatch (anchored both ends) or re.match(rf"(.*\.)?({key})$") for the patterns. */
static int regex_match(const char *pattern, const char *subject, int pattern_key, int *bad) {
    char *p = pattern_key ? quipu_asprintf("(.*\\.)?(%s)$", pattern) : quipu_asprintf("(?:%s)", pattern);
    int ec;
    PCRE2_SIZE eo;
    if (!p) return 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    free(p);
    if (!re) {
        *bad = 1;
        return 0;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)subject, PCRE2_ZERO_TERMINATED, 0, PCRE2_ANCHORED | (pattern_key ? 0 : PCRE2_ENDANCHORED), md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

/* PEFT's rule for target_modules / exclude_modules: a list matches a module named exactly so or
 * ending in "." + entry; a string is a regex matched against the whole name. */
static int names_match(const json_t *spec, const char *module, int *bad) {
    if (json_is_string(spec)) return regex_match(json_string_value(spec), module, 0, bad);
    size_t i;
    json_t *e;
    size_t ml = strlen(module);
    json_array_foreach(spec, i, e) {
        const char *t = json_string_value(e);
        if (!t) continue;
        size_t tl = strlen(t);
        if (!strcmp(module, t) || (ml > tl && module[ml - tl - 1] == '.' && !strcmp(module + ml - tl, t))) return 1;
    }
    return 0;
}

static int layer_selected(const lora_cfg *c, int64_t layer) {
    if (json_unset(c->layers) || layer < 0) return json_unset(c->layers) ? 1 : 0;
    if (json_is_integer(c->layers)) return json_integer_value(c->layers) == layer;
    size_t i;
    json_t *e;
    json_array_foreach(c->layers, i, e) if (json_is_integer(e) && json_integer_value(e) == layer) return 1;
    return 0;
}

/* Would PEFT put a LoRA on this module? */
static int lora_targets(const lora_cfg *c, const base_info *b, int kind, int64_t layer, const char *module, int *bad) {
    if (!json_unset(c->exclude) && names_match(c->exclude, module, bad)) return 0;
    int hit = c->all_linear ? (tk_info[kind].linear && kind != TK_HEAD) : names_match(c->target, module, bad);
    /* peft applies layers_to_transform to target lists (all-linear becomes one), not to a regex */
    return hit && ((json_is_string(c->target) && !c->all_linear) || layer_selected(c, layer));
}

/* The value of a rank_pattern / alpha_pattern for a module: the first key (in file order) that
 * matches as peft's get_pattern_key does; 0 if none. */
static int pattern_value(const json_t *pat, const char *module, double *out, int *bad) {
    const char *key;
    json_t *v;
    if (!json_is_object(pat)) return 0;
    json_object_foreach((json_t *)pat, key, v) {
        if (regex_match(key, module, 1, bad)) {
            if (!json_is_number(v)) {
                *bad = 2;
                return 0;
            }
            *out = json_number_value(v);
            return 1;
        }
    }
    return 0;
}

static quipu_status lora_read_config(adapter *a, json_t *doc, lora_cfg *c, quipu_error *err) {
    const char *p = a->cfg_path;
    json_t *v;
    memset(c, 0, sizeof *c);
    if (!json_is_object(doc)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: not a JSON object", p);
    v = json_object_get(doc, "peft_type");
    if (v && !(json_is_string(v) && !strcmp(json_string_value(v), "LORA")))
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: peft_type %s is not supported (LoRA only)", p,
                               json_is_string(v) ? json_string_value(v) : "(not a string)");
    /* options that change what the adapter computes beyond W + s·B·A: refused, one line each */
    static const struct {
        const char *key, *why;
    } refused[] = {
        {"use_dora", "DoRA (use_dora) is not supported"},
        {"lora_bias", "LoRA biases (lora_bias) are not supported"},
        {"modules_to_save", "modules_to_save (full copies of layers) is not supported"},
        {"layer_replication", "layer_replication is not supported"},
        {"trainable_token_indices", "trainable_token_indices is not supported"},
        {"target_parameters", "target_parameters (LoRA on parameters) is not supported"},
        {"alora_invocation_tokens", "activated LoRA (alora_invocation_tokens) is not supported"},
        {"use_qalora", "QALoRA (use_qalora) is not supported"},
        {"megatron_config", "Megatron layers (megatron_config) are not supported"},
        {"use_bdlora", "block-diagonal LoRA (use_bdlora) is not supported"},
        {"arrow_config", "Arrow routing (arrow_config) is not supported"},
        {"kasa_config", "KaSA (kasa_config) is not supported"},
        {"monteclora_config", "MonteCLoRA (monteclora_config) is not supported"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (!json_unset(json_object_get(doc, refused[i].key)))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: %s", p, refused[i].why);
    v = json_object_get(doc, "bias");
    if (v && !json_is_null(v) && !(json_is_string(v) && !strcmp(json_string_value(v), "none")))
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: bias '%s' is not supported (only \"none\": the adapter must not train biases)", p,
                               json_is_string(v) ? json_string_value(v) : "?");
    v = json_object_get(doc, "init_lora_weights");
    if (v && !json_is_boolean(v) && !(json_is_string(v) && !strcmp(json_string_value(v), "gaussian")))
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: init_lora_weights '%s' is not supported: that initialisation changes the base weights; convert the adapter to plain LoRA first",
                               p, json_is_string(v) ? json_string_value(v) : "?");
    v = json_object_get(doc, "r");
    c->r = 8; /* peft's default */
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: r must be an integer", p);
        c->r = json_integer_value(v);
    }
    if (c->r < 1) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: r is %lld: a LoRA rank must be at least 1", p, (long long)c->r);
    v = json_object_get(doc, "lora_alpha");
    c->alpha = 8;
    if (v && !json_is_null(v)) {
        if (!json_is_number(v) || !isfinite(json_number_value(v))) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: lora_alpha must be a number", p);
        c->alpha = json_number_value(v);
    }
    c->rslora = json_is_true(json_object_get(doc, "use_rslora"));
    c->target = json_object_get(doc, "target_modules");
    c->exclude = json_object_get(doc, "exclude_modules");
    c->layers = json_object_get(doc, "layers_to_transform");
    c->rank_pattern = json_object_get(doc, "rank_pattern");
    c->alpha_pattern = json_object_get(doc, "alpha_pattern");
    if (!json_is_string(c->target) && !json_is_array(c->target))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: target_modules must be a list of module names or a regex string", p);
    c->all_linear = json_is_string(c->target) && !strcasecmp(json_string_value(c->target), "all-linear");
    if (!json_unset(c->exclude) && !json_is_string(c->exclude) && !json_is_array(c->exclude))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: exclude_modules must be a list of module names or a regex string", p);
    if (!json_unset(c->layers) && !json_is_integer(c->layers) && !json_is_array(c->layers))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: layers_to_transform must be an integer or a list of integers", p);
    if (!json_unset(c->rank_pattern) && !json_is_object(c->rank_pattern))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: rank_pattern must be a mapping", p);
    if (!json_unset(c->alpha_pattern) && !json_is_object(c->alpha_pattern))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: alpha_pattern must be a mapping", p);
    return QUIPU_OK;
}

static quipu_status lora_build(adapter *a, const base_info *b, json_t *doc, quipu_error *err) {
    lora_cfg c;
    if (lora_read_config(a, doc, &c, err)) return err->code;
    const char *p = a->cfg_path;
    {
        json_t *lp = json_object_get(doc, "layers_pattern");
        const char *want = b->naming == NAMING_GPT2 ? "h" : "layers";
        size_t i;
        json_t *e;
        if (json_is_string(lp) && json_string_length(lp) && strcmp(json_string_value(lp), want))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: layers_pattern '%s' is not this %s model's layer list ('%s')", p,
                                   json_string_value(lp), b->arch_name, want);
        if (json_is_array(lp) && json_array_size(lp)) {
            int found = 0;
            json_array_foreach(lp, i, e) found |= json_is_string(e) && !strcmp(json_string_value(e), want);
            if (!found) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: layers_pattern does not name this %s model's layer list ('%s')", p, b->arch_name, want);
        }
    }
    char prefix[64] = "", seen_prefix[64] = "";
    int have_prefix = 0, bad = 0;
    static const char lead[] = "base_model.model.";
    for (uint64_t t = 0; t < a->st->n_tensors; t++) {
        const quipu_st_tensor *ten = &a->st->tensors[t];
        const char *nm = ten->name;
        size_t nl = strlen(nm);
        if (strncmp(nm, lead, sizeof lead - 1))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' is not a PEFT LoRA weight (expected base_model.model.MODULE.lora_A.weight)", a->st_path, nm);
        if (strstr(nm, ".lora_embedding_A") || strstr(nm, ".lora_embedding_B"))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor '%s': LoRA on embedding layers is not supported", a->st_path, nm);
        if (strstr(nm, ".lora_magnitude_vector"))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor '%s': DoRA is not supported", a->st_path, nm);
        int is_a;
        size_t sl;
        if (nl > 14 && !strcmp(nm + nl - 14, ".lora_A.weight")) is_a = 1, sl = 14;
        else if (nl > 14 && !strcmp(nm + nl - 14, ".lora_B.weight")) is_a = 0, sl = 14;
        else return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor '%s' is not a LoRA A or B matrix (biases and other trained tensors are not supported)", a->st_path, nm);
        char module[256];
        if (nl - sl - (sizeof lead - 1) >= sizeof module)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': name too long", a->st_path, nm);
        snprintf(module, sizeof module, "%.*s", (int)(nl - sl - (sizeof lead - 1)), nm + sizeof lead - 1);
        int kind;
        int64_t layer;
        if (resolve_target(a, b, module, nm, prefix, sizeof prefix, &kind, &layer, err)) return err->code;
        if (kind == TK_EMBD || kind == TK_POS)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor '%s': LoRA on embedding layers is not supported", a->st_path, nm);
        if (tk_info[kind].per_layer && !have_prefix) {
            snprintf(seen_prefix, sizeof seen_prefix, "%s", prefix);
            have_prefix = 1;
        }
        if (!lora_targets(&c, b, kind, layer, module, &bad) || bad)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, bad ? "%s: target_modules, exclude_modules or a pattern is not a valid regex"
                                                             : "%s: module '%s' has LoRA weights but adapter_config.json does not target it (target_modules, exclude_modules, layers_to_transform)",
                                   bad ? p : a->st_path, module);
        mod *m = mod_get(a, kind, layer, module, err);
        if (!m) return err->code;
        if (m->form >= 0 && strcmp(m->name, module))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: modules '%s' and '%s' are the same layer", a->st_path, m->name, module);
        m->form = FORM_LORA;
        if (is_a) m->ta = ten;
        else m->tb = ten;
    }
    if (a->n_mods == 0) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: no LoRA weights (no *.lora_A.weight / *.lora_B.weight tensors)", a->st_path);
    /* A and B for every module, then shapes, ranks and scaling: a wrong base shows as a wrong shape */
    for (int x = 0; x < a->n_mods; x++)
        if (!a->mods[x].ta || !a->mods[x].tb)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor 'base_model.model.%s.lora_%s.weight'", a->st_path, a->mods[x].name,
                                   a->mods[x].ta ? "B" : "A");
    const char *pre = have_prefix ? seen_prefix : b->naming == NAMING_GPT2 ? "transformer." : "model.";
    char name[320], list[256];
    int64_t o, i;
    for (int x = 0; x < a->n_mods; x++) {
        mod *m = &a->mods[x];
        tk_shape(b, m->kind, &m->out, &m->in); /* out = -1: V unknown yet, checked at load */
        double r = (double)c.r, alpha = c.alpha, pv;
        if (pattern_value(c.rank_pattern, m->name, &pv, &bad)) r = pv;
        if (pattern_value(c.alpha_pattern, m->name, &pv, &bad)) alpha = pv;
        if (bad) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: rank_pattern / alpha_pattern: a key is not a valid regex or a value not a number", p);
        if (r != floor(r) || r < 1 || r > 1e9)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: the rank of '%s' is %g: a LoRA rank must be an integer of at least 1", p, m->name, r);
        if (m->ta->n_dims == 2 && m->ta->shape[0] == 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has rank 0: a LoRA rank must be at least 1", a->st_path, m->ta->name);
        m->r = (int64_t)r;
        char want[96];
        snprintf(want, sizeof want, "[%lld, %lld]", (long long)m->r, (long long)m->in);
        if (!shape_is(m->ta, 2, -1, m->in)) return bad_shape(a, b, m->ta, want, err);
        if (m->ta->shape[0] != (uint64_t)m->r)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has rank %llu but adapter_config.json gives '%s' rank %lld", a->st_path,
                                   m->ta->name, (unsigned long long)m->ta->shape[0], m->name, (long long)m->r);
        snprintf(want, sizeof want, m->out < 0 ? "[V, %lld]" : "[%lld, %lld]", m->out < 0 ? (long long)m->r : (long long)m->out, (long long)m->r);
        if (!shape_is(m->tb, 2, m->out, m->r)) return bad_shape(a, b, m->tb, want, err);
        m->scale = c.rslora ? alpha / sqrt(r) : alpha / r;
    }
    /* every module the config targets has both matrices, and every entry of a target list names something */
    for (int k = 0; k < TK_COUNT; k++) {
        if (!tk_shape(b, k, &o, &i)) continue;
        for (int64_t l = tk_info[k].per_layer ? 0 : -1; l < (tk_info[k].per_layer ? b->n_layer : 0); l++) {
            module_name(b, k, l, pre, name, sizeof name);
            if (!lora_targets(&c, b, k, l, name, &bad)) continue;
            if (k == TK_EMBD || k == TK_POS)
                return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: target module '%s': LoRA on embedding layers is not supported", p, name);
            if (!mod_find(a, k, l)) /* (found ones have both matrices: checked above) */
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor 'base_model.model.%s.lora_A.weight' (adapter_config.json targets '%s')",
                                       a->st_path, name, name);
        }
    }
    if (json_is_array(c.target) || (json_is_string(c.target) && !c.all_linear)) {
        size_t n_entries = json_is_array(c.target) ? json_array_size(c.target) : 1;
        for (size_t e = 0; e < n_entries; e++) {
            json_t *one = json_is_array(c.target) ? json_array_get(c.target, e) : c.target;
            if (!json_is_string(one)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: target_modules entry %zu is not a string", p, e);
            json_t *single = json_is_array(c.target) ? json_pack("[O]", one) : json_incref(one);
            int hit = 0;
            for (int k = 0; k < TK_COUNT && !hit; k++) {
                if (!tk_shape(b, k, &o, &i)) continue;
                for (int64_t l = tk_info[k].per_layer ? 0 : -1; l < (tk_info[k].per_layer ? b->n_layer : 0) && !hit; l++) {
                    module_name(b, k, l, pre, name, sizeof name);
                    hit = names_match(single, name, &bad);
                }
            }
            json_decref(single);
            if (!hit) {
                tk_list(b, list, sizeof list);
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: unknown target module '%s': this %s model has no such layer (its linear layers: %s)", p,
                                       json_string_value(one), b->arch_name, list);
            }
        }
    }
    return QUIPU_OK;
}

/* ---------------------------------------------------------------- weight deltas */

static const struct {
    const char *suffix;
    int role; /* 0 full, 1 B (or u), 2 A (or v) */
    int nd;   /* dimensions */
} delta_suffix[] = {{".delta_B", 1, 2}, {".delta_A", 2, 2}, {".delta_u", 1, 1}, {".delta_v", 2, 1}};

static quipu_status delta_build(adapter *a, const base_info *b, quipu_error *err) {
    if (a->st->n_tensors == 0) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: holds no tensors", a->st_path);
    for (uint64_t t = 0; t < a->st->n_tensors; t++) {
        const quipu_st_tensor *ten = &a->st->tensors[t];
        const char *nm = ten->name;
        size_t nl = strlen(nm), bl = nl;
        int role = 0, nd = 2;
        for (size_t s = 0; s < sizeof delta_suffix / sizeof *delta_suffix; s++) {
            size_t sl = strlen(delta_suffix[s].suffix);
            if (nl > sl && !strcmp(nm + nl - sl, delta_suffix[s].suffix)) {
                role = delta_suffix[s].role;
                nd = delta_suffix[s].nd;
                bl = nl - sl;
            }
        }
        char module[256];
        if (bl < 8 || strncmp(nm + bl - 7, ".weight", 7) || bl - 7 >= sizeof module)
            return quipu_error_set(err, QUIPU_ERR_FORMAT,
                                   "%s: tensor '%s' is not named after a weight of the base (NAME.weight, NAME.weight.delta_B/_A or NAME.weight.delta_u/_v)",
                                   a->st_path, nm);
        snprintf(module, sizeof module, "%.*s", (int)(bl - 7), nm);
        int kind;
        int64_t layer;
        char prefix[64];
        if (resolve_target(a, b, module, nm, prefix, sizeof prefix, &kind, &layer, err)) return err->code;
        char base_name[300];
        snprintf(base_name, sizeof base_name, "%s.weight", module);
        mod *m = mod_get(a, kind, layer, base_name, err);
        if (!m) return err->code;
        if (strcmp(m->name, base_name))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensors '%s' and '%s' edit the same weight", a->st_path, m->name, base_name);
        int form = role == 0 ? FORM_FULL : FORM_FACTORS;
        if (m->form >= 0 && m->form != form)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': '%s' is given both whole and as factors", a->st_path, nm, base_name);
        m->form = form;
        m->transposed = tk_conv1d(b, kind);
        const quipu_st_tensor **slot = role == 0 ? &m->tf : role == 1 ? &m->tb : &m->ta;
        if (*slot || (role && ((m->ta && m->ta->n_dims != (uint32_t)nd) || (m->tb && m->tb->n_dims != (uint32_t)nd))))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': '%s' has factors of two kinds (use delta_B/delta_A or delta_u/delta_v)",
                                   a->st_path, nm, base_name);
        if (role && (int)ten->n_dims != nd)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %u dimensions, expected %d", a->st_path, nm, ten->n_dims, nd);
        *slot = ten;
    }
    for (int x = 0; x < a->n_mods; x++) {
        mod *m = &a->mods[x];
        int64_t o = -1, i = b->D;
        tk_shape(b, m->kind, &o, &i); /* o = -1: V unknown yet, checked at load */
        m->out = o;
        m->in = i;
        int64_t d0 = m->transposed ? i : o, d1 = m->transposed ? o : i; /* the file's layout */
        char want[96];
        if (m->form == FORM_FULL) {
            snprintf(want, sizeof want, d0 < 0 ? "[V, %lld]" : "[%lld, %lld]", d0 < 0 ? (long long)d1 : (long long)d0, (long long)d1);
            if (!shape_is(m->tf, 2, d0, d1)) return bad_shape(a, b, m->tf, want, err);
            m->r = 0;
            m->scale = 1.0;
            continue;
        }
        int uv = (m->ta ? m->ta : m->tb)->n_dims == 1;
        if (!m->ta || !m->tb)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s.%s' ('%s' needs both factors)", a->st_path, m->name,
                                   uv ? (m->ta ? "delta_u" : "delta_v") : (m->ta ? "delta_B" : "delta_A"), m->name);
        if (uv) {
            m->r = 1;
            if (m->tb->shape[0] == 0 || m->ta->shape[0] == 0)
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' is empty", a->st_path, (m->tb->shape[0] == 0 ? m->tb : m->ta)->name);
            snprintf(want, sizeof want, d0 < 0 ? "[V]" : "[%lld]", (long long)d0);
            if (!shape_is(m->tb, 1, d0, -1)) return bad_shape(a, b, m->tb, want, err);
            snprintf(want, sizeof want, "[%lld]", (long long)d1);
            if (!shape_is(m->ta, 1, d1, -1)) return bad_shape(a, b, m->ta, want, err);
        } else {
            m->r = (int64_t)m->tb->shape[1];
            if (m->r == 0 || m->ta->shape[0] == 0)
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has rank 0: an edit's rank must be at least 1", a->st_path,
                                       (m->r == 0 ? m->tb : m->ta)->name);
            snprintf(want, sizeof want, d0 < 0 ? "[V, %lld]" : "[%lld, %lld]", d0 < 0 ? (long long)m->r : (long long)d0, (long long)m->r);
            if (!shape_is(m->tb, 2, d0, m->r)) return bad_shape(a, b, m->tb, want, err);
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)m->r, (long long)d1);
            if (!shape_is(m->ta, 2, m->r, d1)) return bad_shape(a, b, m->ta, want, err);
        }
        m->scale = 1.0;
    }
    return QUIPU_OK;
}

/* ---------------------------------------------------------------- open + check */

static quipu_status adapter_open(adapter **out, const char *path, const base_info *b, quipu_error *err) {
    adapter *a = calloc(1, sizeof *a);
    json_t *doc = NULL;
    *out = NULL;
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    if (adapter_locate(path, &a->is_lora, &a->cfg_path, &a->st_path, err)) goto fail;
    if (a->is_lora) {
        char *text = NULL;
        size_t len = 0;
        if (quipu_read_file_max(a->cfg_path, QUIPU_READ_MAX_CONFIG_JSON, "adapter_config.json", &text, &len, err)) goto fail;
        json_error_t je;
        doc = json_loadb(text, len, 0, &je);
        free(text);
        if (!doc) {
            quipu_error_set(err, QUIPU_ERR_FORMAT, "%s:%d:%d: cannot parse: %s", a->cfg_path, je.line, je.column, je.text);
            goto fail;
        }
    }
    if (quipu_check_regular_file(a->st_path, err) || quipu_safetensors_open(&a->st, a->st_path, err)) goto fail;
    if (a->is_lora ? lora_build(a, b, doc, err) : delta_build(a, b, err)) goto fail;
    json_decref(doc);
    *out = a;
    return QUIPU_OK;
fail:
    json_decref(doc);
    adapter_free(a);
    return err->code ? err->code : QUIPU_ERR_INTERNAL;
}

/* The factors of m in module orientation: B [out, r], A [r, in] (FULL: *full [out, in]), finite. */
static quipu_status mod_read(const adapter *a, const mod *m, float **pb, float **pa, float **pfull, quipu_error *err) {
    *pb = *pa = *pfull = NULL;
    if (m->form == FORM_FULL) {
        float *f;
        if (read_tensor(a, m->tf, &f, err)) return err->code;
        if (m->transposed) { /* [in, out] -> [out, in] */
            float *t = quipu_malloc_array((size_t)(m->out * m->in), sizeof(float));
            if (!t) {
                free(f);
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            }
            for (int64_t i = 0; i < m->in; i++)
                for (int64_t o = 0; o < m->out; o++) t[o * m->in + i] = f[i * m->out + o];
            free(f);
            f = t;
        }
        *pfull = f;
        return QUIPU_OK;
    }
    float *fb, *fa;
    if (read_tensor(a, m->tb, &fb, err)) return err->code;
    if (read_tensor(a, m->ta, &fa, err)) {
        free(fb);
        return err->code;
    }
    if (m->transposed) {
        /* a delta on a Conv1D: ΔW[o, i] = Σ_k Bf[i, k] Af[k, o] = Σ_k Af[k, o] Bf[i, k], so B = Afᵀ [out, r] and
         * A = Bfᵀ [r, in]; k runs in the same order, each product the same */
        float *nb = quipu_malloc_array((size_t)(m->out * m->r), sizeof(float)), *na = quipu_malloc_array((size_t)(m->r * m->in), sizeof(float));
        if (!nb || !na) {
            free(nb);
            free(na);
            free(fa);
            free(fb);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        }
        for (int64_t k = 0; k < m->r; k++) {
            for (int64_t o = 0; o < m->out; o++) nb[o * m->r + k] = fa[k * m->out + o];
            for (int64_t i = 0; i < m->in; i++) na[k * m->in + i] = fb[i * m->r + k];
        }
        free(fa);
        free(fb);
        fa = na;
        fb = nb;
    }
    *pb = fb;
    *pa = fa;
    return QUIPU_OK;
}

/* Opens and checks every modification; then reads each one's data once (dtypes, NaN / Inf) and
 * lets it go: nothing is kept but the checked list. */
static quipu_status adapters_open(adapter ***out, const char *const *paths, int n, const base_info *b, quipu_error *err) {
    if (b->naming < 0)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: adapters and weight edits are not supported on %s models yet", b->path, b->family);
    if (b->n_expert > 0)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: adapters and weight edits are not supported on mixture-of-experts models (%s) yet: they would need the "
                               "routers and every expert's matrices as targets",
                               b->path, b->arch_name);
    adapter **v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    if (!v) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (adapter_open(&v[i], paths[i], b, err)) goto fail;
        for (int x = 0; x < v[i]->n_mods; x++) {
            float *fb, *fa, *ff;
            const mod *m = &v[i]->mods[x];
            /* the V-sized matrices, when V was not known at the check */
            if (m->out < 0) continue;
            if (mod_read(v[i], m, &fb, &fa, &ff, err)) goto fail;
            free(fb);
            free(fa);
            free(ff);
        }
    }
    *out = v;
    return QUIPU_OK;
fail:
    for (int i = 0; i < n; i++) adapter_free(v[i]);
    free(v);
    return err->code;
}

quipu_status quipu_adapter_precheck(const char *model_path, const char *const *paths, int n, quipu_error *err) {
    base_info b;
    adapter **v = NULL;
    if (n <= 0) return QUIPU_OK;
    if (base_from_path(&b, model_path, err)) return err->code;
    if (adapters_open(&v, paths, n, &b, err)) return err->code;
    for (int i = 0; i < n; i++) adapter_free(v[i]);
    free(v);
    return QUIPU_OK;
}

/* ---------------------------------------------------------------- apply and restore */

typedef struct saved {
    quipu_buf *buf;
    size_t bytes;
    void *data;
} saved;

struct quipu_model_edits {
    saved *v;
    int n, cap;
    size_t bytes;
};

void quipu_model_edits_free(quipu_model_edits *e) {
    if (!e) return;
    for (int i = 0; i < e->n; i++) free(e->v[i].data);
    free(e->v);
    free(e);
}

size_t quipu_model_edits_bytes(const quipu_model_edits *e) { return e ? e->bytes : 0; }

quipu_status quipu_model_restore(quipu_model *m, quipu_model_edits *e, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    if (!e) return QUIPU_OK;
    quipu_backend *be = m->backend;
    for (int i = e->n - 1; i >= 0; i--)
        if (be->iface->buf_write(be, e->v[i].buf, 0, e->v[i].data, e->v[i].bytes, err) && !st) st = err->code;
    quipu_model_edits_free(e);
    return st;
}

/* One destination of a matrix's rows: rows [row0, row0 + n) of ΔW go to buf (its rows permuted
 * to llama.cpp's interleaved Q/K order when heads > 0). */
typedef struct segment {
    quipu_buf *buf;
    int64_t row0, n, heads;
    const char *field;
} segment;

static int segments_of(const quipu_model *m, const base_info *b, int kind, int64_t l, segment s[3]) {
    const quipu_layer_weights *w = l >= 0 ? &m->layers[l] : NULL;
    int64_t hq = b->qk_permuted ? b->n_head : 0, hk = b->qk_permuted ? b->n_head_kv : 0;
    switch ((target_kind)kind) {
    case TK_Q: s[0] = (segment){w->wq, 0, b->QD, hq, "wq"}; return 1;
    case TK_K: s[0] = (segment){w->wk, 0, b->KD, hk, "wk"}; return 1;
    case TK_V: s[0] = (segment){w->wv, 0, b->KD, 0, "wv"}; return 1;
    case TK_O: s[0] = (segment){w->wo, 0, b->D, 0, "wo"}; return 1;
    case TK_GATE: s[0] = (segment){w->w_gate, 0, b->F, 0, "w_gate"}; return 1;
    case TK_UP: s[0] = (segment){w->w_up, 0, b->F, 0, "w_up"}; return 1;
    case TK_DOWN: s[0] = (segment){w->w_down, 0, b->D, 0, "w_down"}; return 1;
    case TK_QKV:
        s[0] = (segment){w->wq, 0, b->QD, hq, "wq"};
        s[1] = (segment){w->wk, b->QD, b->KD, hk, "wk"};
        s[2] = (segment){w->wv, b->QD + b->KD, b->KD, 0, "wv"};
        return 3;
    case TK_GATEUP:
        s[0] = (segment){w->w_gate, 0, b->F, 0, "w_gate"};
        s[1] = (segment){w->w_up, b->F, b->F, 0, "w_up"};
        return 2;
    case TK_EMBD: s[0] = (segment){m->tok_embd, 0, b->V, 0, "tok_embd"}; return 1;
    case TK_POS: s[0] = (segment){m->pos_embd, 0, b->n_ctx, 0, "pos_embd"}; return 1;
    case TK_HEAD: s[0] = (segment){m->lm_head, 0, b->V, 0, "lm_head"}; return 1;
    case TK_COUNT: break;
    }
    return 0;
}

static quipu_status edits_keep(quipu_model_edits *e, quipu_buf *buf, const void *raw, size_t bytes, quipu_error *err) {
    for (int i = 0; i < e->n; i++)
        if (e->v[i].buf == buf) return QUIPU_OK;
    if (e->n == e->cap) {
        int nc = e->cap ? 2 * e->cap : 16;
        saved *nv = realloc(e->v, (size_t)nc * sizeof *nv);
        if (!nv) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory keeping the original weights");
        e->v = nv;
        e->cap = nc;
    }
    void *copy = malloc(bytes);
    if (!copy) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory keeping the original weights (%zu bytes)", bytes);
    memcpy(copy, raw, bytes);
    e->v[e->n++] = (saved){buf, bytes, copy};
    e->bytes += bytes;
    return QUIPU_OK;
}

/* Row o of a head-major block of `heads` heads of HD rows, in llama.cpp's order: within a head,
 * Hugging Face row a·HD/2 + i (a = 0, 1) is row 2i + a. */
static int64_t permuted_row(int64_t o, int64_t hd) {
    int64_t h = o / hd, j = o % hd, half = hd / 2;
    return h * hd + 2 * (j % half) + j / half;
}

/* W' = fl32(W + d) for every element of the segment; d as documented in adapter.h. */
static quipu_status apply_segment(quipu_model *m, const adapter *a, const mod *md, const segment *sg, const float *B, const float *A,
                                  const float *full, quipu_model_edits *E, quipu_error *err) {
    quipu_backend *be = m->backend;
    quipu_etype et = m->wtype; /* every matrix, embeddings included */
    size_t es = quipu_etype_size(et);
    int64_t rows = sg->n, cols = md->in;
    size_t n = (size_t)(rows * cols), bytes = n * es;
    if (!sg->buf || be->iface->buf_size(sg->buf) != bytes)
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: '%s': the model's %s is not the [%lld, %lld] matrix quipu expects", a->st_path, md->name,
                               sg->field, (long long)rows, (long long)cols);
    if (sg->heads && (rows % sg->heads || (rows / sg->heads) % 2))
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: '%s': cannot map rows onto the GGUF's permuted heads", a->st_path, md->name);
    void *raw = malloc(bytes);
    float *w = et == QUIPU_E_F32 ? raw : quipu_malloc_array(n, sizeof(float));
    if (!raw || !w) {
        free(raw);
        if (w != raw) free(w);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory applying '%s'", md->name);
    }
    quipu_status st = be->iface->buf_read(be, sg->buf, 0, raw, bytes, err);
    if (!st) st = edits_keep(E, sg->buf, raw, bytes, err);
    if (!st && et != QUIPU_E_F32) {
        const uint16_t *h = raw;
        for (size_t i = 0; i < n; i++) w[i] = et == QUIPU_E_BF16 ? quipu_bf16_to_f32(h[i]) : quipu_f16_to_f32(h[i]);
    }
    int64_t bad_at = -1;
    if (!st) {
        int64_t hd = sg->heads ? rows / sg->heads : 0, r = md->r;
        double s = md->scale;
#pragma omp parallel
        {
            double *acc = full ? NULL : malloc((size_t)cols * sizeof(double));
            int64_t my_bad = -1;
#pragma omp for schedule(static)
            for (int64_t o = 0; o < rows; o++) {
                int64_t src = sg->row0 + o, dst = hd ? permuted_row(o, hd) : o;
                float *wr = w + dst * cols;
                if (full) {
                    const float *fr = full + src * cols;
                    for (int64_t i = 0; i < cols; i++) wr[i] = wr[i] + fr[i];
                } else if (acc) {
                    for (int64_t i = 0; i < cols; i++) acc[i] = 0.0;
                    for (int64_t k = 0; k < r; k++) {
                        double bk = (double)B[src * r + k];
                        const float *ar = A + k * cols;
                        for (int64_t i = 0; i < cols; i++) acc[i] += bk * (double)ar[i];
                    }
                    for (int64_t i = 0; i < cols; i++) {
                        float d = (float)(s * acc[i]);
                        wr[i] = wr[i] + d;
                    }
                } else {
                    my_bad = -2;
                }
                if (my_bad == -1)
                    for (int64_t i = 0; i < cols; i++)
                        if (!isfinite(wr[i])) {
                            my_bad = src * cols + i;
                            break;
                        }
            }
            free(acc);
#pragma omp critical
            if (my_bad != -1 && (bad_at == -1 || my_bad < bad_at)) bad_at = my_bad;
        }
    }
    if (!st && bad_at == -2) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory applying '%s'", md->name);
    else if (!st && bad_at >= 0)
        st = quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: '%s': the edited weight is not finite at row %lld, column %lld (ΔW too large)", a->st_path,
                             md->name, (long long)(bad_at / cols), (long long)(bad_at % cols));
    if (!st && et != QUIPU_E_F32) {
        size_t over = quipu_convert_f32(et, w, raw, n);
        if (over)
            st = quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: '%s': %zu edited value%s past the range of %s", a->st_path, md->name, over,
                                 over == 1 ? "" : "s", quipu_etype_name(et));
    }
    if (!st) st = be->iface->buf_write(be, sg->buf, 0, et == QUIPU_E_F32 ? (void *)w : raw, bytes, err);
    if (w != raw) free(w);
    free(raw);
    return st;
}

static quipu_status apply_one(quipu_model *m, const base_info *b, const adapter *a, quipu_model_edits *E, quipu_error *err) {
    for (int x = 0; x < a->n_mods; x++) {
        const mod *md = &a->mods[x];
        float *B, *A, *full;
        if (mod_read(a, md, &B, &A, &full, err)) return err->code;
        segment sg[3];
        int ns = segments_of(m, b, md->kind, md->layer, sg);
        quipu_status st = ns ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: '%s': no destination", a->st_path, md->name);
        for (int i = 0; i < ns && !st; i++) st = apply_segment(m, a, md, &sg[i], B, A, full, E, err);
        free(B);
        free(A);
        free(full);
        if (st) return st;
    }
    return QUIPU_OK;
}

quipu_status quipu_model_apply_adapters(quipu_model *m, const char *const *paths, int n, quipu_model_edits **out, quipu_error *err) {
    base_info b;
    adapter **v = NULL;
    *out = NULL;
    if (n <= 0) return QUIPU_OK;
    if (m->n_qw)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: adapters change dequantized weights, and this model's layers are kept in their GGUF blocks: "
                               "set QUIPU_GGUF_WEIGHTS=dense",
                               m->path);
    base_from_model(&b, m);
    if (adapters_open(&v, paths, n, &b, err)) return err->code;
    quipu_model_edits *E = calloc(1, sizeof *E);
    quipu_status st = E ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++) st = apply_one(m, &b, v[i], E, err);
    for (int i = 0; i < n; i++) adapter_free(v[i]);
    free(v);
    if (st) {
        quipu_error e2 = {0};
        quipu_model_restore(m, E, &e2); /* the model as it was */
        return st;
    }
    *out = E;
    return QUIPU_OK;
}
