#!/usr/bin/env python3
"""Writes configs/demo/, the small benchmark subset shipped with quipu for the demo, from the full
staged datasets (the folder scripts/fetch-datasets.sh fills). Deterministic: the same inputs give
the same bytes.

  scripts/make-demo-subset.py [--datasets DIR] [--out DIR] [--check]

  --datasets DIR  the full datasets (default: $QUIPU_DATASETS, else ../shared/datasets beside the
                  repository)
  --out DIR       where to write (default: configs/demo in the repository)
  --check         write nothing; exit 1 if --out differs from what would be written

Only benchmarks whose licence allows redistribution are taken: CrowS-Pairs (CC BY-SA 4.0),
French CrowS-Pairs (CC BY-SA 4.0) and EsBBQ (Apache-2.0). MBBQ and SESGO declare no licence and
are never copied here. Each source file is checked against scripts/datasets.sha256 first.

Rows are copied byte for byte (header included) and keep their order; the folder layout and the
file names are the datasets folder's, so quipu's built-in loaders read the subset with
`datasets_dir: configs/demo`. Which rows: K rows evenly spread over the benchmark's N data rows,
rows floor(i*N/K) for i = 0..K-1 (0-based, header excluded), the rule of `sample: spread`. For
EsBBQ the N rows are the ten category files read in the loader's order (Age, DisabilityStatus,
Gender, LGBTQIA, Nationality, PhysicalAppearance, RaceEthnicity, Religion, SES, SpanishRegion),
so every category gets rows in proportion to its size. K is a whole multiple of configs/demo.yaml's
limit, so `limit: L, sample: spread` over the subset picks exactly the items it picks over the
full files (row floor(j*K/L) of the subset is row floor(j*N/L) of the full set).
Standard library only."""
import csv
import hashlib
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"

# (benchmark, rows kept, demo limit): rows kept is a whole multiple of the demo's limit
CROWS_EN = {
    "bench": "crows_pairs_en",
    "title": "CrowS-Pairs",
    "cite": "Nangia, Vania, Bhalerao and Bowman, \"CrowS-Pairs: A Challenge Dataset for Measuring Social "
            "Biases in Masked Language Models\", EMNLP 2020",
    "folder": "crows-pairs",
    "files": ["crows-pairs/data/crows_pairs_anonymized.csv"],
    "delim": ",",
    "keep": 360,
    "demo_limit": 120,
    "upstream": "https://github.com/nyu-mll/crows-pairs",
    "commit": "8aaac11c485473159ec9328a65253a5be9a479dc",
    "upstream_path": "data/crows_pairs_anonymized.csv",
    "licence": "CC BY-SA 4.0",
    "licence_note": "stated in the upstream README.md (\"CrowS-Pairs is licensed under a Creative Commons "
                    "Attribution-ShareAlike 4.0 International License\"); the repository has no LICENSE file",
    "language": "en-US (US English, stereotypes about US groups)",
    "id_column": "the unnamed first column (the upstream 0-based row index)",
}
CROWS_FR = {
    "bench": "crows_pairs_fr",
    "title": "French CrowS-Pairs",
    "cite": "Neveol, Dupont, Bezancon and Fort, \"French CrowS-Pairs: Extending a challenge dataset for "
            "measuring social bias in masked language models to a language other than English\", ACL 2022",
    "folder": "crows-pairs-fr",
    "files": ["crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv"],
    "delim": "\t",
    "keep": 360,
    "demo_limit": 120,
    "upstream": "https://gitlab.inria.fr/french-crows-pairs/acl-2022-paper-data-and-code (the original, "
                "folder data/); the staged bytes come from its GitHub mirror "
                "https://github.com/kinit-sk/bias-methodology, folder data/french_crows/",
    "commit": "2acdfb53f70d754b0917323ec0164af197dadd5c (the mirror's; byte-identical to a second, "
              "independent mirror)",
    "upstream_path": "data/crows_pairs_FR_languagearc_contribution+210.csv",
    "licence": "CC BY-SA 4.0",
    "licence_note": "the mirrors carry no LICENSE file; the BigScience data statement for the dataset "
                    "(BigScienceBiasEval/crows_pairs_multilingual) declares cc-by-sa-4.0 and its loader reads "
                    "\"French CrowS-Pairs is licensed under a Creative Commons Attribution-ShareAlike ...\"; "
                    "the 1,467 translated pairs are an adaptation of CrowS-Pairs, whose ShareAlike term "
                    "requires CC BY-SA 4.0 for them in any case",
    "language": "fr-FR (French, France)",
    "id_column": "the unnamed first column (the upstream 0-based row index)",
}
ES_CATS = ["Age", "DisabilityStatus", "Gender", "LGBTQIA", "Nationality", "PhysicalAppearance", "RaceEthnicity",
           "Religion", "SES", "SpanishRegion"]
