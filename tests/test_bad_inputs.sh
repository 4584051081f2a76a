# test_bad_inputs.sh — the bad-input catalogue (tests/bad_inputs/, docs/bad-input.md): every case
# is a broken model file, config.json, tokenizer, dataset or experiment config, and the command
# that reads it must exit non-zero with exactly one error line naming the file and the problem,
# within a time limit (killed after 30 s) and a memory limit (ulimit -v, or ASan's RSS limit in a
# sanitized build, where ulimit -v cannot be used), with no sanitizer report, no signal, and no
# summary.json left in a run's output folder.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers
command -v python3 > /dev/null || skip "needs python3 to write the cases"
command -v timeout > /dev/null || skip "needs timeout (coreutils)"

llama=$(tiny_model tiny-llama)
gpt2=$(tiny_model tiny-gpt2)
cases="$TMPD/cases"
mkdir -p "$cases"
n=$(python3 "$TESTS_DIR/bad_inputs/make_cases.py" "$cases" "$llama" "$gpt2") || { fail "make_cases.py failed"; finish; exit 1; }
[ "$n" -ge 40 ] && ok "catalogue: $n cases" || fail "catalogue has only $n cases (at least 40 wanted)"

TIME_LIMIT=30
MEM_MB=2048
if ldd "$QUIPU_BIN" 2>/dev/null | grep -q libasan || grep -q -a __asan_init "$QUIPU_BIN"; then
  # ASan maps terabytes of shadow memory: bound the resident size instead
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:hard_rss_limit_mb=$MEM_MB"
  mem_note="ASan hard_rss_limit_mb=$MEM_MB"
  limit_mem() { :; }
else
  mem_note="ulimit -v $((MEM_MB * 1024)) KiB"
  limit_mem() { ulimit -v $((MEM_MB * 1024)); }
fi
echo '{"context": "", "continuation": "hi"}' > "$TMPD/one.jsonl"

run_case() { # mode target -> runs the command, stdout/stderr to $TMPD/out, $TMPD/err
  local mode=$1 target=$2
  case "$mode" in
    inspect)  (limit_mem; exec timeout -s KILL $TIME_LIMIT "$QUIPU_BIN" inspect "$target") ;;
    score)    (limit_mem; exec timeout -s KILL $TIME_LIMIT "$QUIPU_BIN" score --model "$target") < "$TMPD/one.jsonl" ;;
    tokenize) (limit_mem; exec timeout -s KILL $TIME_LIMIT "$QUIPU_BIN" tokenize --model "$target") < "$TMPD/one.jsonl" ;;
    run)      (limit_mem; exec timeout -s KILL $TIME_LIMIT "$QUIPU_BIN" run "$target") < /dev/null ;;
    *) echo "unknown mode $mode" >&2; return 99 ;;
  esac
}

start=$(date +%s)
while IFS=$'\t' read -r name mode target pat; do
  rc=0
  t0=$(date +%s)
  run_case "$mode" "$target" > "$TMPD/out" 2> "$TMPD/err" || rc=$?
  secs=$(( $(date +%s) - t0 ))
  if [ "$rc" -eq 0 ]; then fail "$name: exit 0, expected failure"; continue; fi
  if [ "$rc" -eq 137 ] || [ "$secs" -ge "$TIME_LIMIT" ]; then fail "$name: killed after ${secs}s (hang or time limit)"; continue; fi
  if [ "$rc" -ge 128 ]; then fail "$name: killed by signal $((rc - 128))"; continue; fi
  if grep -q -E "Sanitizer|runtime error|rss limit" "$TMPD/err"; then fail "$name: sanitizer report: $(grep -m3 -E 'ERROR|runtime error|rss' "$TMPD/err")"; continue; fi
  grep -v -E "^quipu(\[[0-9]*\])? (warn|info): " "$TMPD/err" > "$TMPD/err.only" || true
  nl=$(wc -l < "$TMPD/err.only")
  if [ "$nl" -ne 1 ]; then fail "$name: expected one error line, got $nl: $(head -3 "$TMPD/err.only")"; continue; fi
  if ! grep -q -E "$pat" "$TMPD/err.only"; then fail "$name: message '$(cat "$TMPD/err.only")' does not match /$pat/"; continue; fi
  if [ "$mode" = run ] && [ -f "$target" ]; then # (a FIFO target would block sed)
    out=$(sed -n 's/^output: //p' "$target")
    if [ -n "$out" ] && [ -e "$out/summary.json" ]; then fail "$name: $out/summary.json written"; continue; fi
  fi
  ok "$name (${secs}s, rc $rc): $(cat "$TMPD/err.only")"
done < "$cases/cases.tsv"
echo "catalogue run in $(( $(date +%s) - start )) s, memory bound: $mem_note, time bound: ${TIME_LIMIT}s per case"
finish
