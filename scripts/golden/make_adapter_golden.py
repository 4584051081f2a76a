#!/usr/bin/env python3
"""Tiny random LoRA adapters and weight deltas for the tiny test checkpoints, and the reference
log-probabilities of the models they make, from transformers + peft in float32.

  build     write tests/models/adapters/: the tiny Gemma 3 checkpoint (tiny-gemma3: Gemma 3
            shapes, GQA, QK-norm, sliding + global layers) and every adapter / delta in ADAPTERS
  golden    write tests/golden/adapters/<case>.jsonl for every case in CASES:
              <case>.jsonl         the base with the adapters as transformers + peft runs them
                                   (PeftModel, not merged) or, for weight deltas, the base with
                                   W + ΔW computed in torch float32
              <case>.merged.jsonl  (LoRA cases) the model peft's merge_and_unload makes, saved
                                   with save_pretrained (float32) and loaded again
            items: a fixed subset of the base model's log-prob golden (tests/golden/logprobs),
            whose token ids are reused as they are.

The file format is that of the log-prob goldens (scripts/golden/README.md), so
tests/compare_logprobs.py compares quipu with them; the header adds `adapters` (each one's files
and sha256), `reference` and `checks`.

Weights: a LoRA's A ~ N(0, 1/in) and B ~ N(0, 0.25/r) (peft initialises B to zero, which would
change nothing), so ΔW is of the order of W; deltas likewise. Seeds are fixed.

Reference environment: the one in scripts/golden/README.md plus peft (pip install peft). Run from
the repository root:
    python scripts/golden/make_adapter_golden.py build
    python scripts/golden/make_adapter_golden.py golden [--case NAME]...
The SmolLM2 case needs $QUIPU_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf and is skipped without it.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))

import make_logprob_golden as mlg  # noqa: E402

ADAPTER_DIR = "tests/models/adapters"
GOLDEN_DIR = "tests/golden/adapters"
SEED = 20260113
ITEM_STRIDE = 14         # every 14th item of the base golden, very long items left out
SMOL_ITEMS = 8           # the first 8 short items of the SmolLM2 golden

LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# name -> how it is made. kind lora: a peft LoraConfig; kind delta: tensors named after the base's.
ADAPTERS = {
    "llama-lora-r8": {"base": "tests/models/tiny-llama", "kind": "lora",
                      "config": dict(r=8, lora_alpha=16, target_modules=LLAMA_LINEAR)},
    "llama-lora-r1": {"base": "tests/models/tiny-llama", "kind": "lora",
                      "config": dict(r=1, lora_alpha=2, target_modules=["k_proj", "down_proj"], layers_to_transform=[1])},
    "llama-lora-rslora": {"base": "tests/models/tiny-llama", "kind": "lora",
                          "config": dict(r=4, lora_alpha=6, use_rslora=True, target_modules=r".*\.(q_proj|up_proj)",
                                         rank_pattern={"up_proj": 2}, alpha_pattern={"q_proj": 3})},
    "gemma3-lora-r8": {"base": "tests/models/adapters/tiny-gemma3", "kind": "lora",
                       "config": dict(r=8, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj", "gate_proj", "down_proj"])},
    "gemma3-lora-r1": {"base": "tests/models/adapters/tiny-gemma3", "kind": "lora",
                       "config": dict(r=1, lora_alpha=1, target_modules=["k_proj", "up_proj"])},
    "gpt2-lora-r4": {"base": "tests/models/tiny-gpt2", "kind": "lora",
                     "config": dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_fc", "c_proj"], fan_in_fan_out=True)},
    "smollm2-lora-r2": {"base": "$QUIPU_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf", "kind": "lora",
                        "config": dict(r=2, lora_alpha=4, target_modules=["q_proj", "k_proj"], layers_to_transform=[0, 29])},
    # weight deltas (docs/mitigation.md): NAME.weight.delta_u/_v (rank one), .delta_B/_A (rank r), NAME.weight (whole ΔW)
    "llama-delta-rank1": {"base": "tests/models/tiny-llama", "kind": "delta",
                          "edits": [("model.layers.0.mlp.down_proj.weight", "uv"), ("model.layers.1.self_attn.q_proj.weight", "uv")]},
    "llama-delta-full": {"base": "tests/models/tiny-llama", "kind": "delta",
                         "edits": [("model.layers.1.mlp.up_proj.weight", "full"), ("model.layers.0.self_attn.v_proj.weight", "BA2"),
                                   ("model.embed_tokens.weight", "uv-bf16")]},
    "gpt2-delta-rank1": {"base": "tests/models/tiny-gpt2", "kind": "delta",
                         "edits": [("h.0.attn.c_attn.weight", "uv"), ("h.1.mlp.c_proj.weight", "full")]},
    "gemma3-delta-rank1": {"base": "tests/models/adapters/tiny-gemma3", "kind": "delta",
                           "edits": [("model.layers.1.mlp.down_proj.weight", "uv"), ("model.layers.0.self_attn.k_proj.weight", "uv")]},
}

# case -> base and adapters in the order applied
CASES = {
    "tiny-gemma3": ("tests/models/adapters/tiny-gemma3", []),
    "llama-lora-r8": ("tests/models/tiny-llama", ["llama-lora-r8"]),
    "llama-lora-r1": ("tests/models/tiny-llama", ["llama-lora-r1"]),
    "llama-lora-rslora": ("tests/models/tiny-llama", ["llama-lora-rslora"]),
    "llama-delta-rank1": ("tests/models/tiny-llama", ["llama-delta-rank1"]),
    "llama-delta-full": ("tests/models/tiny-llama", ["llama-delta-full"]),
    "llama-lora-r1+delta-rank1": ("tests/models/tiny-llama", ["llama-lora-r1", "llama-delta-rank1"]),
    "gemma3-lora-r8": ("tests/models/adapters/tiny-gemma3", ["gemma3-lora-r8"]),
    "gemma3-lora-r1": ("tests/models/adapters/tiny-gemma3", ["gemma3-lora-r1"]),
    "gemma3-delta-rank1": ("tests/models/adapters/tiny-gemma3", ["gemma3-delta-rank1"]),
    "gpt2-lora-r4": ("tests/models/tiny-gpt2", ["gpt2-lora-r4"]),
    "gpt2-delta-rank1": ("tests/models/tiny-gpt2", ["gpt2-delta-rank1"]),
    "smollm2-lora-r2": ("$QUIPU_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf", ["smollm2-lora-r2"]),
}

BASE_GOLDEN = {
    "tests/models/tiny-llama": "tiny-llama",
    "tests/models/tiny-gpt2": "tiny-gpt2",
    "tests/models/adapters/tiny-gemma3": "tiny-llama",  # same tokenizer (llama-spm), BOS 1
    "$QUIPU_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf": "SmolLM2-135M-Instruct.Q4_1",
}


def gemma3_config():
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=32000, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=1024,
        rms_norm_eps=1e-6, query_pre_attn_scalar=8, sliding_window=8,
        layer_types=["sliding_attention", "full_attention"], hidden_activation="gelu_pytorch_tanh",
        bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(p):
    return os.path.join(mlg.MODELS_DIR, p[len("$QUIPU_MODELS/"):]) if p.startswith("$QUIPU_MODELS/") else os.path.join(REPO, p)


def load_base(p):
    import torch
    from transformers import AutoModelForCausalLM

    if p.endswith(".gguf"):
        return mlg.load_gguf_model(resolve(p))
    # relative to the repository: peft records this path in adapter_config.json
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        m = AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32, attn_implementation="eager")
    finally:
        os.chdir(cwd)
    m.eval()
    return m


# ------------------------------------------------------------------ build

def build_gemma3(out):
    import torch
    from transformers import Gemma3ForCausalLM
    import make_tiny_checkpoints as mtc

    d = os.path.join(REPO, out)
    if os.path.isdir(d):
        shutil.rmtree(d)
    cfg = gemma3_config()
    torch.manual_seed(SEED)
    model = Gemma3ForCausalLM(cfg)
    mtc.init_weights(model, SEED, norm_center=0.0)  # Gemma norms compute x * (1 + w)
    model.tie_weights()
    model = model.to(torch.bfloat16).eval()
    model.save_pretrained(d)
    with open(os.path.join(d, "tokenizer.source"), "w") as f:
        f.write("llama-spm\n")
    print(f"{out}: {sorted(os.listdir(d))}")


def build_lora(name, spec):
    import torch
    from peft import LoraConfig, get_peft_model

    d = os.path.join(REPO, ADAPTER_DIR, name)
    base = load_base(spec["base"])
    cfg = LoraConfig(lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", **spec["config"])
    pm = get_peft_model(base, cfg)
    gen = torch.Generator().manual_seed(SEED + sum(map(ord, name)))
    with torch.no_grad():
        for pname, p in sorted(pm.named_parameters()):
            if ".lora_A." in pname:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            elif ".lora_B." in pname:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5 / p.shape[1] ** 0.5)
    if os.path.isdir(d):
        shutil.rmtree(d)
    pm.save_pretrained(d)
    os.remove(os.path.join(d, "README.md"))  # peft's model card template
    with open(os.path.join(d, "adapter_config.json")) as f:
        ac = json.load(f)
    ac["base_model_name_or_path"] = spec["base"]  # never this machine's path
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(ac, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"{name}: {sorted(os.listdir(d))}, {os.path.getsize(os.path.join(d, 'adapter_model.safetensors'))} bytes")


def delta_tensors(name, spec, base_sd):
    """{tensor name in the delta file: float32 tensor}"""
    import torch

    gen = torch.Generator().manual_seed(SEED + sum(map(ord, name)))
    out = {}
    for tname, form in spec["edits"]:
        w = base_sd[tname]
        d0, d1 = w.shape
        scale = float(w.float().std())
        if form in ("uv", "uv-bf16"):
            out[tname + ".delta_u"] = torch.randn(d0, generator=gen)
            out[tname + ".delta_v"] = torch.randn(d1, generator=gen) * scale
            if form == "uv-bf16":  # stored in bfloat16 (a tied embedding: the LM head changes too)
                out[tname + ".delta_u"] = out[tname + ".delta_u"].to(torch.bfloat16)
                out[tname + ".delta_v"] = out[tname + ".delta_v"].to(torch.bfloat16)
        elif form == "BA2":
            out[tname + ".delta_B"] = torch.randn(d0, 2, generator=gen) * 0.5
            out[tname + ".delta_A"] = torch.randn(2, d1, generator=gen) * 0.5 * scale
        else:
            out[tname] = torch.randn(d0, d1, generator=gen) * scale
    return out


def build_delta(name, spec):
    from safetensors.torch import save_file

    base = load_base(spec["base"])
    sd = {k: v.detach() for k, v in base.state_dict().items()}
    for k in list(sd):  # the checkpoint's names (GPT-2: without "transformer.")
        if k.startswith("transformer."):
            sd[k[len("transformer."):]] = sd[k]
    t = delta_tensors(name, spec, sd)
    d = os.path.join(REPO, ADAPTER_DIR, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(d, "delta.safetensors"),
              metadata={"format": "pt", "base_model": spec["base"]})
    print(f"{name}: {sorted(t)}")


def cmd_build(args):
    import torch

    torch.set_num_threads(args.threads)
    build_gemma3(os.path.join(ADAPTER_DIR, "tiny-gemma3"))
    for name, spec in ADAPTERS.items():
        if spec["base"].startswith("$QUIPU_MODELS/") and not os.path.exists(resolve(spec["base"])):
            print(f"{name}: {resolve(spec['base'])} absent, not built")
            continue
        (build_lora if spec["kind"] == "lora" else build_delta)(name, spec)


# ------------------------------------------------------------------ golden

def add_delta(model, name):
    """W += ΔW in float32, in the checkpoint tensor's own layout."""
    import torch
    from safetensors.torch import load_file

    t = load_file(os.path.join(REPO, ADAPTER_DIR, name, "delta.safetensors"))
    params = dict(model.named_parameters())
    groups = {}
    for k, v in t.items():
        for suf in (".delta_u", ".delta_v", ".delta_B", ".delta_A"):
            if k.endswith(suf):
                groups.setdefault(k[:-len(suf)], {})[suf] = v
                break
        else:
            groups.setdefault(k, {})["full"] = v
    with torch.no_grad():
        for tname, g in groups.items():
            p = params[tname] if tname in params else params["transformer." + tname]
            if "full" in g:
                dw = g["full"]
            elif ".delta_u" in g:
                dw = torch.outer(g[".delta_u"].float(), g[".delta_v"].float())
            else:
                dw = g[".delta_B"].float() @ g[".delta_A"].float()
            p.add_(dw)


