/* safetensors.c — Hugging Face safetensors checkpoints (one file, or shards listed by
 * model.safetensors.index.json). File: u64 LE header length N | N bytes of JSON | data buffer;
 * every tensor's data_offsets are checked to tile the data buffer exactly. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quant.h"

#define ST_MAX_HEADER 100000000ull /* safetensors MAX_HEADER_SIZE */
#define ST_MAX_DIMS 8
#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"

/* Every dtype of the format, with its width in bits; only F32/F16/BF16 can be read by quipu. */
typedef struct st_dtype {
    const char *name;
    uint32_t bits;
    uint32_t type;
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"F32", 32, QUIPU_TYPE_F32},       {"F16", 16, QUIPU_TYPE_F16},       {"BF16", 16, QUIPU_TYPE_BF16},
    {"BOOL", 8, QUIPU_TYPE_COUNT},     {"U8", 8, QUIPU_TYPE_COUNT},       {"I8", 8, QUIPU_TYPE_COUNT},
    {"F8_E5M2", 8, QUIPU_TYPE_COUNT},  {"F8_E4M3", 8, QUIPU_TYPE_COUNT},  {"F8_E8M0", 8, QUIPU_TYPE_COUNT},
    {"F8_E4M3FNUZ", 8, QUIPU_TYPE_COUNT}, {"F8_E5M2FNUZ", 8, QUIPU_TYPE_COUNT},
    {"I16", 16, QUIPU_TYPE_COUNT},     {"U16", 16, QUIPU_TYPE_COUNT},     {"I32", 32, QUIPU_TYPE_COUNT},
    {"U32", 32, QUIPU_TYPE_COUNT},     {"C64", 64, QUIPU_TYPE_COUNT},     {"F64", 64, QUIPU_TYPE_COUNT},
    {"I64", 64, QUIPU_TYPE_COUNT},     {"U64", 64, QUIPU_TYPE_COUNT},     {"F4", 4, QUIPU_TYPE_COUNT},
    {"F6_E2M3", 6, QUIPU_TYPE_COUNT},  {"F6_E3M2", 6, QUIPU_TYPE_COUNT},
};

static const st_dtype *dtype_find(const char *name) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
    return NULL;
}

/* Tensor-list growth shared by all shards. */
static quipu_status push_tensor(quipu_safetensors *st, uint64_t *cap, quipu_st_tensor **t, const char *path,
                                quipu_error *err) {
    if (st->n_tensors == *cap) {
        uint64_t ncap = *cap ? *cap * 2 : 64;
        quipu_st_tensor *nt = realloc(st->tensors, ncap * sizeof *nt);
        if (!nt) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
        st->tensors = nt;
        *cap = ncap;
    }
    *t = &st->tensors[st->n_tensors++];
    memset(*t, 0, sizeof **t);
    return QUIPU_OK;
}

/* A JSON integer >= 0 (jansson holds it as long long). */
static int json_u64(const json_t *j, uint64_t *out) {
    if (!json_is_integer(j) || json_integer_value(j) < 0) return 0;
    *out = (uint64_t)json_integer_value(j);
    return 1;
}

/* One entry "name": {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}. */
static quipu_status parse_entry(quipu_st_tensor *t, const char *path, const char *name, const json_t *e,
                                quipu_error *err) {
    if (!json_is_object(e))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': header entry is not a JSON object", path, name);
    const json_t *jd = json_object_get(e, "dtype");
    const json_t *js = json_object_get(e, "shape");
    const json_t *jo = json_object_get(e, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo))
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)", path,
                               name);
    const st_dtype *dt = dtype_find(json_string_value(jd));
    if (!dt)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", path, name,
                               json_string_value(jd));
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->name);
    t->type = dt->type;

    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (quipu supports %d)", path,
                               name, nd, ST_MAX_DIMS);
    t->n_dims = (uint32_t)nd;
    uint64_t nelem = 1, nonzero = 1;
    for (size_t d = 0; d < nd; d++) {
        if (!json_u64(json_array_get(js, d), &t->shape[d]))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                                   path, name, d);
        /* the product of the nonzero dimensions must fit int64: then no partial product (rows of
         * a matrix view, in any order) overflows when a zero dimension makes the whole one 0 */
        if (quipu_mul_overflow_u64(nelem, t->shape[d], &nelem) ||
            (t->shape[d] && (quipu_mul_overflow_u64(nonzero, t->shape[d], &nonzero) || nonzero > (uint64_t)INT64_MAX)))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': shape overflows the element count", path,
                                   name);
    }
    uint64_t begin, end, bits;
    if (json_array_size(jo) != 2 || !json_u64(json_array_get(jo, 0), &begin) || !json_u64(json_array_get(jo, 1), &end) ||
        begin > end)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end", path, name);
    if (quipu_mul_overflow_u64(nelem, dt->bits, &bits) || bits % 8 != 0)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': %llu elements of %s are not a whole number of bytes",
                               path, name, (unsigned long long)nelem, dt->name);
    t->nbytes = bits / 8;
    if (t->nbytes != end - begin)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: tensor '%s': shape needs %llu bytes of %s but data_offsets [%llu, %llu] span %llu",
                               path, name, (unsigned long long)t->nbytes, dt->name, (unsigned long long)begin,
                               (unsigned long long)end, (unsigned long long)(end - begin));
    /* until check_tiling resolves it against the map, data holds the begin offset (a wart that
     * saves a parallel array) */
    t->data = (const uint8_t *)(uintptr_t)begin;
    t->name = strdup(name);
    if (!t->name) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    return QUIPU_OK;
}

