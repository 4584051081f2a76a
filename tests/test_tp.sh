# test_tp.sh — tensor parallelism on the CPU backend, MPI standing in for NCCL (issue 8 item 5):
# a model split over 2 ranks (tp=2) and over 2 groups of 2 (tp=2 x dp=2) gives every item's
# log-probability within 1e-5 per token of the unsplit model and the same pair decisions, on the
# tiny Llama GQA checkpoint and on Gemma 3 (one KV head, replicated; tied 262k vocabulary split);
# tp=2 x dp=2 gives the bytes of tp=2; shapes that do not split are refused in one line.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
command -v mpirun > /dev/null || skip "mpirun not found"
"$QUIPU_TEST_BIN_DIR/test_comm" 2>/dev/null | grep -q "MPI on" || skip "this build has no MPI (configure with -DQUIPU_MPI=ON)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
model=$(tiny_model tiny-llama)
conf() { # name model limit batch
  cat > "$TMPD/$1.yaml" <<YAML
name: $1
output: $TMPD/out
seed: 5
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $2
    name: m
benchmarks:
  - name: crows_pairs_fr
    limit: $3
    sample: spread
  - name: mbbq_es
    limit: $3
    sample: spread
metrics:
  include: all
  bootstrap: 100
scoring:
  batch_tokens: $4
progress_interval: 0
YAML
}
compare() { # dirA dirB what
  python3 - "$1" "$2" "$3" <<'PY'
import json, subprocess, sys
def load(d):
    out = subprocess.run(["zstd", "-dc", d + "/items.jsonl.zst"], capture_output=True, check=True).stdout.decode()
    return {(o["benchmark"], o["id"]): o for o in map(json.loads, out.splitlines())}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a and a.keys() == b.keys(), "different items"
worst, flips = 0.0, 0
for k, x in a.items():
    y = b[k]
    assert x["nt"] == y["nt"], k
    for p, q, n in zip(x["lp"], y["lp"], x["nt"]):
        worst = max(worst, abs(p - q) / max(n, 1))
    if x["kind"] == "pair":
        flips += (x["lp"][0] > x["lp"][1]) != (y["lp"][0] > y["lp"][1])
    else:
        flips += max(range(len(x["lp"])), key=lambda i: x["lp"][i]) != max(range(len(y["lp"])), key=lambda i: y["lp"][i])
ok = worst <= 1e-5 and flips == 0
print(f"{'ok' if ok else 'FAIL'}: {sys.argv[3]}: {len(a)} items, max |d log-prob| per token {worst:.2e} (limit 1e-5), decisions changed {flips}")
sys.exit(0 if ok else 1)
PY
}

conf tiny "$model" 30 96
"$QUIPU_BIN" run "$TMPD/tiny.yaml" --set "output=$TMPD/t1" > /dev/null 2> "$TMPD/err" || fail "tp=1: $(tail -1 "$TMPD/err")"
if mpirun -n 2 "$QUIPU_BIN" run "$TMPD/tiny.yaml" --set "output=$TMPD/t2" --set models.0.tensor_parallel=2 > /dev/null 2> "$TMPD/err"; then
  compare "$TMPD/t1" "$TMPD/t2" "tiny Llama, tp=2 vs tp=1" && T_CHECKS=$((T_CHECKS + 1)) || fail "tiny Llama tp=2"
else
  fail "tp=2: $(grep 'quipu' "$TMPD/err" | tail -1)"
fi
if mpirun -n 4 "$QUIPU_BIN" run "$TMPD/tiny.yaml" --set "output=$TMPD/t4" --set models.0.tensor_parallel=2 --set scoring.batch_tokens=40 \
     > /dev/null 2> "$TMPD/err"; then
  bad=""
  for f in summary.json summary.csv summary.md items.jsonl.zst; do cmp -s "$TMPD/t2/$f" "$TMPD/t4/$f" || bad="$bad $f"; done
  [ -z "$bad" ] && ok "tp=2 x dp=2 (4 ranks, other batch size) gives the bytes of tp=2" || fail "tp=2 x dp=2 differs in$bad"
  grep -q "quipu\[[123]\] run:" "$TMPD/err" && fail "tp=2 x dp=2: a rank complained: $(grep 'quipu\[' "$TMPD/err" | head -2)"
else
  fail "tp=2 x dp=2: $(grep 'quipu' "$TMPD/err" | tail -1)"
fi

