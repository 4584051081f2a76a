# test_fetch_datasets.sh — scripts/fetch-datasets.sh against the staged datasets as a mirror (no
# network here): a full copy checks out with sha256sum -c, a second run keeps what is there, a
# damaged file is fetched again, a bad mirror file / missing derived CSVs / the never-staged
# large files are reported with exit 1, the upstream URLs are pinned, bad usage exits 2.
source "$QUIPU_SOURCE_DIR/tests/common.sh"
FETCH="$QUIPU_SOURCE_DIR/scripts/fetch-datasets.sh"
MIRROR="$QUIPU_SHARED/datasets"
[ -f "$MIRROR/SHA256SUMS" ] || skip "no staged datasets under $MIRROR"

N=$(grep -c . "$QUIPU_SOURCE_DIR/scripts/datasets.sha256")
cmp -s "$QUIPU_SOURCE_DIR/scripts/datasets.sha256" "$MIRROR/SHA256SUMS" && ok "datasets.sha256 is the staged SHA256SUMS ($N files)" ||
  fail "scripts/datasets.sha256 differs from $MIRROR/SHA256SUMS"

# 1. everything, from the mirror
D="$TMPD/ds"
rc=0
bash "$FETCH" --mirror "$MIRROR" "$D" >"$TMPD/log1" 2>&1 || rc=$?
[ "$rc" = 0 ] && ok "full mirror copy exits 0" || { fail "full mirror copy exits $rc"; tail -5 "$TMPD/log1"; }
grep -q "fetched $N, derived 0, already there 0, missing or bad 0" "$TMPD/log1" && ok "report: fetched $N" ||
  fail "report: $(grep 'fetch-datasets.sh:' "$TMPD/log1")"
(cd "$D" && sha256sum -c --quiet SHA256SUMS) && ok "sha256sum -c SHA256SUMS passes in the copy" || fail "sha256sum -c in the copy"
[ "$(find "$D" -type f -name '*.part' | wc -l)" = 0 ] && ok "no partial files left" || fail "partial files left"
grep -q "not asked for (--extra)" "$TMPD/log1" && grep -q "  bbq/data/Race_ethnicity.jsonl" "$TMPD/log1" &&
  ok "report names the never-staged files" || fail "report does not name the never-staged files"

# 2. again: nothing to do
rc=0
bash "$FETCH" --mirror "$MIRROR" "$D" >"$TMPD/log2" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "fetched 0, derived 0, already there $N, missing or bad 0" "$TMPD/log2" &&
  ok "second run keeps the $N files" || fail "second run: rc $rc, $(grep 'fetch-datasets.sh:' "$TMPD/log2")"

# 3. a damaged file is fetched again (only its folder asked for)
printf 'x' >>"$D/crows-pairs/data/crows_pairs_anonymized.csv"
rc=0
bash "$FETCH" --mirror "$MIRROR" --only crows-pairs "$D" >"$TMPD/log3" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "^fetched  crows-pairs/data/crows_pairs_anonymized.csv" "$TMPD/log3" &&
  cmp -s "$D/crows-pairs/data/crows_pairs_anonymized.csv" "$MIRROR/crows-pairs/data/crows_pairs_anonymized.csv" &&
  ok "a damaged file is fetched again" || fail "damaged file: rc $rc"
grep -q "fetched 1, derived 0, already there 1," "$TMPD/log3" && ok "--only limits the work to one folder" || fail "--only"

# 4. a mirror whose file fails its checksum
BAD="$TMPD/badmirror"
mkdir -p "$BAD/crows-pairs/data"
cp "$MIRROR/crows-pairs/data/crows_pairs_anonymized.csv" "$BAD/crows-pairs/data/"
printf 'not the prompts\n' >"$BAD/crows-pairs/data/prompts.csv"
rc=0
bash "$FETCH" --mirror "$BAD" --only crows-pairs "$TMPD/ds4" >"$TMPD/log4" 2>&1 || rc=$?
[ "$rc" = 1 ] && ok "bad mirror file: exit 1" || fail "bad mirror file: exit $rc"
grep -q "^FAILED   crows-pairs/data/prompts.csv: sha256 checksum mismatch" "$TMPD/log4" && ok "checksum mismatch reported" ||
  fail "checksum mismatch not reported"
[ ! -e "$TMPD/ds4/crows-pairs/data/prompts.csv" ] && [ -f "$TMPD/ds4/crows-pairs/data/crows_pairs_anonymized.csv" ] &&
  ok "the bad file is not kept, the good one is" || fail "bad file kept or good file missing"
grep -q "^could not get:" "$TMPD/log4" && ok "report lists what it could not get" || fail "no 'could not get' list"

