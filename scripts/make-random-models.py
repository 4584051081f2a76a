#!/usr/bin/env python3
"""Random-weight Llama checkpoints for benchmarks: Hugging Face folders (config.json,
model.safetensors in bf16, tokenizer.json, tokenizer_config.json, generation_config.json) with the
shapes of Llama-3.2-1B and Llama-3.1-8B, made where no checkpoint can be downloaded (the GPU
machine has PyTorch, no internet). Both quipu and transformers load them.

usage: python3 scripts/make-random-models.py --out DIR [--shape 1b,8b|tiny] [--tokenizer PATH]
                                             [--seed 1234] [--init-std STD] [--device cuda|cpu]
                                             [--vocab shape|tokenizer]
Writes DIR/llama-<shape>-random/ for each shape and prints each folder on stdout. A folder that
already holds a complete checkpoint made with the same settings is kept (quipu_random_model.json
records them), so a second call costs nothing.

Weights: every matrix N(0, init_std²) from torch's generator seeded with --seed (the values depend
on the device that draws them: cuda and cpu give different, each reproducible, models; std 0.02,
0.1 for tiny), the
output projections of attention and MLP scaled by 1/sqrt(2·layers) (GPT-2's residual scaling) so
the residual stream stays O(1); RMSNorm weights 1. With std 0.02 the final logits have a standard
deviation near sqrt(hidden)·0.02 (about 0.9 at 2,048 and 1.3 at 4,096): log-probs are finite and
spread around -ln(vocab), neither uniform nor peaked.

Tokenizer: no Llama-3 tokenizer.json (128k byte-level BPE) is public in a git repository, so the
script uses the one given with --tokenizer, else looks in $QUIPU_TOKENIZERS, shared/tokenizers in
the repository and ../shared/tokenizers beside it: a folder with a 128,256-entry vocabulary when
there is one, else the largest tokenizer.json found, else (nothing found) a byte-level tokenizer
it writes itself: 256 byte tokens, no merges, so about 4 times as many tokens per sentence.
--vocab shape (default) keeps the shape's
vocab_size (128,256) when the tokenizer is smaller, so the LM head and the log-softmax cost what they
cost in the real model (ids past the tokenizer never occur in the input but take part in the
softmax, as the reserved ids of Llama 3 do); --vocab tokenizer sets vocab_size to the tokenizer's.
--shape tiny (2 layers, width 64) always uses the tokenizer's size: it is for testing on a CPU.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

SHAPES = {
    # meta-llama/Llama-3.2-1B config.json values
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, head_dim=64, vocab_size=128256, tie_word_embeddings=True,
               rope_theta=500000.0, max_position_embeddings=131072,
               rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"}),
    # meta-llama/Llama-3.1-8B
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, head_dim=128, vocab_size=128256, tie_word_embeddings=False,
               rope_theta=500000.0, max_position_embeddings=131072,
               rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"}),
    # for tests on a CPU: the same architecture, small
    "tiny": dict(hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, vocab_size=0, tie_word_embeddings=False,
                 rope_theta=500000.0, max_position_embeddings=4096,
                 rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                               "original_max_position_embeddings": 1024, "rope_type": "llama3"}),
}
# default init std per shape: logits' standard deviation is about sqrt(hidden)·std
INIT_STD = {"1b": 0.02, "8b": 0.02, "tiny": 0.1}
LLAMA3_VOCAB = 128256
BOS_NAMES = ("<|begin_of_text|>", "<s>", "<bos>")
EOS_NAMES = ("<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>")
SCRIPT_VERSION = 1


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


BYTES_TOKENIZER = "<bytes>"


def byte_chars():
    """Byte-level BPE's printable stand-in for each byte: printable Latin-1 bytes stand for
    themselves, the others take code points from 256 up, in byte order."""
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def bytes_tokenizer():
    """A byte-level BPE tokenizer.json with no merges (ids 0..255 = bytes) and two specials."""
    chars = byte_chars()
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": 256 + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                              "normalized": False, "special": True} for i, t in enumerate(specials)],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": {chars[b]: b for b in range(256)}, "merges": []}}


def tokenizer_size(path):
    """Number of ids a tokenizer.json defines: its vocabulary and added tokens."""
    t = bytes_tokenizer() if path == BYTES_TOKENIZER else json.load(open(path, encoding="utf-8"))
    v = t["model"].get("vocab", {})
    n = (max(v.values()) + 1) if isinstance(v, dict) and v else len(v)
    for a in t.get("added_tokens", []):
        n = max(n, a["id"] + 1)
    return n, t


def find_tokenizer(arg):
    """tokenizer.json to use: --tokenizer, else a 128k vocabulary, else the largest one found."""
    if arg == "bytes":
        return BYTES_TOKENIZER
    if arg:
        p = os.path.join(arg, "tokenizer.json") if os.path.isdir(arg) else arg
        if not os.path.isfile(p):
            sys.exit(f"make-random-models: --tokenizer {arg}: no tokenizer.json there")
        return p
    roots = [os.environ.get("QUIPU_TOKENIZERS", ""), os.path.join(repo_root(), "shared", "tokenizers"),
             os.path.join(repo_root(), "..", "shared", "tokenizers")]
    found = []
    for r in roots:
        if not r or not os.path.isdir(r):
            continue
        for dirpath, _, files in os.walk(r):
            if "tokenizer.json" in files:
                p = os.path.join(dirpath, "tokenizer.json")
                try:
                    found.append((tokenizer_size(p)[0], p))
                except (ValueError, KeyError, OSError):
                    pass
    if not found:
        print("make-random-models: no tokenizer.json found (--tokenizer PATH, QUIPU_TOKENIZERS, shared/tokenizers): "
              "using a byte-level tokenizer with no merges, one token per UTF-8 byte", file=sys.stderr)
        return BYTES_TOKENIZER
    exact = [f for f in found if f[0] == LLAMA3_VOCAB]
    return sorted(exact or found, key=lambda f: (-f[0], f[1]))[0][1]


def specials(tok):
    """(bos, eos) as (id, text) or None, from a tokenizer.json's added tokens."""
    added = {a["content"]: a["id"] for a in tok.get("added_tokens", []) if a.get("special", True)}
    bos = next(((added[n], n) for n in BOS_NAMES if n in added), None)
    eos = next(((added[n], n) for n in EOS_NAMES if n in added), None)
    return bos, eos


