# test_cli.sh — the command-line contract: help, exit codes, JSON-lines input errors that keep
# finished work, inspect output.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers

for c in score tokenize inspect; do
  if "$QUIPU_BIN" $c --help >"$TMPD/h" 2>&1 && grep -q "usage: quipu $c" "$TMPD/h"; then ok "$c --help"; else fail "$c --help"; fi
done
if "$QUIPU_BIN" --help | grep -q "commands:"; then ok "--help"; else fail "--help"; fi
rc=0; "$QUIPU_BIN" frobnicate 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] && ok "unknown command exits 2" || fail "unknown command exit $rc"
expect_error "score without --model" "model PATH is required" "$QUIPU_BIN" score
expect_error "missing model file" "/nonexistent/model.gguf: cannot open" "$QUIPU_BIN" score --model /nonexistent/model.gguf
expect_error "unknown backend" "unknown backend 'tpu'" "$QUIPU_BIN" score --model x --backend tpu

# a lone tokenizer.json
printf '"Hello world"\n" Hello"\n' > "$TMPD/in"
if "$QUIPU_BIN" tokenize --model "$QUIPU_SHARED/tokenizers/gpt-2/tokenizer.json" < "$TMPD/in" > "$TMPD/out" 2>"$TMPD/err"; then
  if [ "$(cat "$TMPD/out")" = "$(printf '[15496, 995]\n[18435]')" ]; then ok "tokenize gpt-2 tokenizer.json"; else fail "tokenize gpt-2: $(cat "$TMPD/out")"; fi
else
  fail "tokenize gpt-2: $(cat "$TMPD/err")"
fi
printf '"ok"\n{"not": "a string"}\n' > "$TMPD/in"
expect_error "tokenize non-string line" "stdin:2: expected a JSON string" "$QUIPU_BIN" tokenize --model "$QUIPU_SHARED/tokenizers/gpt-2/tokenizer.json" < "$TMPD/in"

[ -f "$SMOL" ] || { echo "note: $SMOL absent (scripts/fetch-models.sh): model checks skipped"; finish; exit $?; }

# invalid JSON on line 3: lines 1-2 are scored and printed before the error
printf '%s\n' '{"context": "", "continuation": "The cat sat."}' '{"context": "A", "continuation": " dog"}' '{"context": "x", "continuation": ' '{"context": "", "continuation": "never"}' > "$TMPD/in"
expect_error "invalid JSON line" "^quipu score: stdin:3: invalid JSON" "$QUIPU_BIN" score --model "$SMOL" < "$TMPD/in"
n=$(grep -c '"logprob"' "$TMPD/out" || true)
[ "$n" -eq 2 ] && ok "finished lines kept before the bad one" || fail "expected 2 results before the error, got $n"
printf '{"context": "", "continuation": "caf\xe9"}\n' > "$TMPD/in"
expect_error "non-UTF-8 text" "stdin:1: invalid JSON: .*(UTF-8|decode)" "$QUIPU_BIN" score --model "$SMOL" < "$TMPD/in"
printf '{"context": ""}\n' > "$TMPD/in"
expect_error "missing continuation" "stdin:1: missing string field \"continuation\"" "$QUIPU_BIN" score --model "$SMOL" < "$TMPD/in"

# inspect
if "$QUIPU_BIN" inspect "$SMOL" > "$TMPD/i.json" 2>"$TMPD/err"; then
  python3 - "$TMPD/i.json" <<'PY' && ok "inspect SmolLM2" || fail "inspect SmolLM2 content"
import json, sys
d = json.load(open(sys.argv[1]))
hp = d["hyperparameters"]
assert d["architecture"] == "llama", d["architecture"]
assert (hp["n_vocab"], hp["n_embd"], hp["n_layer"], hp["n_head"], hp["n_head_kv"], hp["n_ff"]) == (49152, 576, 30, 9, 3, 1536), hp
assert hp["rope"] == "norm" and hp["rope_base"] == 100000.0, hp
assert d["tokenizer"]["pre"] == "smollm" and d["tokenizer"]["add_bos"] is False, d["tokenizer"]
assert d["tensors"]["count"] == 272 and set(d["tensors"]["types"]) == {"F32", "Q4_1", "Q8_0"}, d["tensors"]
# memory per GPU: bf16 weights are half the file's fp32 element count (within the fp32 norm
# vectors' share), 9 heads do not split over 2, the forward state is counted
m = d["memory"]
bf, f32 = m["per_gpu"]["bf16"], m["per_gpu"]["f32"]
assert abs(bf["tp1"]["weight_bytes"] - m["fp32_weight_bytes"] / 2) < 0.01 * m["fp32_weight_bytes"] / 2, (bf["tp1"], m)
assert abs(f32["tp1"]["weight_bytes"] - m["fp32_weight_bytes"]) < 0.01 * m["fp32_weight_bytes"], (f32["tp1"], m)
assert bf["tp2"] is None and bf["tp4"] is None and bf["tp1"]["state_bytes_2048_tokens"] > 0, bf
PY
else
  fail "inspect SmolLM2: $(cat "$TMPD/err")"
fi
# a model that will not fit the device is refused before any weight is read, with the smallest
# tensor_parallel that would fit (QUIPU_TEST_MEM_FREE stands in for a GPU's free memory; with the
# weights allowed to stay in their GGUF blocks, Gemma 3 would fit: test_gguf_blocks.sh)
if [ -f "$GEMMA" ]; then
  expect_error "model larger than the device" "needs 1\.1 GiB per GPU in f32 at tensor_parallel 1 .*0\.9 GiB free: set tensor_parallel 2 \(the smallest that fits\)" \
    env QUIPU_TEST_MEM_FREE=1000000000 QUIPU_GGUF_WEIGHTS=dense "$QUIPU_BIN" score --model "$GEMMA" <<< '{"context": "", "continuation": "Hola"}'
fi
expect_error "model larger than the device, no split" "SmolLM2.*needs .* GiB free: in GGUF blocks it would need 0\.2 GiB; no tensor_parallel up to 64 fits" \
  env QUIPU_TEST_MEM_FREE=100000000 "$QUIPU_BIN" score --model "$SMOL" <<< '{"context": "", "continuation": "Hola"}'
finish