# 5. a mirror without the derived SESGO CSVs
SM="$TMPD/sesgomirror"
mkdir -p "$SM"
cp -r "$MIRROR/sesgo" "$SM/"
find "$SM" -path '*derived_csv*' -type f -delete
rc=0
bash "$FETCH" --mirror "$SM" --only sesgo --no-derive "$TMPD/ds5" >"$TMPD/log5" 2>&1 || rc=$?
[ "$rc" = 1 ] && [ "$(grep -c '^FAILED   sesgo/.*derived_csv/.*--no-derive given' "$TMPD/log5")" = 12 ] &&
  ok "--no-derive: the 12 derived CSVs reported" || fail "--no-derive: rc $rc, $(grep -c '^FAILED' "$TMPD/log5") failures"
grep -q "fetched 16, derived 0, already there 0, missing or bad 12" "$TMPD/log5" && ok "the 16 workbooks still fetched" ||
  fail "workbooks: $(grep 'fetch-datasets.sh:' "$TMPD/log5")"
rc=0
bash "$FETCH" --mirror "$SM" --only sesgo "$TMPD/ds5" >"$TMPD/log6" 2>&1 || rc=$?
if python3 -c 'import openpyxl' 2>/dev/null; then
  [ "$rc" = 0 ] && grep -q "derived 12, already there 16, missing or bad 0" "$TMPD/log6" &&
    cmp -s "$TMPD/ds5/sesgo/paper_version_89b8a0e/derived_csv/prompts_genero.csv" \
      "$MIRROR/sesgo/paper_version_89b8a0e/derived_csv/prompts_genero.csv" &&
    ok "derived CSVs rebuilt from the workbooks, byte for byte" || fail "derive: rc $rc"
else
  [ "$rc" = 1 ] && grep -q "^FAILED   sesgo/paper_version_89b8a0e/derived_csv/prompts_racismo.csv: derived file: needs python3 with openpyxl" "$TMPD/log6" &&
    ok "without openpyxl the derived CSVs are reported as needing it" || fail "no-openpyxl report: rc $rc"
fi

# 6. the never-staged large files: not in this mirror
rc=0
bash "$FETCH" --mirror "$MIRROR" --only kobbq --extra "$TMPD/ds6" >"$TMPD/log7" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "^FAILED   kobbq/data/KoBBQ_all_samples.tsv: not in the mirror" "$TMPD/log7" &&
  grep -q "fetched 5, derived 0, already there 0, missing or bad 1" "$TMPD/log7" &&
  ok "--extra: a file the mirror lacks is reported" || fail "--extra: rc $rc"

# 7. pinned upstream URLs
bash "$FETCH" --urls >"$TMPD/urls"
[ "$(wc -l <"$TMPD/urls")" = $((N + 9)) ] && ok "--urls lists $N + 9 files" || fail "--urls lists $(wc -l <"$TMPD/urls")"
bad=$(grep -v 'derived: made from its .xlsx' "$TMPD/urls" | grep -cvE ' https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/[^ ]+$' || true)
[ "$bad" = 0 ] && ok "every other file has a URL pinned to a commit" || fail "$bad files without a pinned URL"
[ "$(grep -c 'derived: made from its .xlsx' "$TMPD/urls")" = 12 ] && ok "12 derived files have none" || fail "derived count"
grep -qx 'crows-pairs/data/crows_pairs_anonymized.csv https://raw.githubusercontent.com/nyu-mll/crows-pairs/8aaac11c485473159ec9328a65253a5be9a479dc/data/crows_pairs_anonymized.csv' "$TMPD/urls" &&
  grep -qx 'seegull-multilingual/dataset/stereotypes/Spanish (es) in Mexico.csv https://raw.githubusercontent.com/google-research-datasets/SeeGULL-Multilingual/589a2580bb09533c6ff097ccd2ce05bce01cbdfd/dataset/stereotypes/Spanish%20(es)%20in%20Mexico.csv' "$TMPD/urls" &&
  grep -qx 'kobbq/data/KoBBQ_test_samples.tsv https://raw.githubusercontent.com/naver-ai/KoBBQ/0dd165aeaaacd1bd46c63513a9b2e9875eb6dce7/data/KoBBQ_test_samples.tsv' "$TMPD/urls" &&
  ok "URLs equal MANIFEST.md's raw URLs" || fail "URLs differ from MANIFEST.md's"

# 8. usage errors
rc=0; bash "$FETCH" --bogus "$TMPD/x" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] && ok "unknown option: exit 2" || fail "unknown option: exit $rc"
rc=0; bash "$FETCH" --mirror "$MIRROR" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] && ok "no destination: exit 2" || fail "no destination: exit $rc"
rc=0; bash "$FETCH" --mirror "$MIRROR" --only nosuch "$TMPD/x" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] && ok "--only matching nothing: exit 2" || fail "--only nosuch: exit $rc"
rc=0; bash "$FETCH" --mirror "$TMPD/nowhere" "$TMPD/x" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] && ok "missing mirror: exit 2" || fail "missing mirror: exit $rc"

finish
