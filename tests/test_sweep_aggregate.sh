# test_sweep_aggregate.sh — the sweep's aggregation job on 20 runs of fake results: a sweep of 20
# models is submitted to a stand-in sbatch that queues nothing (so the run configs are written),
# then a generator writes what `quipu run` would have (summary.json, items.jsonl.zst, manifest.json)
# into every run folder, and `quipu sweep report` is timed, with the paired comparisons against the
# baseline and without. Also the benchmark of results/bench/sweep-aggregate.md:
#   SWEEP_FAKE_SCALE=1 QUIPU_SOURCE_DIR=$PWD QUIPU_SHARED=../shared QUIPU_BIN=build-rel/quipu bash tests/test_sweep_aggregate.sh
# SWEEP_FAKE_SCALE (default 0.1 here, 1 for the benchmark) scales the items per benchmark: 1 is
# CrowS-Pairs en and fr whole (1508, 1677 pairs), 3000 MBBQ es, 4000 EsBBQ, 3000 SESGO items per run.
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared datasets
scale=${SWEEP_FAKE_SCALE:-0.1}
bin="$TMPD/bin"
mkdir -p "$bin" "$TMPD/models"
printf '#!/bin/bash\necho 77\n' > "$bin/sbatch"
chmod +x "$bin/sbatch"
{
  echo "name: fake20"
  echo "output: $TMPD/sw"
  echo "datasets_dir: $QUIPU_SHARED/datasets"
  echo "models:"
  for i in $(seq -w 0 19); do : > "$TMPD/models/m$i.gguf"; echo "  - {path: $TMPD/models/m$i.gguf, name: model-$i}"; done
  echo "benchmarks: [crows_pairs_en, crows_pairs_fr, mbbq_es, esbbq, sesgo]"
  echo "sweep: {template: slurm/jean-zay-cpu.sbatch, baseline: model-00}"
} > "$TMPD/sweep.yaml"
cd "$QUIPU_SOURCE_DIR" || exit 1
if PATH="$bin:$PATH" "$QUIPU_BIN" sweep "$TMPD/sweep.yaml" > "$TMPD/sub" 2>&1; then ok "20 run configs written"; else fail "submission: $(tail -3 "$TMPD/sub")"; fi

# the generator: per run, seeded by the model's index, what quipu run writes (docs/results.md)
python3 - "$TMPD/sw" "$scale" <<'PY' || fail "generator"
import json, os, random, subprocess, sys, time
root, scale = sys.argv[1], float(sys.argv[2])
benches = [  # label, kind, language, culture, items at scale 1, categories
    ("crows_pairs_en", "pair", "en-US", "US", 1508, ["race-color", "gender", "religion", "age", "nationality", "disability", "physical-appearance", "socioeconomic", "sexual-orientation"]),
    ("crows_pairs_fr", "pair", "fr-FR", "FR", 1677, ["race-color", "gender", "religion", "age", "nationality", "disability", "physical-appearance", "socioeconomic", "sexual-orientation"]),
    ("mbbq_es", "bbq", "es-ES", "ES", 3000, ["Age", "SES", "Gender_identity", "Disability_status", "Physical_appearance", "Sexual_orientation"]),
    ("esbbq", "bbq", "es-ES", "ES", 4000, ["Age", "Gender", "LGBTQIA", "Nationality", "PhysicalAppearance", "RaceEthnicity", "Religion", "SES", "SpanishRegion", "DisabilityStatus"]),
    ("sesgo", "bbq", "es-419", "LatAm", 3000, ["classism", "gender", "racism", "xenophobia"]),
]
metrics = {"pair": ["pct_stereotype", "pct_stereotype_stereo", "pct_stereotype_antistereo", "pct_neutral", "likelihood_diff"],
           "bbq": ["acc", "acc_ambig", "acc_disambig", "s_dis", "s_amb"]}