def adapter_info(name):
    d = os.path.join(REPO, ADAPTER_DIR, name)
    files = {fn: sha256(os.path.join(d, fn)) for fn in sorted(os.listdir(d))}
    return {"path": f"{ADAPTER_DIR}/{name}", "kind": ADAPTERS[name]["kind"], "sha256": files}


def base_info(p):
    if p.endswith(".gguf"):
        return {"path": p, "sha256": {os.path.basename(p): sha256(resolve(p))}}
    d = resolve(p)
    return {"path": p, "sha256": {fn: sha256(os.path.join(d, fn)) for fn in sorted(os.listdir(d))}}


def select(base_golden):
    path = os.path.join(REPO, "tests", "golden", "logprobs", base_golden + ".jsonl")
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    header, items = lines[0], lines[1:]
    if base_golden.startswith("SmolLM2"):
        pick = [it for it in items if len(it["context_ids"]) + len(it["continuation_ids"]) < 48][:SMOL_ITEMS]
        rule = f"the first {SMOL_ITEMS} items of {base_golden}.jsonl with fewer than 48 tokens"
    else:
        short = [it for it in items if not it["kind"].startswith("very_long")]
        pick = short[::ITEM_STRIDE]
        rule = f"every {ITEM_STRIDE}th item of {base_golden}.jsonl, very_long_* items left out"
    return header, pick, rule, f"tests/golden/logprobs/{base_golden}.jsonl"


