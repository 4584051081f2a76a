/* adapter.h — weight modifications applied to a loaded model before scoring: PEFT LoRA adapters
 * (adapter_config.json + adapter_model.safetensors) and weight deltas (a safetensors file whose
 * tensors are named after the base model's Hugging Face tensors: a full ΔW, or factors B·A / u vᵀ).
 * Every modification is checked against the base (names, shapes, rank, finiteness) before any
 * weight changes; the touched matrices are kept aside and copied back exactly by
 * quipu_model_restore, so one loaded base serves many variants. docs/mitigation.md gives the file
 * formats and the merge arithmetic:
 *   d = fl32(s · Σ_k (double)B[o,k]·(double)A[k,i])   (k ascending, in double; s = 1 for deltas)
 *   W' = fl32(W + d)                                  (then rounded to bf16 / f16 on a GPU in that dtype)
 * Shape letters: D width, QD = H·HD, KD = HKV·HD, F FFN width, V vocabulary, r rank. */
#ifndef QUIPU_ADAPTER_H
#define QUIPU_ADAPTER_H

#include <jansson.h>

#include "common.h"
#include "model.h"

/* One file of a modification, with its content hash (the modification's identity). */
typedef struct quipu_adapter_file {
    char *path;
    char sha256[65];
    uint64_t bytes;
} quipu_adapter_file;

/* The files of the modification at path (a PEFT folder, a folder holding delta.safetensors, or a
 * .safetensors file), hashed, in a fixed order; *kind is "lora" or "delta". Free with
 * quipu_adapter_files_free. */
quipu_status quipu_adapter_files(const char *path, const char **kind, quipu_adapter_file **files, int *n, quipu_error *err);
void quipu_adapter_files_free(quipu_adapter_file *files, int n);

/* hex = SHA-256 over the modification's kind and its files' names and SHA-256s: what it is,
 * wherever it lies. */
quipu_status quipu_adapter_identity(const char *path, char hex[65], quipu_error *err);

/* {"path", "kind", "files": [{"name", "sha256", "bytes"}]} for manifest.json; NULL with err set. */
json_t *quipu_adapter_json(const char *path, quipu_error *err);

/* Checks modifications paths[0..n) against the model at model_path (GGUF or checkpoint folder)
 * without loading its weights: every problem that quipu_model_apply_adapters would find, found
 * before a run scores anything. */
quipu_status quipu_adapter_precheck(const char *model_path, const char *const *paths, int n, quipu_error *err);

/* The originals of the weights a set of modifications changed (host copies, in the buffers' own
 * element type), for quipu_model_restore. */
typedef struct quipu_model_edits quipu_model_edits;

/* Checks every modification against m, then applies them in order (each to the weights as the
 * previous ones left them). On success *out holds the originals (NULL when n is 0); on failure m
 * is as it was and *out is NULL. */
quipu_status quipu_model_apply_adapters(quipu_model *m, const char *const *paths, int n, quipu_model_edits **out, quipu_error *err);

/* Copies the originals back, byte for byte (never by subtracting), and frees e (NULL: nothing). */
quipu_status quipu_model_restore(quipu_model *m, quipu_model_edits *e, quipu_error *err);

/* Frees e without restoring (the model is about to be freed). */
void quipu_model_edits_free(quipu_model_edits *e);

/* Bytes of originals e holds (0 for NULL). */
size_t quipu_model_edits_bytes(const quipu_model_edits *e);

#endif
