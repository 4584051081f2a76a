/* model.h — a causal or masked LM ready to run: its hyper-parameters (quipu_model_config), its weights
 * dequantized to fp32 in backend buffers (quipu_model_weights, every matrix [out, in] row-major
 * as in Hugging Face; the matrices rounded to bf16 / f16 when the backend computes in that dtype,
 * see wtype), and its tokenizer. Loaded from a GGUF file or a Hugging Face checkpoint
 * directory; the loader folds every format difference (GGUF Q/K permutation -> rope kind, Gemma
 * norms stored as 1+w, GPT-2 Conv1D transposes) so the forward pass has one convention. */
#ifndef QUIPU_MODEL_H
#define QUIPU_MODEL_H

#include "backend.h"
#include "common.h"
#include "tokenizer.h"

typedef enum quipu_arch {
    QUIPU_ARCH_LLAMA,   /* Llama 2/3.x, SmolLM2, Mistral (sliding window), Qwen2 (QKV bias) */
    QUIPU_ARCH_GEMMA3,
    QUIPU_ARCH_GPT2,
    QUIPU_ARCH_QWEN3,   /* Llama + RMS QK-norm per head */
    QUIPU_ARCH_GEMMA2,  /* Gemma norms, attention and final logit soft-capping, alternating windows */
    QUIPU_ARCH_OLMO2,   /* norms after attention / MLP only, RMS QK-norm over the whole projection */
    QUIPU_ARCH_GPTNEOX, /* Pythia: parallel residual, partial rotary, LayerNorm with bias */
    QUIPU_ARCH_PHI3,    /* Llama with fused qkv / gate_up, LongRoPE */
    QUIPU_ARCH_BERT,    /* masked LM: post-LayerNorm encoder, learned positions, MLM head (BertForMaskedLM) */
    QUIPU_ARCH_ROBERTA, /* BERT with positions offset by padding_idx + 1 (RoBERTa, XLM-R, CamemBERT) */
    QUIPU_ARCH_BLOOM,   /* ALiBi, LayerNorm after the embedding, per-head fused QKV, GELU (tanh) */
    QUIPU_ARCH_FALCON,  /* parallel attention and MLP (one shared norm or two), multi-query / grouped fused QKV */
} quipu_arch;

/* How a checkpoint's fused query_key_value rows are laid out (the loader splits them into q, k,
 * v; `quipu inspect` names it). */
typedef enum quipu_qkv_layout {
    QUIPU_QKV_SEPARATE,  /* three tensors */
    QUIPU_QKV_BLOCKS,    /* all of q, then all of k, then all of v (GPT-2, Phi-3, Falcon multi-query, GGUF attn_qkv) */
    QUIPU_QKV_PER_HEAD,  /* q, k, v of head 0, then of head 1, ... (GPT-NeoX, BLOOM, Falcon without multi_query) */
    QUIPU_QKV_PER_GROUP, /* per KV head: its query heads, then its k, then its v (Falcon new_decoder_architecture) */
} quipu_qkv_layout;

#define QUIPU_MAX_LAYERS 512

