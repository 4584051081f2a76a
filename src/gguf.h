/* gguf.h — reader for GGUF v2/v3 model files (memory-mapped, untrusted input).
 * Every length, count and offset is bounds-checked against the file size before use; metadata
 * and tensor infos are parsed once at open, tensor data stays in the map. */
#ifndef QUIPU_GGUF_H
#define QUIPU_GGUF_H

#include "common.h"

typedef enum quipu_gguf_vtype {
    QUIPU_GGUF_UINT8 = 0, QUIPU_GGUF_INT8 = 1, QUIPU_GGUF_UINT16 = 2, QUIPU_GGUF_INT16 = 3,
    QUIPU_GGUF_UINT32 = 4, QUIPU_GGUF_INT32 = 5, QUIPU_GGUF_FLOAT32 = 6, QUIPU_GGUF_BOOL = 7,
    QUIPU_GGUF_STRING = 8, QUIPU_GGUF_ARRAY = 9, QUIPU_GGUF_UINT64 = 10, QUIPU_GGUF_INT64 = 11,
    QUIPU_GGUF_FLOAT64 = 12
} quipu_gguf_vtype;

/* A string inside the map: not NUL-terminated. */
typedef struct quipu_gguf_str {
    const char *ptr;
    uint64_t len;
} quipu_gguf_str;

typedef struct quipu_gguf_kv {
    char *key;             /* heap copy, NUL-terminated */
    quipu_gguf_vtype type;
    union {
        uint64_t u;        /* any unsigned integer or bool */
        int64_t i;         /* any signed integer */
        double f;          /* float32 / float64 */
        quipu_gguf_str s;  /* string */
    } v;
    /* arrays: element type, count and a pointer to the first element in the map. For string
     * arrays, arr_strs[i] is filled at open (bounds-checked); NULL otherwise. arr_data is not
     * aligned: read numeric elements with quipu_gguf_arr_get_int/float. */
    quipu_gguf_vtype arr_type;
    uint64_t arr_count;
    const uint8_t *arr_data;
    quipu_gguf_str *arr_strs;
} quipu_gguf_kv;

#define QUIPU_GGUF_MAX_DIMS 4
typedef struct quipu_gguf_tensor {
    char name[65];
    uint32_t n_dims;
    uint64_t ne[QUIPU_GGUF_MAX_DIMS]; /* ne[0] = contiguous row length; unused dims = 1 */
    uint32_t type;                    /* ggml type id (quant.h) */
    uint64_t offset;                  /* from data start */
    const uint8_t *data;              /* into the map, checked: data + nbytes <= end */
    uint64_t nbytes;
} quipu_gguf_tensor;

typedef struct quipu_gguf {
    char *path;
    quipu_mmap map;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    quipu_gguf_kv *kv;
    uint64_t n_tensors;
    quipu_gguf_tensor *tensors;
    uint64_t data_offset;
} quipu_gguf;

/* Opens and validates path. On error *out is NULL and err says "PATH: problem". Free with
 * quipu_gguf_free. */
quipu_status quipu_gguf_open(quipu_gguf **out, const char *path, quipu_error *err);
void quipu_gguf_free(quipu_gguf *g);

/* Returns 1 if path starts with the GGUF magic. */
int quipu_gguf_is_gguf(const char *path);

const quipu_gguf_kv *quipu_gguf_find(const quipu_gguf *g, const char *key);
/* Typed getters: return 1 and set *out if key exists with a compatible type (any integer type
 * for get_int, float32/float64 (or integer) for get_float, bool or integer for get_bool), else 0. */
int quipu_gguf_get_int(const quipu_gguf *g, const char *key, int64_t *out);
int quipu_gguf_get_float(const quipu_gguf *g, const char *key, double *out);
int quipu_gguf_get_bool(const quipu_gguf *g, const char *key, int *out);
/* Returns the string (not NUL-terminated) or ptr=NULL. */
quipu_gguf_str quipu_gguf_get_str(const quipu_gguf *g, const char *key);
/* Numeric array element i as double / int64 (any numeric element type); 0 on type mismatch. */
int quipu_gguf_arr_get_float(const quipu_gguf_kv *kv, uint64_t i, double *out);
int quipu_gguf_arr_get_int(const quipu_gguf_kv *kv, uint64_t i, int64_t *out);

const quipu_gguf_tensor *quipu_gguf_find_tensor(const quipu_gguf *g, const char *name);

#endif
