#!/usr/bin/env python3
"""Write the tiny random-weight Hugging Face checkpoints used by the log-prob golden tests.

Each model is built with transformers from a config written out below, filled with
deterministic random weights (torch generator, fixed seed, parameters visited in name order),
cast to its storage dtype and written with `save_pretrained` (safetensors is the only format
transformers 5 writes). Each directory then gets:

  config.json               as transformers wrote it, except that the models marked
                            `legacy_keys` are rewritten in the transformers-4 key style most
                            published checkpoints use (`rope_theta`, `rope_scaling`,
                            `torch_dtype`; Pythia's `rotary_emb_base` and `rotary_pct` for
                            tiny-gpt-neox; Phi-3's `rope_scaling` {type: longrope, short_factor,
                            long_factor} for tiny-phi3; tiny-bloom has no rope keys at all);
                            tiny-qwen2, tiny-qwen3, tiny-gemma2 and tiny-falcon-40b keep the
                            transformers-5 style (`rope_parameters`, `dtype`). The
                            script checks that both styles parse back to the same config.
  model.safetensors         (or model-0000i-of-0000n.safetensors + model.safetensors.index.json
                            for tiny-llama-sharded)
  generation_config.json    as transformers wrote it
  tokenizer.source          one line: the name of the directory under shared/tokenizers/ whose
                            tokenizer.json belongs to this model (the file itself is 1-2 MB and
                            is not copied; tests place it next to the checkpoint)

The weights are deliberately not the transformers default init (std 0.02), which gives nearly
uniform next-token distributions: embeddings ~ N(0, 1), matrices ~ N(0, 1/fan_in), norm
weights 1 + N(0, 0.1^2), biases N(0, 0.2^2). Logits then spread over several nats, attention
patterns are far from uniform and the greedy token is well separated, so a wrong kernel shows.

Usage (reference environment, CPU only):
    python scripts/golden/make_tiny_checkpoints.py [--out tests/models] [--check] [--only NAME...]
--check rebuilds everything in a temporary directory and compares tensors with the committed
files instead of writing. --only builds (or checks) the named models only: the checkpoints added
later (tiny-qwen3, tiny-gemma2, tiny-olmo2, tiny-gpt-neox, tiny-phi3, then tiny-bloom,
tiny-falcon, tiny-falcon-40b) were written with transformers 5.25 (torch 2.15) while the first
five came from 5.24, whose config.json says so.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    BloomConfig,
    BloomForCausalLM,
    FalconConfig,
    FalconForCausalLM,
    Gemma2Config,
    Gemma2ForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    Olmo2Config,
    Olmo2ForCausalLM,
    Phi3Config,
    Phi3ForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2MoeConfig,
    Qwen2MoeForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

SEED = 20251129
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED_TOKENIZERS = os.environ.get(
    "QUIPU_SHARED_TOKENIZERS", os.path.abspath(os.path.join(REPO, "..", "shared", "tokenizers"))
)

LLAMA3_ROPE = {
    # hd = 8 -> inv_freq = 1, 0.1, 0.01, 0.001 (wavelengths 6.3, 63, 628, 6283 positions).
    # With original_max_position_embeddings 128, low_freq_factor 1, high_freq_factor 4:
    # high_wl = 32, low_wl = 128, so the four frequencies hit all three branches of the
    # llama3 rule: kept (6.3 < 32), smoothed (32 <= 63 <= 128), divided by factor (628, 6283).
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 128,
}

MODELS = [
    {
        "name": "tiny-gpt2",
        "tokenizer": "gpt-2",
        "vocab": 50257,
        "dtype": torch.float32,
        "legacy_keys": True,
        "cls": GPT2LMHeadModel,
        "config": lambda: GPT2Config(
            vocab_size=50257,
            n_positions=1024,
            n_embd=8,
            n_layer=2,
            n_head=2,
            n_inner=32,
            activation_function="gelu_new",
            layer_norm_epsilon=1e-5,
            bos_token_id=50256,
            eos_token_id=50256,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-llama",
        "tokenizer": "llama-spm",
        "vocab": 32000,
        "dtype": torch.bfloat16,
        "legacy_keys": True,
        "cls": LlamaForCausalLM,
        "config": lambda: LlamaConfig(
            vocab_size=32000,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=1024,
            rms_norm_eps=1e-5,
            rope_theta=10000.0,
            rope_scaling=dict(LLAMA3_ROPE),
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-qwen2",
        "tokenizer": "smollm",
        "vocab": 49152,
        "dtype": torch.float16,
        "legacy_keys": False,
        "cls": Qwen2ForCausalLM,
        "config": lambda: Qwen2Config(
            vocab_size=49152,
            hidden_size=16,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            use_sliding_window=False,
            # No BOS: the empty-context prefix token falls back to EOS (<|endoftext|>, id 0).
            bos_token_id=None,
            eos_token_id=0,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-mistral",
        "tokenizer": "llama-spm",
        "vocab": 32000,
        "dtype": torch.float16,
        "legacy_keys": True,
        "cls": MistralForCausalLM,
        "config": lambda: MistralConfig(
            vocab_size=32000,
            hidden_size=16,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=4,
            max_position_embeddings=1024,
            rms_norm_eps=1e-5,
            rope_theta=1000000.0,
            # key s is visible from query t iff 0 <= t - s < 8
            sliding_window=8,
            bos_token_id=1,
            eos_token_id=2,
            # untied: lm_head.weight is stored
            tie_word_embeddings=False,
        ),
    },
    {
        "name": "tiny-qwen3",
        "tokenizer": "smollm",
        "vocab": 49152,
        "dtype": torch.bfloat16,
        "legacy_keys": False,
        "cls": Qwen3ForCausalLM,
        "config": lambda: Qwen3Config(
            vocab_size=49152,
            hidden_size=16,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            # head_dim 8 != hidden / heads: q is 32 wide, k and v 16; QK-norm per head of 8
            head_dim=8,
            max_position_embeddings=1024,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            use_sliding_window=False,
            bos_token_id=None,
            eos_token_id=0,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-gemma2",
        "tokenizer": "llama-spm",
        "vocab": 32000,
        "dtype": torch.bfloat16,
        "legacy_keys": False,
        # Gemma norms compute x * (1 + w): their stored weights are drawn around 0, not 1
        "norm_center": 0.0,
        "cls": Gemma2ForCausalLM,
        "config": lambda: Gemma2Config(
            vocab_size=32000,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=1024,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            # scale 1/sqrt(24), not 1/sqrt(head_dim)
            query_pre_attn_scalar=24,
            # small caps so that both change the result (checks.softcap_effect in the golden)
            attn_logit_softcapping=1.5,
            final_logit_softcapping=6.0,
            # layer_types left to the class default: sliding, full, sliding
            sliding_window=8,
            hidden_activation="gelu_pytorch_tanh",
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-olmo2",
        "tokenizer": "gpt-2",
        "vocab": 50257,
        "dtype": torch.bfloat16,
        "legacy_keys": True,
        "cls": Olmo2ForCausalLM,
        "config": lambda: Olmo2Config(
            vocab_size=50257,
            hidden_size=16,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            # k is 8 wide, q 16: the QK-norms span the whole projection, not a head
            num_key_value_heads=2,
            max_position_embeddings=1024,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
            bos_token_id=None,
            eos_token_id=50256,
            pad_token_id=None,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-gpt-neox",
        "tokenizer": "mpt",
        "vocab": 50277,
        "dtype": torch.float16,
        "legacy_keys": "gpt_neox",
        "cls": GPTNeoXForCausalLM,
        "config": lambda: GPTNeoXConfig(
            vocab_size=50304,  # Pythia's padded vocabulary: more rows than the tokenizer
            hidden_size=16,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=1024,
            layer_norm_eps=1e-5,
            # head_dim 8, rotary on its first 4 dims only
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
            hidden_act="gelu",
            use_parallel_residual=True,
            attention_bias=True,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=False,
        ),
    },
    {
        "name": "tiny-phi3",
        "tokenizer": "phi-3",
        "vocab": 32011,
        "dtype": torch.bfloat16,
        "legacy_keys": "phi3",
        "cls": Phi3ForCausalLM,
        "config": lambda: Phi3Config(
            vocab_size=32064,
            hidden_size=16,
            intermediate_size=48,
            num_hidden_layers=2,
            # head_dim 8; the fused qkv_proj holds q (16 rows), k (8), v (8)
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=4096,
            original_max_position_embeddings=1024,
            rms_norm_eps=1e-5,
            # LongRoPE: every golden item is shorter than 1024 tokens, so the short factors
            # apply, and cos/sin carry the attention factor sqrt(1 + ln(4096/1024) / ln(1024))
            rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                             "short_factor": [1.0, 1.25, 2.5, 6.0],
                             "long_factor": [1.5, 3.0, 9.0, 20.0],
                             "original_max_position_embeddings": 1024},
            sliding_window=48,
            bos_token_id=1,
            eos_token_id=32000,
            pad_token_id=32000,
            tie_word_embeddings=False,
        ),
    },
    {
        "name": "tiny-bloom",
        "tokenizer": "smollm",
        "vocab": 49152,
        "dtype": torch.bfloat16,
        "legacy_keys": "bloom",
        "cls": BloomForCausalLM,
        "config": lambda: BloomConfig(
            vocab_size=49152,
            # 6 heads of 3: not a power of two, so the ALiBi slopes take both of transformers'
            # series (1/4 .. 1/256, then 1/2 and 1/8); the FFN is 4 x 18
            hidden_size=18,
            n_layer=2,
            n_head=6,
            layer_norm_epsilon=1e-5,
            apply_residual_connection_post_layernorm=False,
            bos_token_id=None,
            eos_token_id=0,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-falcon",
        "tokenizer": "falcon",
        "vocab": 65024,
        "dtype": torch.bfloat16,
        "legacy_keys": True,
        "cls": FalconForCausalLM,
        "config": lambda: FalconConfig(
            # Falcon-7B's layout: multi-query (one K and one V head after the 2 query heads in
            # query_key_value), attention and MLP in parallel from one shared LayerNorm, no biases
            vocab_size=65024,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            new_decoder_architecture=False,
            multi_query=True,
            parallel_attn=True,
            bias=False,
            alibi=False,
            layer_norm_epsilon=1e-5,
            max_position_embeddings=2048,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            bos_token_id=11,
            eos_token_id=11,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-falcon-40b",
        "tokenizer": "falcon",
        "vocab": 65024,
        "dtype": torch.bfloat16,
        "legacy_keys": False,
        "cls": FalconForCausalLM,
        "config": lambda: FalconConfig(
            # Falcon-40B/180B's layout: new_decoder_architecture, 4 query heads in 2 KV groups
            # (query_key_value per group: 2 query heads, k, v), two LayerNorms (ln_attn, ln_mlp);
            # biases on and an FFN width of its own to cover those options too; the exact GELU
            # every Falcon uses (a GGUF cannot say otherwise: make_tiny_gguf.py writes this one)
            vocab_size=65024,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_kv_heads=2,
            new_decoder_architecture=True,
            bias=True,
            alibi=False,
            ffn_hidden_size=40,
            activation="gelu",
            layer_norm_epsilon=1e-5,
            max_position_embeddings=2048,
            rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
            bos_token_id=11,
            eos_token_id=11,
            tie_word_embeddings=True,
        ),
    },
]
# Mixture of experts (transformers 5.25): 8 wide with the 32,000-token Llama vocabulary keeps each
# checkpoint near 0.5 MB. transformers 5 holds a layer's experts as 3-D stacks in memory
# (experts.gate_up_proj [E, 2 FE, D], experts.down_proj [E, D, FE]) but save_pretrained writes the
# hub's one tensor per expert (Mixtral: block_sparse_moe.experts.E.w1/w3/w2; Qwen:
# mlp.experts.E.gate_proj/up_proj/down_proj), which check_moe_layout asserts.
MODELS += [
    {
        "name": "tiny-mixtral",
        "tokenizer": "llama-spm",
        "vocab": 32000,
        "dtype": torch.bfloat16,
        "legacy_keys": True,
        "cls": MixtralForCausalLM,
        "config": lambda: MixtralConfig(
            vocab_size=32000,
            hidden_size=8,
            # every expert's width
            intermediate_size=12,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=4,
            max_position_embeddings=1024,
            rms_norm_eps=1e-5,
            rope_theta=1000000.0,
            sliding_window=None,
            # 2 of 5 experts per token, the two weights renormalized
            num_local_experts=5,
            num_experts_per_tok=2,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-qwen2-moe",
        "tokenizer": "llama-spm",
        "vocab": 32000,
        "dtype": torch.bfloat16,
        "legacy_keys": False,
        "cls": Qwen2MoeForCausalLM,
        "config": lambda: Qwen2MoeConfig(
            vocab_size=32000,
            hidden_size=8,
            # layer 1 is dense (mlp_only_layers) and 20 wide; layers 0 and 2 have 5 experts of 6,
            # 3 per token, weights not renormalized (Qwen1.5-MoE's norm_topk_prob false), and a
            # shared expert of 10 gated by sigmoid(shared_expert_gate . x)
            intermediate_size=20,
            moe_intermediate_size=6,
            shared_expert_intermediate_size=10,
            num_experts=5,
            num_experts_per_tok=3,
            norm_topk_prob=False,
            decoder_sparse_step=1,
            mlp_only_layers=[1],
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=1024,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            use_sliding_window=False,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=True,
        ),
    },
    {
        "name": "tiny-qwen3-moe",
        "tokenizer": "llama-spm",
        "vocab": 32000,
        "dtype": torch.bfloat16,
        "legacy_keys": False,
        "cls": Qwen3MoeForCausalLM,
        "config": lambda: Qwen3MoeConfig(
            vocab_size=32000,
            hidden_size=8,
            # QK-norm per head of 4; 6 experts of 6, 2 per token, renormalized; every layer sparse
            head_dim=4,
            intermediate_size=16,
            moe_intermediate_size=6,
            num_experts=6,
            num_experts_per_tok=2,
            norm_topk_prob=True,
            decoder_sparse_step=1,
            mlp_only_layers=[],
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=1024,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            use_sliding_window=False,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=True,
        ),
    },
]
SHARDED = {"name": "tiny-llama-sharded", "from": "tiny-llama", "max_shard_size": "16KB"}


def check_moe_layout(d):
    """A mixture-of-experts checkpoint holds one tensor per expert and matrix, as the hub's do."""
    from safetensors import safe_open

    with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
        names = list(f.keys())
    assert not any(n.endswith("gate_up_proj") or n.endswith("experts.down_proj") for n in names), d
    assert any(".experts.0." in n for n in names), d