t0 = time.time()
for m in range(20):
    name = f"model-{m:02d}"
    d = f"{root}/runs/{name}"
    os.makedirs(d, exist_ok=True)
    rnd = random.Random(m)
    lines, rows, bsum = [], [], []
    for label, kind, lang, cult, n, cats in benches:
        n = max(12, int(n * scale))
        bsum.append({"label": label, "name": label, "items": n, "rows_skipped": 0, "rows_excluded": 0})
        data_rnd = random.Random(label)  # the same items in every run: paired on (benchmark, id)
        for k in range(n):
            cat = cats[data_rnd.randrange(len(cats))]
            it = {"model": name, "benchmark": label, "id": f"{label}:{k}", "language": lang, "culture": cult, "category": cat,
                  "kind": "pair" if kind == "pair" else "mc", "group": "", "label": -1, "condition": "", "polarity": "",
                  "unknown_choice": -1, "target_choice": -1, "other_choice": -1, "biased_choice": -1, "biased_mask": 0, "roles": "", "direction": 0}
            if kind == "pair":
                it["direction"] = 1 if data_rnd.random() < 0.85 else -1
                nt = [data_rnd.randint(8, 40)] * 2
                it.update(lp=[-2.5 * nt[0] + rnd.gauss(0, 3), -2.5 * nt[0] + rnd.gauss(0, 3)], nt=nt, nb=[4 * nt[0]] * 2, g=[0, 0])
            else:
                amb = data_rnd.random() < 0.5
                tgt = data_rnd.randrange(2)
                neg = data_rnd.random() < 0.5
                biased = tgt if neg else 1 - tgt
                it.update(condition="ambig" if amb else "disambig", polarity="neg" if neg else "nonneg", unknown_choice=2,
                          target_choice=tgt, other_choice=1 - tgt, biased_choice=biased, biased_mask=1 << biased,
                          label=2 if amb else data_rnd.randrange(2), lp=[rnd.gauss(-20, 4) for _ in range(3)],
                          nt=[5, 6, 4], nb=[20, 24, 16], g=[0, 0, 0])
            lines.append(json.dumps(it))
        for cat in ["all"] + sorted(cats):
            for met in metrics[kind]:
                v = rnd.uniform(40, 70) if kind == "pair" else rnd.uniform(-0.3, 0.6)
                w = 8 if kind == "pair" else 0.15
                rows.append({"model": name, "benchmark": label, "language": lang, "culture": cult, "category": cat, "metric": met,
                             "value": v, "ci_low": v - w, "ci_high": v + w, "n": n})
    summary = {"format": "quipu-summary/1", "run": name, "config_hash": "0" * 64, "seed": 0, "normalization": "sum",
               "bootstrap": 1000, "confidence": 0.95, "models": [{"name": name, "path": f"m{m:02d}.gguf"}],
               "benchmarks": bsum, "metrics": rows}
    json.dump(summary, open(f"{d}/summary.json", "w"), indent=1)
    subprocess.run(["zstd", "-q", "-f", "-o", f"{d}/items.jsonl.zst"], input=("\n".join(lines) + "\n").encode(), check=True)
    json.dump({"format": "quipu-manifest/2", "fake": True}, open(f"{d}/manifest.json", "w"))  # written last: the run is complete
print(f"generator: 20 runs, {len(lines)} items each, in {time.time() - t0:.1f} s")
PY

timeit() { # SWEEP.yaml: runs quipu sweep report on it, prints the wall time
  local t0 t1
  t0=$(date +%s.%N)
  "$QUIPU_BIN" sweep report "$1" > "$TMPD/rep.out" 2>&1 || { fail "report $1: $(tail -3 "$TMPD/rep.out")"; return; }
  t1=$(date +%s.%N)
  echo "quipu sweep report $(basename "$1"): $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
}
timeit "$TMPD/sweep.yaml"
grep -q "sweep report: 20 of 20 runs" "$TMPD/rep.out" && ok "report over 20 runs with the comparisons against model-00" || fail "report: $(cat "$TMPD/rep.out")"
rows=$(($(wc -l < "$TMPD/sw/sweep.csv") - 1))
[ "$rows" = 100 ] && ok "sweep.csv: 100 rows (20 models x 5 benchmarks x 1 language-culture each)" || fail "sweep.csv has $rows rows"
[ "$(ls "$TMPD"/sw/plots/heatmap_*.svg | wc -l)" -ge 5 ] && [ "$(ls "$TMPD"/sw/plots/forest_*.svg | wc -l)" -ge 5 ] && ok "heatmaps and forest plots" || fail "plots: $(ls "$TMPD/sw/plots")"
cut -d, -f2 "$TMPD/sw/sweep_comparison.csv" | sort -u | grep -c "^model-" | grep -q "^19$" && ok "19 models compared with the baseline" || fail "comparisons: $(head -3 "$TMPD/sw/sweep_comparison.csv")"
sed 's/, baseline: model-00//' "$TMPD/sweep.yaml" > "$TMPD/nobase.yaml" # the same runs, no paired tests
timeit "$TMPD/nobase.yaml"
grep -q "sweep report: 20 of 20 runs" "$TMPD/rep.out" && ok "report without a baseline (summaries only)" || fail "report without baseline: $(cat "$TMPD/rep.out")"
finish
