#!/usr/bin/env bash
# Many variants, one base load (issue 13, docs/mitigation.md): 10 random rank-one edits of a
# SmolLM2-135M-shaped model scored
#   (a) in ONE `quipu run` whose config lists the base plus the 10 variants (entries sharing the
#       base's path: the base is loaded once, each variant's edited matrices applied and restored),
#   (b) as 10 separate `quipu run`s, one per merged checkpoint written by scripts/merge_adapter.py,
# over the same items with the same threads. Prints the total wall time of each, the ratio, the
# load / scoring split from each run's manifest.json, and checks that variant k's per-model
# summary and item scores equal merged checkpoint k's, bit for bit.
#
# The base: scripts/merge_adapter.py reads Hugging Face safetensors bases only (not GGUF), so the
# base is a random-weight checkpoint with SmolLM2-135M's shapes (Llama, 30 layers, width 576,
# 9/3 heads, MLP 1536, vocabulary 49152, tied embeddings; weights BF16), made here from a fixed
# seed with the standard library, with the SmolLM tokenizer (same 49,152-token vocabulary).
# Timings depend on the shapes, not on the weights' values; the scores themselves mean nothing.
#
# usage: QUIPU=path/to/quipu bench/variants.sh [OUT.md]
#   env: QUIPU_DATASETS (default ../shared/datasets beside the repository; configs/demo works too),
#        SMOLLM_TOKENIZER (a folder with tokenizer.json; default ../shared/tokenizers/smollm),
#        THREADS (default 2), LIMITS "en fr esbbq" items (default "24 24 36": a spread subset of
#        configs/demo.yaml's 120/120/180), WORK (scratch folder; default a temporary one, removed),
#        N (variants, default 10).
set -euo pipefail
: "${QUIPU:?set QUIPU to the quipu binary (a Release build)}"
bin="$(realpath "$QUIPU")"
out="${1:-results/bench/variants-cpu.md}"
cd "$(dirname "$0")/.."
repo="$PWD"
export QUIPU_DATASETS="${QUIPU_DATASETS:-$(cd .. && pwd)/shared/datasets}"
tok="${SMOLLM_TOKENIZER:-$(cd .. && pwd)/shared/tokenizers/smollm}"
threads="${THREADS:-2}"
read -r l_en l_fr l_es <<< "${LIMITS:-24 24 36}"
n="${N:-10}"
if [ -n "${WORK:-}" ]; then tmp="$WORK"; mkdir -p "$tmp"; else tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; fi

# ---------------------------------------------------------------- base checkpoint and the edits
python3 - "$tmp" "$tok" "$n" "$repo/scripts" <<'PY'
import json, os, random, shutil, struct, sys
tmp, tok, n, scripts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, scripts)
from merge_adapter import write_safetensors
H, I, L, NH, NKV, HD, V = 576, 1536, 30, 9, 3, 64, 49152
base = os.path.join(tmp, "base")
if not os.path.exists(os.path.join(base, "model.safetensors")):
    os.makedirs(base, exist_ok=True)
    rng = random.Random(20251129)
    def bf16(rows, cols, hi):
        # random sign and mantissa, exponent 2^e or 2^(e+1): |w| in [2^e, 2^(e+2)); hi = sign-free high byte
        r = rng.randbytes(2 * rows * cols)
        out = bytearray(r)
        out[1::2] = r[1::2].translate(bytes((b & 0x80) | hi for b in range(256)))
        return ("BF16", [rows, cols], bytes(out))
    ones = lambda k: ("BF16", [k], b"\x80\x3f" * k)
    t = {"model.embed_tokens.weight": bf16(V, H, 0x3C), "model.norm.weight": ones(H)}  # |w| 0.008-0.03
    for l in range(L):
        p = "model.layers.%d." % l
        t[p + "input_layernorm.weight"] = ones(H)
        t[p + "post_attention_layernorm.weight"] = ones(H)
        t[p + "self_attn.q_proj.weight"] = bf16(NH * HD, H, 0x3C)
        t[p + "self_attn.k_proj.weight"] = bf16(NKV * HD, H, 0x3C)
        t[p + "self_attn.v_proj.weight"] = bf16(NKV * HD, H, 0x3C)
        t[p + "self_attn.o_proj.weight"] = bf16(H, NH * HD, 0x3B)    # |w| 0.002-0.008: residual scaling
        t[p + "mlp.gate_proj.weight"] = bf16(I, H, 0x3C)
        t[p + "mlp.up_proj.weight"] = bf16(I, H, 0x3C)
        t[p + "mlp.down_proj.weight"] = bf16(H, I, 0x3B)
    write_safetensors(os.path.join(base, "model.safetensors"), t, {"format": "pt"})
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": False,
           "bos_token_id": 1, "eos_token_id": 2, "head_dim": HD, "hidden_act": "silu",
           "hidden_size": H, "intermediate_size": I, "max_position_embeddings": 8192,
           "mlp_bias": False, "num_attention_heads": NH, "num_hidden_layers": L,
           "num_key_value_heads": NKV, "rms_norm_eps": 1e-05, "rope_scaling": None,
           "rope_theta": 100000, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "vocab_size": V}
    json.dump(cfg, open(os.path.join(base, "config.json"), "w"), indent=1)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(tok, f)):
            shutil.copy(os.path.join(tok, f), base)
