#!/usr/bin/env python3
"""CPU benchmark: the CrowS-Pairs pseudo-log-likelihood of French CrowS-Pairs pairs on a
base-shaped CamemBERT (random weights: 12 layers, width 768, 12 heads, FFN 3072, 32,005 ids), in
quipu (`quipu run`: the masked copies of each sentence packed into batches of batch_tokens) and
in the paper's own scoring loop run through transformers (nyu-mll/crows-pairs metric.py,
get_span + mask_unigram: one forward pass per masked copy, full-vocabulary logits, log_softmax),
same threads, same pairs. Reports sentences per second and the ratio, after checking that the two
give the same per-sentence scores (within 1e-3).

The tokenizer is u-camembert (tests/golden/tokens/unigram/u-camembert.json.zst: a CamemBERT-style
Unigram file with the Precompiled normalizer, 1,005 ids, trained on the benchmark sentences), so
sentences split into more tokens than with the real CamemBERT vocabulary; the embedding keeps the
real model's 32,005 rows.

usage: python3 bench/mlm_pll.py --quipu build/quipu --datasets ../shared/datasets --model-dir /tmp/camembert-base-random
         [--threads 2] [--pairs 40] [--batch-tokens 2048] [--out results/bench/mlm_pll_camembert]
The model folder is made on the first run (about 450 MB, seed 0)."""
import argparse
import csv
import difflib
import json
import os
import platform
import resource
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def make_model(d):
    import torch
    import transformers
    os.makedirs(d, exist_ok=True)
    tok = subprocess.run(["zstd", "-dc", os.path.join(ROOT, "tests/golden/tokens/unigram/u-camembert.json.zst")],
                         check=True, capture_output=True).stdout
    with open(os.path.join(d, "tokenizer.json"), "wb") as f:
        f.write(tok)
    cfg = transformers.CamembertConfig(vocab_size=32005, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                       intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                                       bos_token_id=5, eos_token_id=6, hidden_act="gelu", layer_norm_eps=1e-5)
    torch.manual_seed(0)
    transformers.CamembertForMaskedLM(cfg).eval().save_pretrained(d, safe_serialization=True)


def pairs(datasets, n):
    path = f"{datasets}/crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv"
    rows = list(csv.DictReader(open(path, encoding="utf-8", newline=""), delimiter="\t"))
    return [(r["sent_more"], r["sent_less"]) for r in rows[:n]]


def run_quipu(args):
    out = os.path.join(args.work, "quipu-run")
    cfg = os.path.join(args.work, "run.yaml")
    with open(cfg, "w") as f:
        f.write(f"""name: bench
output: {out}
datasets_dir: {os.path.abspath(args.datasets)}
models:
  - path: {os.path.abspath(args.model_dir)}
    name: camembert-base-random
benchmarks:
  - name: crows_pairs_fr
    limit: {args.pairs}
metrics:
  bootstrap: 0
scoring:
  batch_tokens: {args.batch_tokens}
  threads: {args.threads}
progress_interval: 0
""")
    t0 = time.perf_counter()
    subprocess.run([args.quipu, "run", cfg, "--fresh"], check=True, capture_output=True)
    dt = time.perf_counter() - t0
    items = [json.loads(l) for l in subprocess.run(["zstd", "-dc", f"{out}/items.jsonl.zst"], check=True, capture_output=True,
                                                   text=True).stdout.splitlines()]
    items = [i for i in items if i["benchmark"] == "crows_pairs_fr"]
    items.sort(key=lambda i: int(i["id"].split(":")[1]))
    summary = json.load(open(f"{out}/summary.json"))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"seconds": dt, "scores": [i["lp"] for i in items], "masked": [i["nt"] for i in items], "peak_rss_bytes": rss,
            "timings": summary.get("timings"),
            "version": subprocess.run([args.quipu, "--version"], capture_output=True, text=True).stdout.strip()}


