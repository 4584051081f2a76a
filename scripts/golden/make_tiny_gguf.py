#!/usr/bin/env python3
"""Write tiny GGUF files of the BLOOM, Falcon, Qwen3, OLMo 2 and GPT-NeoX test checkpoints (tiny-bloom, tiny-falcon,
tiny-falcon-40b, tiny-qwen3, tiny-olmo2, tiny-gpt-neox), laid out as llama.cpp writes
those architectures, so quipu's GGUF path for them is checked against the same goldens as the
safetensors path.

This is the reference writer (gguf-py). The files are not committed: tests/test_gguf_bloom_falcon.sh
makes them with tests/tiny_gguf.py, a standard-library writer that gives the same bytes (checked
with gguf 0.19.0: `cmp` equal for both models), so CI needs no gguf package.

For each NAME below, tests/models/NAME/model.safetensors becomes OUT/NAME.gguf:

  tensors     llama.cpp's names (convert_hf_to_gguf.py, gguf-py's tensor map): token_embd,
              token_embd_norm (BLOOM), blk.N.attn_norm, blk.N.attn_norm_2 (Falcon's ln_mlp),
              blk.N.attn_qkv, blk.N.attn_output, blk.N.ffn_norm (BLOOM), blk.N.ffn_up,
              blk.N.ffn_down, output_norm, with their biases. query_key_value is regrouped as
              the converter does: BLOOM's rows per head (q, k, v of each head) and Falcon 40B's
              rows per KV group (the group's query heads, k, v) become all of q, then all of k,
              then all of v (Falcon 7B's multi-query rows already are). head_count_kv is 1 for
              multi-query (the converter reads num_kv_heads, which transformers 5 writes as the
              head count even then; the published Falcon-7B config has no such key). Matrices stay BF16 (the checkpoint's values bit for bit), vectors F32.
              No output.weight: both checkpoints tie the head to the embedding (llama.cpp's BLOOM
              converter would store a copy; quipu reads either).
  metadata    ARCH.context_length (what the converter writes: BLOOM's n_embed when the config
              has no seq_length, which quipu ignores for ALiBi models), embedding_length,
              feed_forward_length (the checkpoint's true width), block_count, head_count,
              head_count_kv, attention.layer_norm_epsilon, rope.freq_base (Falcon); the tokenizer
              as a byte-level BPE vocabulary converted from the checkpoint's tokenizer.json
              (tokens, types, merges) with the pre-tokenizer name that follows that file
              (smollm for tiny-bloom's SmolLM vocabulary, falcon for Falcon's), BOS/EOS from
              config.json as the goldens use them.

Usage (reference environment: gguf 0.19.0, torch, safetensors; shared/ beside the repository):
    python scripts/golden/make_tiny_gguf.py [--out DIR]     (default: the system's temporary folder)
"""

import argparse
import json
import math
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file

import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SHARED_TOKENIZERS = os.environ.get(
    "QUIPU_SHARED_TOKENIZERS", os.path.abspath(os.path.join(REPO, "..", "shared", "tokenizers"))
)

# name -> (llama.cpp architecture, tokenizer pre name)
MODELS = {"tiny-bloom": ("bloom", "smollm"), "tiny-falcon": ("falcon", "falcon"), "tiny-falcon-40b": ("falcon", "falcon"),
          "tiny-qwen3": ("qwen3", "smollm"), "tiny-olmo2": ("olmo2", "gpt-2"), "tiny-gpt-neox": ("gptneox", "mpt"),
          "tiny-phi3": ("phi3", "llama")}  # pre "llama": a SentencePiece vocabulary (tokenizer.ggml.model llama)


def bytelevel_vocab(path):
    """tokens, token types and merges of a byte-level BPE tokenizer.json, as llama.cpp stores them."""
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    vocab = dict(j["model"]["vocab"])
    special = {}
    for a in j.get("added_tokens", []):
        vocab.setdefault(a["content"], a["id"])
        special[a["content"]] = a["special"]
    toks = [None] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        toks[i] = t
    assert all(t is not None for t in toks), path
    types = [(3 if special[t] else 4) if t in special else 1 for t in toks]
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    return toks, types, merges