# shared/tokenizers/gpt-2/tokenizer.json lists the merge "ĠCla ude" while its vocabulary has no
# "ĠClaude" (id 40559 holds "ĠLLMProvider", which no merge produces). tokenizers 0.23 refuses
# such a file. The merge is dropped here; it only matters for text containing "Claude", which
# the golden inputs do not contain (make_logprob_golden.py checks this). The file in shared/ has
# since been repaired (id 40559 is "ĠClaude" again) and is then loaded as it is.
GPT2_BAD_MERGE = "ĠCla ude"


def load_tokenizer(name):
    """tokenizers.Tokenizer for shared/tokenizers/<name>/tokenizer.json."""
    from tokenizers import Tokenizer

    path = os.path.join(SHARED_TOKENIZERS, name, "tokenizer.json")
    if name != "gpt-2":
        return Tokenizer.from_file(path)
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    j["model"].setdefault("type", "BPE")
    merges = j["model"]["merges"]
    if "ĠClaude" in j["model"]["vocab"]:  # the repaired file (shared/tokenizers/PROVENANCE.md)
        return Tokenizer.from_str(json.dumps(j))
    assert GPT2_BAD_MERGE in merges
    j["model"]["merges"] = [m for m in merges if m != GPT2_BAD_MERGE]
    return Tokenizer.from_str(json.dumps(j))


