# test_gguf_archs.sh — the architectures llama.cpp writes as GGUF besides Llama/Gemma 3/GPT-2: the
# tiny BLOOM, Falcon (7B and 40B layouts), Qwen3, OLMo 2, GPT-NeoX, Phi-3 and the mixture-of-experts Mixtral
# (arch llama), Qwen2-MoE and Qwen3-MoE checkpoints written as
# llama.cpp lays them out (tests/tiny_gguf.py: llama.cpp's tensor names, query_key_value regrouped
# into q, k, v blocks, the tokenizer as a GGUF vocabulary: byte-level BPE, or SentencePiece (pre
# "llama") for Phi-3) score the safetensors goldens
# (transformers fp32) within tests/compare_logprobs.py's tolerances, give the same bytes as the
# safetensors checkpoints on their first 24 items, and `quipu inspect` reads them; a missing tensor or key is one line.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers
G="$TESTS_DIR/golden/logprobs"
for spec in tiny-bloom:bloom:smollm tiny-falcon:falcon:falcon tiny-falcon-40b:falcon:falcon tiny-qwen3:qwen3:smollm \
  tiny-olmo2:olmo2:gpt-2 tiny-gpt-neox:gptneox:mpt tiny-phi3:phi3:llama tiny-mixtral:llama:llama tiny-qwen2-moe:qwen2moe:llama \
  tiny-qwen3-moe:qwen3moe:llama; do
  IFS=: read -r name arch pre <<< "$spec"
  d=$(tiny_model "$name")
  python3 "$TESTS_DIR/tiny_gguf.py" "$d" "$TMPD/$name.gguf" "$arch" "$pre" || { fail "$name: writing the GGUF"; continue; }
  if "$QUIPU_BIN" inspect "$TMPD/$name.gguf" > "$TMPD/$name.inspect" 2>"$TMPD/err" && grep -q "\"architecture\": \"$arch\"" "$TMPD/$name.inspect"; then
    ok "$name GGUF: quipu inspect"
  else
    fail "$name GGUF: quipu inspect: $(tail -1 "$TMPD/err")"
  fi
  # the mixtures of experts (added last, test_logprobs compares their safetensors on every item):
  # every 4th item, to keep the suite's time
  stride=1
  case "$name" in *moe|tiny-mixtral) stride=4 ;; esac
  python3 -c "
import json, sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
k = int(sys.argv[4])
with open(sys.argv[2], 'w', encoding='utf-8') as f, open(sys.argv[3], 'w', encoding='utf-8') as g:
    g.write(lines[0] + '\n')
    for i, l in enumerate(lines[1:]):
        if i % k: continue
        g.write(l + '\n')
        d = json.loads(l)
        f.write(json.dumps({'context': d['context'], 'continuation': d['continuation']}, ensure_ascii=False) + '\n')
" "$G/$name.jsonl" "$TMPD/$name.in" "$TMPD/$name.golden" "$stride"
  if ! "$QUIPU_BIN" score --model "$TMPD/$name.gguf" --per-token --ids < "$TMPD/$name.in" > "$TMPD/$name.gguf.out" 2>"$TMPD/err"; then
    fail "$name GGUF: quipu score failed: $(tail -1 "$TMPD/err")"
    continue
  fi
  python3 "$TESTS_DIR/compare_logprobs.py" "$TMPD/$name.golden" "$TMPD/$name.gguf.out" && ok "$name GGUF ($arch): the golden" || fail "$name GGUF: the golden"
  # Mixtral as llama: q and k rows permuted to adjacent pairs, so attention sums a head in another order
  [ "$arch" = llama ] && continue
  # the same bytes as the safetensors checkpoint (whose golden test_logprobs checks): 24 items keep it quick
  head -n 24 "$TMPD/$name.in" | "$QUIPU_BIN" score --model "$d" --per-token --ids > "$TMPD/$name.st.out"
  head -n 24 "$TMPD/$name.gguf.out" | cmp -s - "$TMPD/$name.st.out" && ok "$name: GGUF == safetensors, byte for byte (24 items)" ||
    fail "$name: GGUF and safetensors differ"