def spm_vocab(path, vocab_size):
    """tokens, scores and types of a SentencePiece-style (Llama 2 / Phi-3) tokenizer.json as a
    "llama" GGUF vocabulary: without the tokenizer.model the converter reads, a token's score is
    minus the rank of the first merge that makes it (so score-driven merging follows the file's
    merges; make_token_golden.py's vocabulary-only GGUFs do the same), byte tokens BYTE, added
    tokens CONTROL or USER_DEFINED, id 0 UNKNOWN; padded to vocab_size with [PADi] UNUSED
    tokens scored -1000 as the converter pads."""
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    vocab, added = j["model"]["vocab"], {a["id"]: a for a in j["added_tokens"]}
    first_rank = {}
    for r, m in enumerate(j["model"]["merges"]):
        a, b = m.split(" ") if isinstance(m, str) else m
        first_rank.setdefault(a + b, r)
    n = max(list(vocab.values()) + list(added)) + 1
    toks, scores, types = [""] * n, [0.0] * n, [1] * n
    for t, i in vocab.items():
        toks[i], scores[i] = t, -float(first_rank[t]) if t in first_rank else -1e9
        types[i] = 6 if (t.startswith("<0x") and len(t) == 6) else 1
    for i, a in added.items():
        toks[i], scores[i], types[i] = a["content"], 0.0, 3 if a["special"] else 4
    types[0] = 2
    for i in range(n, vocab_size):
        toks.append(f"[PAD{i}]")
        scores.append(-1000.0)
        types.append(5)
    return toks, scores, types


