#!/usr/bin/env bash
# fetch-datasets.sh — gets the benchmark files quipu's loaders read (the set staged in
# ../shared/datasets, MANIFEST.md there) into a folder: downloaded from their upstream
# repositories at the pinned commits, or copied from a local mirror, each checked against the
# sha256 in scripts/datasets.sha256 (a copy of that folder's SHA256SUMS).
#
#   scripts/fetch-datasets.sh [--mirror DIR] [--only a,b] [--extra] [--no-derive] DEST
#
#   --mirror DIR   copy from DIR (a copy of the datasets folder) instead of downloading
#   --only LIST    only these top-level folders (comma-separated: crows-pairs,bbq,sesgo,...)
#   --extra        also get the upstream files of 4 MiB or more that were never staged (BBQ's
#                  Race_ethnicity, Race_x_SES, Race_x_gender, SES and additional_metadata.csv,
#                  StereoSet's dev.json, KoBBQ_all_samples.tsv, BLEnD's multiple-choice files),
#                  checked by their git blob SHA-1 as MANIFEST.md lists them
#   --no-derive    do not rebuild the SESGO CSVs from the workbooks (see below)
#   --list FILE    another checksum list (default: datasets.sha256 beside this script)
#   --urls         print "PATH URL" for every file it would download, and stop
#
# The SESGO `derived_csv/*.csv` files are not upstream: they are CSV conversions of the
# upstream .xlsx workbooks. When a mirror does not have them they are rebuilt from the
# workbooks with python3 + openpyxl (first sheet, one CSV row per non-empty sheet row, empty
# cells as "", Python's csv writer, UTF-8, CRLF), which reproduces the staged bytes (checked
# with openpyxl 3.1.5; the sha256 check catches any other version that writes differently).
# Without openpyxl they can only come from a mirror, and the report says so.
#
# Files already in DEST with the right checksum are kept. Ends with a report of what was
# fetched, derived, already there, and what could not be had (with why); exits 1 if anything
# asked for is missing or fails its checksum, 0 otherwise. Writes DEST/SHA256SUMS so that
# `cd DEST && sha256sum -c SHA256SUMS` works later.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

HERE=$(cd "$(dirname "$0")" && pwd)
LIST="$HERE/datasets.sha256"
MIRROR=""
ONLY=""
EXTRA=0
DERIVE=1
DEST=""
URLS=0
PY=${PYTHON:-python3}

while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) MIRROR=${2:?--mirror needs a folder}; shift 2 ;;
    --only) ONLY=${2:?--only needs a list}; shift 2 ;;
    --extra) EXTRA=1; shift ;;
    --no-derive) DERIVE=0; shift ;;
    --list) LIST=${2:?--list needs a file}; shift 2 ;;
    --urls) URLS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fetch-datasets.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$DEST" ] || { echo "fetch-datasets.sh: one destination only (got $DEST and $1)" >&2; exit 2; }
       DEST=$1; shift ;;
  esac
done
[ -n "$DEST" ] || [ "$URLS" = 1 ] || { echo "fetch-datasets.sh: no destination folder (see --help)" >&2; exit 2; }
[ -f "$LIST" ] || { echo "fetch-datasets.sh: $LIST: no such checksum list" >&2; exit 2; }
if [ -n "$MIRROR" ] && [ ! -d "$MIRROR" ]; then
  echo "fetch-datasets.sh: $MIRROR: no such mirror folder" >&2; exit 2
fi

if command -v sha256sum >/dev/null; then sha256() { local h; h=$(sha256sum "$1") && printf '%s' "${h%% *}"; }
elif command -v shasum >/dev/null; then sha256() { local h; h=$(shasum -a 256 "$1") && printf '%s' "${h%% *}"; }
else echo "fetch-datasets.sh: needs sha256sum or shasum" >&2; exit 2; fi

# git blob id of a file, as `git hash-object` prints it
blob_sha1() {
  if command -v git >/dev/null; then git hash-object --no-filters "$1"; return; fi
  local size
  size=$(wc -c <"$1" | tr -d ' ')
  { printf 'blob %s\0' "$size"; cat "$1"; } | sha1sum | cut -d' ' -f1
}

