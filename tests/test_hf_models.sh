# test_hf_models.sh — models named hf:ORG/NAME[@REV] are found where they already are on disk: a
# fake Hugging Face cache (models--ORG--NAME/snapshots/<commit>, refs/main, HF_HUB_CACHE and
# HF_HOME/hub) and a fake $DSDIR/HuggingFace_Models; a revision by ref or by commit; a model
# that is nowhere is one line naming the places looked at, and nothing is downloaded; a mixture of
# experts reads transformers 5's fused expert stacks as it reads the hub's one tensor per expert.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
model=$(tiny_model tiny-llama)
hub="$TMPD/hf/hub"
c1=0123456789abcdef0123456789abcdef01234567
c2=89abcdef0123456789abcdef0123456789abcdef
mkdir -p "$hub/models--acme--tiny/snapshots/$c1" "$hub/models--acme--tiny/snapshots/$c2" "$hub/models--acme--tiny/refs"
cp "$model"/* "$hub/models--acme--tiny/snapshots/$c1/"
cp "$model"/* "$hub/models--acme--tiny/snapshots/$c2/"
echo "$c1" > "$hub/models--acme--tiny/refs/main"
echo "$c2" > "$hub/models--acme--tiny/refs/v2"
mkdir -p "$TMPD/ds/HuggingFace_Models/lab/jz-tiny" && cp "$model"/* "$TMPD/ds/HuggingFace_Models/lab/jz-tiny/"
in='{"context": "", "continuation": "The cat sat on the mat."}'
want=$(echo "$in" | "$QUIPU_BIN" score --model "$model")
got() { echo "$in" | env -u HF_HUB_CACHE -u HF_HOME "$@" 2>"$TMPD/err"; }
[ "$(got HF_HUB_CACHE="$hub" "$QUIPU_BIN" score --model hf:acme/tiny)" = "$want" ] && ok "HF_HUB_CACHE, refs/main" || fail "hf:acme/tiny: $(cat "$TMPD/err")"
[ "$(got HF_HOME="$TMPD/hf" "$QUIPU_BIN" score --model hf:acme/tiny@v2)" = "$want" ] && ok "HF_HOME/hub, a ref" || fail "hf:acme/tiny@v2: $(cat "$TMPD/err")"
[ "$(got HF_HOME="$TMPD/hf" "$QUIPU_BIN" score --model hf:acme/tiny@$c2)" = "$want" ] && ok "a commit" || fail "hf:acme/tiny@commit: $(cat "$TMPD/err")"
[ "$(got HOME="$TMPD/nohome" DSDIR="$TMPD/ds" "$QUIPU_BIN" score --model hf:lab/jz-tiny)" = "$want" ] && ok "\$DSDIR/HuggingFace_Models" \
  || fail "hf:lab/jz-tiny: $(cat "$TMPD/err")"
expect_error "a model that is nowhere" "hf:acme/absent: not on this machine \\(looked in .*models--acme--absent.*\\); quipu never downloads" \
  env HF_HUB_CACHE="$hub" "$QUIPU_BIN" score --model hf:acme/absent
expect_error "a revision not in the cache" "revision 'v9' is not in the cache" env HF_HUB_CACHE="$hub" "$QUIPU_BIN" inspect hf:acme/tiny@v9
expect_error "a malformed name" "expected hf:ORG/NAME" env HF_HUB_CACHE="$hub" "$QUIPU_BIN" tokenize --model hf:../etc < /dev/null
# in a config: resolved at config time, the default model name is NAME
cat > "$TMPD/c.yaml" <<YAML
output: $TMPD/runout
datasets_dir: $QUIPU_SHARED/datasets
models: [hf:acme/tiny@v2]
benchmarks: [{name: crows_pairs_en, limit: 2}]
metrics: {bootstrap: 10}
progress_interval: 0
YAML
if HF_HUB_CACHE="$hub" "$QUIPU_BIN" run "$TMPD/c.yaml" > /dev/null 2> "$TMPD/err" && grep -q '"name": "tiny"' "$TMPD/runout/summary.json"; then
  ok "config: hf:acme/tiny@v2 runs as model 'tiny'"
else
  fail "config with hf: $(tail -2 "$TMPD/err")"
fi
expect_error "config: a model that is nowhere, at config time" "c.yaml:[0-9]+:[0-9]+: models.0.path: hf:acme/tiny@v2: not on this machine" \
  env HF_HUB_CACHE="$TMPD/empty-hub" "$QUIPU_BIN" run "$TMPD/c.yaml"
# a mixture of experts saved in transformers 5's in-memory layout (one expert stack per layer:
# mlp.experts.gate_up_proj [E, 2 FE, D], mlp.experts.down_proj [E, D, FE], the router mlp.gate)
# scores the bytes of the hub layout (one tensor per expert) it was restacked from
mx=$(tiny_model tiny-mixtral)
cp -r "$mx" "$TMPD/mx-fused"
python3 - "$mx/model.safetensors" "$TMPD/mx-fused/model.safetensors" <<'PY'
import json, re, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
hdr.pop("__metadata__", None)
data = {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in hdr.items()}
out = {}
for k in sorted(hdr):
    m = re.match(r"model\.layers\.(\d+)\.block_sparse_moe\.(.*)", k)
    if not m:
        out[k] = (hdr[k], data[k])
    elif m.group(2) == "gate.weight":
        out[f"model.layers.{m.group(1)}.mlp.gate.weight"] = (hdr[k], data[k])
for l in sorted({int(re.match(r"model\.layers\.(\d+)\.", k).group(1)) for k in hdr if "experts" in k}):
    p = f"model.layers.{l}.block_sparse_moe.experts"
    E = len({k.split(".")[5] for k in hdr if k.startswith(p)})
    fe, d = hdr[f"{p}.0.w1.weight"]["shape"]
    out[f"model.layers.{l}.mlp.experts.gate_up_proj"] = ({"dtype": "BF16", "shape": [E, 2 * fe, d]},
        b"".join(data[f"{p}.{e}.w1.weight"] + data[f"{p}.{e}.w3.weight"] for e in range(E)))
    out[f"model.layers.{l}.mlp.experts.down_proj"] = ({"dtype": "BF16", "shape": [E, d, fe]}, b"".join(data[f"{p}.{e}.w2.weight"] for e in range(E)))
h, off, blobs = {}, 0, []
for k, (e, b) in out.items():
    h[k] = {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
hb = json.dumps(h).encode()
hb += b" " * ((8 - len(hb) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
PY
printf '%s\n' '{"context": "The cat", "continuation": " sat on the mat."}' '{"context": "", "continuation": "Elle est partie."}' > "$TMPD/two.jsonl"
"$QUIPU_BIN" score --model "$mx" --per-token < "$TMPD/two.jsonl" > "$TMPD/hub.out" 2>&1
if "$QUIPU_BIN" score --model "$TMPD/mx-fused" --per-token < "$TMPD/two.jsonl" > "$TMPD/fused.out" 2>"$TMPD/err" && cmp -s "$TMPD/hub.out" "$TMPD/fused.out"; then
  ok "Mixtral in transformers 5's fused expert layout == the hub layout, byte for byte"
else
  fail "Mixtral fused expert layout: $(tail -1 "$TMPD/err")"
fi
finish