def tensor_specs(c):
    """(name, shape, std) of every weight, in the order the file stores them."""
    D, F, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    H, KV, HD, V = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"], c["vocab_size"]
    std = c["initializer_range"]
    out_std = std / math.sqrt(2 * L)
    specs = [("model.embed_tokens.weight", (V, D), std)]
    for i in range(L):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (D,), None),
                  (p + "self_attn.q_proj.weight", (H * HD, D), std),
                  (p + "self_attn.k_proj.weight", (KV * HD, D), std),
                  (p + "self_attn.v_proj.weight", (KV * HD, D), std),
                  (p + "self_attn.o_proj.weight", (D, H * HD), out_std),
                  (p + "post_attention_layernorm.weight", (D,), None),
                  (p + "mlp.gate_proj.weight", (F, D), std),
                  (p + "mlp.up_proj.weight", (F, D), std),
                  (p + "mlp.down_proj.weight", (D, F), out_std)]
    specs.append(("model.norm.weight", (D,), None))
    if not c["tie_word_embeddings"]:
        specs.append(("lm_head.weight", (V, D), std))
    return specs


def write_safetensors(path, specs, seed, device):
    """Streams the tensors into one safetensors file, bf16, drawing each on `device`."""
    import torch
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in specs:
        n = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)  # the data starts 8-aligned
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for name, shape, std in specs:
            if std is None:
                t = torch.ones(shape, dtype=torch.bfloat16)
            else:
                t = (torch.randn(shape, generator=gen, device=device, dtype=torch.float32) * std).to(torch.bfloat16).cpu()
            f.write(t.contiguous().view(torch.uint8).numpy().data)
    os.replace(tmp, path)
    return off


