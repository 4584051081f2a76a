#!/usr/bin/env python3
"""make_dequant_golden.py - golden data for tests/test_quant.c, made with the reference
dequantizer of the `gguf` Python package (gguf.quants.dequantize, a numpy port of ggml's
dequantize_row_*).

Writes, into OUT (default tests/golden/dequant):
  <TYPE>.bin   for F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K:
               random but valid blocks (fixed seed) and their dequantized values
  models.bin   a few rows of one tensor per tensor type of each real model found in
               MODELS (default ~/.cache/quipu/models), dequantized from the file
  README.md    the format, the versions used and the command line

Usage: python make_dequant_golden.py [--out DIR] [--models DIR] [--seed N]

File formats (all little-endian):
  <TYPE>.bin:  char magic[8] "QDQGOLD1"; u32 ggml_type; u32 block_size; u32 block_bytes;
               u32 n_blocks; u8 raw[n_blocks*block_bytes]; f32 expected[n_blocks*block_size]
  models.bin:  char magic[8] "QDQROWS1"; u32 n_entries; then per entry:
               u16 len + model file name; u16 len + tensor name; u32 ggml_type; u64 row;
               u64 ne0; f32 expected[ne0]
"""
import argparse
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

# Byte offsets of the fp16 scale fields in each block (ggml-common.h): d, and m/dmin if any.
HALF_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}

MODELS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]


def random_blocks(rng, name):
    """Raw bytes of random valid blocks: random payload, fp16 scales finite in [-1, 1]
    (with a zero, a subnormal and a negative one among them)."""
    qtype = T[name]
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    if name == "F32":
        n = 1024
        raw = rng.integers(0, 2**32, size=n, dtype=np.uint32)  # any bits, NaN and inf included
        raw[:6] = np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, 3.4e38], dtype=np.float32).view(np.uint32)
        return raw.view(np.uint8).reshape(n, 4)
    if name in ("F16", "BF16"):
        n = 1024
        raw = rng.integers(0, 2**16, size=n, dtype=np.uint16)
        if name == "F16":
            # fp16 NaNs are left out: numpy may quiet a signalling NaN on conversion
            nan = ((raw & 0x7C00) == 0x7C00) & ((raw & 0x03FF) != 0)
            raw[nan] &= 0xFC00  # -> +-inf
            raw[:6] = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x0001, 0x83FF]  # zeros, infs, subnormals
        return raw.view(np.uint8).reshape(n, 2)
    n_blocks = 64 if block_size == 32 else 16
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for off in HALF_FIELDS[name]:
        h = rng.uniform(-1.0, 1.0, size=n_blocks).astype(np.float16)
        h[0] = 0.0
        h[1] = np.float16(6e-6)  # subnormal in fp16
        h[2] = -abs(h[2]) if h[2] != 0 else np.float16(-0.5)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(n_blocks, 2)
    return raw


def reference(raw, name):
    out = gguf.quants.dequantize(np.ascontiguousarray(raw), T[name])
    return np.ascontiguousarray(out, dtype=np.float32).reshape(-1)


def write_type(out_dir, rng, name):
    qtype = T[name]
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    raw = random_blocks(rng, name)
    expected = reference(raw, name)
    n_blocks = raw.shape[0]
    assert expected.size == n_blocks * block_size
    with open(os.path.join(out_dir, name + ".bin"), "wb") as f:
        f.write(b"QDQGOLD1")
        f.write(struct.pack("<4I", int(qtype), block_size, block_bytes, n_blocks))
        f.write(raw.tobytes())
        f.write(expected.astype("<f4").tobytes())
    return n_blocks


