#!/usr/bin/env python3
"""tiny_gguf.py DIR OUT ARCH PRE -- the GGUF of a tiny BLOOM, Falcon, Qwen3, OLMo 2, GPT-NeoX, Phi-3 or mixture-of-experts
(ARCH llama: Mixtral; qwen2moe; qwen3moe) checkpoint (DIR: its folder
with tokenizer.json beside it, as tests/common.sh tiny_model makes it), laid out as llama.cpp
writes those architectures. Standard library only, so the test runs without the gguf package;
it writes the same bytes as scripts/golden/make_tiny_gguf.py (which uses gguf-py 0.19.0: same
keys in the same order, same tensor order and alignment), whose docstring describes the layout:
llama.cpp's tensor names, query_key_value regrouped into all q, all k, all v, matrices kept BF16
(F16 for an F16 checkpoint), vectors widened to F32, the tokenizer converted from tokenizer.json with pre-tokenizer PRE.
The mixture-of-experts layouts are written here only (make_tiny_gguf.py predates them), after llama.cpp's
converter as gguf-py 0.19 names it: a layer's experts stacked into blk.N.ffn_{gate,up,down}_exps [E, out, in], the
router ffn_gate_inp, Qwen2-MoE's shared expert ffn_{gate,up,down}_shexp and its gate ffn_gate_inp_shexp, the keys
expert_count, expert_used_count, expert_feed_forward_length, expert_shared_feed_forward_length; for arch llama
the q and k rows permuted per head to adjacent rotary pairs, as the converter does for every Llama."""
import json
import math
import os
import struct
import sys

