#!/usr/bin/env python3
"""Merge LoRA adapters and weight deltas into a Hugging Face checkpoint with quipu's arithmetic.

usage: merge_adapter.py BASE_DIR OUT_DIR ADAPTER [ADAPTER...]

Writes OUT_DIR: BASE_DIR's other files (config.json, tokenizer files, ...) copied, and one
model.safetensors with every tensor of the base, the edited ones stored as F32 and the others
byte for byte as they were. ADAPTERs are applied in order, each to the weights the previous one
left, exactly as `quipu score --adapter` applies them (docs/mitigation.md):

    d[o, i] = fl32(s * sum_k B[o, k] * A[k, i])   products and sums in double, k ascending
    W'      = fl32(W + d)

with s = lora_alpha / r (lora_alpha / sqrt(r) under use_rslora) for a LoRA and 1 for a delta, and
(o, i) the module's [out, in] orientation (a GPT-2 Conv1D weight is stored [in, out]). quipu
scores the merged checkpoint bit for bit as it scores the base with the adapters (tested by
tests/test_adapters.sh). Python floats are IEEE doubles and struct rounds to float32 to nearest
even, so this needs nothing outside the standard library; it is a reference, not a fast tool
(pure Python loops: seconds for a few small matrices).

Also a small library for tests: read_safetensors, write_safetensors.
"""

import json
import math
import os
import re
import shutil
import struct
import sys

# ------------------------------------------------------------------ safetensors, standard library only

_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4}


def read_safetensors(path):
    """{name: (dtype, shape, raw bytes)}, and the header's __metadata__."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = (t["dtype"], list(t["shape"]), data[base + b:base + e])
    return out, meta


def decode(dtype, raw):
    """float values (Python doubles, exact) of F32, F16 or BF16 raw bytes."""
    if dtype == "F32":
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    if dtype == "F16":
        return list(struct.unpack("<%de" % (len(raw) // 2), raw))
    if dtype == "BF16":
        hs = struct.unpack("<%dH" % (len(raw) // 2), raw)
        return list(struct.unpack("<%df" % len(hs), struct.pack("<%dI" % len(hs), *[h << 16 for h in hs])))
    raise ValueError("dtype %s is not read" % dtype)


def fl32(x):
    """x rounded to float32 (to nearest, ties to even), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def encode_f32(values):
    return struct.pack("<%df" % len(values), *values)


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw bytes)}, written in name order."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------------ the base checkpoint

def read_checkpoint(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    tensors = {}
    for fn in files:
        tensors.update(read_safetensors(os.path.join(d, fn))[0])
    return tensors


GPT2_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def find_weight(tensors, module):
    """The base tensor of a module path, trying the prefixes checkpoints use."""
    cands = [module]
    for p in ("model.", "transformer.", "model.language_model.", "language_model.model."):
        if module.startswith(p):
            cands.append(module[len(p):])
        cands.append(p + module)
    for c in cands:
        if c + ".weight" in tensors:
            return c + ".weight"
    raise KeyError("the base has no weight for module '%s'" % module)


def is_conv1d(name):
    return re.search(r"(^|\.)h\.\d+\.", name) is not None and any(name.endswith(m + ".weight") for m in GPT2_CONV1D)


# ------------------------------------------------------------------ modifications

def pattern_value(patterns, module, default):
    for key, v in (patterns or {}).items():
        if re.match(r"(.*\.)?(%s)$" % key, module):
            return v
    return default


def lora_mods(adir, tensors):
    """[(base tensor name, B [out][r], A [r][in], scale)] of a PEFT LoRA folder."""
    cfg = json.load(open(os.path.join(adir, "adapter_config.json")))
    st, _ = read_safetensors(os.path.join(adir, "adapter_model.safetensors"))
    mods = {}
    for key, (dtype, shape, raw) in st.items():
        m = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])\.weight", key)
        if not m:
            raise ValueError("%s: unsupported tensor %s" % (adir, key))
        mods.setdefault(m.group(1), {})[m.group(2)] = (shape, decode(dtype, raw))
    out = []
    for module in sorted(mods):
        (sa, a), (sb, b) = mods[module]["A"], mods[module]["B"]
        r = pattern_value(cfg.get("rank_pattern"), module, cfg.get("r", 8))
        alpha = pattern_value(cfg.get("alpha_pattern"), module, cfg.get("lora_alpha", 8))
        scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        rr, n_in = sa
        n_out = sb[0]
        assert rr == r and sb[1] == r, (module, sa, sb, r)
        B = [b[o * r:(o + 1) * r] for o in range(n_out)]
        A = [a[k * n_in:(k + 1) * n_in] for k in range(r)]
        out.append((find_weight(tensors, module), B, A, scale))
    return out