typedef struct quipu_model_config {
    quipu_arch arch;
    char arch_name[32];        /* as the file names it: "llama", "qwen2", "mistral", "gemma3", "gpt2", "qwen3",
                                * "gemma2", "olmo2", "gpt_neox", "phi3", "bloom", "falcon" */
    char source[16];           /* "gguf" or "safetensors" */
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    float norm_eps;
    quipu_norm_kind norm_kind;
    quipu_act_kind act;
    quipu_rope_kind rope_kind;
    int64_t n_rot;
    float rope_base;           /* global layers */
    float rope_base_local;     /* sliding layers (Gemma 3) */
    float rope_pos_scale;      /* 1 / linear scaling factor (global layers) */
    int has_freq_factors;      /* 1: llama3 rope scaling, 2: LongRoPE (short factors) */
    int32_t sliding_window;    /* 0 = none */
    uint8_t layer_sliding[QUIPU_MAX_LAYERS];
    float attn_scale;
    float embd_scale;          /* Gemma: sqrt(n_embd) */
    int tied_embeddings;
    int gemma_norms;           /* post-attention / post-FFN norms present (Gemma 2/3), stored as w for 1 + w */
    int qk_norm;               /* RMS norm of q and k before RoPE: 0 none, 1 per head (Gemma 3, Qwen3), 2 over
                                * the whole projection (OLMo 2) */
    int post_norms_only;       /* OLMo 2: no norm before attention / MLP, one after each */
    int parallel_residual;     /* GPT-NeoX, Falcon 40B: x + attn(ln1(x)) + mlp(ln2(x)); 2: one norm shared,
                                * x + attn(ln(x)) + mlp(ln(x)) (Falcon 7B) */
    int alibi;                 /* BLOOM: ALiBi slopes (model.alibi) added to the attention scores, no RoPE */
    int embd_norm;             /* BLOOM: a LayerNorm right after the token embedding */
    int linear_bias;           /* Falcon `bias`: the projections carry biases */
    quipu_qkv_layout qkv_layout;
    float attn_softcap;        /* Gemma 2: scores capped to c * tanh(s / c); 0 none */
    float final_softcap;       /* Gemma 2: logits capped likewise; 0 none */
    int masked_lm;             /* BERT, RoBERTa: bidirectional encoder scored by pseudo-log-likelihood (score_mlm.c) */
    int64_t pos_offset;        /* masked LM: the first position id (RoBERTa: padding_idx + 1, BERT: 0); n_ctx =
                                * max_position_embeddings - pos_offset */
    int64_t n_token_types;     /* masked LM: rows of the token-type embedding (type 0 is added to every token) */
    int64_t rope_max_pos;      /* LongRoPE: positions past this (original_max_position_embeddings) would need
                                * the long factors, which quipu does not apply: refused; 0 none */
    /* Mixture of experts (Mixtral, Qwen2-MoE, Qwen3-MoE): a layer with layer_moe[l] set replaces its
     * MLP by n_expert experts of width n_ff_exp, n_expert_used of them per token (softmax top-k,
     * the k weights renormalized when expert_norm), plus Qwen2-MoE's shared expert of width
     * n_ff_shexp gated by sigmoid(w . x); other layers keep a dense MLP of width n_ff. 0: dense. */
    int64_t n_expert, n_expert_used, n_ff_exp, n_ff_shexp;
    int expert_norm;
    uint8_t layer_moe[QUIPU_MAX_LAYERS];
} quipu_model_config;

typedef struct quipu_layer_weights {
    quipu_buf *attn_norm, *attn_norm_b;   /* [D] */
    quipu_buf *wq, *wk, *wv, *wo;         /* [H*HD, D], [HKV*HD, D] x2, [D, H*HD] */
    quipu_buf *bq, *bk, *bv, *bo;         /* optional */
    quipu_buf *q_norm, *k_norm;           /* [HD] Gemma 3, Qwen3; [H*HD], [HKV*HD] OLMo 2 */
    quipu_buf *post_attn_norm;            /* [D] Gemma 2/3, OLMo 2 */
    quipu_buf *ffn_norm, *ffn_norm_b;     /* [D] */
    quipu_buf *w_gate, *w_up, *w_down;    /* [F, D], [F, D], [D, F]; GPT-2 has no gate */
    quipu_buf *b_up, *b_down;             /* GPT-2, GPT-NeoX */
    quipu_buf *post_ffn_norm;             /* [D] Gemma 2/3, OLMo 2 */
    /* a mixture-of-experts layer (cfg.layer_moe): the router, the experts (arrays of n_expert
     * matrices, owned), the shared expert and its gate (Qwen2-MoE) */
    quipu_buf *moe_router;                /* [E, D] */
    quipu_buf **exp_gate, **exp_up;       /* E x [FE, D] */
    quipu_buf **exp_down;                 /* E x [D, FE] */
    quipu_buf *shexp_gate, *shexp_up;     /* [FS, D] */
    quipu_buf *shexp_down;                /* [D, FS] */
    quipu_buf *shexp_router;              /* [1, D] */
} quipu_layer_weights;