def init_weights(model, seed, norm_center=1.0):
    gen = torch.Generator().manual_seed(seed)
    named = dict(model.named_parameters())
    for name in sorted(named):
        p = named[name]
        with torch.no_grad():
            if p.dim() == 1:
                if name.endswith("bias"):
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))
                else:  # RMSNorm / LayerNorm gain
                    p.copy_(norm_center + 0.1 * torch.randn(p.shape, generator=gen))
            elif ("embed_tokens" in name or name.endswith("wte.weight") or name.startswith("lm_head")
                  or name.endswith("embed_in.weight") or name.endswith("word_embeddings.weight")):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif name.endswith("wpe.weight"):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                # nn.Linear is [out, in]; GPT-2's Conv1D (attn.c_*, mlp.c_*) is [in, out]
                conv1d = ".h." in name and "transformer" in name and (".attn.c_" in name or ".mlp.c_" in name)
                # a 3-D stack of experts [E, out, in] (transformers 5 in memory): in is the last
                fan_in = p.shape[0] if conv1d else p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def legacy_config(cfg_path, dtype, style=True):
    """Rewrite a transformers-5 config.json with the transformers-4 key names. style "gpt_neox":
    Pythia's `rotary_emb_base` and `rotary_pct`; "phi3": Phi-3's `rope_scaling` {type, short_factor,
    long_factor} with `original_max_position_embeddings` at the top level."""
    with open(cfg_path) as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters", None)
    if style == "bloom":
        # BLOOM's published configs: n_layer / n_head (transformers 5 writes them so too) and no
        # rope keys; transformers-4 `torch_dtype`
        assert rp is None, rp
    elif style == "gpt_neox":
        rp = dict(rp)
        cfg["rotary_emb_base"] = rp.pop("rope_theta")
        cfg["rotary_pct"] = rp.pop("partial_rotary_factor")
        assert rp.pop("rope_type") == "default" and not rp, rp
    elif style == "phi3":
        rp = dict(rp)
        cfg["rope_theta"] = rp.pop("rope_theta")
        assert rp.pop("partial_rotary_factor", 1.0) == 1.0
        assert rp.pop("original_max_position_embeddings") == cfg["original_max_position_embeddings"]
        cfg["rope_scaling"] = {"type": rp.pop("rope_type"), "short_factor": rp.pop("short_factor"),
                               "long_factor": rp.pop("long_factor")}
        assert not rp, rp
    elif rp is not None:
        rp = dict(rp)
        cfg["rope_theta"] = rp.pop("rope_theta")
        if rp.get("rope_type", "default") == "default":
            cfg["rope_scaling"] = None
        else:
            cfg["rope_scaling"] = rp
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def build(spec, seed):
    cfg = spec["config"]()
    torch.manual_seed(seed)
    model = spec["cls"](cfg)
    init_weights(model, seed, spec.get("norm_center", 1.0))
    if cfg.tie_word_embeddings:
        model.tie_weights()
    model = model.to(spec["dtype"])
    model.eval()
    return model


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_all(out, only=None):
    os.makedirs(out, exist_ok=True)
    built = {}
    for i, spec in enumerate(MODELS):
        if only and spec["name"] not in only:
            continue
        d = os.path.join(out, spec["name"])
        if os.path.isdir(d):
            shutil.rmtree(d)
        model = build(spec, SEED + i)
        model.save_pretrained(d)
        built[spec["name"]] = (model, spec)
        finish_dir(d, spec)
    if SHARDED["from"] not in built:
        return built
    # same weights, several shards
    model, spec = built[SHARDED["from"]]
    d = os.path.join(out, SHARDED["name"])
    if os.path.isdir(d):
        shutil.rmtree(d)
    model.save_pretrained(d, max_shard_size=SHARDED["max_shard_size"])
    finish_dir(d, spec)
    return built