static int cmp_begin(const void *a, const void *b) {
    const quipu_st_tensor *x = *(const quipu_st_tensor *const *)a, *y = *(const quipu_st_tensor *const *)b;
    uintptr_t bx = (uintptr_t)x->data, by = (uintptr_t)y->data;
    if (bx != by) return bx < by ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes; /* empty tensors first */
}

/* Sorted by offset, the tensors of one shard must cover [0, data_size) with no gap or overlap. */
static quipu_status check_tiling(quipu_st_tensor *ts, uint64_t n, uint64_t data_size, const uint8_t *data,
                                 const char *path, quipu_error *err) {
    quipu_st_tensor **p = quipu_malloc_array(n, sizeof *p);
    if (!p) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; i < n; i++) p[i] = &ts[i];
    qsort(p, n, sizeof *p, cmp_begin);
    uint64_t pos = 0;
    quipu_status s = QUIPU_OK;
    for (uint64_t i = 0; i < n && !s; i++) {
        const uint64_t begin = (uintptr_t)p[i]->data, end = begin + p[i]->nbytes;
        if (end > data_size)
            s = quipu_error_set(err, QUIPU_ERR_FORMAT,
                                "%s: truncated file: tensor '%s' data_offsets [%llu, %llu] past end of the data buffer "
                                "(%llu bytes)",
                                path, p[i]->name, (unsigned long long)begin, (unsigned long long)end,
                                (unsigned long long)data_size);
        else if (begin > pos)
            s = quipu_error_set(err, QUIPU_ERR_FORMAT,
                                "%s: data buffer has a gap: bytes [%llu, %llu) belong to no tensor (next is '%s')", path,
                                (unsigned long long)pos, (unsigned long long)begin, p[i]->name);
        else if (begin < pos)
            s = quipu_error_set(err, QUIPU_ERR_FORMAT,
                                "%s: tensor '%s' data_offsets [%llu, %llu] overlap the previous tensor (ends at %llu)",
                                path, p[i]->name, (unsigned long long)begin, (unsigned long long)end,
                                (unsigned long long)pos);
        pos = end;
    }
    if (!s && pos != data_size)
        s = quipu_error_set(err, QUIPU_ERR_FORMAT,
                            "%s: data buffer has %llu bytes but the tensors cover only the first %llu", path,
                            (unsigned long long)data_size, (unsigned long long)pos);
    free(p);
    if (s) return s;
    for (uint64_t i = 0; i < n; i++) ts[i].data = data + (uintptr_t)ts[i].data;
    return QUIPU_OK;
}

/* Maps shard k (st->shard_paths[k] already set) and appends its tensors. */
static quipu_status load_shard(quipu_safetensors *st, int k, uint64_t *cap, quipu_error *err) {
    const char *path = st->shard_paths[k];
    quipu_mmap *m = &st->maps[k];
    if (quipu_mmap_open(m, path, err)) return err->code;
    if (m->size < 8)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: truncated file: %zu bytes, the 8-byte header length is missing",
                               path, m->size);
    uint64_t n;
    memcpy(&n, m->data, 8); /* little-endian host, as everywhere in quipu */
    if (n > ST_MAX_HEADER)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", path,
                               (unsigned long long)n, ST_MAX_HEADER);
    if (n > m->size - 8)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: truncated file: header length %llu extends past end of file (size %zu)", path,
                               (unsigned long long)n, m->size);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)m->data + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: invalid JSON header: %s (line %d, column %d)", path,
                               jerr.text, jerr.line, jerr.column);
    quipu_status s = QUIPU_OK;
    const uint64_t first = st->n_tensors;
    if (!json_is_object(root)) {
        s = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: JSON header is not an object", path);
        goto done;
    }
    const char *name;
    json_t *e;
    json_object_foreach(root, name, e) {
        if (strcmp(name, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(e)) {
                s = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: __metadata__ is not an object", path);
                goto done;
            }
            json_object_foreach(e, mk, mv) {
                if (!json_is_string(mv)) {
                    s = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: __metadata__ value of '%.80s' is not a string", path,
                                        mk);
                    goto done;
                }
            }
            continue;
        }
        quipu_st_tensor *t = NULL;
        if ((s = push_tensor(st, cap, &t, path, err))) goto done;
        t->shard = k;
        if ((s = parse_entry(t, path, name, e, err))) goto done;
    }
    s = check_tiling(st->tensors + first, st->n_tensors - first, m->size - 8 - n, m->data + 8 + n, path, err);