def run_transformers(args, prs):
    import torch
    import transformers
    from tokenizers import Tokenizer
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    model = transformers.CamembertForMaskedLM.from_pretrained(args.model_dir).eval()
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    mask_id = tok.token_to_id("<mask>")
    log_softmax = torch.nn.LogSoftmax(dim=0)

    def get_span(seq1, seq2):
        m = difflib.SequenceMatcher(None, [str(x) for x in seq1], [str(x) for x in seq2])
        t1, t2 = [], []
        for op in m.get_opcodes():
            if op[0] == "equal":
                t1 += list(range(op[1], op[2]))
                t2 += list(range(op[3], op[4]))
        return t1, t2

    def log_prob(masked, ids, i):
        hs = model(torch.tensor([masked]))[0].squeeze(0)
        return log_softmax(hs[i])[ids[i]].item()

    scores, masked_n, lengths = [], [], []
    t0 = time.perf_counter()
    for s1, s2 in prs:  # metric.py's mask_unigram, one masked copy per forward
        a, b = tok.encode(s1).ids, tok.encode(s2).ids
        t1, t2 = get_span(a, b)
        n = len(t1)
        l1 = l2 = 0.0
        for i in range(1, n - 1):
            m1, m2 = list(a), list(b)
            m1[t1[i]] = mask_id
            m2[t2[i]] = mask_id
            l1 += log_prob(m1, a, t1[i])
            l2 += log_prob(m2, b, t2[i])
            lengths += [len(m1), len(m2)]
        scores.append([l1, l2])
        masked_n.append(max(n - 2, 0))
    dt = time.perf_counter() - t0
    # the machine's fp32 GEMM rate through the same library, same threads: the ceiling either side can reach
    x, w = torch.randn(2048, 768), torch.randn(3072, 768)
    x @ w.T
    g0 = time.perf_counter()
    for _ in range(10):
        x @ w.T
    gemm = 10 * 2 * 2048 * 768 * 3072 / (time.perf_counter() - g0) / 1e9
    return {"seconds": dt, "scores": scores, "masked": masked_n, "lengths": lengths, "torch_gemm_gflops": gemm,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "version": f"transformers {transformers.__version__}, torch {torch.__version__}, one masked copy per forward"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quipu", required=True)
    ap.add_argument("--datasets", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--work", default="/tmp/quipu-mlm-bench")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if not os.path.exists(os.path.join(args.model_dir, "model.safetensors")):
        make_model(args.model_dir)
    prs = pairs(args.datasets, args.pairs)
    q = run_quipu(args)
    h = run_transformers(args, prs)
    assert len(q["scores"]) == len(h["scores"]) == len(prs), (len(q["scores"]), len(h["scores"]))
    worst = max(abs(x - y) for qs, hs in zip(q["scores"], h["scores"]) for x, y in zip(qs, hs))
    same_masked = all(qm[0] == hm and qm[1] == hm for qm, hm in zip(q["masked"], h["masked"]))
    decisions = sum((qs[0] > qs[1]) == (hs[0] > hs[1]) for qs, hs in zip(q["scores"], h["scores"]))
    n_sent = 2 * len(prs)
    copies = 2 * sum(h["masked"])
    res = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "threads": args.threads, "pairs": len(prs), "sentences": n_sent,
           "masked_copies": copies, "batch_tokens": args.batch_tokens, "max_abs_diff": worst, "same_masked_counts": same_masked,
           "decisions_equal": decisions,
           "quipu": {k: v for k, v in q.items() if k not in ("scores", "masked")},
           "transformers": {k: v for k, v in h.items() if k not in ("scores", "masked", "lengths")}}
    res["quipu"]["sentences_per_s"] = n_sent / q["seconds"]
    res["transformers"]["sentences_per_s"] = n_sent / h["seconds"]
    res["speedup"] = h["seconds"] / q["seconds"]
    # the arithmetic of the two (multiply-adds counted twice): the encoder over every token of
    # every masked copy, the same on both sides; the MLM head (dense + decoder) over every token
    # for transformers, over the masked rows only for quipu
    D, F, V, NL = 768, 3072, 32005, 12
    toks = sum(h["lengths"])
    enc = 2 * NL * (4 * D * D + 2 * D * F) * toks + NL * sum(4 * L * L * D for L in h["lengths"])
    head = 2 * (D * D + D * V)
    fl_q, fl_h = enc + head * copies, enc + head * toks
    res["work"] = {"tokens_forwarded": toks, "quipu_gflop": fl_q / 1e9, "transformers_gflop": fl_h / 1e9,
                   "quipu_gflops_per_s": fl_q / q["seconds"] / 1e9, "transformers_gflops_per_s": fl_h / h["seconds"] / 1e9,
                   "torch_gemm_gflops_per_s": h["torch_gemm_gflops"],
                   "quipu_gflops_per_s_for_5x": fl_q / (h["seconds"] / 5) / 1e9}
    print(json.dumps(res, indent=2))
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump(res, f, indent=2)
    ok = worst < 1e-3 and same_masked and decisions == len(prs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