def qkv_blocks(t, cfg, arch):
    """query_key_value rows (or bias) regrouped into [all q; all k; all v]."""
    rest = t.shape[1:]
    if arch in ("bloom", "gptneox"):  # rows per head: q, k, v of each head
        H = cfg["n_head"] if arch == "bloom" else cfg["num_attention_heads"]
        hd = cfg["hidden_size"] // H
        g = t.reshape(H, 3, hd, *rest)
        return torch.cat([g[:, 0].reshape(H * hd, *rest), g[:, 1].reshape(H * hd, *rest), g[:, 2].reshape(H * hd, *rest)])
    if not cfg.get("new_decoder_architecture"):  # Falcon-7B's multi-query rows are q, k, v blocks already
        assert cfg.get("multi_query", True)
        return t
    H, kv = cfg["num_attention_heads"], cfg["num_kv_heads"]
    hd = cfg["hidden_size"] // H
    g = t.reshape(kv, H // kv + 2, hd, *rest)
    return torch.cat([g[:, :-2].reshape(H * hd, *rest), g[:, -2].reshape(kv * hd, *rest), g[:, -1].reshape(kv * hd, *rest)])


def gguf_name(name, arch):
    n = name
    for p in ("transformer.", "model.", "gpt_neox."):
        n = n.removeprefix(p)
    top = {"word_embeddings": "token_embd", "word_embeddings_layernorm": "token_embd_norm", "ln_f": "output_norm",
           "lm_head": "output", "embed_tokens": "token_embd", "norm": "output_norm", "embed_in": "token_embd",
           "final_layer_norm": "output_norm", "embed_out": "output"}
    base, _, kind = n.rpartition(".")
    if base in top:
        return f"{top[base]}.{kind}"
    parts = base.split(".")
    assert parts[0] in ("h", "layers"), name
    layer = {"input_layernorm": "attn_norm", "ln_attn": "attn_norm", "ln_mlp": "attn_norm_2",
             "post_attention_layernorm": "post_attention_norm" if arch == "olmo2" else "ffn_norm",
             "self_attention.query_key_value": "attn_qkv", "self_attention.dense": "attn_output", "mlp.dense_h_to_4h": "ffn_up",
             "mlp.dense_4h_to_h": "ffn_down", "attention.query_key_value": "attn_qkv", "attention.dense": "attn_output",
             "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "post_feedforward_layernorm": "post_ffw_norm", "self_attn.qkv_proj": "attn_qkv",
             "mlp.gate_up_proj": "ffn_up"}
    return f"blk.{parts[1]}.{layer['.'.join(parts[2:])]}.{kind}"


def write(name, out):
    arch, pre = MODELS[name]
    d = os.path.join(REPO, "tests", "models", name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(d, "tokenizer.source")) as f:
        tok_dir = f.read().strip()
    tensors = load_file(os.path.join(d, "model.safetensors"))
    path = os.path.join(out, name + ".gguf")
    w = gguf.GGUFWriter(path, arch)
    D = cfg["hidden_size"]
    f16 = all(t.dtype == torch.float16 for t in tensors.values())
    extra = []
    if arch == "phi3":  # Phi3MiniModel: its keys in its order; LongRoPE factors as tensors
        H = cfg["num_attention_heads"]
        ctx, orig = cfg["max_position_embeddings"], cfg["original_max_position_embeddings"]
        w.add_context_length(ctx)
        w.add_rope_scaling_orig_ctx_len(orig)
        w.add_embedding_length(D)
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_block_count(cfg["num_hidden_layers"])
        w.add_head_count(H)
        w.add_head_count_kv(cfg["num_key_value_heads"])
        w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
        w.add_rope_dimension_count(int(cfg.get("partial_rotary_factor", 1.0) * D) // H)
        w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
        w.add_sliding_window(cfg.get("sliding_window") or 0)
        sc = cfg.get("rope_scaling")
        if sc:
            assert sc.get("rope_type", sc.get("type")) in ("su", "longrope")
            scale = ctx / orig
            w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0)
            extra = [("rope_factors_long.weight", sc["long_factor"]), ("rope_factors_short.weight", sc["short_factor"])]
    elif arch == "gptneox":  # GPTNeoXModel.set_gguf_parameters: its own keys and order
        H = cfg["num_attention_heads"]
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(D)
        w.add_block_count(cfg["num_hidden_layers"])
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_rope_dimension_count(int(cfg["rotary_pct"] * (D // H)))
        w.add_head_count(H)
        w.add_parallel_residual(cfg.get("use_parallel_residual", True))
        w.add_layer_norm_eps(cfg["layer_norm_eps"])
    elif arch in ("qwen3", "olmo2"):
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(D)
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_block_count(cfg["num_hidden_layers"])
        w.add_head_count(cfg["num_attention_heads"])
        w.add_head_count_kv(cfg["num_key_value_heads"])
        rp = cfg.get("rope_parameters") or {}
        w.add_rope_freq_base(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
        w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
        if cfg.get("head_dim") is not None:
            w.add_key_length(cfg["head_dim"])
            w.add_value_length(cfg["head_dim"])
    else:
        if arch == "bloom":
            H, layers, ff, kv, ctx = cfg["n_head"], cfg["n_layer"], 4 * D, cfg["n_head"], cfg.get("seq_length", D)
        else:
            H, layers, ff, ctx = cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["ffn_hidden_size"], cfg["max_position_embeddings"]
            kv = cfg["num_kv_heads"] if cfg.get("new_decoder_architecture") else 1  # multi-query: one KV head
        w.add_context_length(ctx)
        w.add_embedding_length(D)
        w.add_feed_forward_length(ff)
        w.add_block_count(layers)
        w.add_head_count(H)
        w.add_head_count_kv(kv)
        w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
        if arch == "falcon":
            rp = cfg.get("rope_parameters") or {}
            w.add_rope_freq_base(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.MOSTLY_BF16)
    if pre == "llama":
        toks, scores, types = spm_vocab(os.path.join(SHARED_TOKENIZERS, tok_dir, "tokenizer.json"), cfg["vocab_size"])
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(toks)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_bos_token_id(cfg["bos_token_id"])
        w.add_eos_token_id(cfg["eos_token_id"])
        w.add_unk_token_id(0)
        w.add_add_bos_token(False)
        w.add_add_eos_token(False)
    else:
        toks, types, merges = bytelevel_vocab(os.path.join(SHARED_TOKENIZERS, tok_dir, "tokenizer.json"))
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(toks)
        w.add_token_types(types)
        w.add_token_merges(merges)
        eos = cfg["eos_token_id"]
        w.add_bos_token_id(cfg["bos_token_id"] if cfg.get("bos_token_id") is not None else eos)
        w.add_eos_token_id(eos)
        w.add_add_bos_token(False)
    for n, vals in extra:
        w.add_tensor(n, np.array(vals, dtype=np.float32))
    for n in sorted(tensors):
        t = tensors[n]
        if "query_key_value" in n:
            t = qkv_blocks(t, cfg, arch)
        g = gguf_name(n, arch)
        if t.dim() == 1:
            w.add_tensor(g, t.float().numpy())
        else:
            if t.dtype == torch.float16:
                w.add_tensor(g, t.contiguous().numpy())
            else:
                assert t.dtype == torch.bfloat16, n
                w.add_tensor(g, t.contiguous().view(torch.int16).numpy(), raw_shape=list(t.shape), raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=tempfile.gettempdir())
    args = ap.parse_args()
    import importlib.metadata as md

    print(f"gguf {md.version('gguf')}, torch {torch.__version__}, numpy {np.__version__}")
    for name in MODELS:
        write(name, args.out)


if __name__ == "__main__":
    sys.exit(main())
