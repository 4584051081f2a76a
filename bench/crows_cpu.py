#!/usr/bin/env python3
"""CPU benchmark: score all 3,016 CrowS-Pairs (en) sentences with SmolLM2-135M (Q4_1 GGUF) in
quipu, llama.cpp (llama-cpp-python, all logits) and transformers (fp32 on the CPU, GGUF
dequantized; batches of --hf-batch padded sentences, and one sentence per forward as
lm-evaluation-harness runs it by default), side by side in one run, same threads, same sentences; reports scored tokens per
second, the ratios to quipu, and each one's peak memory (max RSS of its own process).

Every scorer computes the same thing: the lm-evaluation-harness log-likelihood of each sentence
after the prefix token quipu uses for an empty context (read from `quipu inspect`: the GGUF's BOS,
here <|im_start|>, id 1, as lm-evaluation-harness takes the tokenizer's bos_token_id). Before timing is trusted the
per-sentence sums are compared with quipu's (transformers must agree to 1e-3; llama.cpp computes
its matmuls with 8-bit quantized activations, so it is only expected to be close).

usage: python3 bench/crows_cpu.py --quipu build/quipu --model PATH --datasets ../shared/datasets
         [--threads 2] [--peers quipu,llama.cpp,transformers] [--limit N] [--out results/bench/crows_cpu]
Each peer runs in its own child process (this script re-invokes itself with --worker), so peak
memory is per peer. Peers that are not installed are reported as skipped."""
import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time


def sentences(datasets, limit):
    rows = list(csv.DictReader(open(f"{datasets}/crows-pairs/data/crows_pairs_anonymized.csv", encoding="utf-8")))
    out = []
    for r in rows:
        out += [r["sent_more"], r["sent_less"]]
    return out[:limit] if limit else out


# ------------------------------------------------------------------ workers (child processes)

def worker_quipu(args, sents):
    inp = "".join(json.dumps({"context": "", "continuation": s}, ensure_ascii=False) + "\n" for s in sents)
    t0 = time.perf_counter()
    p = subprocess.run([args.quipu, "score", "--model", args.model, "--threads", str(args.threads)],
                       input=inp.encode(), capture_output=True, check=True)
    dt = time.perf_counter() - t0
    res = [json.loads(x) for x in p.stdout.decode().splitlines()]
    # the child's peak RSS (quipu itself), not this wrapper's
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"seconds": dt, "sums": [r["logprob"] for r in res], "tokens": sum(r["n_tokens"] for r in res),
            "peak_rss_bytes": rss, "version": subprocess.run([args.quipu, "--version"], capture_output=True, text=True).stdout.strip()}


def worker_llamacpp(args, sents):
    import numpy as np
    import llama_cpp
    llm = llama_cpp.Llama(model_path=args.model, logits_all=True, n_ctx=512, n_batch=512, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    toks = [[args.prefix_id] + llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) for s in sents]
    t0 = time.perf_counter()
    sums = []
    for t in toks:
        llm.reset()
        llm.eval(t)
        lg = np.asarray(llm.scores[: len(t) - 1], dtype=np.float64)
        m = lg.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(lg - m).sum(axis=1)))
        sums.append(float(sum(lg[i, t[i + 1]] - lse[i] for i in range(len(t) - 1))))
    dt = time.perf_counter() - t0
    return {"seconds": dt, "sums": sums, "tokens": sum(len(t) - 1 for t in toks),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "version": "llama-cpp-python " + llama_cpp.__version__}


def worker_transformers(args, sents):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(args.threads)
    d, f = os.path.split(os.path.abspath(args.model))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    ids = [[args.prefix_id] + tok(s, add_special_tokens=False)["input_ids"] for s in sents]
    bs = args.hf_batch
    t0 = time.perf_counter()
    sums = []
    with torch.inference_mode():
        for i in range(0, len(ids), bs):
            chunk = ids[i:i + bs]
            L = max(len(x) for x in chunk)
            inp = torch.zeros((len(chunk), L), dtype=torch.long)
            att = torch.zeros((len(chunk), L), dtype=torch.long)
            for j, x in enumerate(chunk):
                inp[j, :len(x)] = torch.tensor(x)
                att[j, :len(x)] = 1
            lp = torch.log_softmax(model(input_ids=inp, attention_mask=att).logits.double(), dim=-1)
            for j, x in enumerate(chunk):
                tgt = torch.tensor(x[1:])
                sums.append(float(lp[j, torch.arange(len(x) - 1), tgt].sum()))
    dt = time.perf_counter() - t0
    return {"seconds": dt, "sums": sums, "tokens": sum(len(x) - 1 for x in ids),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "version": f"transformers {transformers.__version__}, torch {torch.__version__}, batch {bs}"}


