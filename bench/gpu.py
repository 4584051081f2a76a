#!/usr/bin/env python3
"""GPU benchmark: quipu against Hugging Face transformers on the same work, the way
lm-evaluation-harness scores loglikelihood requests, with random-weight models of the shapes of
Llama-3.2-1B and Llama-3.1-8B (scripts/make-random-models.py makes them on the spot). It doubles
as a correctness check: the per-request log-likelihoods of the two are compared.

The work: CrowS-Pairs (en) sentences (empty context, each sentence a continuation) plus BBQ in
lm-eval mode (prompt `{context}\\n\\nQ: {question}\\nA:`, 12 choices), the items `quipu run`
picks with `limit` + `sample: spread`; without BBQ in the datasets folder (the demo subset),
EsBBQ in lm-eval mode (11 choices) instead.

- quipu: `quipu run` on a YAML config (backend cuda, dtype bf16 where the build has it, else f32;
  prefix sharing on: a BBQ prompt runs once for its choices); seconds = manifest.json's score_s
  (tokenizing included, model loading excluded); peak GPU memory sampled with nvidia-smi
  (the process's, CUDA context included).
- transformers: AutoModelForCausalLM in bf16 (sdpa attention), lm-evaluation-harness's
  HFLM._loglikelihood_tokens: requests encoded as lm-eval does (trailing context spaces move to
  the continuation, context+continuation encoded whole and split at the context's length, an
  empty context becomes the prefix token), sorted by length descending, batches of --hf-batch
  right-padded with 0 and no attention mask, log_softmax over the full vocabulary in the logits'
  dtype (lm-eval's softmax_dtype=None), gather. The one liberty: the gathers and sums of a batch
  are done at once (fp32 sums) rather than row by row, which only favours transformers. Seconds
  exclude loading and tokenizing. Peak memory: torch.cuda.max_memory_allocated (no CUDA context).
  Then the same model in fp32 (TF32 off) scores the first --check-items items again, as the
  exact reference for quipu's f32 results.
- MFU: the FLOPs each engine had to do (2 x parameters of the layers per token through the
  model, 2 x hidden x vocab per row through the LM head: every input position for transformers,
  the scored rows for quipu; attention's QK and PV products excluded, a few % at these lengths)
  over its seconds, against torch.matmul's bf16 rate measured in the same run on 8192^3 (and the
  fp32 rate, TF32 off, for an engine that computed in f32).

usage (GPU machine, about 4 minutes on one H100):
  python3 bench/gpu.py --quipu build-gpu/quipu --device cuda --models SCRATCH
         [--shapes 1b,8b] [--items 1b=1508:120,8b=400:40] [--datasets DIR] [--out results/bench/gpu]
usage (CPU test, a couple of minutes on 2 cores):
  python3 bench/gpu.py --quipu build/quipu --device cpu --shapes tiny --models SCRATCH
         --python VENV/bin/python --out SCRATCH/gpu-cpu
Writes OUT.md (table, commands, versions, device) and OUT.json. --python is the interpreter with
torch + transformers (default: this one); this driver itself needs only the standard library.
Exit status 0 when every engine ran and quipu agreed with the fp32 reference, else 1.
"""
import argparse
import ctypes
import ctypes.util
import datetime
import glob
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ITEMS = {"tiny": (300, 40), "1b": (1508, 120), "8b": (400, 40)}


# ------------------------------------------------------------------ small helpers