done:
    json_decref(root);
    return s;
}

static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static quipu_status alloc_shards(quipu_safetensors *st, int n, const char *path, quipu_error *err) {
    st->shard_paths = calloc((size_t)n, sizeof *st->shard_paths);
    st->maps = calloc((size_t)n, sizeof *st->maps);
    if (!st->shard_paths || !st->maps) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    return QUIPU_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const quipu_st_tensor *)a)->name, ((const quipu_st_tensor *)b)->name);
}

/* Sorts the tensors by name (quipu_safetensors_find bisects) and rejects a name held twice:
 * within one file the JSON parser already refuses duplicate keys, so this is across shards. */
static quipu_status sort_and_check_unique(quipu_safetensors *st, quipu_error *err) {
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, cmp_name);
    for (uint64_t i = 1; i < st->n_tensors; i++) {
        const quipu_st_tensor *a = &st->tensors[i - 1], *b = &st->tensors[i];
        if (strcmp(a->name, b->name) == 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' is also in %s", st->shard_paths[b->shard],
                                   b->name, st->shard_paths[a->shard]);
    }
    return QUIPU_OK;
}

/* The index's weight_map names, for each tensor, the shard holding it. Shards are listed in
 * order of first mention; each must exist and hold exactly the tensors named for it. */
static quipu_status open_index(quipu_safetensors *st, const char *index_path, uint64_t *cap, quipu_error *err) {
    char *text = NULL;
    size_t len = 0;
    if (quipu_read_file_max(index_path, QUIPU_READ_MAX_INDEX_JSON, "safetensors index", &text, &len, err)) return err->code;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: invalid JSON: %s (line %d, column %d)", index_path,
                               jerr.text, jerr.line, jerr.column);
    quipu_status s = QUIPU_OK;
    const json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        s = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing or empty \"weight_map\" object", index_path);
        goto done;
    }
    /* distinct shard names, in order of first mention (n^2 over a handful of shards) */
    const char *tname, *file;
    json_t *v;
    const char **names = calloc(json_object_size(wm), sizeof *names);
    int n = 0;
    if (!names) {
        s = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", index_path);
        goto done;
    }
    json_object_foreach((json_t *)wm, tname, v) {
        if (!json_is_string(v)) {
            s = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: weight_map entry '%s' is not a file name", index_path, tname);
            break;
        }
        file = json_string_value(v);
        if (file[0] == '\0' || strchr(file, '/') || strchr(file, '\\') || strcmp(file, "..") == 0 ||
            strcmp(file, ".") == 0) {
            s = quipu_error_set(err, QUIPU_ERR_FORMAT,
                                "%s: weight_map entry '%s': shard '%.80s' is not a plain file name in the directory",
                                index_path, tname, file);
            break;
        }
        int k = 0;
        while (k < n && strcmp(names[k], file) != 0) k++;
        if (k == n) names[n++] = file;
    }
    if (!s) s = alloc_shards(st, n, index_path, err);
    for (int k = 0; k < n && !s; k++) {
        st->n_shards = k + 1;
        st->shard_paths[k] = path_join(st->dir, names[k]);
        if (!st->shard_paths[k]) {
            s = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", index_path);
            break;
        }
        struct stat sb;
        if (stat(st->shard_paths[k], &sb) != 0) {
            s = quipu_error_set(err, QUIPU_ERR_IO, "%s: shard '%s' named in weight_map is missing (%s)", index_path,
                                names[k], st->shard_paths[k]);
            break;
        }
        s = load_shard(st, k, cap, err);
    }
    free(names);
    if (s) goto done;

    if ((s = sort_and_check_unique(st, err))) goto done;
    /* every weight_map entry must be in the shard it names; a shard may hold tensors the map
     * does not list (loaders ignore them; quipu keeps them) */
    json_object_foreach((json_t *)wm, tname, v) {
        const quipu_st_tensor *t = quipu_safetensors_find(st, tname);
        file = json_string_value(v);
        const char *holder = t ? strrchr(st->shard_paths[t->shard], '/') + 1 : NULL;
        if (!t || strcmp(holder, file) != 0) {
            s = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: weight_map puts tensor '%s' in '%s' but %s%s", index_path,
                                tname, file, t ? "it is in " : "no shard holds it", t ? holder : "");
            goto done;
        }
    }
