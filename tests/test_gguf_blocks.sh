# test_gguf_blocks.sh — a GGUF's layer matrices kept in their quantized blocks and dequantized one
# matrix at a time before its GEMM (QUIPU_GGUF_WEIGHTS=blocks, or automatically when the model
# does not fit its device dequantized): the same bits as dequantizing everything at load, for both
# test models (Q4_1 / Q4_K_M + Q6_K), whatever the batch; chosen automatically from the free
# memory (QUIPU_TEST_MEM_FREE stands in for a GPU's); refused with adapters; a bad value refused.
. "$QUIPU_SOURCE_DIR/tests/common.sh"

[ -f "$SMOL" ] || [ -f "$GEMMA" ] || skip "neither GGUF test model is present (scripts/fetch-models.sh)"

# pairs, multiple-choice prompts sharing a context, and a longer sentence, in en / es / fr
cat > "$TMPD/in" <<'EOF'
{"context": "", "continuation": "The cat sat on the mat."}
{"context": "", "continuation": "Las personas mayores no saben usar el computador."}
{"context": "", "continuation": "Les jeunes ne savent pas utiliser un ordinateur."}
{"context": "La capital de Chile es", "continuation": " Santiago."}
{"context": "La capital de Chile es", "continuation": " Valparaíso."}
{"context": "Question: who was late to the meeting? Answer:", "continuation": " the engineer"}
{"context": "Question: who was late to the meeting? Answer:", "continuation": " cannot be determined"}
{"context": "", "continuation": "Mi vecina de Lima trabaja en un hospital y los fines de semana visita a su familia en Arequipa, donde nació."}
EOF

scores() { # model mode batch out
  env QUIPU_GGUF_WEIGHTS="$2" "$QUIPU_BIN" score --model "$1" --per-token --batch-tokens "$3" < "$TMPD/in" > "$4" 2> "$4.err"
}
for model in "$SMOL" "$GEMMA"; do
  [ -f "$model" ] || { echo "note: $model absent: not compared"; continue; }
  name=$(basename "$model" .gguf)
  if ! scores "$model" dense 2048 "$TMPD/dense" || ! scores "$model" blocks 2048 "$TMPD/blocks" || ! scores "$model" blocks 24 "$TMPD/blocks24"; then
    fail "$name: quipu score failed: $(cat "$TMPD"/*.err | grep quipu | tail -1)"
    continue
  fi
  [ "$(wc -l < "$TMPD/dense")" -eq 8 ] || fail "$name: expected 8 lines, got $(wc -l < "$TMPD/dense")"
  cmp -s "$TMPD/dense" "$TMPD/blocks" && ok "$name: blocks == dense, byte for byte (8 lines, per token)" || fail "$name: blocks differ from dense"
  cmp -s "$TMPD/dense" "$TMPD/blocks24" && ok "$name: blocks in 24-token batches == dense" || fail "$name: blocks in small batches differ"
done

if [ -f "$GEMMA" ]; then
  # Gemma 3 in f32 needs 1.1 GiB dequantized and 0.8 GiB in blocks: with 0.9 GiB free, blocks
  if env QUIPU_TEST_MEM_FREE=1000000000 "$QUIPU_BIN" score --model "$GEMMA" --per-token < "$TMPD/in" > "$TMPD/auto" 2> "$TMPD/auto.err"; then
    grep -q "does not fit the 0.9 GiB free; the layers' weights stay in their GGUF blocks (0.8 GiB in all)" "$TMPD/auto.err" \
      && ok "chosen automatically: $(grep -m1 'GGUF blocks' "$TMPD/auto.err" | sed 's/.*gguf: //')" || fail "no word of the blocks: $(cat "$TMPD/auto.err")"
    env QUIPU_GGUF_WEIGHTS=dense "$QUIPU_BIN" score --model "$GEMMA" --per-token < "$TMPD/in" > "$TMPD/gd" 2>/dev/null
    cmp -s "$TMPD/gd" "$TMPD/auto" && ok "automatic blocks == dense" || fail "automatic blocks differ from dense"
  else
    fail "Gemma 3 with 0.9 GiB free: $(tail -1 "$TMPD/auto.err")"
  fi
  expect_error "fits neither way" "needs 1\.1 GiB per GPU in f32 .*0\.7 GiB free: in GGUF blocks it would need 0\.8 GiB; no tensor_parallel" \
    env QUIPU_TEST_MEM_FREE=750000000 "$QUIPU_BIN" score --model "$GEMMA" < "$TMPD/in"
  expect_error "forced blocks that do not fit" "needs 0\.8 GiB per GPU in f32 .*0\.7 GiB free" \
    env QUIPU_TEST_MEM_FREE=750000000 QUIPU_GGUF_WEIGHTS=blocks "$QUIPU_BIN" score --model "$GEMMA" < "$TMPD/in"
fi
if [ -f "$SMOL" ]; then
  expect_error "bad QUIPU_GGUF_WEIGHTS" "QUIPU_GGUF_WEIGHTS=packed: expected auto, dense or blocks" \
    env QUIPU_GGUF_WEIGHTS=packed "$QUIPU_BIN" score --model "$SMOL" < "$TMPD/in"
  expect_error "adapters on blocks" "adapters change dequantized weights, and this model's layers are kept in their GGUF blocks: set QUIPU_GGUF_WEIGHTS=dense" \
    env QUIPU_GGUF_WEIGHTS=blocks "$QUIPU_BIN" score --model "$SMOL" --adapter "$TESTS_DIR/models/adapters/smollm2-lora-r2" < "$TMPD/in"
fi
finish
