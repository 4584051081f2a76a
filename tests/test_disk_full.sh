# test_disk_full.sh — quipu run on a disk that fills up mid-run: a one-line error naming the
# journal file and the reason, exit status 1, the journal's finished items intact; once there is
# room again, --resume scores only the rest and the results equal an uninterrupted run's bytes.
# The full disk is a small tmpfs mounted in a private mount namespace (unshare -rm), so no root
# rights are needed; the test is skipped, saying why, where such namespaces are not allowed.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers datasets
command -v unshare >/dev/null || skip "unshare (util-linux) not found: cannot make a small file system"
unshare -rm sh -c "mount -t tmpfs -o size=64k tmpfs '$TMPD'" 2>/dev/null \
  || skip "cannot mount a tmpfs in a private mount namespace here (user namespaces disabled?)"
model=$(tiny_model tiny-mistral)
cat > "$TMPD/run.yaml" <<YAML
name: full
seed: 7
datasets_dir: $QUIPU_SHARED/datasets
models:
  - path: $model
    name: tiny
benchmarks:
  - name: crows_pairs_en
    limit: 150
    sample: spread
  - name: sesgo
    limit: 60
    sample: spread
metrics:
  include: all
  bootstrap: 100
scoring:
  batch_tokens: 64
progress_interval: 0
YAML

# the reference: an uninterrupted run on the ordinary disk
"$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/ref" > /dev/null 2> "$TMPD/ref.err" || fail "reference run: $(tail -2 "$TMPD/ref.err")"

# the same run on a 16 KiB file system (the journal of 210 items needs about 50 KiB), then the
# file system grows to 16 MiB and the run resumes; the folder is copied out before the namespace ends
mkdir -p "$TMPD/disk" "$TMPD/keep"
cat > "$TMPD/inner.sh" <<SH
set -u
mount -t tmpfs -o size=16k tmpfs "$TMPD/disk" || exit 90
rc=0; "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/disk/out" > "$TMPD/full.out" 2> "$TMPD/full.err" || rc=\$?
echo \$rc > "$TMPD/full.rc"
cp -a "$TMPD/disk/out/journal" "$TMPD/keep/journal-after-full" 2>/dev/null
mount -o remount,size=16m "$TMPD/disk" || exit 91
rc=0; "$QUIPU_BIN" run "$TMPD/run.yaml" --set "output=$TMPD/disk/out" --resume > "$TMPD/resume.out" 2> "$TMPD/resume.err" || rc=\$?
echo \$rc > "$TMPD/resume.rc"
cp -a "$TMPD/disk/out" "$TMPD/keep/out"
SH
rc=0; unshare -rm sh "$TMPD/inner.sh" || rc=$?
[ "$rc" = 0 ] || fail "namespace script failed with $rc"

full_rc=$(cat "$TMPD/full.rc" 2>/dev/null)
[ "$full_rc" = 1 ] && ok "full disk: exit 1" || fail "full disk: exit '$full_rc' ($(tail -2 "$TMPD/full.err"))"
last=$(tail -1 "$TMPD/full.err")
if echo "$last" | grep -q -E "^quipu( run:| error:) .*/journal/units/[^ ]+\.jsonl: cannot (write|sync) the journal: No space left on device"; then
  ok "full disk: one-line error naming the journal: $last"
else
  fail "full disk: message was: $(cat "$TMPD/full.err")"
fi
! grep -q "items scored" "$TMPD/full.err" && ok "full disk: no 'items scored' line" || fail "full disk: an 'items scored' line after the failure"
# every complete journal line is a finished item that reads back (a torn last line is allowed)
python3 - "$TMPD/keep/journal-after-full" <<'PY' && ok "journal intact after the full disk" || fail "journal after the full disk"
import glob, json, sys
lines = []
for f in sorted(glob.glob(sys.argv[1] + "/*/*.jsonl")):
    text = open(f, "rb").read().decode()
    parts = text.split("\n")
    for p in parts[:-1]:
        lines.append(json.loads(p))
assert 10 <= len(lines) < 210, len(lines)
assert len({l["id"] for l in lines}) == len(lines)
print(f"  {len(lines)} finished items journaled before the disk filled")
PY
resume_rc=$(cat "$TMPD/resume.rc" 2>/dev/null)
[ "$resume_rc" = 0 ] && ok "resume after making room: exit 0" || fail "resume: exit '$resume_rc' ($(tail -2 "$TMPD/resume.err"))"
grep -q -E "resume: [1-9][0-9]* finished items" "$TMPD/resume.err" && ok "resume used the journal: $(grep -o -E 'resume: [0-9]+ finished items' "$TMPD/resume.err")" \
  || fail "resume did not use the journal: $(head -3 "$TMPD/resume.err")"
bad=""
for f in $files; do cmp -s "$TMPD/ref/$f" "$TMPD/keep/out/$f" || bad="$bad $f"; done
[ -z "$bad" ] && ok "resumed results equal the uninterrupted run's bytes" || fail "resumed results differ in$bad"
finish