def log(msg):
    print(f"[bench/gpu {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_zstd(path):
    """Bytes of a .zst file: python-zstandard, Python 3.14's compression.zstd, the zstd program, or
    libzstd through ctypes (the library quipu itself links), whichever is there."""
    data = open(path, "rb").read()
    try:
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except ImportError:
        pass
    try:
        from compression import zstd  # Python >= 3.14
        return zstd.decompress(data)
    except ImportError:
        pass
    if shutil.which("zstd"):
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    name = ctypes.util.find_library("zstd") or "libzstd.so.1"
    lib = ctypes.CDLL(name)

    class Buf(ctypes.Structure):
        _fields_ = [("ptr", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]

    lib.ZSTD_createDStream.restype = ctypes.c_void_p
    lib.ZSTD_initDStream.argtypes = [ctypes.c_void_p]
    lib.ZSTD_decompressStream.argtypes = [ctypes.c_void_p, ctypes.POINTER(Buf), ctypes.POINTER(Buf)]
    lib.ZSTD_decompressStream.restype = ctypes.c_size_t
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    lib.ZSTD_freeDStream.argtypes = [ctypes.c_void_p]
    ds = lib.ZSTD_createDStream()
    lib.ZSTD_initDStream(ds)
    src = ctypes.create_string_buffer(data, len(data))
    cap = 1 << 20
    dst = ctypes.create_string_buffer(cap)
    inb = Buf(ctypes.cast(src, ctypes.c_void_p), len(data), 0)
    out = []
    while True:
        outb = Buf(ctypes.cast(dst, ctypes.c_void_p), cap, 0)
        r = lib.ZSTD_decompressStream(ds, ctypes.byref(outb), ctypes.byref(inb))
        if lib.ZSTD_isError(r):
            lib.ZSTD_freeDStream(ds)
            raise RuntimeError(f"{path}: zstd decompression failed")
        out.append(dst.raw[:outb.pos])
        if inb.pos >= inb.size and outb.pos < cap:
            break
    lib.ZSTD_freeDStream(ds)
    return b"".join(out)


def cpu_name():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_query():
    """(name, total MiB, driver) of GPU 0 from nvidia-smi, or None."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip().splitlines()
        return out[0] if out else None
    except (OSError, subprocess.TimeoutExpired):
        return None


class GpuSampler(threading.Thread):
    """Samples a process's GPU memory with nvidia-smi (per-process when the driver reports it,
    else the GPU's used memory above what was used before the process started)."""

    def __init__(self, pid, every=0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.stop_ev = pid, every, threading.Event()
        self.peak_proc_mib = 0
        self.peak_used_mib = 0
        self.base_used_mib = self._used()

    @staticmethod
    def _used():
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            return int(out.splitlines()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return 0

    def run(self):
        while not self.stop_ev.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10).stdout
                for line in out.splitlines():
                    parts = [p.strip() for p in line.split(",")]
                    if len(parts) == 2 and parts[0] == str(self.pid) and parts[1].isdigit():
                        self.peak_proc_mib = max(self.peak_proc_mib, int(parts[1]))
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.peak_used_mib = max(self.peak_used_mib, self._used())
            self.stop_ev.wait(self.every)

    def peak_mib(self):
        if self.peak_proc_mib:
            return self.peak_proc_mib, "nvidia-smi, the process"
        if self.peak_used_mib:
            return max(0, self.peak_used_mib - self.base_used_mib), "nvidia-smi, GPU used above the idle level"
        return None, "nvidia-smi gave nothing"


def model_flops(cfg):
    """(FLOPs per token through the layers, FLOPs per row through the LM head) from config.json."""
    D, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HD = cfg.get("head_dim") or D // H
    per_layer = D * H * HD * 2 + 2 * D * KV * HD + 3 * D * F
    return 2 * L * per_layer, 2 * D * cfg["vocab_size"]


def n_params(cfg):
    per_tok, per_row = model_flops(cfg)
    emb = cfg["vocab_size"] * cfg["hidden_size"]
    return per_tok // 2 + emb * (1 if cfg.get("tie_word_embeddings") else 2)


# ------------------------------------------------------------------ datasets and quipu runs

def find_datasets(arg):
    """The datasets folder and which MC benchmark it offers: ('bbq' | 'esbbq' | None)."""
    cands = [arg] if arg else [os.environ.get("QUIPU_DATASETS", ""), os.path.join(ROOT, "shared", "datasets"),
                               os.path.join(ROOT, "..", "shared", "datasets"), os.path.join(ROOT, "configs", "demo")]
    for d in cands:
        if d and os.path.isfile(os.path.join(d, "crows-pairs", "data", "crows_pairs_anonymized.csv")):
            mc = "bbq" if os.path.isfile(os.path.join(d, "bbq", "data", "Age.jsonl")) else \
                "esbbq" if os.path.isdir(os.path.join(d, "esbbq-cabbq")) else None
            return os.path.abspath(d), mc
    sys.exit(f"bench/gpu: no datasets folder with crows-pairs/ among {[c for c in cands if c]} (--datasets DIR)")


def config_text(name, model, datasets, mc, n_pairs, n_mc, backend, dtype, batch_tokens, threads, item_text, outdir):
    lines = [f"name: {name}", f"output: {json.dumps(outdir)}", f"datasets_dir: {json.dumps(datasets)}",
             f"backend: {backend}", f"dtype: {dtype}", f"item_text: {'true' if item_text else 'false'}",
             "progress_interval: 5", "models:", f"  - path: {json.dumps(model)}", f"    name: {os.path.basename(model)}",
             "benchmarks:", "  - name: crows_pairs_en", f"    limit: {n_pairs}", "    sample: spread"]
    if mc and n_mc > 0:
        lines += [f"  - name: {mc}", "    template: lm-eval", f"    limit: {n_mc}", "    sample: spread"]
    lines += ["metrics:", "  include: [pct_stereotype, acc]" if mc == "bbq" else "  include: [pct_stereotype]",
              "  bootstrap: 0", "scoring:", f"  batch_tokens: {batch_tokens}", f"  threads: {threads}",
              "  prefix_sharing: true"]
    return "\n".join(lines) + "\n"


def write_config(path, *a):
    open(path, "w").write(config_text(*a))


def read_journal(outdir):
    """{(benchmark label, item id): record} from a run's journal (complete or not)."""
    recs = {}
    for f in sorted(glob.glob(os.path.join(outdir, "journal", "*", "*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a torn last line
            parts = r["id"].split("|")
            recs.setdefault((parts[3], parts[4]), r)
    return recs


def run_quipu(qbin, cfg_path, outdir, timeout, gpu, log_path):
    """Runs `quipu run`; returns a dict with status, seconds, tokens, peak memory, records."""
    shutil.rmtree(outdir, ignore_errors=True)
    cmd = [qbin, "run", cfg_path, "--fresh"]
    t0 = time.perf_counter()
    with open(log_path, "w") as lf:
        p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
        sampler = GpuSampler(p.pid) if gpu else None
        if sampler:
            sampler.start()
        status, rc, ru = "ok", None, None
        deadline, killed = time.monotonic() + timeout, None
        while rc is None:  # os.wait4: this child's own peak RSS, not the maximum over all children
            pid, st, r = os.wait4(p.pid, os.WNOHANG)
            if pid:
                rc, ru = os.waitstatus_to_exitcode(st), r
                p.returncode = rc
                break
            now = time.monotonic()
            if killed is None and now > deadline:
                status = f"stopped at the {timeout:.0f} s cap"
                p.send_signal(signal.SIGTERM)  # quipu stops after the batch in flight (exit 75)
                killed = now
            elif killed is not None and now > killed + 60:
                p.kill()
                killed = float("inf")
            time.sleep(0.05)
        if sampler:
            sampler.stop_ev.set()
            sampler.join()
    wall = time.perf_counter() - t0
    text = open(log_path, encoding="utf-8", errors="replace").read()
    res = {"status": status, "wall_s": wall, "rc": rc, "command": " ".join(cmd)}
    if sampler:
        res["peak_gpu_mib"], res["peak_gpu_how"] = sampler.peak_mib()
    res["peak_rss_mib"] = ru.ru_maxrss / 1024
    if rc != 0 and status == "ok":
        lines = [l for l in text.splitlines() if l.strip()]
        res["status"] = "failed: " + (lines[-1] if lines else f"exit {rc}")
    man = os.path.join(outdir, "manifest.json")
    if os.path.isfile(man) and rc == 0:
        m = json.load(open(man))
        res.update(score_s=m["timings"]["score_s"], load_s=m["timings"]["load_s"], tokens_processed=m["tokens_processed"],
                   quipu_backend=m.get("backend"), dtype=m.get("config", {}).get("dtype"))
    else:  # partial: quipu's last progress line
        rates = re.findall(r"([0-9.]+) tokens/s", text)
        if rates:
            res["progress_tokens_per_s"] = float(rates[-1])
    res["records"] = read_journal(outdir)
    return res


def enumerate_items(qbin, tiny, datasets, mc, n_pairs, n_mc, tmp, threads):
    """The items (prompt + choices as scored) a config with these limits picks, from a run of the
    tiny model on the CPU backend with item_text: the text does not depend on the model."""
    tag = f"items-{n_pairs}-{n_mc}"
    out = os.path.join(tmp, tag)
    cfg = os.path.join(tmp, tag + ".yaml")
    write_config(cfg, "gpu-bench-items", tiny, datasets, mc, n_pairs, n_mc, "cpu", "auto", 4096, threads, True, out)
    r = run_quipu(qbin, cfg, out, 600, False, os.path.join(tmp, tag + ".log"))
    if r["status"] != "ok":
        raise RuntimeError(f"listing the items with the tiny model failed: {r['status']}")
    items = [json.loads(l) for l in read_zstd(os.path.join(out, "items.jsonl.zst")).decode("utf-8").splitlines() if l.strip()]
    return items


# ------------------------------------------------------------------ workers (child processes, with torch)

def worker_gemm(args):
    import torch
    res = {}
    if args.device == "cuda":
        dev = torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = False
        for dt, n, reps in ((torch.bfloat16, 8192, 20), (torch.float32, 8192, 4)):
            a = torch.randn(n, n, device=dev, dtype=dt)
            b = torch.randn(n, n, device=dev, dtype=dt)
            for _ in range(3):
                torch.matmul(a, b)
            torch.cuda.synchronize()
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            for _ in range(reps):
                torch.matmul(a, b)
            e1.record()
            torch.cuda.synchronize()
            res[str(dt).split(".")[-1]] = 2 * n ** 3 * reps / (e0.elapsed_time(e1) / 1e3)
            del a, b
        res["device_name"] = torch.cuda.get_device_name(0)
        res["cuda"] = torch.version.cuda
    else:
        torch.set_num_threads(args.threads)
        n = 1024  # fp32 only: both engines compute in fp32 on the CPU
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.matmul(a, b)
        best = 1e9
        for _ in range(5):
            t0 = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - t0)
        res["float32"] = 2 * n ** 3 / best
        res["device_name"] = cpu_name()
    res["torch"] = torch.__version__
    return res


def lm_eval_encode(tok, prefix_id, context, continuation):
    """(context ids, continuation ids) as lm-evaluation-harness's loglikelihood makes them."""
    if context == "":
        cont = tok.encode(continuation, add_special_tokens=False)
        return ([prefix_id], cont) if prefix_id != cont[0] else (cont[:1], cont[1:])
    n = len(context) - len(context.rstrip())
    if n:
        continuation = context[-n:] + continuation
        context = context[:-n]
    whole = tok.encode(context + continuation)
    ctx = tok.encode(context)
    return ctx, whole[len(ctx):]


def hf_score(model, torch, reqs, batch, device, softmax_dtype, track_memory):
    """lm-eval's _loglikelihood_tokens over (ctx ids, cont ids) requests; returns (sums, greedy,
    seconds, stats) in the requests' order."""
    import torch.nn.functional as F
    order = sorted(range(len(reqs)), key=lambda i: (-(len(reqs[i][0]) + len(reqs[i][1])), tuple(reqs[i][0] + reqs[i][1])))
    sums, greedy = [0.0] * len(reqs), [False] * len(reqs)
    stats = {"batches": 0, "padded_positions": 0, "input_positions": 0, "peak_batch_mib": 0.0, "peak_logits_mib": 0.0}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            inps = [(reqs[i][0] + reqs[i][1])[:-1] for i in idx]
            L = max(len(x) for x in inps)
            x = torch.zeros((len(idx), L), dtype=torch.long)
            for j, seq in enumerate(inps):
                x[j, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            x = x.to(device)
            if track_memory:
                base = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
            logits = model(x).logits
            lp = F.log_softmax(logits, dim=-1, dtype=softmax_dtype)
            # the continuation positions of every row: inplen - contlen .. inplen - 1
            bi, pi, ti, ri = [], [], [], []
            for j, i in enumerate(idx):
                cont, inplen = reqs[i][1], len(inps[j])
                for k, t in enumerate(cont):
                    bi.append(j)
                    pi.append(inplen - len(cont) + k)
                    ti.append(t)
                    ri.append(j)
            bi_t, pi_t = torch.tensor(bi, device=device), torch.tensor(pi, device=device)
            ti_t = torch.tensor(ti, device=device)
            sel = lp[bi_t, pi_t]                                   # [scored rows, vocab]
            tok_lp = sel.gather(1, ti_t[:, None])[:, 0].float()
            is_g = sel.argmax(dim=1) == ti_t
            tot = torch.zeros(len(idx), dtype=torch.float32, device=device).index_add_(0, torch.tensor(ri, device=device), tok_lp)
            miss = torch.zeros(len(idx), dtype=torch.float32, device=device).index_add_(
                0, torch.tensor(ri, device=device), (~is_g).float())
            tot, miss = tot.cpu().tolist(), miss.cpu().tolist()
            for j, i in enumerate(idx):
                sums[i], greedy[i] = tot[j], miss[j] == 0
            if track_memory:
                stats["peak_batch_mib"] = max(stats["peak_batch_mib"], (torch.cuda.max_memory_allocated() - base) / 2**20)
                stats["peak_total_mib"] = max(stats.get("peak_total_mib", 0.0), torch.cuda.max_memory_allocated() / 2**20)
            stats["peak_logits_mib"] = max(stats["peak_logits_mib"], (logits.numel() * logits.element_size() + lp.numel() * lp.element_size()) / 2**20)
            stats["batches"] += 1
            stats["padded_positions"] += len(idx) * L
            stats["input_positions"] += sum(len(s_) for s_ in inps)
            del logits, lp, sel
    sync()
    return sums, greedy, time.perf_counter() - t0, stats


def worker_hf(args):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    job = json.load(open(args.requests))
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtype = torch.bfloat16 if args.hf_dtype == "bf16" else torch.float32
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(args.model)
    kw = {"device_map": args.device} if dev.type == "cuda" else {}
    try:
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, **kw)
    except (TypeError, ValueError, ImportError):  # older transformers, or no accelerate for device_map
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=dtype)
    model = model.to(dev).eval()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    load_s = time.perf_counter() - t0
    prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    t0 = time.perf_counter()
    reqs = [lm_eval_encode(tok, prefix, c, x) for c, x in job["requests"]]
    tok_s = time.perf_counter() - t0
    track = dev.type == "cuda"
    weights_mib = torch.cuda.memory_allocated() / 2**20 if track else None
    if track:
        torch.cuda.reset_peak_memory_stats()
    sdt = None if args.softmax_dtype == "none" else getattr(torch, args.softmax_dtype)
    # a short warm-up (kernel selection, allocator) on the first batch's shapes, not timed
    hf_score(model, torch, reqs[: min(len(reqs), args.hf_batch)], args.hf_batch, dev, sdt, False)
    if track:
        torch.cuda.reset_peak_memory_stats()
    sums, greedy, secs, stats = hf_score(model, torch, reqs, args.hf_batch, dev, sdt, track)
    out = {"load_s": load_s, "tokenize_s": tok_s, "seconds": secs, "sums": sums, "greedy": greedy,
           "n_cont": [len(r[1]) for r in reqs], "n_ctx": [len(r[0]) for r in reqs], "stats": stats,
           "dtype": args.hf_dtype, "softmax_dtype": args.softmax_dtype, "batch": args.hf_batch,
           "attn": getattr(model.config, "_attn_implementation", "?"), "prefix_id": prefix,
           "version": f"transformers {transformers.__version__}, torch {torch.__version__}"}
    if track:
        out["peak_gpu_mib"] = stats["peak_total_mib"]
        out["weights_mib"] = weights_mib
    else:
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the exact reference: the same weights in fp32, TF32 off, on the check subset
    chk = job.get("check", [])
    if chk and dtype != torch.float32:
        model = model.float()
        s32, g32, secs32, _ = hf_score(model, torch, [reqs[i] for i in chk], args.hf_batch, dev, torch.float32, False)
        out["check"] = {"indices": chk, "sums": s32, "seconds": secs32}
    return out


WORKERS = {"gemm": worker_gemm, "hf": worker_hf}


def run_worker(args, kind, extra, timeout):
    cmd = [args.python, os.path.abspath(__file__), "--worker", kind, "--device", args.device,
           "--threads", str(args.threads)] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped at the {timeout:.0f} s cap"}
    if p.returncode != 0:
        lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
        return {"error": lines[-1] if lines else f"exit {p.returncode}", "stderr_tail": "\n".join(lines[-15:])}
    return json.loads(p.stdout)


# ------------------------------------------------------------------ comparison and report

def compare(items, reqs_of_item, quipu_recs, hf, key_of):
    """Per-request |Δ| of quipu against transformers, token counts, decisions per item."""
    d_max = d_tok_max = 0.0
    n_req = tok_diff = 0
    dec_same = dec_n = 0
    for it in items:
        rec = quipu_recs.get(key_of(it))
        if rec is None:
            continue
        ids = reqs_of_item[it["_k"]]
        if any(i not in hf for i in ids):
            continue
        q = rec["lp"]
        h = [hf[i][0] for i in ids]
        for j, i in enumerate(ids):
            n_req += 1
            d = abs(q[j] - h[j])
            d_max = max(d_max, d)
            d_tok_max = max(d_tok_max, d / max(1, rec["nt"][j]))
            if hf[i][1] is not None and hf[i][1] != rec["nt"][j]:
                tok_diff += 1
        dec_n += 1
        if it["kind"] == "pair":
            dec_same += (q[0] > q[1]) == (h[0] > h[1])
        else:
            dec_same += max(range(len(q)), key=lambda k: q[k]) == max(range(len(h)), key=lambda k: h[k])
    return {"requests": n_req, "max_abs": d_max, "max_abs_per_token": d_tok_max, "token_count_mismatches": tok_diff,
            "decisions_same": dec_same, "decisions": dec_n}


def fmt(x, spec=".1f", none="—"):
    return none if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quipu", default="")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--shapes", default="")
    ap.add_argument("--items", default="", help="SHAPE=PAIRS:MC_ITEMS,... (default tiny=300:40,1b=1508:120,8b=400:40)")
    ap.add_argument("--models", default="", help="folder for the random models (made there when absent)")
    ap.add_argument("--tokenizer", default="", help="passed to scripts/make-random-models.py")
    ap.add_argument("--datasets", default="")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch + transformers")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--hf-batch", type=int, default=0, help="requests per forward (default 32 on cuda, 16 on cpu)")
    ap.add_argument("--softmax-dtype", default="none", help="lm-eval's softmax_dtype: none (the logits' dtype), float32")
    ap.add_argument("--quipu-batch-tokens", type=int, default=0, help="default 8192 on cuda, 2048 on cpu")
    ap.add_argument("--quipu-dtype", default="", help="default: bf16 where the build has it, else f32 (cuda); auto (cpu)")
    ap.add_argument("--check-items", type=int, default=100, help="items scored again by transformers in fp32")
    ap.add_argument("--quipu-timeout", type=float, default=60, help="seconds per shape for quipu run (then SIGTERM)")
    ap.add_argument("--hf-timeout", type=float, default=150, help="seconds per shape for transformers, loading included")
    ap.add_argument("--budget", type=float, default=0, help="seconds for everything: the caps shrink to what is left, "
                    "a shape that cannot start is skipped, the report is always written (0: no budget)")
    ap.add_argument("--out", default="results/bench/gpu")
    ap.add_argument("--worker", default="")
    ap.add_argument("--requests", default="")
    ap.add_argument("--model", default="")
    ap.add_argument("--hf-dtype", default="", choices=("", "bf16", "f32"), help="default: bf16 on cuda, f32 on cpu")
    args = ap.parse_args()
    gpu = args.device == "cuda"
    args.hf_batch = args.hf_batch or (32 if gpu else 16)
    if args.worker:
        json.dump(WORKERS[args.worker](args), sys.stdout)
        return 0

    t_start = time.perf_counter()
    shapes = (args.shapes or ("1b,8b" if gpu else "tiny")).split(",")
    items_cfg = dict(DEFAULT_ITEMS)
    for part in filter(None, args.items.split(",")):
        s, v = part.split("=")
        a, b = v.split(":")
        items_cfg[s] = (int(a), int(b))
    qbin = os.path.abspath(args.quipu or os.path.join(ROOT, "build-gpu" if gpu else "build", "quipu"))
    if not os.access(qbin, os.X_OK):
        sys.exit(f"bench/gpu: no quipu binary at {qbin} (--quipu PATH)")
    datasets, mc = find_datasets(args.datasets)
    tmp = tempfile.mkdtemp(prefix="quipu-gpu-bench-")
    models_dir = os.path.abspath(args.models or os.path.join(tmp, "models"))
    hf_dtype = args.hf_dtype or ("bf16" if gpu else "f32")
    qversion = (subprocess.run([qbin, "--version"], capture_output=True, text=True).stdout.strip().splitlines() or ["?"])[0]
    qversion = qversion.split(" ", 1)[-1] if qversion.startswith("quipu ") else qversion

    # 1. the random models (the tiny one lists the items)
    t0 = time.perf_counter()
    need = sorted(set(shapes) | {"tiny"}, key=lambda s: ["tiny", "1b", "8b"].index(s) if s in ("tiny", "1b", "8b") else 9)
    made, made_err = {}, {}
    for s in need:
        cmd = [args.python, os.path.join(ROOT, "scripts", "make-random-models.py"), "--out", models_dir, "--shape", s,
               "--device", "cpu" if s == "tiny" or not gpu else "cuda"]
        if args.tokenizer:
            cmd += ["--tokenizer", args.tokenizer]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            made[s] = None
            made_err[s] = f"making the model failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}"
            log(f"model {s}: {made_err[s]}")
            continue
        made[s] = p.stdout.strip().splitlines()[-1]
        log(f"model {s}: {made[s]} {p.stderr.strip()}")
    if not made.get("tiny"):
        sys.exit(f"bench/gpu: {made_err['tiny']}")
    make_s = time.perf_counter() - t0

    # 2. bf16/f32 GEMM rates, in a process of their own
    gemm = run_worker(args, "gemm", [], 300)
    log(f"GEMM rates: {gemm}")

    results = {"device": args.device, "shapes": {}, "gemm": gemm, "quipu_version": qversion, "datasets": datasets,
               "mc_benchmark": mc, "make_models_s": make_s}
    all_ok = True

    def left():
        return args.budget - (time.perf_counter() - t_start) if args.budget else float("inf")

    def cap(seconds, share):
        """An engine's cap: its own, or `share` of what the budget has left (kept 15 s for the rest)."""
        return max(5.0, min(seconds, (left() - 15) * share))

    for s in shapes:
        n_pairs, n_mc = items_cfg[s]
        if left() < 45:
            results["shapes"][s] = {"skipped": f"{left():.0f} s of the --budget left"}
            log(f"{s}: skipped, {left():.0f} s of the budget left")
            all_ok = False
            continue
        mdir = made[s]
        if not mdir:
            results["shapes"][s] = {"skipped": made_err[s]}
            all_ok = False
            continue
        cfg = json.load(open(os.path.join(mdir, "config.json")))
        # 3. the items this shape's limits pick (sample: spread depends on the limit), their requests
        try:
            its = enumerate_items(qbin, made["tiny"], datasets, mc, n_pairs, n_mc, tmp, args.threads)
        except (RuntimeError, OSError, ValueError) as e:
            results["shapes"][s] = {"skipped": str(e)}
            all_ok = False
            continue
        log(f"{s}: {len(its)} items listed ({sum(it['kind'] == 'pair' for it in its)} pairs)")
        reqs, reqs_of_item = [], {}
        for k, it in enumerate(its):
            it["_k"] = k
            reqs_of_item[k] = list(range(len(reqs), len(reqs) + len(it["choices"])))
            reqs += [[it["prompt"], c] for c in it["choices"]]
        pairs = [it for it in its if it["kind"] == "pair"][: args.check_items]
        mcs = [it for it in its if it["kind"] != "pair"][: max(1, args.check_items // 10)]
        check = sorted(i for it in pairs + mcs for i in reqs_of_item[it["_k"]])
        sr = {"model": mdir, "params": n_params(cfg), "vocab": cfg["vocab_size"], "items": len(its), "requests": len(reqs),
              "pairs": sum(it["kind"] == "pair" for it in its), "mc_items": sum(it["kind"] != "pair" for it in its)}

        # quipu
        qd = args.quipu_dtype or ("bf16" if gpu else "auto")
        bt = args.quipu_batch_tokens or (8192 if gpu else 2048)
        qout = os.path.join(tmp, f"quipu-{s}")
        qcfg = os.path.join(tmp, f"quipu-{s}.yaml")
        for attempt in (qd, "f32"):
            write_config(qcfg, f"gpu-bench-{s}", mdir, datasets, mc, n_pairs, n_mc, "cuda" if gpu else "cpu", attempt, bt,
                         args.threads, False, qout)
            log(f"quipu {s}: dtype {attempt}, batch_tokens {bt}")
            q = run_quipu(qbin, qcfg, qout, cap(args.quipu_timeout, 0.4), gpu, os.path.join(tmp, f"quipu-{s}.log"))
            q["dtype_asked"] = attempt
            if not (q["status"].startswith("failed") and "dtype" in q["status"] and attempt != "f32"):
                break
            sr["quipu_dtype_note"] = q["status"]
        log(f"quipu {s}: {q['status']}, {fmt(q.get('score_s'), '.2f')} s scoring")
        q["config"] = config_text(f"gpu-bench-{s}", os.path.join("MODELS", os.path.basename(mdir)), "DATASETS", mc,
                                  n_pairs, n_mc, "cuda" if gpu else "cpu", q["dtype_asked"], bt, args.threads, False, "OUT")

        # transformers
        job = os.path.join(tmp, f"requests-{s}.json")
        json.dump({"requests": reqs, "check": check}, open(job, "w"))
        h = run_worker(args, "hf", ["--requests", job, "--model", mdir, "--hf-dtype", hf_dtype, "--hf-batch",
                                    str(args.hf_batch), "--softmax-dtype", args.softmax_dtype], cap(args.hf_timeout, 1.0))
        log(f"transformers {s}: {h.get('error') or format(h['seconds'], '.2f') + ' s'}")
        if "error" in h:
            all_ok = False

        # work and FLOPs
        fl_tok, fl_row = model_flops(cfg)
        n_scored = None
        if "error" not in h:
            n_in = sum(c + x - 1 for c, x in zip(h["n_ctx"], h["n_cont"]))
            n_scored = sum(h["n_cont"])
            h["flops"] = fl_tok * n_in + fl_row * n_in
            h["input_tokens"], h["scored_tokens"] = n_in, n_scored
        if "score_s" in q:
            q_scored = sum(sum(r["nt"]) for r in q["records"].values())
            q["scored_tokens"] = q_scored
            q["flops"] = fl_tok * q["tokens_processed"] + fl_row * q_scored
        # correctness
        key_of = lambda it: (it["benchmark"], it["id"])
        if "error" not in h and q["records"]:
            hf_map = {i: (h["sums"][i], h["n_cont"][i]) for i in range(len(reqs))}
            sr["cmp_bf16" if h["dtype"] != "f32" else "cmp_f32"] = compare(its, reqs_of_item, q["records"], hf_map, key_of)
            chk = h.get("check") if h["dtype"] != "f32" else None
            if chk:
                m32 = {i: (v, None) for i, v in zip(chk["indices"], chk["sums"])}
                sr["cmp_f32"] = compare([it for it in its if all(i in m32 for i in reqs_of_item[it["_k"]])],
                                        reqs_of_item, q["records"], m32, key_of)
            qdt = q.get("dtype") or q["dtype_asked"]
            if "cmp_f32" in sr and (qdt == "f32" or (qdt == "auto" and not gpu)):
                sr["cmp_f32"]["verdict"] = "PASS" if sr["cmp_f32"]["max_abs_per_token"] <= 1e-4 else "FAIL"
                all_ok &= sr["cmp_f32"]["verdict"] == "PASS"
            elif "cmp_f32" in sr and qdt in ("bf16", "f16"):  # issue 7's bar for quipu's reduced precision
                c = sr["cmp_f32"]
                c["verdict"] = "PASS" if c["max_abs"] <= 2e-2 and c["decisions_same"] >= 0.99 * c["decisions"] else "FAIL"
                all_ok &= c["verdict"] == "PASS"
        if q["status"] != "ok":
            all_ok = False
        q.pop("records", None)
        h.pop("sums", None)
        h.pop("greedy", None)
        h.pop("n_cont", None)
        h.pop("n_ctx", None)
        if "check" in h:
            h["check"].pop("sums", None)
            h["check"]["requests"] = len(h["check"].pop("indices", []))
        sr["quipu"], sr["transformers"] = q, h
        results["shapes"][s] = sr
    results["total_s"] = time.perf_counter() - t_start
    # no path of this machine in the files: the folders are named by their role
    subs = [(tmp, "TMP"), (models_dir, "MODELS"), (datasets, "DATASETS"), (ROOT + os.sep, ""), (ROOT, "."),
            (os.path.dirname(os.path.abspath(args.python)), "PYTHON_BIN"), (os.path.expanduser("~"), "~"),
            (os.path.dirname(qbin), "QUIPU_DIR"), (os.path.dirname(os.path.abspath(args.out)), "OUT_DIR")]
    subs.sort(key=lambda x: -len(x[0]))

    def scrub(t):
        for a, b in subs:
            t = t.replace(a, b)
        return t

    text = scrub(report(args, results))
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    open(args.out + ".md", "w").write(text)
    open(args.out + ".json", "w").write(scrub(json.dumps(results, indent=2, default=str)) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all_ok else 1


def report(args, R):
    gpu = R["device"] == "cuda"
    g = R["gemm"]
    peak16, peak32 = g.get("bfloat16"), g.get("float32")
    ref = peak16 if gpu else peak32  # MFU's denominator
    dev = g.get("device_name", "?")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = [f"# quipu vs transformers, lm-eval loglikelihood scoring, random Llama shapes, {'GPU' if gpu else 'CPU (test mode)'}", "",
         f"Run {when} on **{dev}**" + (f" ({gpu_query()})" if gpu else f", {args.threads} threads") + f"; quipu {R['quipu_version']}; "
         f"{next((s['transformers'].get('version') for s in R['shapes'].values() if s.get('transformers', {}).get('version')), 'transformers ?')}"
         + (f", CUDA {g.get('cuda')}" if gpu else "") + ".", "",
         (f"torch.matmul rate measured in this run: bf16 {fmt(peak16 and peak16 / 1e12, '.1f')} TFLOP/s, fp32 "
          f"{fmt(peak32 and peak32 / 1e12, '.1f')} TFLOP/s (TF32 off), 8192³. " if gpu else
          f"torch.matmul fp32 rate measured in this run: {fmt(peak32 and peak32 / 1e9, '.1f')} GFLOP/s, 1024³. ") +
         f"Random models made in {R['make_models_s']:.0f} s; whole benchmark {R['total_s']:.0f} s.", "",
         "Command: `" + " ".join(["python3", "bench/gpu.py"] + [a for a in sys.argv[1:]]) + "`", "",
         f"Work: CrowS-Pairs (en) sentences (empty context) + {R['mc_benchmark'] or 'no'} items in lm-eval mode, "
         f"from {'the demo subset' if R['datasets'].endswith(os.path.join('configs', 'demo')) else 'the datasets folder'}, "
         "`limit` + `sample: spread`.", "",
         "| shape | engine | dtype | requests | lm-eval input tokens | tokens through the model | seconds | input tokens/s | "
         f"scored tokens/s | quipu speed-up | MFU ({'bf16' if gpu else 'fp32'} GEMM rate) | peak memory (MiB) |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in R["shapes"].items():
        if "skipped" in r:
            L.append(f"| {s} | both | | | | | | | | | | skipped: {r['skipped']} |")
            continue
        q, h = r["quipu"], r["transformers"]
        n_in = h.get("input_tokens")
        hs, qs = h.get("seconds"), q.get("score_s")
        up = (hs / qs) if hs and qs else None
        if "error" in h:
            L.append(f"| {s} | transformers | {h.get('dtype', '?')} | {r['requests']} | | | | | | | | failed: {h['error']} |")
        else:
            mem = f"{h['peak_gpu_mib']:.0f} (weights {h['weights_mib']:.0f}; forward + log-softmax of one batch {h['stats']['peak_batch_mib']:.0f})" \
                if gpu else f"{h['peak_rss_mib']:.0f} RSS"
            L.append(f"| {s} | transformers (batch {h['batch']}, {h['attn']}) | {h['dtype']} | {r['requests']} | {n_in} | "
                     f"{h['stats']['input_positions']} (+{h['stats']['padded_positions'] - h['stats']['input_positions']} padding) | "
                     f"{hs:.2f} | {n_in / hs:.0f} | {h['scored_tokens'] / hs:.0f} | 1.00× | "
                     f"{fmt(ref and 100 * h['flops'] / hs / ref, '.1f')}% | {mem} |")
        if qs:
            mem = (f"{fmt(q.get('peak_gpu_mib'), '.0f')} ({q.get('peak_gpu_how')})" if gpu else f"{q['peak_rss_mib']:.0f} RSS")
            mfu32 = f", {100 * q['flops'] / qs / peak32:.1f}% of fp32" if gpu and peak32 and q.get("dtype") in ("f32", "auto") else ""
            L.append(f"| {s} | quipu ({q.get('quipu_backend')}, batch_tokens {args.quipu_batch_tokens or (8192 if gpu else 2048)}) | "
                     f"{q.get('dtype')} | {r['requests']} | {fmt(n_in, 'd')} | {q['tokens_processed']} | {qs:.2f} | "
                     f"{fmt(n_in and n_in / qs, '.0f')} | {q['scored_tokens'] / qs:.0f} | {fmt(up, '.2f')}× | "
                     f"{fmt(ref and 100 * q['flops'] / qs / ref, '.1f')}%{mfu32} | {mem} |")
        else:
            extra = f"; its last progress line: {q['progress_tokens_per_s']:.0f} tokens/s" if q.get("progress_tokens_per_s") else ""
            L.append(f"| {s} | quipu | {q.get('dtype_asked')} | {r['requests']} | | | | | | | | {q['status']}{extra} |")
    L += ["", "## Agreement (per request: the sum of the continuation's log-probs)", "",
          "| shape | quipu vs | requests | max abs Δ | max abs Δ per token | token counts differing | same decisions (pair order, MC argmax) |",
          "|---|---|---|---|---|---|---|"]
    for s, r in R["shapes"].items():
        if "skipped" in r:
            continue
        f32_all = r["transformers"].get("dtype") == "f32"
        for key, what in (("cmp_bf16", f"transformers {r['transformers'].get('dtype', '?')} (all)"),
                          ("cmp_f32", "transformers fp32 (all)" if f32_all else "transformers fp32, TF32 off (check subset)")):
            c = r.get(key)
            if not c:
                continue
            tc = "—" if key == "cmp_f32" and not f32_all else str(c["token_count_mismatches"])
            v = f" **{c['verdict']}**" if "verdict" in c else ""
            L.append(f"| {s} | {what} | {c['requests']} | {c['max_abs']:.2e} | {c['max_abs_per_token']:.2e}{v} | {tc} | "
                     f"{c['decisions_same']}/{c['decisions']} ({100 * c['decisions_same'] / max(1, c['decisions']):.1f}%) |")
        if r.get("quipu_dtype_note"):
            L.append(f"| {s} | note | | | | | quipu refused the dtype first asked: {r['quipu_dtype_note']} |")
    L += ["", "## How to read it", "",
          "- Same work for both: the requests of the same items; *lm-eval input tokens* is Σ(context + continuation − 1) "
          "over requests, what lm-evaluation-harness runs through the model; the speed-up is transformers' seconds over "
          "quipu's. quipu runs fewer *tokens through the model* because a BBQ prompt is computed once for its choices.",
          "- quipu's seconds are manifest.json's score_s (tokenizing included, loading excluded); transformers' exclude "
          "loading and tokenizing and follow a warm-up batch.",
          "- MFU: model FLOPs each engine needed (2 × layer parameters per token through the model, 2 × hidden × vocab per "
          "LM-head row: every input position for transformers, the scored rows for quipu; attention products excluded) "
          "over its seconds, against the torch.matmul rate above"
          + (": bf16 (and fp32 for an engine that computed in f32)." if gpu else ": fp32, what both compute in on the CPU."),
          "- Peak memory: transformers' torch.cuda.max_memory_allocated over the timed pass (weights included, CUDA "
          "context not); quipu's sampled by nvidia-smi every 0.2 s (CUDA context included)." if gpu else
          "- Peak memory: each engine's own process's maximum RSS.",
          "- Agreement: the fp32 check is the exact one: quipu in f32 must be within 1e-4 per token on average over each "
          "request, quipu in bf16 within 2e-2 per request with ≥ 99% of decisions the same (PASS/FAIL); against bf16 "
          "transformers (lm-eval's log_softmax in bf16) the differences are mostly bf16's rounding: reported, not judged.",
          f"- Models: scripts/make-random-models.py (seeded random bf16 weights, real shapes: "
          + "; ".join(f"{s}: {r['params'] / 1e9:.2f}B parameters, vocab {r['vocab']}" for s, r in R["shapes"].items()
                      if "params" in r) + ")."]
    for s, r in R["shapes"].items():
        if "skipped" in r:
            continue
        L += ["", f"quipu config ({s}; MODELS: --models, DATASETS: the datasets folder):", "```yaml", r["quipu"]["config"].rstrip(), "```"]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