src, out, arch, pre = sys.argv[1:5]
cfg = json.load(open(os.path.join(src, "config.json")))
raw = open(os.path.join(src, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
data0 = 8 + n
tensors = {}
for name, e in hdr.items():
    if name == "__metadata__":
        continue
    assert e["dtype"] in ("BF16", "F16"), (name, e["dtype"])
    b0, b1 = e["data_offsets"]
    tensors[name] = (e["shape"], raw[data0 + b0:data0 + b1], e["dtype"])


def regroup(shape, b):
    """query_key_value rows (a bias: elements) -> [all q; all k; all v]"""
    row = 2 * (shape[1] if len(shape) == 2 else 1)
    rows = [b[i * row:(i + 1) * row] for i in range(shape[0])]
    if arch in ("bloom", "gptneox"):  # rows per head: q, k, v of head 0, then of head 1, ...
        H = cfg["n_head"] if arch == "bloom" else cfg["num_attention_heads"]
        hd = cfg["hidden_size"] // H
        per = [[rows[(h * 3 + j) * hd:(h * 3 + j + 1) * hd] for h in range(H)] for j in range(3)]
    elif not cfg.get("new_decoder_architecture"):  # Falcon-7B's multi-query rows are q, k, v blocks already
        assert cfg.get("multi_query", True)
        return b
    else:
        H, kv = cfg["num_attention_heads"], cfg["num_kv_heads"]
        hd, g = cfg["hidden_size"] // H, H // kv
        blk = (g + 2) * hd
        per = [[rows[k * blk:k * blk + g * hd] for k in range(kv)], [rows[k * blk + g * hd:k * blk + (g + 1) * hd] for k in range(kv)],
               [rows[k * blk + (g + 1) * hd:(k + 1) * blk] for k in range(kv)]]
    return b"".join(b"".join(r for part in parts for r in part) for parts in per)


TOP = {"word_embeddings": "token_embd", "word_embeddings_layernorm": "token_embd_norm", "ln_f": "output_norm", "lm_head": "output",
       "embed_tokens": "token_embd", "norm": "output_norm", "embed_in": "token_embd", "final_layer_norm": "output_norm", "embed_out": "output"}
LAYER = {"input_layernorm": "attn_norm", "ln_attn": "attn_norm", "ln_mlp": "attn_norm_2", "post_attention_layernorm": "ffn_norm",
         "self_attention.query_key_value": "attn_qkv", "self_attention.dense": "attn_output", "mlp.dense_h_to_4h": "ffn_up",
         "mlp.dense_4h_to_h": "ffn_down", "attention.query_key_value": "attn_qkv", "attention.dense": "attn_output",
         "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
         "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
         "mlp.down_proj": "ffn_down", "post_feedforward_layernorm": "post_ffw_norm",
         "self_attn.qkv_proj": "attn_qkv", "mlp.gate_up_proj": "ffn_up",
         "block_sparse_moe.gate": "ffn_gate_inp", "mlp.gate": "ffn_gate_inp", "mlp.shared_expert.gate_proj": "ffn_gate_shexp",
         "mlp.shared_expert.up_proj": "ffn_up_shexp", "mlp.shared_expert.down_proj": "ffn_down_shexp",
         "mlp.shared_expert_gate": "ffn_gate_inp_shexp"}
EXPERT = {"w1": "ffn_gate_exps", "w3": "ffn_up_exps", "w2": "ffn_down_exps", "gate_proj": "ffn_gate_exps", "up_proj": "ffn_up_exps",
          "down_proj": "ffn_down_exps"}
MOE = arch in ("llama", "qwen2moe", "qwen3moe")


def gguf_name(name):
    for p in ("transformer.", "model.", "gpt_neox."):
        name = name.removeprefix(p)
    if name.endswith(".stacked"):  # an expert stack: model.layers.N.<gguf name>.stacked
        parts = name.split(".")
        return f"blk.{parts[1]}.{parts[2]}.weight"
    base, _, kind = name.rpartition(".")
    if base in TOP:
        return f"{TOP[base]}.{kind}"
    parts = base.split(".")
    sub = ".".join(parts[2:])
    if arch == "olmo2" and sub == "post_attention_layernorm":  # OLMo 2's norm after attention
        return f"blk.{parts[1]}.post_attention_norm.{kind}"
    return f"blk.{parts[1]}.{LAYER[sub]}.{kind}"


def s(x):
    b = x.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


U32, I32, F32, BOOL, STR, ARR = 4, 5, 6, 7, 8, 9
kvs = []


def kv(key, t, v):
    if t == U32:
        body = struct.pack("<I", v)
    elif t == F32:
        body = struct.pack("<f", v)
    elif t == BOOL:
        body = struct.pack("<B", 1 if v else 0)
    elif t == STR:
        body = s(v)
    kvs.append(s(key) + struct.pack("<I", t) + body)


def kv_arr(key, t, vals):
    body = b"".join(s(v) for v in vals) if t == STR else struct.pack("<%d%s" % (len(vals), "f" if t == F32 else "i"), *vals)
    kvs.append(s(key) + struct.pack("<IIQ", ARR, t, len(vals)) + body)


D = cfg["hidden_size"]
extra = []  # tensors the converter adds: (name, float32 values)
if arch == "phi3":  # Phi3MiniModel: its keys in its order; LongRoPE factors as tensors
    H, L = cfg["num_attention_heads"], cfg["num_hidden_layers"]
    CTX, ORIG = cfg["max_position_embeddings"], cfg["original_max_position_embeddings"]
    n_rot = int(cfg.get("partial_rotary_factor", 1.0) * D) // H
    kv("general.architecture", STR, arch)
    for key, val in [("context_length", CTX), ("rope.scaling.original_context_length", ORIG), ("embedding_length", D),
                     ("feed_forward_length", cfg["intermediate_size"]), ("block_count", L), ("attention.head_count", H),
                     ("attention.head_count_kv", cfg["num_key_value_heads"])]:
        kv(f"phi3.{key}", U32, val)
    kv("phi3.attention.layer_norm_rms_epsilon", F32, cfg["rms_norm_eps"])
    kv("phi3.rope.dimension_count", U32, n_rot)
    kv("phi3.rope.freq_base", F32, cfg.get("rope_theta", 10000.0))
    kv("phi3.attention.sliding_window", U32, cfg.get("sliding_window") or 0)
    sc = cfg.get("rope_scaling")
    if sc:
        assert sc.get("rope_type", sc.get("type")) in ("su", "longrope")
        scale = CTX / ORIG
        kv("phi3.rope.scaling.attn_factor", F32, math.sqrt(1 + math.log(scale) / math.log(ORIG)) if scale > 1 else 1.0)
        extra = [("rope_factors_long.weight", sc["long_factor"]), ("rope_factors_short.weight", sc["short_factor"])]
elif MOE:  # the Llama / Qwen converters' keys, then the experts'
    H, L = cfg["num_attention_heads"], cfg["num_hidden_layers"]
    E = cfg.get("num_local_experts", cfg.get("num_experts"))
    kv("general.architecture", STR, arch)
    for key, val in [("context_length", cfg["max_position_embeddings"]), ("embedding_length", D), ("feed_forward_length", cfg["intermediate_size"]),
                     ("block_count", L), ("attention.head_count", H), ("attention.head_count_kv", cfg["num_key_value_heads"])]:
        kv(f"{arch}.{key}", U32, val)
    rp = cfg.get("rope_parameters") or {}
    kv(f"{arch}.rope.freq_base", F32, rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    kv(f"{arch}.attention.layer_norm_rms_epsilon", F32, cfg["rms_norm_eps"])
    if arch == "llama":
        kv("llama.rope.dimension_count", U32, cfg.get("head_dim") or D // H)
    elif cfg.get("head_dim") is not None:
        kv(f"{arch}.attention.key_length", U32, cfg["head_dim"])
        kv(f"{arch}.attention.value_length", U32, cfg["head_dim"])
    kv(f"{arch}.expert_count", U32, E)
    kv(f"{arch}.expert_used_count", U32, cfg["num_experts_per_tok"])
    if arch != "llama":
        kv(f"{arch}.expert_feed_forward_length", U32, cfg["moe_intermediate_size"])
    if cfg.get("shared_expert_intermediate_size"):
        kv(f"{arch}.expert_shared_feed_forward_length", U32, cfg["shared_expert_intermediate_size"])
    # the experts' matrices of a layer, stacked in expert order: one [E, out, in] tensor each
    stacks = {}
    for name in sorted(tensors):
        parts = name.split(".")
        if ".experts." in name:
            layer, e, which = int(parts[2]), int(parts[5]), parts[6]
            stacks.setdefault((layer, EXPERT[which]), {})[e] = tensors.pop(name)
    for (layer, gname), per in stacks.items():
        assert sorted(per) == list(range(E)), (layer, gname)
        shape, _, dt = per[0]
        tensors[f"model.layers.{layer}.{gname}.stacked"] = ([E] + shape, b"".join(per[e][1] for e in range(E)), dt)
    if arch == "llama":  # rotate_half rows -> adjacent pairs, per head (the converter's permute)
        def permute(shape, b, heads):
            row = shape[1] * 2
            hd = shape[0] // heads
            rows = [b[i * row:(i + 1) * row] for i in range(shape[0])]
            return b"".join(rows[h * hd + k * (hd // 2) + j] for h in range(heads) for j in range(hd // 2) for k in range(2))
        for name in list(tensors):
            if name.endswith("q_proj.weight") or name.endswith("k_proj.weight"):
                shape, b, dt = tensors[name]
                tensors[name] = (shape, permute(shape, b, H if "q_proj" in name else cfg["num_key_value_heads"]), dt)
elif arch in ("qwen3", "olmo2", "gptneox"):
    H, L = cfg["num_attention_heads"], cfg["num_hidden_layers"]
    kv("general.architecture", STR, arch)
    ints = [("context_length", cfg["max_position_embeddings"]), ("embedding_length", D), ("feed_forward_length", cfg["intermediate_size"]),
            ("block_count", L), ("attention.head_count", H)]
    if arch == "gptneox":  # the converter's own order and keys
        ints = ints[:2] + [ints[3], ints[2], ("rope.dimension_count", int(cfg["rotary_pct"] * (D // H))), ints[4]]
    else:
        ints.append(("attention.head_count_kv", cfg["num_key_value_heads"]))
    for key, val in ints:
        kv(f"{arch}.{key}", U32, val)
    if arch == "gptneox":
        kv("gptneox.use_parallel_residual", BOOL, cfg.get("use_parallel_residual", True))
        kv("gptneox.attention.layer_norm_epsilon", F32, cfg["layer_norm_eps"])
    else:
        rp = cfg.get("rope_parameters") or {}
        kv(f"{arch}.rope.freq_base", F32, rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
        kv(f"{arch}.attention.layer_norm_rms_epsilon", F32, cfg["rms_norm_eps"])
        if cfg.get("head_dim") is not None:
            kv(f"{arch}.attention.key_length", U32, cfg["head_dim"])
            kv(f"{arch}.attention.value_length", U32, cfg["head_dim"])
else:
    if arch == "bloom":
        H, L, FF, KV, CTX = cfg["n_head"], cfg["n_layer"], 4 * D, cfg["n_head"], cfg.get("seq_length", D)
    else:
        H, L, FF, CTX = cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["ffn_hidden_size"], cfg["max_position_embeddings"]
        KV = cfg["num_kv_heads"] if cfg.get("new_decoder_architecture") else 1  # multi-query: one KV head
    kv("general.architecture", STR, arch)
    for key, val in [("context_length", CTX), ("embedding_length", D), ("feed_forward_length", FF), ("block_count", L),
                     ("attention.head_count", H), ("attention.head_count_kv", KV)]:
        kv(f"{arch}.{key}", U32, val)
    kv(f"{arch}.attention.layer_norm_epsilon", F32, cfg["layer_norm_epsilon"])
    if arch == "falcon":
        rp = cfg.get("rope_parameters") or {}
        kv("falcon.rope.freq_base", F32, rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
f16 = all(t[2] == "F16" for t in tensors.values())
kv("general.file_type", U32, 1 if f16 else 32)  # MOSTLY_F16, MOSTLY_BF16
tj = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
if pre == "llama":  # a SentencePiece (Llama-2 style) tokenizer.json as a "llama" vocabulary
    vocab, added = tj["model"]["vocab"], {a["id"]: a for a in tj["added_tokens"]}
    first_rank = {}  # score: minus the rank of the first merge making the token (see make_tiny_gguf.py)
    for r, m in enumerate(tj["model"]["merges"]):
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
    for i in range(n, cfg["vocab_size"]):  # padded to the embedding as the converter does
        toks.append(f"[PAD{i}]")
        scores.append(-1000.0)
        types.append(5)
    kv("tokenizer.ggml.model", STR, "llama")
    kv("tokenizer.ggml.pre", STR, "default")
    kv_arr("tokenizer.ggml.tokens", STR, toks)
    kv_arr("tokenizer.ggml.scores", F32, scores)
    kv_arr("tokenizer.ggml.token_type", I32, types)
    kv("tokenizer.ggml.bos_token_id", U32, cfg["bos_token_id"])
    kv("tokenizer.ggml.eos_token_id", U32, cfg["eos_token_id"])
    kv("tokenizer.ggml.unknown_token_id", U32, 0)
    kv("tokenizer.ggml.add_bos_token", BOOL, MOE)  # Llama-2's tokenizer adds <s> (Phi-3's tokenizer.json does not)
    kv("tokenizer.ggml.add_eos_token", BOOL, False)
else:
    vocab, special = dict(tj["model"]["vocab"]), {}
    for a in tj.get("added_tokens", []):
        vocab.setdefault(a["content"], a["id"])
        special[a["content"]] = a["special"]
    toks = [None] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        toks[i] = t
    kv("tokenizer.ggml.model", STR, "gpt2")
    kv("tokenizer.ggml.pre", STR, pre)
    kv_arr("tokenizer.ggml.tokens", STR, toks)
    kv_arr("tokenizer.ggml.token_type", I32, [(3 if special[t] else 4) if t in special else 1 for t in toks])
    kv_arr("tokenizer.ggml.merges", STR, [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]])
    eos = cfg["eos_token_id"]
    kv("tokenizer.ggml.bos_token_id", U32, cfg["bos_token_id"] if cfg.get("bos_token_id") is not None else eos)
    kv("tokenizer.ggml.eos_token_id", U32, eos)
    kv("tokenizer.ggml.add_bos_token", BOOL, False)

infos, blobs, off = [], [], 0
for name, vals in extra:
    b = struct.pack("<%df" % len(vals), *vals)
    infos.append(s(name) + struct.pack("<IQ", 1, len(vals)) + struct.pack("<IQ", 0, off))
    pad = (32 - len(b) % 32) % 32
    blobs.append(b + b"\0" * pad)
    off += len(b) + pad
for name in sorted(tensors):
    shape, b, dt = tensors[name]
    if "query_key_value" in name:
        b = regroup(shape, b)
    if len(shape) == 1 and dt == "F16":  # vectors widened to F32 (exactly)
        b = struct.pack("<%df" % shape[0], *struct.unpack("<%de" % shape[0], b))
        ttype = 0
    elif len(shape) == 1:  # bf16 is the top half of an f32
        b = b"".join(struct.pack("<I", h << 16) for h in struct.unpack("<%dH" % shape[0], b))
        ttype = 0
    else:
        ttype = 1 if dt == "F16" else 30  # F16, BF16
    infos.append(s(gguf_name(name)) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
                 + struct.pack("<IQ", ttype, off))
    pad = (32 - len(b) % 32) % 32
    blobs.append(b + b"\0" * pad)
    off += len(b) + pad
head = struct.pack("<IIQQ", 0x46554747, 3, len(infos), len(kvs)) + b"".join(kvs) + b"".join(infos)
head += b"\0" * ((32 - len(head) % 32) % 32)
with open(out, "wb") as f:
    f.write(head + b"".join(blobs))
