# test_mlm_cli.sh — masked LMs through the command line (the numbers themselves: test_mlm.c):
# `quipu inspect` describes a masked LM; `quipu score` prints a sentence's all-tokens PLL and,
# with --per-token, each masked token's log-prob, as the golden has them; `quipu run` scores
# CrowS-Pairs pairs with the CrowS metric (both sentences of a pair mask the same number of
# tokens) and a multiple-choice benchmark with the all-tokens PLL, with byte-identical results at
# batch_tokens 16 and 4096; bad input is one error line each (a missing MLM-head tensor, a
# pytorch_model.bin-only folder, a tokenizer without a mask token).
. "$QUIPU_SOURCE_DIR/tests/common.sh"
command -v zstd > /dev/null || skip "needs zstd"

mlm_model() { # name -> prints the path of a checkpoint folder with its tokenizer.json
  local d="$TMPD/$1"
  mkdir -p "$d"
  cp "$TESTS_DIR/models/$1"/* "$d/"
  if [ -f "$d/tokenizer.zst.source" ]; then zstd -qdc "$QUIPU_SOURCE_DIR/$(cat "$d/tokenizer.zst.source")" > "$d/tokenizer.json"; fi
  echo "$d"
}
bert=$(mlm_model tiny-bert-mlm)
xlmr=$(mlm_model tiny-xlmr-mlm)

# inspect
if "$QUIPU_BIN" inspect "$bert" > "$TMPD/i.json" 2> "$TMPD/err" && grep -q '"objective": "masked_lm"' "$TMPD/i.json" &&
   grep -q '"family": "bert"' "$TMPD/i.json" && grep -q '"n_vocab": 600' "$TMPD/i.json"; then
  ok "inspect: a masked LM (bert)"
else
  fail "inspect: $(head -c 400 "$TMPD/i.json") $(cat "$TMPD/err")"
fi

# score: the golden's first sentence, its sum and per-token log-probs
for m in tiny-bert-mlm tiny-xlmr-mlm; do
  g="$TESTS_DIR/golden/mlm/$m.jsonl"
  d="$TMPD/$m"
  line=$(sed -n 2p "$g")
  text=$(printf '%s' "$line" | sed 's/^{"kind": "pll", "text": \("[^"]*"\).*/\1/')
  printf '{"context": "", "continuation": %s}\n' "$text" > "$TMPD/in.jsonl"
  if "$QUIPU_BIN" score --model "$d" --per-token < "$TMPD/in.jsonl" > "$TMPD/out.jsonl" 2> "$TMPD/err"; then
    want_sum=$(printf '%s' "$line" | sed 's/.*"logprob": \([-0-9.e]*\).*/\1/')
    want_n=$(printf '%s' "$line" | sed 's/.*"masked": \[\([^]]*\)\].*/\1/' | tr ',' '\n' | grep -c .)
    want_first=$(printf '%s' "$line" | sed 's/.*"token_logprobs": \[\([-0-9.e]*\).*/\1/')
    got_sum=$(sed 's/.*"logprob": \([-0-9.e]*\),.*/\1/' "$TMPD/out.jsonl")
    got_n=$(sed 's/.*"n_tokens": \([0-9]*\),.*/\1/' "$TMPD/out.jsonl")
    got_first=$(sed 's/.*"token_logprobs": \[\([-0-9.e]*\).*/\1/' "$TMPD/out.jsonl")
    if awk -v a="$got_sum" -v b="$want_sum" -v c="$got_first" -v d="$want_first" \
         'BEGIN { x = a - b; y = c - d; exit !((x < 1e-3 && x > -1e-3) && (y < 1e-4 && y > -1e-4)) }' && [ "$got_n" = "$want_n" ]; then
      ok "score $m: PLL $got_sum over $got_n masked tokens (transformers: $want_sum)"
    else
      fail "score $m: got $got_sum / $got_n tokens / first $got_first, golden $want_sum / $want_n / $want_first"
    fi
  else
    fail "score $m: $(cat "$TMPD/err")"
  fi
done

# run: CrowS-Pairs (pairs) and StereoSet (multiple choice) on the tiny BERT, two batch sizes
if [ -d "$QUIPU_SHARED/datasets/crows-pairs" ] && [ -d "$QUIPU_SHARED/datasets/stereoset" ]; then
  cat > "$TMPD/run.yaml" <<YAML
name: t
output: $TMPD/out
seed: 7
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $bert
    name: tinybert
benchmarks:
  - name: crows_pairs_en
    limit: 12
    sample: spread
  - name: stereoset_intra
    limit: 4
scoring:
  batch_tokens: 16
progress_interval: 0
YAML
  if "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/a" > "$TMPD/stdout" 2> "$TMPD/stderr" &&
     "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/b" --set scoring.batch_tokens=4096 > "$TMPD/stdout" 2> "$TMPD/stderr"; then
    ok "run: crows_pairs_en and stereoset_intra on a masked LM"
    same "$TMPD/a" "$TMPD/b" "run at batch_tokens 16 and 4096"
    zstd -dc "$TMPD/a/items.jsonl.zst" > "$TMPD/items.jsonl"
    n_pairs=$(grep -c '"kind": "pair"' "$TMPD/items.jsonl")
    n_equal=$(grep '"kind": "pair"' "$TMPD/items.jsonl" | grep -c '"nt": \[\([0-9]*\), \1\]')
    if [ "$n_pairs" -eq 12 ] && [ "$n_equal" -eq 12 ]; then
      ok "run: each of the 12 pairs masks as many tokens in both sentences (the shared ones)"
    else
      fail "run: $n_equal of $n_pairs pairs with equal masked-token counts"
    fi
  else
    fail "run: $(tail -3 "$TMPD/stderr")"
  fi
else
  echo "note: no crows-pairs / stereoset data in $QUIPU_SHARED/datasets: the run part is skipped"
fi

# bad input
echo '{"context": "", "continuation": "hi"}' > "$TMPD/one.jsonl"
nohead="$TMPD/nohead"
mkdir -p "$nohead" && cp "$bert"/* "$nohead/"
# the head's dense weight renamed in the safetensors header (same length: the offsets stay valid)
LC_ALL=C sed -i 's/cls\.predictions\.transform\.dense\.weight/cls.predictions.transform.dense.wexght/' "$nohead/model.safetensors"
expect_error "missing MLM-head tensor" "nohead: missing tensor 'cls\.predictions\.transform\.dense\.weight' of the masked-LM head" \
  "$QUIPU_BIN" score --model "$nohead" < "$TMPD/one.jsonl"
bin="$TMPD/binonly"
mkdir -p "$bin" && cp "$bert/config.json" "$bert/tokenizer.json" "$bin/" && printf 'not really a pickle' > "$bin/pytorch_model.bin"
expect_error "pytorch_model.bin only" "binonly: only pytorch_model.bin here, and quipu reads safetensors: convert it once with python -c .*save_file" \
  "$QUIPU_BIN" score --model "$bin" < "$TMPD/one.jsonl"
expect_error "pytorch_model.bin only (inspect)" "binonly: only pytorch_model.bin here" "$QUIPU_BIN" inspect "$bin"
nomask="$TMPD/nomask"
mkdir -p "$nomask" && cp "$bert"/* "$nomask/"
sed -i 's/\[MASK\]/[MASQ]/g' "$nomask/tokenizer.json"
expect_error "tokenizer without a mask token" "nomask/tokenizer.json: a masked LM needs a mask token" \
  "$QUIPU_BIN" score --model "$nomask" < "$TMPD/one.jsonl"
finish