typedef struct quipu_fwd quipu_fwd; /* forward.c: activations and workspace, reused */

/* A GGUF weight matrix kept in its ggml blocks (model.c, "blocks"): buf holds rows x row_bytes
 * bytes as the file has them; the forward pass dequantizes it into the forward state's scratch,
 * in the model's wtype, right before its GEMM (the dequant op: the loader's values bit for bit). */
typedef struct quipu_qweight {
    const quipu_buf *buf;
    uint32_t qtype;
    int64_t rows, cols;
    uint64_t row_bytes;
} quipu_qweight;

typedef struct quipu_model {
    char *path;
    quipu_model_config cfg;
    quipu_backend *backend;      /* not owned */
    quipu_etype wtype;           /* the weight matrices' type (token and position embeddings, projections,
                                  * LM head): quipu_backend_weight_type at load, F32 on the CPU; norm weights,
                                  * biases and RoPE factors are always F32 */
    quipu_buf *tok_embd;         /* [V, D]; a masked LM: [V, D + 1], column D the MLM decoder's bias, so that
                                  * the log-prob op's dot product with [h, 1] adds it (the lookup views the
                                  * first D columns) */
    quipu_buf *pos_embd;         /* [n_ctx, D] GPT-2; a masked LM: its rows from the first position id on
                                  * (RoBERTa: padding_idx + 1), token type 0's embedding added in */
    quipu_buf *embd_norm, *embd_norm_b;  /* [D] LayerNorm after the embeddings: masked LMs, BLOOM's word_embeddings_layernorm */
    quipu_buf *mlm_dense, *mlm_dense_b;  /* [D, D], [D] masked LM head: dense, activation, */
    quipu_buf *mlm_norm, *mlm_norm_b;    /* [D] then LayerNorm, then the tied decoder */
    int32_t mask_id;             /* masked LM: the tokenizer's mask token */
    quipu_buf *out_norm, *out_norm_b;
    quipu_buf *lm_head;          /* [V, D]; == tok_embd when tied */
    quipu_buf *freq_factors;     /* [n_rot/2] llama3, LongRoPE short factors */
    quipu_buf *alibi;            /* [H] F32 ALiBi slopes (BLOOM), this member's heads */
    quipu_layer_weights *layers;
    quipu_tokenizer *tok;
    size_t weight_bytes;         /* bytes of weights held by the backend (matrices in wtype) */
    int weights_open;            /* the backend's weight arena is open (model.c weights_begin) */
    quipu_fwd *fwd;              /* NULL until the first reserve or forward */
    /* Tensor parallelism (the backend's group, quipu_backend_set_group, before loading): this
     * member holds query heads [tp_rank * n_head_l, +n_head_l), their KV heads (replicated when
     * there are fewer KV heads than members), FFN rows [tp_rank * n_ff_l, +n_ff_l), the matching
     * columns of the output projections (their biases on member 0 only), and the LM head's ids
     * [v_lo, v_lo + n_vocab_l) (a whole number of log-prob blocks, n_vocab_pad per member);
     * embeddings and norms whole. tp_size 1: everything, the locals equal the config. */
    int tp_rank, tp_size;
    int64_t n_head_l, n_head_kv_l, kv_lo_l, n_ff_l, v_lo, n_vocab_l, n_vocab_pad;
    size_t file_bytes;
    /* GGUF layer matrices kept in their blocks (QUIPU_GGUF_WEIGHTS; automatically when the model
     * does not fit its GPU dequantized but does in blocks): blocks 1, and one entry per matrix */
    int blocks;                  /* while loading: -1 auto, 0 dense, 1 blocks (model.c blocks_plan) */
    quipu_qweight *qw;
    size_t n_qw;
    uint64_t qw_scratch;         /* bytes of the largest one dequantized (the forward state's scratch) */
    uint64_t qw_dense_bytes, qw_block_bytes; /* those matrices dequantized and in blocks (the plan; this member's share) */
    /* the plan per kind (q, k, v, output, gate, up, down) over all layers, whole tensors, before
     * tensor parallelism shares them out (model.c blocks_plan, fit_check) */
    uint64_t qw_kind_dense[7], qw_kind_block[7], qw_kind_max[7];
    int64_t qw_kind_bsz[7];
} quipu_model;