ESBBQ = {
    "bench": "esbbq",
    "title": "EsBBQ (Spanish Bias Benchmark for Question Answering)",
    "cite": "Ruiz-Fernandez et al., \"EsBBQ and CaBBQ: The Spanish and Catalan Bias Benchmarks for Question "
            "Answering\", 2025 (arXiv 2507.11216), Language Technologies Unit, Barcelona Supercomputing Center",
    "folder": "esbbq-cabbq",
    "files": [f"esbbq-cabbq/data_es/{c}.full.csv" for c in ES_CATS],
    "delim": ",",
    "keep": 540,  # 3 x 180: every category then has ambiguous and disambiguated rows
    "demo_limit": 180,
    "upstream": "https://github.com/langtech-bsc/EsBBQ-CaBBQ",
    "commit": "ee2e0f6123f718b735fc445d368d92acd2c223be",
    "upstream_path": "data_es/<Category>.full.csv",
    "licence": "Apache-2.0",
    "licence_note": "upstream LICENSE.txt, copied unchanged beside the data; README: \"This project is "
                    "distributed under Apache-2.0 license\"",
    "language": "es-ES (Spanish, social context of Spain)",
    "id_column": "instance_id (the upstream id within its category)",
    "licence_file": "esbbq-cabbq/LICENSE.txt",
}
BENCHES = [CROWS_EN, CROWS_FR, ESBBQ]


def die(msg):
    sys.exit(f"make-demo-subset.py: {msg}")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def split_records(text, path):
    """The CSV records of text, each with its line end, byte for byte (quoted fields may hold
    newlines; a doubled quote toggles twice, so counting quotes is exact)."""
    out, start, quoted = [], 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            out.append(text[start:i + 1])
            start = i + 1
    if quoted:
        die(f"{path}: unterminated quoted field")
    if start < len(text):
        out.append(text[start:])
    return out


