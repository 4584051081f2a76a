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

python3 - "$out" "$tmp" "$n" "$ta0" "$ta1" "$tb1" "$tm0" "$tm1" "$threads" "$l_en" "$l_fr" "$l_es" <<'PY'
import json, os, subprocess, sys
out, tmp, n, ta0, ta1, tb1, tm0, tm1, threads, l_en, l_fr, l_es = sys.argv[1:]
n = int(n); ta0, ta1, tb1, tm0, tm1 = map(float, (ta0, ta1, tb1, tm0, tm1))
wa, wb, wm = ta1 - ta0, tb1 - ta1, tm1 - tm0
man = lambda d: json.load(open(os.path.join(tmp, d, "manifest.json")))["timings"]
summ = lambda d: json.load(open(os.path.join(tmp, d, "summary.json")))["metrics"]
def items(d):
    rows = subprocess.run(["zstd", "-dc", os.path.join(tmp, d, "items.jsonl.zst")], capture_output=True, check=True).stdout
    return [json.loads(l) for l in rows.splitlines()]
def strip(rows, model, keys=None):
    return [{k: v for k, v in r.items() if k != "model" and (keys is None or k in keys)} for r in rows if r["model"] == model]
ta = man("out-a"); tb = [man("out-b%02d" % k) for k in range(1, n + 1)]
sa, ia = summ("out-a"), items("out-a")
ok_items = ok_values = ok_ci = 0
differs_from_base = 0
point = ("benchmark", "language", "culture", "category", "metric", "value", "n")
for k in range(1, n + 1):
    name = "v%02d" % k
    sb, ib = summ("out-b%02d" % k), items("out-b%02d" % k)
    ok_items += strip(ia, name) == strip(ib, name)
    ok_values += strip(sa, name, point) == strip(sb, name, point)
    ok_ci += strip(sa, name) == strip(sb, name)
    differs_from_base += strip(ia, name) != strip(ia, "base")
nitems = sum(1 for r in ia if r["model"] == "base")
sumb = lambda key: sum(t[key] for t in tb)
other_a = ta["total_s"] - ta["load_s"] - ta["score_s"]
other_b = sumb("total_s") - sumb("load_s") - sumb("score_s")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
yesno = lambda c: "held" if c == n else "FAILED (%d of %d)" % (c, n)
text = f"""# {n} rank-one variants, one base load vs {n} merged checkpoints, CPU

Issue 13, "Fast, and shown to be". Command:

```sh
cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
QUIPU=build-rel/quipu LIMITS="{l_en} {l_fr} {l_es}" bench/variants.sh
```

Machine: {os.cpu_count()} cores ({cpu}), shared with other work while it ran; Release build;
`scoring.threads: {threads}` in every run; one run of each arm, (a) then (b).

**The model.** `scripts/merge_adapter.py` reads Hugging Face safetensors bases only, not GGUF, so
the base is not the demo's SmolLM2-135M-Instruct Q4_1 GGUF but a random-weight checkpoint with
SmolLM2-135M's shapes (Llama, 30 layers, width 576, 9 query / 3 KV heads, MLP 1536, vocabulary
49,152, tied embeddings; BF16 weights, 269 MB), made by the script from a fixed seed, with the
SmolLM tokenizer (same 49,152-token vocabulary). Timings depend on the shapes, not on the values;
the bias scores of such a model mean nothing and are not reported.

**The variants.** Variant k (k = 1..{n}) is one delta file (seed 1000 + k) holding u vᵀ on 3
matrices of 3 distinct layers, each drawn from q_proj, o_proj, up_proj, down_proj; u, v entries
N(0, 0.03²) in F32 (ΔW entries around 1e-3, against weights of 0.002-0.03). (a) is ONE
`quipu run` whose config lists the base and the {n} variants (`adapters: [editK.safetensors]`, all
on the base's path: one load); (b) is {n} `quipu run`s, one per checkpoint
`scripts/merge_adapter.py BASE mergedK editK.safetensors` wrote (edited matrices F32, the rest
the base's BF16 bytes; the merges, {wm:.0f} s of pure Python in all, are not timed in (b)).

**The items.** A spread subset of configs/demo.yaml's benchmarks, to keep the 2 × {n} model
scorings within ten minutes on two cores: crows_pairs_en {l_en}, crows_pairs_fr {l_fr}, esbbq
{l_es} (`sample: spread`, from the demo's datasets) = {nitems} items per model; metrics `all`,
1,000 bootstrap resamples. (a) also scores the base: {n + 1} models there, {n} in (b).

| | models scored | wall seconds | load_s | score_s | rest of total_s (config, datasets, metrics, writing) |
|---|---|---|---|---|---|
| (a) one run, base + {n} variants | {n + 1} | {wa:.1f} | {ta['load_s']:.2f} | {ta['score_s']:.1f} | {other_a:.1f} |
| (b) {n} runs of merged checkpoints | {n} | {wb:.1f} | {sumb('load_s'):.2f} | {sumb('score_s'):.1f} | {other_b:.1f} |

Wall seconds: around each `quipu run` process (process start and exit included); the other
columns: manifest.json `timings` (summed over the {n} runs for (b)); load_s in (a) is the one base
load (the variants' edits are applied and restored inside scoring time).

**Ratio** (b) / (a): **{wb / wa:.2f}×** in wall time, though (a) scores one model more; per variant
scored, (a) costs {wa / (n + 1):.1f} s against (b)'s {wb / n:.1f} s ({(wb / n) / (wa / (n + 1)):.2f}×).
Scoring alone: (a) {ta['score_s'] / (n + 1):.2f} s per model, (b) {sumb('score_s') / n:.2f} s per model.

**Bit for bit.** Variant k's item scores (items.jsonl.zst: every choice's log-prob, token and byte
counts) equal merged checkpoint k's: {yesno(ok_items)}. Variant k's summary.json metric rows (value
and n, every benchmark × language × culture × category): {yesno(ok_values)}; with their bootstrap
CIs too: {yesno(ok_ci)}. Sanity: {differs_from_base} of {n} variants' item scores differ from the
base's (the edits do change the model).
"""
open(out, "w").write(text)
print(text)
PY
