# test_hf_models.sh — models named hf:ORG/NAME[@REV] are found where they already are on disk: a
# fake Hugging Face cache (models--ORG--NAME/snapshots/<commit>, refs/main, HF_HUB_CACHE and
# HF_HOME/hub) and a fake $DSDIR/HuggingFace_Models; a revision by ref or by commit; a model
# that is nowhere is one line naming the places looked at, and nothing is downloaded.
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
finish