def read_rows(datasets, rel, delim, sums):
    path = os.path.join(datasets, rel)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        die(f"{path}: {e.strerror}; fetch the full datasets with scripts/fetch-datasets.sh DIR and pass --datasets DIR")
    want = sums.get(rel)
    if want is None:
        die(f"{rel}: not in scripts/datasets.sha256")
    if sha256(data) != want:
        die(f"{path}: sha256 differs from scripts/datasets.sha256 (not the pinned upstream file)")
    text = data.decode("utf-8")
    recs = split_records(text, path)
    # every raw record must be exactly one CSV record, the same as a CSV reader sees
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    if len(parsed) != len(recs):
        die(f"{path}: {len(recs)} raw records but {len(parsed)} CSV records")
    for k in (0, len(recs) // 2, len(recs) - 1):
        one = list(csv.reader(io.StringIO(recs[k], newline=""), delimiter=delim))
        if one != [parsed[k]]:
            die(f"{path}: record {k} does not split cleanly")
    if not recs[-1].endswith("\n"):
        die(f"{path}: no newline at the end")
    return recs[0], recs[1:], parsed


def spread(n, k):
    if k > n:
        die(f"asked for {k} rows of {n}")
    return [(i * n) // k for i in range(k)]


def build(datasets):
    """{relative path: bytes} of the whole subset, and facts for the README."""
    sums = {}
    with open(os.path.join(HERE, "datasets.sha256"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                h, p = line.split(None, 1)
                sums[p.strip()] = h
    files, facts = {}, {}
    for b in BENCHES:
        if b["keep"] % b["demo_limit"]:
            die(f"{b['bench']}: {b['keep']} rows is not a multiple of the demo's limit {b['demo_limit']}")
        per_file = []  # (rel, header, rows, parsed)
        for rel in b["files"]:
            header, rows, parsed = read_rows(datasets, rel, b["delim"], sums)
            per_file.append((rel, header, rows, parsed))
        total = sum(len(r) for _, _, r, _ in per_file)
        picks = set(spread(total, b["keep"]))
        base, stats = 0, []
        for rel, header, rows, parsed in per_file:
            kept = [k for k in range(len(rows)) if base + k in picks]
            out = header + "".join(rows[k] for k in kept)
            files[rel] = out.encode("utf-8")
            hdr = parsed[0]
            cond = {}
            if "context_condition" in hdr:
                ci = hdr.index("context_condition")
                for k in kept:
                    c = parsed[k + 1][ci]
                    cond[c] = cond.get(c, 0) + 1
            cats = {}
            if "bias_type" in hdr:
                ti = hdr.index("bias_type")
                for k in kept:
                    t = parsed[k + 1][ti].lower()
                    cats[t] = cats.get(t, 0) + 1
            stats.append({"rel": rel, "rows": len(rows), "kept": len(kept), "cond": cond, "cats": cats,
                          "first": base, "sha_src": sums[rel], "sha_out": sha256(files[rel])})
            base += len(rows)
        facts[b["bench"]] = {"total": total, "stats": stats}
        if b.get("licence_file"):
            rel = b["licence_file"]
            path = os.path.join(datasets, rel)
            with open(path, "rb") as f:
                data = f.read()
            if sha256(data) != sums.get(rel):
                die(f"{path}: sha256 differs from scripts/datasets.sha256")
            files[rel] = data
        files[f"{b['folder']}/NOTICE.md"] = notice(b).encode("utf-8")
    files["README.md"] = readme(facts, files).encode("utf-8")
    return files


def notice(b):
    lic = (f"[CC BY-SA 4.0]({CC_BY_SA}): you may share and adapt it, with attribution, under the same "
           "licence" if b["licence"] == "CC BY-SA 4.0" else
           "the Apache License 2.0, whose full text is in `LICENSE.txt` beside this file (copied unchanged "
           "from upstream)")
    return f"""# {b['title']}: demo subset

The data file{'s' if len(b['files']) > 1 else ''} in this folder {'are' if len(b['files']) > 1 else 'is'} a \
subset of {b['title']}, by {b['cite']}.

- Source: {b['upstream']}, commit {b['commit']}, `{b['upstream_path']}`.
- Licence: {b['licence']} ({b['licence_note']}). This subset is distributed under {lic}.
- Changes: only rows were left out ({b['keep']} of the data rows kept, evenly spread, header kept);
  the rows kept are byte-for-byte the upstream rows, in the upstream order. Written by
  `scripts/make-demo-subset.py`; `configs/demo/README.md` says which rows.
- No endorsement by the authors is implied.
"""


def readme(facts, files):
    out = []
    w = out.append
    w("# configs/demo/ - the demo's benchmark subset\n")
    w("Written by `scripts/make-demo-subset.py` from the full staged datasets (scripts/fetch-datasets.sh);")
    w("do not edit by hand. `python3 scripts/make-demo-subset.py --check` says whether it is current.\n")
    w("A small subset of the benchmarks whose licences allow redistribution, laid out like the full datasets")
    w("folder (same relative paths, same file formats, rows copied byte for byte), so that quipu's built-in")
    w("loaders read it with `datasets_dir: configs/demo`: `configs/demo.yaml` and `scripts/demo.sh` use it")
    w("unless `QUIPU_DATASETS` names another folder. Relative paths are taken from the folder `quipu run`")
    w("starts in, so run the demo from the repository root. It is for trying quipu out, not for results:")
    w("the full configs (configs/crows_pairs_en.yaml, crows_pairs_fr.yaml, esbbq.yaml, ...) run the full")
    w("datasets.\n")
    w("## Which rows\n")
    w("For each benchmark, K rows evenly spread over its N data rows: rows floor(i*N/K), i = 0..K-1 (0-based,")
    w("header excluded), the rule of `sample: spread`. For EsBBQ the N rows are the ten category files in the")
    w("order the loader reads them, so every category is represented in proportion to its size. K is a whole")
    w("multiple of configs/demo.yaml's limit, so the demo's `limit: L, sample: spread` picks the same rows")
    w("from this subset as from the full files (item ids differ: they count rows of the file read).\n")
    w("| benchmark | quipu name | language | rows kept | of | licence | demo limit |")
    w("|---|---|---|---|---|---|---|")
    for b in BENCHES:
        f = facts[b["bench"]]
        w(f"| {b['title']} | `{b['bench']}` | {b['language']} | {b['keep']} | {f['total']:,} | {b['licence']} | "
          f"{b['demo_limit']} |")
    w("")
    for b in BENCHES:
        f = facts[b["bench"]]
        w(f"### {b['title']} (`{b['folder']}/`)\n")
        w(f"- Authors: {b['cite']}.")
        w(f"- Source: {b['upstream']}, commit {b['commit']}, `{b['upstream_path']}`.")
        w(f"- Licence: {b['licence']}: {b['licence_note']}. Attribution and licence: "
          f"`{b['folder']}/NOTICE.md`" + (f", `{b['licence_file']}`." if b.get("licence_file") else "."))
        w(f"- Rows: {b['keep']} of {f['total']:,}, spread as above; each row keeps {b['id_column']}.")
        w("")
        multi = len(f["stats"]) > 1
        if multi:
            w("| file | rows | kept | ambig | disambig | source sha256 | subset sha256 |")
            w("|---|---|---|---|---|---|---|")
            for s in f["stats"]:
                w(f"| `{s['rel']}` | {s['rows']:,} | {s['kept']} | {s['cond'].get('ambig', 0)} | "
                  f"{s['cond'].get('disambig', 0)} | `{s['sha_src'][:16]}` | `{s['sha_out'][:16]}` |")
        else:
            s = f["stats"][0]
            cats = ", ".join(f"{k} {v}" for k, v in sorted(s["cats"].items(), key=lambda kv: (-kv[1], kv[0])))
            w(f"- File: `{s['rel']}`, {s['kept']} of {s['rows']:,} rows; source sha256 `{s['sha_src']}`, "
              f"subset sha256 `{s['sha_out']}`.")
            w(f"- bias_type of the rows kept: {cats}.")
        w("")
    w("## Not in the subset\n")
    w("- **SESGO** (Latin-American Spanish, mvrobles/SESGO) and **MBBQ** (Veranep/MBBQ) declare no licence, so")
    w("  they may not be redistributed: they are not copied here. `configs/sesgo.yaml` and `configs/mbbq.yaml`")
    w("  run them on the full datasets (scripts/fetch-datasets.sh gets them from upstream).")
    w("- The other built-in benchmarks (BBQ, CaBBQ, StereoSet, KoBBQ, the revised English CrowS-Pairs) are")
    w("  left out to keep the repository small; their configs run on the full datasets.\n")
    w("## Files\n")
    w("| file | bytes | sha256 |")
    w("|---|---|---|")
    for rel in sorted(files):
        w(f"| `{rel}` | {len(files[rel]):,} | `{sha256(files[rel])}` |")
    w("")
    return "\n".join(out)


def main(argv):
    datasets = os.environ.get("QUIPU_DATASETS") or os.path.join(os.path.dirname(ROOT), "shared", "datasets")
    out = os.path.join(ROOT, "configs", "demo")
    check = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--datasets" and args:
            datasets = args.pop(0)
        elif a == "--out" and args:
            out = args.pop(0)
        elif a == "--check":
            check = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            die(f"unknown argument {a} (see --help)")
    if not os.path.isdir(datasets):
        die(f"{datasets}: no datasets folder; fetch the full datasets with scripts/fetch-datasets.sh DIR "
            "and pass --datasets DIR (or set QUIPU_DATASETS)")
    files = build(datasets)
    if check:
        bad = []
        for rel, data in sorted(files.items()):
            p = os.path.join(out, rel)
            try:
                with open(p, "rb") as f:
                    if f.read() != data:
                        bad.append(f"{rel} differs")
            except OSError:
                bad.append(f"{rel} is missing")
        for dp, _, names in os.walk(out):
            for nm in names:
                rel = os.path.relpath(os.path.join(dp, nm), out).replace(os.sep, "/")
                if rel not in files:
                    bad.append(f"{rel} is not written by this script")
        if bad:
            print(f"make-demo-subset.py: {out} is not current: " + "; ".join(sorted(bad)), file=sys.stderr)
            return 1
        print(f"make-demo-subset.py: {out} is current ({len(files)} files)")
        return 0
    for rel, data in sorted(files.items()):
        p = os.path.join(out, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    total = sum(len(d) for d in files.values())
    print(f"make-demo-subset.py: wrote {len(files)} files, {total:,} bytes, into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