def make(shape, out_root, tok_path, seed, std, device, vocab_mode):
    ntok, tok = tokenizer_size(tok_path)
    c = dict(SHAPES[shape])
    if shape == "tiny" or vocab_mode == "tokenizer":
        c["vocab_size"] = ntok
    else:
        c["vocab_size"] = max(c["vocab_size"], ntok)
    c["initializer_range"] = std
    bos, eos = specials(tok)
    if eos is None and bos is None:
        sys.exit(f"make-random-models: {tok_path}: no BOS or EOS token among its added tokens")
    eos = eos or bos
    bos_id = (bos or eos)[0]
    d = os.path.join(out_root, f"llama-{shape}-random")
    stamp = {"script_version": SCRIPT_VERSION, "shape": shape, "seed": seed, "init_std": std, "device": device,
             "vocab_size": c["vocab_size"], "tokenizer_ids": ntok,
             "tokenizer_source": "bytes (built here)" if tok_path == BYTES_TOKENIZER else
             os.path.basename(os.path.dirname(os.path.abspath(tok_path))),
}
    sp = os.path.join(d, "quipu_random_model.json")
    if os.path.isfile(sp) and os.path.isfile(os.path.join(d, "model.safetensors")):
        try:
            if json.load(open(sp)) == stamp:
                return d, 0.0
        except ValueError:
            pass
    os.makedirs(d, exist_ok=True)
    t0 = time.perf_counter()
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": False,
           "attention_dropout": 0.0, "hidden_act": "silu", "mlp_bias": False, "pretraining_tp": 1,
           "rms_norm_eps": 1e-5, "torch_dtype": "bfloat16", "use_cache": True,
           "bos_token_id": bos_id, "eos_token_id": eos[0], "pad_token_id": None}
    cfg.update(c)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2, sort_keys=True)
    json.dump({"bos_token_id": bos_id, "eos_token_id": eos[0]}, open(os.path.join(d, "generation_config.json"), "w"), indent=2)
    if tok_path == BYTES_TOKENIZER:
        json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    else:
        shutil.copyfile(tok_path, os.path.join(d, "tokenizer.json"))
    tc = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c["max_position_embeddings"],
          "eos_token": eos[1], "clean_up_tokenization_spaces": False}
    if bos:
        tc["bos_token"] = bos[1]
    src_tc = os.path.join(os.path.dirname(tok_path), "tokenizer_config.json")
    if tok_path != BYTES_TOKENIZER and os.path.isfile(src_tc):  # the source's flags (add_bos_token, ...) win where it has them
        tc.update({k: v for k, v in json.load(open(src_tc)).items()
                   if k in ("add_bos_token", "add_eos_token", "bos_token", "eos_token", "add_prefix_space")})
    json.dump(tc, open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    specs = tensor_specs(cfg)
    nbytes = write_safetensors(os.path.join(d, "model.safetensors"), specs, seed, device)
    json.dump(stamp, open(sp, "w"), indent=2, sort_keys=True)
    dt = time.perf_counter() - t0
    print(f"{d}: {nbytes / 2 / 1e9:.3f}B parameters, vocab {c['vocab_size']} (tokenizer {ntok} ids, "
          f"{stamp['tokenizer_source']}), {nbytes / 2**30:.2f} GiB bf16, {dt:.1f} s", file=sys.stderr)
    return d, dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write llama-<shape>-random/ into")
    ap.add_argument("--shape", default="1b,8b", help="comma-separated: 1b, 8b, tiny")
    ap.add_argument("--tokenizer", default="", help="a tokenizer.json or a folder holding one; 'bytes': the byte-level one")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--init-std", type=float, default=0.0, help="default: 0.02 (1b, 8b), 0.1 (tiny)")
    ap.add_argument("--device", default="", help="where the weights are drawn (default: cuda when present)")
    ap.add_argument("--vocab", choices=("shape", "tokenizer"), default="shape")
    args = ap.parse_args()
    import torch
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = find_tokenizer(args.tokenizer)
    os.makedirs(args.out, exist_ok=True)
    for s in args.shape.split(","):
        if s not in SHAPES:
            sys.exit(f"make-random-models: unknown shape '{s}' (expected {', '.join(SHAPES)})")
        d, _ = make(s, args.out, tok, args.seed, args.init_std or INIT_STD[s], device, args.vocab)
        print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