done:
    json_decref(root);
    return s;
}

quipu_status quipu_safetensors_open(quipu_safetensors **out, const char *path, quipu_error *err) {
    *out = NULL;
    quipu_error local;
    quipu_error_clear(&local);
    if (!err) err = &local;
    quipu_safetensors *st = calloc(1, sizeof *st);
    if (!st) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    uint64_t cap = 0;
    quipu_status s = QUIPU_OK;
    char *index = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        s = quipu_error_set(err, QUIPU_ERR_IO, "%s: no such file or directory", path);
        goto fail;
    }
    if (S_ISDIR(sb.st_mode)) {
        st->dir = strdup(path);
        index = path_join(path, ST_INDEX_NAME);
        if (!st->dir || !index) goto nomem;
        if (stat(index, &sb) != 0) {
            free(index);
            index = NULL;
            if (alloc_shards(st, 1, path, err)) goto fail;
            st->n_shards = 1;
            st->shard_paths[0] = path_join(path, ST_SINGLE_NAME);
            if (!st->shard_paths[0]) goto nomem;
            if (stat(st->shard_paths[0], &sb) != 0) {
                char *bin = path_join(path, "pytorch_model.bin");
                struct stat bs;
                if (bin && stat(bin, &bs) == 0)
                    s = quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                        "%s: only pytorch_model.bin here, and quipu reads safetensors: convert it once with python -c \"import sys, torch; "
                                        "from safetensors.torch import save_file; d = sys.argv[1]; save_file({k: v.clone().contiguous() for k, v in "
                                        "torch.load(d + '/pytorch_model.bin', map_location='cpu', weights_only=True).items()}, d + "
                                        "'/model.safetensors', metadata={'format': 'pt'})\" %s",
                                        path, path);
                else
                    s = quipu_error_set(err, QUIPU_ERR_IO, "%s: no %s or %s in this directory", path, ST_SINGLE_NAME,
                                        ST_INDEX_NAME);
                free(bin);
                goto fail;
            }
        }
    } else {
        st->dir = dir_of(path);
        if (!st->dir) goto nomem;
        if (ends_with(path, ".json")) {
            index = strdup(path);
            if (!index) goto nomem;
        } else {
            if (alloc_shards(st, 1, path, err)) goto fail;
            st->n_shards = 1;
            st->shard_paths[0] = strdup(path);
            if (!st->shard_paths[0]) goto nomem;
        }
    }
    if (index) {
        if ((s = open_index(st, index, &cap, err))) goto fail;
    } else {
        if ((s = load_shard(st, 0, &cap, err))) goto fail;
        if ((s = sort_and_check_unique(st, err))) goto fail;
    }
    free(index);
    *out = st;
    return QUIPU_OK;

nomem:
    s = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
fail:
    free(index);
    quipu_safetensors_free(st);
    return s ? s : err->code;
}

void quipu_safetensors_free(quipu_safetensors *st) {
    if (!st) return;
    for (uint64_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (int k = 0; k < st->n_shards; k++) {
        if (st->maps) quipu_mmap_close(&st->maps[k]);
        if (st->shard_paths) free(st->shard_paths[k]);
    }
    free(st->maps);
    free(st->shard_paths);
    free(st->dir);
    free(st);
}

const quipu_st_tensor *quipu_safetensors_find(const quipu_safetensors *st, const char *name) {
    quipu_st_tensor key;
    key.name = (char *)name;
    return bsearch(&key, st->tensors, st->n_tensors, sizeof *st->tensors, cmp_name);
}

uint64_t quipu_st_tensor_numel(const quipu_st_tensor *t) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->shape[d]; /* checked at open */
    return n;
}

quipu_status quipu_safetensors_read_f32(const quipu_safetensors *st, const quipu_st_tensor *t, float *dst, uint64_t n,
                                        quipu_error *err) {
    const char *path = st->shard_paths[t->shard];
    if (t->type != QUIPU_TYPE_F32 && t->type != QUIPU_TYPE_F16 && t->type != QUIPU_TYPE_BF16)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: tensor '%s' has dtype %s; quipu reads only F32, F16 and BF16", path, t->name,
                               t->dtype);
    uint64_t numel = quipu_st_tensor_numel(t);
    if (n != numel)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: tensor '%s' has %llu elements, caller asked for %llu", path,
                               t->name, (unsigned long long)numel, (unsigned long long)n);
    return quipu_dequantize(t->type, t->data, dst, n, err);
}