def model_rows(path):
    """(tensor name, type, row, ne0, values) for rows 0, middle, last of the first tensor of
    each type in the file (file order)."""
    r = gguf.GGUFReader(path)
    seen = set()
    rows = []
    for t in r.tensors:
        qtype = T(int(t.tensor_type))
        if qtype in seen:
            continue
        seen.add(qtype)
        block_size, block_bytes = GGML_QUANT_SIZES[qtype]
        ne = [int(x) for x in t.shape]
        ne0, nrows = ne[0], int(np.prod(ne[1:])) if len(ne) > 1 else 1
        row_bytes = ne0 // block_size * block_bytes
        for row in sorted({0, nrows // 2, nrows - 1}):
            start = int(t.data_offset) + row * row_bytes
            raw = np.array(r.data[start:start + row_bytes], dtype=np.uint8)
            if qtype in (T.F32, T.F16, T.BF16):
                raw = raw.reshape(ne0, block_bytes)
            else:
                raw = raw.reshape(ne0 // block_size, block_bytes)
            vals = reference(raw, qtype.name)
            assert vals.size == ne0
            rows.append((t.name, int(qtype), row, ne0, vals))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden", "dequant"))
    ap.add_argument("--models", default=os.environ.get("QUIPU_MODELS", os.path.expanduser("~/.cache/quipu/models")))
    ap.add_argument("--seed", type=int, default=20250701)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    counts = {name: write_type(args.out, rng, name) for name in TYPES}

    entries = []
    for m in MODELS:
        p = os.path.join(args.models, m)
        if not os.path.exists(p):
            print(f"warning: {p} not found; no model rows for it", file=sys.stderr)
            continue
        entries += [(m,) + e for e in model_rows(p)]
    with open(os.path.join(args.out, "models.bin"), "wb") as f:
        f.write(b"QDQROWS1")
        f.write(struct.pack("<I", len(entries)))
        for model, tname, qtype, row, ne0, vals in entries:
            mb, tb = model.encode(), tname.encode()
            f.write(struct.pack("<H", len(mb)) + mb + struct.pack("<H", len(tb)) + tb)
            f.write(struct.pack("<IQQ", qtype, row, ne0))
            f.write(vals.astype("<f4").tobytes())

    gguf_version = getattr(gguf, "__version__", None)
    if gguf_version is None:
        from importlib.metadata import version
        gguf_version = version("gguf")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("# Dequantization golden data\n\n")
        f.write("Made by `scripts/golden/make_dequant_golden.py` with the reference dequantizer of the\n")
        f.write(f"`gguf` Python package {gguf_version} (`gguf.quants.dequantize`), numpy {np.__version__},\n")
        f.write(f"Python {sys.version.split()[0]}. Command (from the repository root):\n\n")
        f.write(f"    python scripts/golden/make_dequant_golden.py --seed {args.seed}\n\n")
        f.write("with the models of `QUIPU_MODELS` (default `~/.cache/quipu/models`) present.\n")
        f.write("`tests/test_quant.c` expects quipu_dequantize to match these values bit for bit.\n\n")
        f.write("## Files (little-endian)\n\n")
        f.write("- `<TYPE>.bin`: `char magic[8] = \"QDQGOLD1\"`; `u32 ggml_type, block_size, block_bytes, n_blocks`;\n")
        f.write("  `u8 raw[n_blocks*block_bytes]`; `f32 expected[n_blocks*block_size]`. Random blocks (fixed seed):\n")
        f.write("  random payload bytes, fp16 scales d/m/dmin uniform in [-1, 1] with a zero, an fp16 subnormal\n")
        f.write("  and a negative one among them; F32 any bit pattern, BF16 any, F16 any but NaN.\n")
        f.write("- `models.bin`: `char magic[8] = \"QDQROWS1\"`; `u32 n_entries`; per entry `u16 len` + model file\n")
        f.write("  name, `u16 len` + tensor name, `u32 ggml_type`, `u64 row`, `u64 ne0`, `f32 expected[ne0]`.\n")
        f.write("  Rows 0, middle and last of the first tensor of each type in each model; the test reads\n")
        f.write("  the raw row from the model file itself and skips when the model is absent.\n\n")
        f.write("## Contents\n\n")
        for name in TYPES:
            f.write(f"- {name}.bin: {counts[name]} blocks\n")
        for model, tname, qtype, row, ne0, vals in entries:
            f.write(f"- models.bin: {model} {tname} ({T(qtype).name}) row {row}, {ne0} values\n")


if __name__ == "__main__":
    main()