if [ -z "$MIRROR" ]; then
  if command -v curl >/dev/null; then download() { curl -fsSL --retry 3 --connect-timeout 30 -o "$2" "$1"; }
  elif command -v wget >/dev/null; then download() { wget -q --tries=3 -O "$2" "$1"; }
  else echo "fetch-datasets.sh: needs curl or wget (or --mirror DIR)" >&2; exit 2; fi
fi

urlencode() { # path segments: keep A-Z a-z 0-9 . _ ~ - / ( ), escape the rest (space -> %20)
  local s=$1 out="" c i
  local LC_ALL=C
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [A-Za-z0-9._~/\(\)-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# Upstream raw URL of a staged path (MANIFEST.md, one pinned commit per repository); fails for
# the derived files, which have none.
url_for() {
  local p=$1 repo rest
  case "$p" in
    crows-pairs/*) repo=nyu-mll/crows-pairs/8aaac11c485473159ec9328a65253a5be9a479dc; rest=${p#crows-pairs/} ;;
    crows-pairs-fr/data/*) # the GitLab original's GitHub mirror (byte-identical to a second mirror)
      repo=kinit-sk/bias-methodology/2acdfb53f70d754b0917323ec0164af197dadd5c; rest=data/french_crows/${p#crows-pairs-fr/data/} ;;
    bbq/*) repo=nyu-mll/BBQ/bea11bd97d79217245b5871acd247b9d6eb24598; rest=${p#bbq/} ;;
    mbbq/*) repo=Veranep/MBBQ/adaa40172cdcf52eb403c01954a1aef8b0b1e97d; rest=${p#mbbq/} ;;
    esbbq-cabbq/*) repo=langtech-bsc/EsBBQ-CaBBQ/ee2e0f6123f718b735fc445d368d92acd2c223be; rest=${p#esbbq-cabbq/} ;;
    sesgo/*derived_csv/*) return 1 ;;
    sesgo/paper_version_89b8a0e/prompts/*)
      repo=mvrobles/SESGO/89b8a0ef69fd86d7f08b99e06f43d16f1c8f599f; rest=prompts/${p##*/} ;;
    sesgo/*) repo=mvrobles/SESGO/28b0a971152747a3b41222be36c446f95b9af9dc; rest=${p#sesgo/} ;;
    seegull/*) repo=google-research-datasets/seegull/0dc4db9f69217aff072375e20e72609b9707a873; rest=${p#seegull/} ;;
    seegull-multilingual/*)
      repo=google-research-datasets/SeeGULL-Multilingual/589a2580bb09533c6ff097ccd2ce05bce01cbdfd; rest=${p#seegull-multilingual/} ;;
    blend/*) repo=nlee0212/BLEnD/24e7d732c082c224b3bc9c7dc3b884fe83fb8cc8; rest=${p#blend/} ;;
    kobbq/*) repo=naver-ai/KoBBQ/0dd165aeaaacd1bd46c63513a9b2e9875eb6dce7; rest=${p#kobbq/} ;;
    stereoset/third_party_elidek-themis/*) # third-party conversion of the StereoSet dev set
      repo=elidek-themis/datasets/a2e635422e1bfdcc8242b247a7d598c4f7b37f78; rest=llms/stereo_set/data/${p##*/} ;;
    stereoset/*) repo=moinnadeem/StereoSet/ead7d086a64a192a1eca88e0dd2fd163de375218; rest=${p#stereoset/} ;;
    *) return 1 ;;
  esac
  printf 'https://raw.githubusercontent.com/%s/%s\n' "$repo" "$(urlencode "$rest")"
}

# The never-staged large files: path and git blob SHA-1 (MANIFEST.md, "MISSING").
EXTRAS="bbq/data/Race_ethnicity.jsonl 68daf3d692b27a10596772b3b15742b26f0b110e
bbq/data/Race_x_SES.jsonl 905cd8a5b8734e2063fe524e69a38f0a71c75907
bbq/data/Race_x_gender.jsonl dd09a905b284690445d36259d675243950fa0bd7
bbq/data/SES.jsonl 78d11ffbdb70f501617345e5c697d00045d57c29
bbq/supplemental/additional_metadata.csv 564eb184be7427cefe9f1ffd8fd03cb700e6aa98
stereoset/data/dev.json 637b1e3d284a3c629b74a4659c583b8eca9bd13e
kobbq/data/KoBBQ_all_samples.tsv 31fe1237c1ba4876d51bbcc9c1822f122299ab56
blend/evaluation/mc_data/mc_questions_file-1.csv 472a210969b4e65c315c5d107dd8826403eb460c
blend/evaluation/mc_data/mc_questions_file-2.csv 8fc6f9148c83446e10af6c01f81517a82ada52f9"

wanted() { # is the top-level folder of path $1 in --only?
  [ -z "$ONLY" ] && return 0
  local top=${1%%/*}
  case ",$ONLY," in *",$top,"*) return 0 ;; esac
  return 1
}

if [ "$URLS" = 1 ]; then
  while read -r _ p; do
    [ -n "${p:-}" ] && wanted "$p" || continue
    u=$(url_for "$p") || u="(derived: made from its .xlsx)"
    printf '%s %s\n' "$p" "$u"
  done <"$LIST"
  while read -r p _; do
    wanted "$p" && printf '%s %s\n' "$p" "$(url_for "$p")"
  done <<<"$EXTRAS"
  exit 0
fi

N_FETCHED=0 N_PRESENT=0 N_DERIVED=0 N_FAILED=0
FAILURES=()
fail() { N_FAILED=$((N_FAILED + 1)); FAILURES+=("$1: $2"); echo "FAILED   $1: $2"; }

check_file() { # FILE KIND EXPECTED: KIND is sha256 or blob (git blob SHA-1)
  local got
  if [ "$2" = blob ]; then got=$(blob_sha1 "$1"); else got=$(sha256 "$1"); fi
  [ "$got" = "$3" ]
}

# get PATH EXPECTED KIND: puts DEST/PATH in place from the mirror or upstream and checks it;
# returns 1 (and says why) when it cannot.
get() {
  local p=$1 want=$2 kind=$3 dst="$DEST/$1" tmp url
  [ -d "${dst%/*}" ] || mkdir -p "${dst%/*}"
  tmp="$dst.part"
  [ ! -e "$tmp" ] || rm -f "$tmp"
  if [ -n "$MIRROR" ]; then
    if [ ! -f "$MIRROR/$p" ]; then
      fail "$p" "not in the mirror $MIRROR"
      return 1
    fi
    cp "$MIRROR/$p" "$tmp"
  else
    url=$(url_for "$p") || { fail "$p" "no upstream URL"; return 1; }
    if ! download "$url" "$tmp"; then
      rm -f "$tmp"
      fail "$p" "download failed: $url"
      return 1
    fi
  fi
  if ! check_file "$tmp" "$kind" "$want"; then
    rm -f "$tmp"
    fail "$p" "$kind checksum mismatch (expected $want)"
    return 1
  fi
  mv "$tmp" "$dst"
  N_FETCHED=$((N_FETCHED + 1))
  echo "fetched  $p"
}

# Rebuilds a SESGO derived CSV from its workbook (already fetched and checked).
HAVE_OPENPYXL=""
derive() {
  local p=$1 want=$2 dst="$DEST/$1" src
  src="$DEST/${p/derived_csv/prompts}"
  src=${src%.csv}.xlsx
  if [ "$DERIVE" = 0 ]; then fail "$p" "derived file (made from ${src#"$DEST"/}); --no-derive given and no mirror has it"; return 1; fi
  if [ ! -f "$src" ]; then fail "$p" "derived file: its workbook ${src#"$DEST"/} is not here"; return 1; fi
  if [ -z "$HAVE_OPENPYXL" ]; then
    HAVE_OPENPYXL=no
    "$PY" -c 'import openpyxl' 2>/dev/null && HAVE_OPENPYXL=yes
  fi
  if [ "$HAVE_OPENPYXL" = no ]; then
    fail "$p" "derived file: needs $PY with openpyxl to rebuild from ${src#"$DEST"/} (or a mirror that has it)"
    return 1
  fi
  [ -d "${dst%/*}" ] || mkdir -p "${dst%/*}"
  if ! "$PY" - "$src" "$dst.part" <<'EOF'
import csv, sys
import openpyxl
src, dst = sys.argv[1], sys.argv[2]
ws = openpyxl.load_workbook(src, read_only=True, data_only=True).worksheets[0]
with open(dst, "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    for row in ws.iter_rows(values_only=True):
        if all(v is None for v in row):
            continue
        w.writerow(["" if v is None else v for v in row])
EOF
  then
    rm -f "$dst.part"
    fail "$p" "derived file: rebuilding it from ${src#"$DEST"/} with $PY failed"
    return 1
  fi
  if ! check_file "$dst.part" sha256 "$want"; then
    rm -f "$dst.part"
    fail "$p" "rebuilt from ${src#"$DEST"/} but the sha256 differs (openpyxl version?); get it from a mirror"
    return 1
  fi
  mv "$dst.part" "$dst"
  N_DERIVED=$((N_DERIVED + 1))
  echo "derived  $p"
}

mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
SUMS_OUT="$DEST/SHA256SUMS.part"
: >"$SUMS_OUT"
DERIVED=()

while read -r want p; do
  [ -n "${p:-}" ] || continue
  wanted "$p" || continue
  printf '%s  %s\n' "$want" "$p" >>"$SUMS_OUT"
  if [ -f "$DEST/$p" ] && check_file "$DEST/$p" sha256 "$want"; then
    N_PRESENT=$((N_PRESENT + 1))
    continue
  fi
  case "$p" in
    sesgo/*derived_csv/*)
      if [ -n "$MIRROR" ] && [ -f "$MIRROR/$p" ]; then get "$p" "$want" sha256 || true
      else DERIVED+=("$want $p"); fi ;;
    *) get "$p" "$want" sha256 || true ;;
  esac
done <"$LIST"

# after their workbooks are in place
for e in ${DERIVED[@]+"${DERIVED[@]}"}; do
  derive "${e#* }" "${e%% *}" || true
done

if [ "$EXTRA" = 1 ]; then
  while read -r p blob; do
    wanted "$p" || continue
    if [ -f "$DEST/$p" ] && check_file "$DEST/$p" blob "$blob"; then
      N_PRESENT=$((N_PRESENT + 1))
      continue
    fi
    get "$p" "$blob" blob || true
  done <<<"$EXTRAS"
fi

if [ -n "$ONLY" ] && [ ! -s "$SUMS_OUT" ]; then
  rm -f "$SUMS_OUT"
  echo "fetch-datasets.sh: --only $ONLY matches no folder in $LIST" >&2
  exit 2
fi
mv "$SUMS_OUT" "$DEST/SHA256SUMS"
if [ -n "$MIRROR" ] && [ -f "$MIRROR/MANIFEST.md" ] && [ ! -f "$DEST/MANIFEST.md" ]; then
  cp "$MIRROR/MANIFEST.md" "$DEST/MANIFEST.md"
fi

echo
echo "fetch-datasets.sh: $DEST: fetched $N_FETCHED, derived $N_DERIVED, already there $N_PRESENT, missing or bad $N_FAILED"
if [ "$EXTRA" = 0 ]; then
  echo "not asked for (--extra): the upstream files of 4 MiB or more that were never staged:"
  while read -r p _; do
    wanted "$p" && echo "  $p"
  done <<<"$EXTRAS"
fi
if [ "$N_FAILED" -gt 0 ]; then
  echo "could not get:"
  for f in "${FAILURES[@]}"; do echo "  $f"; done
  exit 1
fi
exit 0
