#!/usr/bin/env bash
# CPU GEMM benchmark: quipu's batch-invariant GEMM (src/gemm_cpu.c) against OpenBLAS's
# cblas_sgemm on SmolLM2-135M's and Gemma-3-270m's matrices at M = 64, 512 and 2048 rows, with 1
# and 2 threads, same inputs; GFLOP/s of each, their ratio, and whether each one's output rows
# have the same bits computed alone (M = 1) as inside the batch (bench/gemm_cpu.c says how).
# Builds with one cc command (no CMake), runs the program RUNS times, keeps each number's best run
# (a row counts as bit-identical only if it was in every run), and writes OUT.
# usage: bench/gemm_cpu.sh [OUT.md] [RUNS] [THREADS...]   (default results/bench/gemm-cpu.md 3 1 2)
# Needs: a C compiler with OpenMP, OpenBLAS (Debian: apt-get install libopenblas-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
args="$*"
out="${1:-results/bench/gemm-cpu.md}"
runs="${2:-3}"
shift $(( $# > 2 ? 2 : $# )) || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
cc="${CC:-cc}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# gemm_cpu.c is built as CMakeLists.txt builds it (-O3 -ffp-contract=off: the order is the code's)
build=("$cc" -O3 -ffp-contract=off -fopenmp -Isrc bench/gemm_cpu.c src/gemm_cpu.c -o "$tmp/gemm_cpu" -lopenblas -lm)
"${build[@]}"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$runs"); do
  echo "run $r of $runs" >&2
  "$tmp/gemm_cpu" "${threads[@]}" > "$tmp/run$r.tsv" 2> "$tmp/run$r.log"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
ncpu=$(nproc)
python3 - "$out" "$runs" "$cpu" "$ncpu" "$load_before" "$load_after" "${build[*]}" "bench/gemm_cpu.sh $args" "$tmp"/run*.tsv <<'PY'
import sys
out, runs, cpu, ncpu, lb, la, build, cmd = sys.argv[1:9]
files = sys.argv[9:]
rows, models, header, seen = {}, {}, "", {}
for f in files:
    for line in open(f):
        if line.startswith("#"):
            header = line[1:].strip()
            continue
        p = line.rstrip("\n").split("\t")
        if p[0] == "row":
            k = tuple(p[1:7])
            seen.setdefault((p[2], p[3]), len(seen))  # the program's order of matrices
            q, o, qs, os_, d = float(p[7]), float(p[8]), int(p[9]), int(p[10]), float(p[11])
            r = rows.setdefault(k, [0.0, 0.0, 1, 1, 0.0])
            r[0], r[1] = max(r[0], q), max(r[1], o)
            r[2], r[3], r[4] = r[2] & qs, r[3] & os_, max(r[4], d)
        elif p[0] == "model":
            k = (p[1], p[2], p[6])
            m = models.setdefault(k, [0.0, 0.0])
            m[0], m[1] = max(m[0], float(p[7])), max(m[1], float(p[8]))
yn = lambda b: "yes" if b else "**no**"
L = [f"# CPU GEMM: quipu_gemm_cpu vs OpenBLAS cblas_sgemm, SmolLM2-135M and Gemma-3-270m shapes", "",
     f"Machine: {cpu}, {ncpu} CPUs; load average (1, 5, 15 min) {lb} before and {la} after the runs "
     "(above 1 before, something else was running). Best of "
     f"{runs} runs per number. {header}.", "",
     f"Command: `{cmd.strip()}`, which builds with `{build.split(' -o ')[0]} -o …`", "",
     "y[M, N] = x[M, K] · w[N, K]ᵀ in fp32, the same random inputs for both. *Ratio* = quipu GFLOP/s ÷ OpenBLAS GFLOP/s. "
     "*Rows alone = in batch*: rows 0, 1, M/2 and M−1 computed alone (M = 1) have the same bits as inside the batch, "
     "in every run; for OpenBLAS the largest difference seen is given when they do not.", "",
     "## One forward pass's GEMM mix (every layer's matrices with their multiplicity, then the LM head)", "",
     "| model | threads | M | quipu GFLOP/s | OpenBLAS GFLOP/s | ratio |", "|---|---|---|---|---|---|"]
for (t, model, M), (q, o) in sorted(models.items(), key=lambda kv: (kv[0][1] != "SmolLM2-135M", int(kv[0][0]), int(kv[0][2]))):
    L.append(f"| {model} | {t} | {M} | {q:.1f} | {o:.1f} | {q / o:.2f} |")
L += ["", "## Each matrix", "",
      "| model | matrix | K × N | threads | M | quipu GFLOP/s | OpenBLAS GFLOP/s | ratio | quipu rows alone = in batch | OpenBLAS rows alone = in batch |",
      "|---|---|---|---|---|---|---|---|---|---|"]
order = lambda kv: (seen[(kv[0][1], kv[0][2])], int(kv[0][0]), int(kv[0][5]))
for (t, model, name, K, N, M), (q, o, qs, os_, d) in sorted(rows.items(), key=order):
    ob = yn(os_) + ("" if os_ else f" (max Δ {d:.2g})")
    L.append(f"| {model} | {name} | {K} × {N} | {t} | {M} | {q:.1f} | {o:.1f} | {q / o:.2f} | {yn(qs)} | {ob} |")
q_all = all(r[2] for r in rows.values())
o_all = all(r[3] for r in rows.values())
n_o = sum(1 for r in rows.values() if not r[3])
L += ["", f"quipu: rows bit-identical alone and in the batch in all {len(rows)} cases: {yn(q_all)}. "
      f"OpenBLAS: {'in all cases' if o_all else f'differ in {n_o} of {len(rows)} cases'}."]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