# variant k: u vᵀ on 3 matrices (layer and module drawn from seed k), u, v ~ N(0, 0.03²) in F32
mods = [("self_attn.q_proj", NH * HD, H), ("self_attn.o_proj", H, NH * HD),
        ("mlp.up_proj", I, H), ("mlp.down_proj", H, I)]
for k in range(1, n + 1):
    rng = random.Random(1000 + k)
    t = {}
    for l in sorted(rng.sample(range(L), 3)):
        m, d0, d1 = rng.choice(mods)
        name = "model.layers.%d.%s.weight" % (l, m)
        u = [rng.gauss(0, 0.03) for _ in range(d0)]
        v = [rng.gauss(0, 0.03) for _ in range(d1)]
        t[name + ".delta_u"] = ("F32", [d0], struct.pack("<%df" % d0, *u))
        t[name + ".delta_v"] = ("F32", [d1], struct.pack("<%df" % d1, *v))
    write_safetensors(os.path.join(tmp, "edit%02d.safetensors" % k), t)
    print("edit%02d: %s" % (k, ", ".join(sorted({x.rsplit(".", 1)[0] for x in t}))), file=sys.stderr)
PY

tm0=$(date +%s.%N)
for k in $(seq -f %02g 1 "$n"); do
  [ -f "$tmp/merged$k/model.safetensors" ] || python3 scripts/merge_adapter.py "$tmp/base" "$tmp/merged$k" "$tmp/edit$k.safetensors"
done
tm1=$(date +%s.%N)

# ---------------------------------------------------------------- configs
bench_yaml() {
  cat <<YAML
benchmarks:
  - {name: crows_pairs_en, limit: $l_en, sample: spread}
  - {name: crows_pairs_fr, limit: $l_fr, sample: spread}
  - {name: esbbq, limit: $l_es, sample: spread}
metrics: {include: all, bootstrap: 1000, confidence: 0.95}
scoring: {batch_tokens: 2048, threads: $threads}
YAML
}
{
  echo "name: variants"; echo "seed: 20251129"; echo "datasets_dir: \${QUIPU_DATASETS}"; echo "models:"
  echo "  - {path: $tmp/base, name: base}"
  for k in $(seq -f %02g 1 "$n"); do echo "  - {path: $tmp/base, name: v$k, adapters: [$tmp/edit$k.safetensors]}"; done
  bench_yaml
} > "$tmp/a.yaml"
for k in $(seq -f %02g 1 "$n"); do
  { echo "name: merged$k"; echo "seed: 20251129"; echo "datasets_dir: \${QUIPU_DATASETS}"; echo "models:"
    echo "  - {path: $tmp/merged$k, name: v$k}"; bench_yaml; } > "$tmp/b$k.yaml"
done

# ---------------------------------------------------------------- (a) one run, (b) n runs
rm -rf "$tmp/out-a" "$tmp"/out-b*
sync
ta0=$(date +%s.%N)
"$bin" run "$tmp/a.yaml" --set output="$tmp/out-a" > "$tmp/a.log" 2>&1 || { tail "$tmp/a.log" >&2; exit 1; }
ta1=$(date +%s.%N)
for k in $(seq -f %02g 1 "$n"); do
  "$bin" run "$tmp/b$k.yaml" --set output="$tmp/out-b$k" > "$tmp/b$k.log" 2>&1 || { tail "$tmp/b$k.log" >&2; exit 1; }
done
tb1=$(date +%s.%N)

python3 - "$out" "$tmp" "$n" "$ta0" "$ta1" "$tb1" "$tm0" "$tm1" "$threads" "$l_en" "$l_fr" "$l_es" "$bin" <<'PY'
import json, os, platform, subprocess, sys
out, tmp, n, ta0, ta1, tb1, tm0, tm1, threads, l_en, l_fr, l_es, binp = sys.argv[1:]
n = int(n); ta0, ta1, tb1, tm0, tm1 = map(float, (ta0, ta1, tb1, tm0, tm1))
wa, wb, wm = ta1 - ta0, tb1 - ta1, tm1 - tm0
ma = json.load(open(os.path.join(tmp, "out-a", "manifest.json")))
mb = [json.load(open(os.path.join(tmp, "out-b%02d" % k, "manifest.json"))) for k in range(1, n + 1)]
json.dump({"a": ma, "b": mb}, open(os.path.join(tmp, "manifests.json"), "w"), indent=1)
print(json.dumps(ma.get("timings"), indent=1))
print(json.dumps(mb[0].get("timings"), indent=1))
PY
echo "work folder: $tmp"