def finish_dir(d, spec):
    if spec["legacy_keys"]:
        legacy_config(os.path.join(d, "config.json"), spec["dtype"], spec["legacy_keys"])
    with open(os.path.join(d, "tokenizer.source"), "w") as f:
        f.write(spec["tokenizer"] + "\n")
    if "moe" in spec["name"] or "mixtral" in spec["name"]:
        check_moe_layout(d)
    check_dir(d, spec)


def check_dir(d, spec):
    """Reload with transformers and check config, dtype, vocabulary and size."""
    cfg = AutoConfig.from_pretrained(d)
    ref = spec["config"]()
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "tie_word_embeddings",
                "bos_token_id", "eos_token_id", "sliding_window", "rope_parameters"):
        if hasattr(ref, key):
            a, b = getattr(cfg, key, None), getattr(ref, key, None)
            if key == "rope_parameters" and isinstance(a, dict):
                a = {k: v for k, v in a.items() if k != "type"}  # the legacy name, kept beside rope_type
            assert a == b, (d, key, a, b)
    tok = load_tokenizer(spec["tokenizer"])
    # the embedding may have more rows than the tokenizer has tokens (Pythia, Phi-3 pad theirs)
    assert tok.get_vocab_size(with_added_tokens=True) == spec["vocab"] <= cfg.vocab_size, d
    model = AutoModelForCausalLM.from_pretrained(d, dtype="auto")
    assert next(model.parameters()).dtype == spec["dtype"], d
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{os.path.basename(d)}: {size} bytes, {spec['dtype']}, tokenizer {spec['tokenizer']}")
    for f in sorted(os.listdir(d)):
        print(f"  {sha256(os.path.join(d, f))}  {f}")


def compare(out, only=None):
    """Rebuild in a temp dir and compare every tensor with the committed checkpoints."""
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp, only)
        names = [s["name"] for s in MODELS] + [SHARDED["name"]]
        names = [n for n in names if os.path.isdir(os.path.join(tmp, n))]
        for name in names:
            a_dir, b_dir = os.path.join(out, name), os.path.join(tmp, name)
            def tensors(dd):
                t = {}
                for f in sorted(os.listdir(dd)):
                    if f.endswith(".safetensors"):
                        t.update(load_file(os.path.join(dd, f)))
                return t
            a, b = tensors(a_dir), tensors(b_dir)
            assert a.keys() == b.keys(), name
            for k in a:
                assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), (name, k)
            print(f"{name}: identical")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "models"))
    ap.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="these models only (tiny-llama-sharded comes with tiny-llama)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    if args.check:
        compare(args.out, args.only)
    else:
        write_all(args.out, args.only)


if __name__ == "__main__":
    sys.exit(main())