def delta_mods(path, tensors):
    """[(base tensor name, B [out][r], A [r][in] or None, full [out][in] or None, scale 1)]."""
    st, _ = read_safetensors(path)
    groups = {}
    for key, (dtype, shape, raw) in st.items():
        m = re.fullmatch(r"(.+\.weight)(?:\.delta_([BAuv]))?", key)
        groups.setdefault(m.group(1), {})[m.group(2) or "full"] = (shape, decode(dtype, raw))
    out = []
    for name in sorted(groups):
        g = groups[name]
        base = name if name in tensors else find_weight(tensors, name[:-len(".weight")])
        d0, d1 = tensors[base][1]
        conv = is_conv1d(base)
        n_out, n_in = (d1, d0) if conv else (d0, d1)
        if "full" in g:
            _, f = g["full"]
            full = [[f[i * d1 + o] if conv else f[o * d1 + i] for i in range(n_in)] for o in range(n_out)]
            out.append((base, None, None, full, 1.0))
            continue
        if "u" in g:
            (_, fb), (_, fa), r = g["u"], g["v"], 1
        else:
            (sb, fb), (_, fa) = g["B"], g["A"]
            r = sb[1]
        # file layout: Bf [d0, r], Af [r, d1]; a Conv1D's [out, in] needs B = Afᵀ, A = Bfᵀ
        if conv:
            B = [[fa[k * d1 + o] for k in range(r)] for o in range(n_out)]
            A = [[fb[i * r + k] for i in range(n_in)] for k in range(r)]
        else:
            B = [fb[o * r:(o + 1) * r] for o in range(n_out)]
            A = [fa[k * d1:(k + 1) * d1] for k in range(r)]
        out.append((base, B, A, None, 1.0))
    return out


def apply(tensors, edited, name, B, A, full, scale):
    dtype, shape, raw = tensors[name]
    w = edited.get(name) or decode(dtype, raw)
    d0, d1 = shape
    conv = is_conv1d(name)
    n_out, n_in = (d1, d0) if conv else (d0, d1)
    for o in range(n_out):
        if full is not None:
            drow = full[o]
        else:
            acc = [0.0] * n_in
            for k in range(len(A)):
                bk, ak = B[o][k], A[k]
                for i in range(n_in):
                    acc[i] += bk * ak[i]
            drow = [fl32(scale * x) for x in acc]
        for i in range(n_in):
            j = i * d1 + o if conv else o * d1 + i
            w[j] = fl32(w[j] + drow[i])
    edited[name] = w


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__.split("\n\n")[1])
    base_dir, out_dir, adapters = argv[1], argv[2], argv[3:]
    tensors = read_checkpoint(base_dir)
    edited = {}
    for ad in adapters:
        if os.path.isdir(ad) and os.path.exists(os.path.join(ad, "adapter_config.json")):
            for name, B, A, scale in lora_mods(ad, tensors):
                apply(tensors, edited, name, B, A, None, scale)
        else:
            path = os.path.join(ad, "delta.safetensors") if os.path.isdir(ad) else ad
            for name, B, A, full, scale in delta_mods(path, tensors):
                apply(tensors, edited, name, B, A, full, scale)
    os.makedirs(out_dir, exist_ok=True)
    for fn in os.listdir(base_dir):
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            continue
        shutil.copy(os.path.join(base_dir, fn), os.path.join(out_dir, fn))
    out = dict(tensors)
    for name, w in edited.items():
        out[name] = ("F32", tensors[name][1], encode_f32(w))
    write_safetensors(os.path.join(out_dir, "model.safetensors"), out, {"format": "pt"})


if __name__ == "__main__":
    main(sys.argv)
