# test_gguf_bloom_falcon.sh — BLOOM and Falcon from GGUF: the tiny BLOOM and Falcon (7B and 40B
# layouts) checkpoints written as llama.cpp lays those architectures out (tests/tiny_gguf.py: llama.cpp's
# tensor names, query_key_value regrouped into q, k, v blocks, the tokenizer as a GGUF vocabulary)
# score the safetensors goldens (transformers fp32) within 1e-4 per token, and give the same bytes
# as the safetensors checkpoints; a Falcon GGUF missing its second norm is one line.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers
G="$TESTS_DIR/golden/logprobs"
for spec in tiny-bloom:bloom:smollm tiny-falcon:falcon:falcon tiny-falcon-40b:falcon:falcon; do
  IFS=: read -r name arch pre <<< "$spec"
  d=$(tiny_model "$name")
  python3 "$TESTS_DIR/tiny_gguf.py" "$d" "$TMPD/$name.gguf" "$arch" "$pre" || { fail "$name: writing the GGUF"; continue; }
  python3 -c "
import json, sys
with open(sys.argv[2], 'w', encoding='utf-8') as f:
    for l in open(sys.argv[1], encoding='utf-8').read().splitlines()[1:]:
        d = json.loads(l)
        f.write(json.dumps({'context': d['context'], 'continuation': d['continuation']}, ensure_ascii=False) + '\n')
" "$G/$name.jsonl" "$TMPD/$name.in"
  if ! "$QUIPU_BIN" score --model "$TMPD/$name.gguf" --per-token --ids < "$TMPD/$name.in" > "$TMPD/$name.gguf.out" 2>"$TMPD/err"; then
    fail "$name GGUF: quipu score failed: $(tail -1 "$TMPD/err")"
    continue
  fi
  python3 "$TESTS_DIR/compare_logprobs.py" "$G/$name.jsonl" "$TMPD/$name.gguf.out" && ok "$name GGUF ($arch): the golden" || fail "$name GGUF: the golden"
  "$QUIPU_BIN" score --model "$d" --per-token --ids < "$TMPD/$name.in" > "$TMPD/$name.st.out"
  cmp -s "$TMPD/$name.gguf.out" "$TMPD/$name.st.out" && ok "$name: GGUF == safetensors, byte for byte" || fail "$name: GGUF and safetensors differ"
done
# the 40B layout's MLP norm renamed away: one line naming the tensor
python3 - "$TMPD/tiny-falcon-40b.gguf" "$TMPD/falcon-nonorm.gguf" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
old = b"blk.1.attn_norm_2.weight"
assert b.count(old) == 1
open(sys.argv[2], "wb").write(b.replace(old, b"blk.1.attn_norm_9.weight"))
PY
echo '{"context": "", "continuation": "hi"}' > "$TMPD/one.jsonl"
expect_error "Falcon GGUF missing attn_norm_2" "falcon-nonorm.gguf: missing tensor 'blk.1.attn_norm_2.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/falcon-nonorm.gguf" < "$TMPD/one.jsonl"
finish