if [ -f "$GEMMA" ]; then
  conf gemma "$GEMMA" 3 512
  "$QUIPU_BIN" run "$TMPD/gemma.yaml" --set "output=$TMPD/g1" > /dev/null 2> "$TMPD/err" || fail "Gemma 3 tp=1: $(tail -1 "$TMPD/err")"
  if mpirun -n 2 "$QUIPU_BIN" run "$TMPD/gemma.yaml" --set "output=$TMPD/g2" --set models.0.tensor_parallel=2 > /dev/null 2> "$TMPD/err"; then
    compare "$TMPD/g1" "$TMPD/g2" "Gemma 3 (1 KV head replicated, tied vocabulary split), tp=2 vs tp=1" && T_CHECKS=$((T_CHECKS + 1)) || fail "Gemma 3 tp=2"
  else
    fail "Gemma 3 tp=2: $(grep 'quipu' "$TMPD/err" | tail -1)"
  fi
  # each member keeps its slice of the layers' GGUF blocks (Q4_K / Q6_K, 256-value blocks: the
  # output projection's 512 and the down projection's 1024 columns per member are whole blocks)
  # and dequantizes it before its GEMM: the bytes of the dequantized split. Chosen automatically:
  # 0.85 GiB free per member (QUIPU_TEST_MEM_FREE standing in for a GPU's) holds a member's share
  # in blocks (0.8 GiB) but not dequantized (0.9 GiB).
  if mpirun -n 2 -x QUIPU_TEST_MEM_FREE=912680550 -x QUIPU_LOG=debug "$QUIPU_BIN" run "$TMPD/gemma.yaml" --set "output=$TMPD/gb" --set models.0.tensor_parallel=2 \
       > /dev/null 2> "$TMPD/err"; then
    grep -q "quipu\[0\] info: .*: 0\.9 GiB dequantized does not fit the 0\.8 GiB free; the layers' weights stay in their GGUF blocks (0\.8 GiB in all)" "$TMPD/err" \
      && ok "tp=2, 0.85 GiB free per member: blocks chosen for the member's share" || fail "tp=2: no word of choosing blocks: $(grep quipu "$TMPD/err" | tail -2)"
    bad=""
    for f in summary.json summary.csv items.jsonl.zst; do cmp -s "$TMPD/g2/$f" "$TMPD/gb/$f" || bad="$bad $f"; done
    [ -z "$bad" ] && ok "Gemma 3 tp=2 with each member's share of the GGUF blocks gives the bytes of tp=2 dequantized" || fail "Gemma 3 tp=2 in blocks differs in$bad"
    # (rank 0 speaks for the group: the members hold the same number of matrices, each its slice)
    grep -q "quipu\[0\] debug: .*: 126 layer matrices kept in their GGUF blocks (.* MiB on this tensor-parallel member" "$TMPD/err" \
      && ok "the layers stayed in blocks: $(grep -m1 'kept in their GGUF' "$TMPD/err" | sed 's/.*gguf: //')" \
      || fail "the layers were not kept in blocks: $(grep quipu "$TMPD/err" | tail -2)"
  else
    fail "Gemma 3 tp=2 in blocks: $(grep 'quipu' "$TMPD/err" | tail -1)"
  fi
else
  echo "note: $GEMMA absent (scripts/fetch-models.sh): the Gemma 3 check is not run"
fi
if [ -f "$SMOL" ]; then
  conf smol "$SMOL" 2 256
  rc=0
  mpirun -n 2 "$QUIPU_BIN" run "$TMPD/smol.yaml" --set "output=$TMPD/s2" --set models.0.tensor_parallel=2 > /dev/null 2> "$TMPD/err" || rc=$?
  [ $rc -ne 0 ] && grep -q "tensor parallelism 2: the model's 9 attention heads do not divide by 2" "$TMPD/err" \
    && ok "SmolLM2 (9 heads) with tp=2 refused: $(grep -m1 'do not divide' "$TMPD/err")" || fail "SmolLM2 tp=2 not refused clearly (exit $rc)"
fi
# a mixture of experts: refused in one line, whatever its shapes
conf moe "$(tiny_model tiny-mixtral)" 2 96
rc=0
mpirun -n 2 "$QUIPU_BIN" run "$TMPD/moe.yaml" --set "output=$TMPD/moe2" --set models.0.tensor_parallel=2 > /dev/null 2> "$TMPD/err" || rc=$?
[ $rc -ne 0 ] && grep -q "tensor parallelism 2: not for mixtral models yet: mixture-of-experts layers" "$TMPD/err" \
  && ok "Mixtral with tp=2 refused: $(grep -m1 'not for mixtral' "$TMPD/err")" || fail "Mixtral tp=2 not refused clearly (exit $rc): $(grep quipu "$TMPD/err" | tail -1)"
rc=0
mpirun -n 3 "$QUIPU_BIN" run "$TMPD/tiny.yaml" --set "output=$TMPD/t3" --set models.0.tensor_parallel=2 > /dev/null 2> "$TMPD/err" || rc=$?
[ $rc -ne 0 ] && grep -q "not a multiple of 2" "$TMPD/err" && ok "3 ranks with tp=2 refused: $(grep -m1 'not a multiple' "$TMPD/err")" \
  || fail "3 ranks with tp=2 not refused clearly (exit $rc): $(grep quipu "$TMPD/err" | tail -1)"
finish