def worker_transformers_bs1(args, sents):
    """transformers one sentence per forward: lm-evaluation-harness's default batch size."""
    args.hf_batch = 1
    return worker_transformers(args, sents)


WORKERS = {"quipu": worker_quipu, "llama.cpp": worker_llamacpp, "transformers": worker_transformers,
           "transformers-bs1": worker_transformers_bs1}


# ------------------------------------------------------------------ driver

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quipu", default="build/quipu")
    ap.add_argument("--model", required=True)
    ap.add_argument("--datasets", default="../shared/datasets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default="quipu,llama.cpp,transformers,transformers-bs1")
    ap.add_argument("--python", action="append", default=[], help="PEER=PYTHON: interpreter to run a peer with")
    ap.add_argument("--hf-batch", type=int, default=16)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", default="")
    ap.add_argument("--worker", default="")
    ap.add_argument("--prefix-id", type=int, default=-1)
    args = ap.parse_args()
    sents = sentences(args.datasets, args.limit)
    if args.worker:
        json.dump(WORKERS[args.worker](args, sents), sys.stdout)
        return 0
    pythons = dict(x.split("=", 1) for x in args.python)
    # the prefix token quipu uses for an empty context (lm-eval: BOS, else EOS), so all peers agree
    info = json.loads(subprocess.run([args.quipu, "inspect", args.model], capture_output=True, check=True, text=True).stdout)
    tk = info["tokenizer"]
    prefix = (tk["bos"] or tk["eos"])["id"]
    results = {}
    for peer in args.peers.split(","):
        passthru, skip = [], False
        for a in sys.argv[1:]:
            if skip:
                skip = False
            elif a == "--python":
                skip = True
            elif not a.startswith("--python="):
                passthru.append(a)
        cmd = [pythons.get(peer, sys.executable), os.path.abspath(__file__), "--worker", peer,
               "--prefix-id", str(prefix)] + passthru
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            results[peer] = {"skipped": (p.stderr.strip().splitlines() or ["failed"])[-1]}
            print(f"{peer}: skipped: {results[peer]['skipped']}", file=sys.stderr)
            continue
        r = json.loads(p.stdout)
        r["tokens_per_second"] = r["tokens"] / r["seconds"]
        results[peer] = r
        print(f"{peer}: {r['tokens']} tokens in {r['seconds']:.1f} s = {r['tokens_per_second']:.0f} tok/s, "
              f"peak {r['peak_rss_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
    q = results.get("quipu", {})
    scope = f"the first {len(sents)} of the 3,016 sentences (--limit)" if args.limit else "all 3,016 sentences"
    lines = [f"# CrowS-Pairs (en), {scope}, SmolLM2-135M-Instruct Q4_1, CPU", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs ({platform.processor() or 'cpu'}), "
             f"threads per peer: {args.threads}. Command: `{' '.join(['python3', 'bench/crows_cpu.py'] + [a for a in sys.argv[1:]])}`", "",
             "| peer | version | scored tokens | seconds | tokens/s | quipu speed-up | peak RSS (MiB) | max abs Δ sum vs quipu |",
             "|---|---|---|---|---|---|---|---|"]
    for peer, r in results.items():
        if "skipped" in r:
            lines.append(f"| {peer} | skipped: {r['skipped']} | | | | | | |")
            continue
        su = (q["tokens_per_second"] / r["tokens_per_second"]) if "tokens_per_second" in q else float("nan")
        dmax = max(abs(a - b) for a, b in zip(r["sums"], q["sums"])) if "sums" in q else float("nan")
        lines.append(f"| {peer} | {r['version']} | {r['tokens']} | {r['seconds']:.1f} | {r['tokens_per_second']:.0f} | "
                     f"{su:.2f}× | {r['peak_rss_bytes'] / 2**20:.0f} | {dmax:.2g} |")
    lines += ["", "quipu speed-up = quipu tokens/s ÷ peer tokens/s (same run, same machine). quipu's seconds "
              "include loading the model and tokenizing; the peers' exclude both. All peers compute fp32 "
              "log-likelihoods except llama.cpp, whose matmuls quantize activations to 8 bits (hence its larger "
              "Δ). The dequantized fp32 model is 134.5M parameters × 4 B = 513 MiB; the target is quipu's "
              "peak under twice that."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        open(args.out + ".md", "w").write(text)
        for r in results.values():
            r.pop("sums", None)
        json.dump({"command": sys.argv, "threads": args.threads, "results": results}, open(args.out + ".json", "w"), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