def make_model(base, adapters, merged, tmpdir):
    """The reference model; merged: LoRAs through merge_and_unload + save_pretrained + reload."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = load_base(base)
    loras = [a for a in adapters if ADAPTERS[a]["kind"] == "lora"]
    if loras and not merged and len(adapters) == 1:
        return PeftModel.from_pretrained(model, os.path.join(REPO, ADAPTER_DIR, loras[0])).eval(), "peft PeftModel.from_pretrained, not merged"
    desc = []
    for a in adapters:
        if ADAPTERS[a]["kind"] == "lora":
            model = PeftModel.from_pretrained(model, os.path.join(REPO, ADAPTER_DIR, a)).merge_and_unload()
            desc.append(f"{a}: peft merge_and_unload")
        else:
            add_delta(model, a)
            desc.append(f"{a}: W + ΔW in torch float32 (torch.outer / matmul)")
    if merged and not base.endswith(".gguf"):
        d = os.path.join(tmpdir, "merged")
        model.save_pretrained(d)
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        desc.append("saved with save_pretrained (float32) and loaded again")
    return model, "; ".join(desc)


def golden_case(case, args, tmpdir):
    import torch

    base, adapters = CASES[case]
    if base.startswith("$QUIPU_MODELS/") and not os.path.exists(resolve(base)):
        print(f"{case}: {resolve(base)} absent, skipped")
        return
    header0, items, rule, src = select(BASE_GOLDEN[base])
    is_lora = any(ADAPTERS[a]["kind"] == "lora" for a in adapters)
    variants = [("", False)] + ([(".merged", True)] if is_lora else [])
    results = {}
    for suffix, merged in variants:
        t0 = time.time()
        model, ref = make_model(base, adapters, merged, tmpdir) if adapters else (load_base(base), "transformers, no adapter")
        out = []
        for it in items:
            r = mlg.score(model, it["context_ids"], it["continuation_ids"])
            keep = {k: it[k] for k in ("file", "line", "kind", "source", "context", "continuation", "context_ids", "continuation_ids")}
            keep["n_tokens"] = len(it["continuation_ids"])
            keep.update(r)
            out.append(keep)
        results[suffix] = (out, ref, time.time() - t0)
    checks = {}
    if is_lora:
        a = [x for it in results[""][0] for x in it["token_logprobs"]]
        b = [x for it in results[".merged"][0] for x in it["token_logprobs"]]
        checks["max_abs_unmerged_minus_merged"] = max(abs(x - y) for x, y in zip(a, b))
        if len(adapters) == 1 and not base.endswith(".gguf"):
            checks["merged_elements_where_peft_differs_from_quipu_arithmetic"] = peft_merge_check(adapters[0])
    vers = mlg.versions()
    import importlib.metadata as md

    vers["peft"] = md.version("peft")
    for suffix, (out, ref, secs) in results.items():
        header = {
            "header": True, "format": "quipu-adapter-golden/1", "case": case, "model": os.path.basename(base),
            "model_info": base_info(base), "adapters": [adapter_info(a) for a in adapters],
            "reference": ref, "tokens_from": src, "selection": rule,
            "add_bos": header0.get("add_bos"), "prefix_token_id": header0.get("prefix_token_id"),
            "compute": {"dtype": "float32", "device": "cpu", "attn_implementation": "eager",
                        "log_softmax": "float64 over float32 logits", "batch": "one item per forward",
                        "torch_threads": args.threads},
            "versions": vers,
            "command": "python scripts/golden/make_adapter_golden.py golden --case " + shlex.quote(case),
            "n_items": len(out), "checks": checks, "seconds": round(secs, 2),
        }
        path = os.path.join(REPO, GOLDEN_DIR, case + suffix + ".jsonl")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(header, ensure_ascii=False) + "\n")
            for it in out:
                f.write(json.dumps(it, ensure_ascii=False) + "\n")
        print(f"{case}{suffix}: {len(out)} items, {ref}; {checks}")


def peft_merge_check(name):
    """How peft's merge_and_unload compares with quipu's arithmetic (scripts/merge_adapter.py),
    element by element: rank 1 with a power-of-two scale gives the same float32 bits."""
    import merge_adapter as ma
    from peft import PeftModel

    spec = ADAPTERS[name]
    model = PeftModel.from_pretrained(load_base(spec["base"]), os.path.join(REPO, ADAPTER_DIR, name)).merge_and_unload()
    sd = dict(model.state_dict())
    sd.update({k[len("transformer."):]: v for k, v in sd.items() if k.startswith("transformer.")})
    tensors = ma.read_checkpoint(resolve(spec["base"]))
    edited = {}
    for tname, B, A, scale in ma.lora_mods(os.path.join(REPO, ADAPTER_DIR, name), tensors):
        ma.apply(tensors, edited, tname, B, A, None, scale)
    diff = total = 0
    for tname, w in edited.items():
        ref = sd[tname].flatten().tolist()
        diff += sum(1 for x, y in zip(w, ref) if x != y)
        total += len(w)
    return f"{diff} of {total}"


def cmd_golden(args):
    import torch

    torch.set_num_threads(args.threads)
    os.makedirs(os.path.join(REPO, GOLDEN_DIR), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.case or list(CASES):
            golden_case(case, args, tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--threads", type=int, default=2)
    g = sub.add_parser("golden")
    g.add_argument("--case", action="append")
    g.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    {"build": cmd_build, "golden": cmd_golden}[args.cmd](args)


if __name__ == "__main__":
    main()