done
# a name in a GGUF changed to another of the same length: FROM TO IN OUT
rename() {
  python3 - "$@" <<'PY'
import sys
old, new, src, dst = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3], sys.argv[4]
b = open(src, "rb").read()
assert b.count(old) == 1 and len(old) == len(new), old
open(dst, "wb").write(b.replace(old, new))
PY
}
echo '{"context": "", "continuation": "hi"}' > "$TMPD/one.jsonl"
# tensors one architecture needs and another does not: one line naming the tensor
rename blk.1.attn_norm_2.weight blk.1.attn_norm_9.weight "$TMPD/tiny-falcon-40b.gguf" "$TMPD/falcon-nonorm.gguf"
expect_error "Falcon GGUF missing attn_norm_2" "falcon-nonorm.gguf: missing tensor 'blk.1.attn_norm_2.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/falcon-nonorm.gguf" < "$TMPD/one.jsonl"
rename blk.1.attn_k_norm.weight blk.1.attn_k_norX.weight "$TMPD/tiny-qwen3.gguf" "$TMPD/qwen3-noknorm.gguf"
expect_error "Qwen3 GGUF missing attn_k_norm" "qwen3-noknorm.gguf: missing tensor 'blk.1.attn_k_norm.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/qwen3-noknorm.gguf" < "$TMPD/one.jsonl"
rename blk.0.post_ffw_norm.weight blk.0.post_ffw_norX.weight "$TMPD/tiny-olmo2.gguf" "$TMPD/olmo2-nopost.gguf"
expect_error "OLMo 2 GGUF missing post_ffw_norm" "olmo2-nopost.gguf: missing tensor 'blk.0.post_ffw_norm.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/olmo2-nopost.gguf" < "$TMPD/one.jsonl"
rename blk.0.attn_qkv.weight blk.0.attn_qkX.weight "$TMPD/tiny-gpt-neox.gguf" "$TMPD/neox-noqkv.gguf"
expect_error "GPT-NeoX GGUF missing attn_qkv" "neox-noqkv.gguf: missing tensor 'blk.0.attn_q.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/neox-noqkv.gguf" < "$TMPD/one.jsonl"
rename rope_factors_short.weight rope_factors_shorX.weight "$TMPD/tiny-phi3.gguf" "$TMPD/phi3-noshort.gguf"
expect_error "Phi-3 GGUF missing rope_factors_short" "phi3-noshort.gguf: missing tensor 'rope_factors_short.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/phi3-noshort.gguf" < "$TMPD/one.jsonl"
rename blk.1.ffn_up_exps.weight blk.1.ffn_up_expX.weight "$TMPD/tiny-qwen3-moe.gguf" "$TMPD/qwen3moe-noup.gguf"
expect_error "Qwen3-MoE GGUF missing ffn_up_exps" "qwen3moe-noup.gguf: missing tensor 'blk.1.ffn_up_exps.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/qwen3moe-noup.gguf" < "$TMPD/one.jsonl"
expect_error "MoE GGUF in blocks: refused" "QUIPU_GGUF_WEIGHTS=blocks is not supported for mixture-of-experts models yet" \
  env QUIPU_GGUF_WEIGHTS=blocks "$QUIPU_BIN" score --model "$TMPD/tiny-qwen2-moe.gguf" < "$TMPD/one.jsonl"
grep -q '"experts": 5' "$TMPD/tiny-qwen2-moe.inspect" && grep -q '"experts_per_token": 3' "$TMPD/tiny-qwen2-moe.inspect" &&
  grep -q '"moe_layers": 2' "$TMPD/tiny-qwen2-moe.inspect" && ok "Qwen2-MoE GGUF: inspect names the experts" || fail "Qwen2-MoE GGUF: inspect's expert counts"
# a hyper-parameter key: one line naming it
rename qwen3.feed_forward_length qwen3.feed_forward_lengtX "$TMPD/tiny-qwen3.gguf" "$TMPD/qwen3-noff.gguf"
expect_error "Qwen3 GGUF missing feed_forward_length" "qwen3-noff.gguf: missing key 'qwen3.feed_forward_length'" \
  "$QUIPU_BIN" inspect "$TMPD/qwen3-noff.gguf"
rename qwen2moe.expert_used_count qwen2moe.expert_used_counX "$TMPD/tiny-qwen2-moe.gguf" "$TMPD/qwen2moe-noused.gguf"
expect_error "Qwen2-MoE GGUF missing expert_used_count" "qwen2moe-noused.gguf: missing key 'qwen2moe.expert_used_count'" \
  "$QUIPU_BIN" inspect "$TMPD/qwen2moe-noused.gguf"
rename phi3.rope.scaling.original_context_length phi3.rope.scaling.original_context_lengtX "$TMPD/tiny-phi3.gguf" "$TMPD/phi3-noorig.gguf"
expect_error "Phi-3 GGUF missing original_context_length" "phi3-noorig.gguf: missing key 'phi3.rope.scaling.original_context_length'" \
  "$QUIPU_BIN" inspect "$TMPD/phi3-noorig.gguf"
finish
