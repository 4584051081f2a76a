# common.sh — helpers for the shell tests (sourced). Environment from tests/CMakeLists.txt.
set -u
QUIPU_BIN="${QUIPU_BIN:?QUIPU_BIN not set (run through ctest)}"
QUIPU_SHARED="${QUIPU_SHARED:?}"
QUIPU_MODELS="${QUIPU_MODELS:-$HOME/.cache/quipu/models}"
SMOL="$QUIPU_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA="$QUIPU_MODELS/gemma-3-270m-q4_k_m.gguf"
TESTS_DIR="$QUIPU_SOURCE_DIR/tests"
T_FAIL=0
T_CHECKS=0
# Scratch under the build tree (ctest sets QUIPU_TEST_TMP), removed on every exit: normal, failed,
# or stopped by ctest's timeout (SIGTERM) or Ctrl-C; a test killed with SIGKILL leaves its folder
# in the build tree, not in /tmp.
TMP_BASE="${QUIPU_TEST_TMP:-${TMPDIR:-/tmp}}"
mkdir -p "$TMP_BASE"
TMPD=$(mktemp -d "$TMP_BASE/quipu-test.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

ok()   { T_CHECKS=$((T_CHECKS + 1)); echo "ok: $*"; }
fail() { T_CHECKS=$((T_CHECKS + 1)); T_FAIL=$((T_FAIL + 1)); echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
finish() {
  echo "$(basename "$0"): $T_CHECKS checks, $T_FAIL failed"
  [ "$T_CHECKS" -gt 0 ] || { echo "no checks ran"; exit 1; }
  [ "$T_FAIL" -eq 0 ]
}
# The project's shared data beside the clone (../shared: the tokenizers of the tiny test models,
# the benchmark datasets). CI has it; on a bare clone the tests that need it skip, saying so.
need_shared() { # path under QUIPU_SHARED...
  local w
  for w in "$@"; do
    [ -e "$QUIPU_SHARED/$w" ] || skip "needs $QUIPU_SHARED/$w (the project's shared data: CI has it beside the clone, a bare clone does not)"
  done
}
# A checkpoint folder for a tiny test model: the committed config + weights, and the real
# tokenizer.json its tokenizer.source names.
tiny_model() { # name -> prints path
  local d="$TMPD/$1"
  mkdir -p "$d"
  cp "$TESTS_DIR/models/$1"/* "$d/"
  local src
  src=$(cat "$TESTS_DIR/models/$1/tokenizer.source")
  # tokenizer.json only, as the goldens were made (special tokens then come from config.json)
  cp "$QUIPU_SHARED/tokenizers/$src/tokenizer.json" "$d/"
  echo "$d"
}
# expect_error NAME PATTERN CMD...: CMD must exit non-zero, print exactly one stderr line matching
# PATTERN (grep -E), and not crash (no sanitizer report, no signal).
expect_error() {
  local name="$1" pat="$2"
  shift 2
  local rc=0
  "$@" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
  if [ "$rc" -eq 0 ]; then fail "$name: exit 0, expected failure"; return; fi
  if [ "$rc" -ge 128 ]; then fail "$name: killed by signal $((rc - 128))"; return; fi
  if grep -q -E "Sanitizer|runtime error" "$TMPD/err"; then fail "$name: sanitizer report: $(head -3 "$TMPD/err")"; return; fi
  # warnings (lines starting "quipu warn:") may precede the error; the error itself is one line
  grep -v "^quipu\(\[[0-9]*\]\)\? warn: " "$TMPD/err" > "$TMPD/err.only" || true
  mv "$TMPD/err.only" "$TMPD/err"
  local nl
  nl=$(wc -l < "$TMPD/err")
  if [ "$nl" -ne 1 ]; then fail "$name: expected one error line, got $nl: $(head -3 "$TMPD/err")"; return; fi
  if ! grep -q -E "$pat" "$TMPD/err"; then fail "$name: message '$(cat "$TMPD/err")' does not match /$pat/"; return; fi
  ok "$name: $(cat "$TMPD/err")"
}
# The results a run must reproduce byte for byte (across ranks, batch sizes, interruptions), and
# the check: same DIR_A DIR_B WHAT.
files="summary.json summary.csv summary.md items.jsonl.zst"
same() {
  local f bad=""
  for f in $files; do cmp -s "$1/$f" "$2/$f" || bad="$bad $f"; done
  if [ -z "$bad" ]; then ok "$3: identical results"; else fail "$3: differ in$bad"; fi
}
