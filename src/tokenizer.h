/* tokenizer.h — text -> token ids, equal to Hugging Face's token for token.
 * Sources: GGUF metadata (tokenizer.ggml.*: "gpt2" byte-level BPE with its pre-tokenizer,
 * "llama" SentencePiece-style) or a tokenizer.json (BPE with ByteLevel/Metaspace, Split,
 * WordPiece, WordLevel, Unigram; normalizers including SentencePiece's Precompiled charsmap; added
 * tokens, TemplateProcessing). Encoding is thread-safe on a const tokenizer. */
#ifndef QUIPU_TOKENIZER_H
#define QUIPU_TOKENIZER_H

#include "common.h"
#include "gguf.h"

typedef struct quipu_tokenizer quipu_tokenizer;

typedef enum quipu_tok_kind {
    QUIPU_TOK_BPE_BYTELEVEL, /* GPT-2 style byte-level BPE */
    QUIPU_TOK_SPM,           /* SentencePiece-style (GGUF "llama"), or BPE with Metaspace/byte fallback */
    QUIPU_TOK_WORDPIECE,
    QUIPU_TOK_UNIGRAM
} quipu_tok_kind;

/* From GGUF metadata; path is only for messages. */
quipu_status quipu_tokenizer_from_gguf(quipu_tokenizer **out, const quipu_gguf *g, quipu_error *err);
/* From a tokenizer.json file; a tokenizer_config.json beside it is read if present
 * (add_bos_token / add_eos_token). */
quipu_status quipu_tokenizer_from_json(quipu_tokenizer **out, const char *path, quipu_error *err);
void quipu_tokenizer_free(quipu_tokenizer *t);

/* Encodes len bytes of text. add_special: add BOS/EOS (etc.) as the tokenizer's configuration
 * says (HF add_special_tokens=True); 0 = none. Invalid UTF-8 is handled as Hugging Face does
 * (the caller rejects it earlier when its input must be UTF-8). *ids is heap, caller frees. */
quipu_status quipu_tokenizer_encode(const quipu_tokenizer *t, const char *text, size_t len,
                                    int add_special, int32_t **ids, size_t *n_ids, quipu_error *err);

/* ids (encoded without special tokens) with the special tokens add_special would add around
 * them (the post-processor's template: BERT's [CLS] $A [SEP], RoBERTa's <s> $A </s>);
 * *seq_off (optional) = where ids start in *out. *out is heap, caller frees. */
quipu_status quipu_tokenizer_add_special(const quipu_tokenizer *t, const int32_t *ids, size_t n, int32_t **out, size_t *n_out, size_t *seq_off,
                                         quipu_error *err);

/* Token text as stored in the vocabulary (for inspect/debug), or NULL. */
const char *quipu_tokenizer_token_text(const quipu_tokenizer *t, int32_t id);
/* Id of a token given its exact text (added tokens first, then the vocabulary), or -1. */
int32_t quipu_tokenizer_token_id(const quipu_tokenizer *t, const char *text, size_t len);

/* Fills BOS/EOS ids the tokenizer files leave undeclared (GPT-2's tokenizer.json names none;
 * transformers' tokenizer class supplies <|endoftext|>, which config.json also names). Ids the
 * tokenizer already has are kept. */
void quipu_tokenizer_set_default_specials(quipu_tokenizer *t, int32_t bos_id, int32_t eos_id);

typedef struct quipu_tokenizer_info {
    quipu_tok_kind kind;
    const char *model_name;  /* "gpt2", "llama", "BPE", ... */
    const char *pre_name;    /* pre-tokenizer name for GGUF ("smollm", ...) or "" */
    int64_t n_vocab;         /* number of ids (max id + 1) */
    int32_t bos_id, eos_id, unk_id, pad_id; /* -1 when absent */
    int add_bos, add_eos;    /* what add_special adds */
} quipu_tokenizer_info;
void quipu_tokenizer_get_info(const quipu_tokenizer *t, quipu_tokenizer_info *info);

#endif