/* the block form of weight buf, or NULL when buf holds dequantized values */
const quipu_qweight *quipu_model_qweight(const quipu_model *m, const quipu_buf *buf);

/* Loads a model from a GGUF file or a checkpoint directory onto backend b. */
quipu_status quipu_model_load(quipu_model **out, const char *path, quipu_backend *b, quipu_error *err);
void quipu_model_free(quipu_model *m);
const char *quipu_arch_name(quipu_arch a);

/* Prints what `quipu inspect` shows (JSON) without loading the weights. */
quipu_status quipu_model_describe(const char *path, FILE *out, quipu_error *err);

/* Loads only the tokenizer of a model path (GGUF, checkpoint directory, or tokenizer.json). */
quipu_status quipu_tokenizer_load_path(quipu_tokenizer **out, const char *path, quipu_error *err);

/* A packed batch: sequences back to back, where a sequence is either a plain segment or a
 * shared prompt segment followed by continuation segments that each see the prompt (a prefix
 * tree of depth one; see quipu_attention_args). For each scored row (a token position whose
 * output predicts a target), the forward pass returns log P(target | prefix). */
typedef struct quipu_batch {
    int64_t n_tokens;
    const int32_t *tokens;     /* [T] */
    const int32_t *pos;        /* [T] position inside its sequence */
    const int32_t *seg_lo;     /* [T] first token of the token's own segment */
    const int32_t *pre_lo, *pre_hi; /* [T] shared prompt range it also sees (empty if none) */
    int64_t n_rows;
    const int32_t *rows;       /* [n_rows] token index whose output predicts targets[r] */
    const int32_t *targets;    /* [n_rows] */
} quipu_batch;

/* Allocates the forward state for batches of up to max_tokens tokens and max_rows scored rows
 * (activations, workspace, the batch's index vectors), once; a later larger batch grows it. */
quipu_status quipu_model_reserve(quipu_model *m, int64_t max_tokens, int64_t max_rows, quipu_error *err);
void quipu_model_release_state(quipu_model *m);

/* Runs the model over the batch; logprob[n_rows], greedy[n_rows] are host arrays. Segments are
 * contiguous: a token's seg_lo is its predecessor's or itself. Nothing may be in flight. */
quipu_status quipu_model_forward(quipu_model *m, const quipu_batch *batch, double *logprob, uint8_t *greedy, quipu_error *err);

/* The same pass in two halves, so the host prepares the next batch while the device runs this
 * one (docs/gpu.md). begin stages the batch's index vectors (the batch's arrays may be reused as
 * soon as it returns), uploads them and queues every op and the read-back; end waits for the
 * oldest batch in flight and writes its results to the logprob / greedy its begin was given,
 * which stay valid until then. Up to QUIPU_BACKEND_SLOTS batches in flight, ended in begin
 * order. begin fails only when the batch cannot be taken (too many in flight, no memory for a
 * larger state); a failure of the batch itself (a position past the context, a bad token id, a
 * device fault) comes from its end, in the words quipu_model_forward uses. On the CPU begin does
 * the whole pass. */
quipu_status quipu_model_forward_begin(quipu_model *m, const quipu_batch *batch, double *logprob, uint8_t *greedy, quipu_error *err);
quipu_status quipu_model_forward_end(quipu_model *m, quipu_error *err);
/* batches begun and not ended */
int quipu_model_forward_pending(const quipu_model *m);
/* waits for every batch in flight and forgets them (after an error, before their results' arrays go) */
void quipu_model_forward_cancel(quipu_model *m);

#endif
