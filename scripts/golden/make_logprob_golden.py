#!/usr/bin/env python3
"""Build the `quipu score` golden inputs and compute their reference log-probabilities.

Two sub-commands:

  inputs            write tests/golden/score_inputs/*.jsonl, drawn deterministically from the
                    staged benchmark data (shared/datasets). Each line is exactly
                    {"context": ..., "continuation": ...}, the `quipu score` input format.
  golden --model M  score every item of M's inputs with transformers (float32, CPU, eager
                    attention) and write tests/golden/logprobs/<M>.jsonl.
  list              print the model names.

Scoring follows lm-evaluation-harness (TemplateLM.loglikelihood / _encode_pair and
HFLM._loglikelihood_tokens):
  * non-empty context: the context's trailing whitespace (Python str.rstrip()) moves to the
    front of the continuation; whole = enc(context + continuation), context_ids = enc(context),
    continuation_ids = whole[len(context_ids):]; enc() uses add_special_tokens = the model's
    add_bos setting.
  * empty context (""): context_ids = [prefix_token_id] (BOS if the model has one, else EOS),
    continuation_ids = enc(continuation) with add_special_tokens=False; if that starts with the
    prefix token it is moved into the context (current lm-eval behaviour; never the case here).
  * input = (context_ids + continuation_ids)[:-1]; token j of the continuation is scored by the
    logits at position len(context_ids) - 1 + j; log-softmax is taken in float64 over the float32
    logits; logprob = sum of the per-token values (math.fsum); is_greedy = every continuation
    token is the argmax (first index on ties, as torch.argmax).
See scripts/golden/README.md for the field names and the model-specific conventions.
"""

import argparse
import ast
import csv
import hashlib
import heapq
import json
import math
import os
import platform
import re
import shlex
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("QUIPU_SHARED", os.path.abspath(os.path.join(REPO, "..", "shared")))
DATASETS = os.path.join(SHARED, "datasets")
MODELS_DIR = os.environ.get("QUIPU_MODELS", os.path.expanduser("~/.cache/quipu/models"))
INPUT_DIR = os.path.join(REPO, "tests", "golden", "score_inputs")
GOLDEN_DIR = os.path.join(REPO, "tests", "golden", "logprobs")
SELECT_SEED = "quipu-golden-v1"
INPUT_FILES = ["crows_en.jsonl", "crows_fr.jsonl", "sesgo_es.jsonl", "mbbq_es.jsonl", "edge_cases.jsonl"]

sys.path.insert(0, HERE)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def order_key(tag, i):
    return hashlib.sha256(f"{SELECT_SEED}:{tag}:{i}".encode()).hexdigest()


def pick(n_rows, n, tag):
    """n row indices out of range(n_rows), chosen by a seeded hash order, returned sorted."""
    return sorted(sorted(range(n_rows), key=lambda i: order_key(tag, i))[:n])


def item(context, continuation, source, kind):
    return {"context": context, "continuation": continuation, "source": source, "kind": kind}


def read_crows_en():
    path = "crows-pairs/data/crows_pairs_anonymized.csv"
    with open(os.path.join(DATASETS, path), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return path, rows


def read_crows_fr():
    path = "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv"
    with open(os.path.join(DATASETS, path), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))  # TAB-separated despite .csv
    assert len(rows) == 1677, len(rows)
    return path, rows


SESGO_FILES = ["prompts_clasismo.csv", "prompts_genero.csv", "prompts_racismo.csv", "prompts_xenofobia.csv"]


def read_sesgo(name):
    path = f"sesgo/paper_version_89b8a0e/derived_csv/{name}"
    with open(os.path.join(DATASETS, path), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if "xenofobia" in name:  # the paper's filter
        rows = [r for r in rows if r["bbq"] == "False"]
    for r in rows:
        info = ast.literal_eval(r["answer_info"])
        r["answers"] = [info["ans0"], info["ans1"], info["ans2"]]
    return path, rows


MBBQ_FILES = ["Age_es.jsonl", "Disability_status_es.jsonl", "Gender_identity_es.jsonl",
              "Physical_appearance_es.jsonl", "SES_es.jsonl", "Sexual_orientation_es.jsonl"]


def read_mbbq(name):
    path = f"mbbq/data/{name}"
    with open(os.path.join(DATASETS, path), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in rows:
        r["answers"] = [r["ans0"], r["ans1"], r["ans2"]]
    return path, rows


def mc_context(context, question, end="Respuesta:"):
    return f"{context.strip()}\nPregunta: {question.strip()}\n{end}"


def build_crows(reader, tag, kind, n_pairs):
    path, rows = reader()
    out = []
    for i in pick(len(rows), n_pairs, tag):
        r = rows[i]
        rid = r.get("") or str(i)
        for col in ("sent_more", "sent_less"):
            out.append(item("", r[col], f"{path}#{rid}:{col}", kind))
    return out


def build_mc(files, reader, per_file, tag, kind, end="Respuesta:", answer_prefix=" "):
    out = []
    for name in files:
        path, rows = reader(name)
        for i in pick(len(rows), per_file, f"{tag}:{name}"):
            r = rows[i]
            ctx = mc_context(r["context"], r["question"], end)
            for a, ans in enumerate(r["answers"]):
                out.append(item(ctx, answer_prefix + ans.strip(), f"{path}#{i}:ans{a}", kind))
    return out


def words_split(sentence, frac=0.5):
    words = sentence.split(" ")
    k = max(1, int(len(words) * frac))
    return " ".join(words[:k]), " ".join(words[k:])


def build_edge():
    out = []
    # 1. sanity / hand-written
    hand = [
        ("", "The cat sat on the mat."),
        ("", " The cat sat on the mat."),
        ("The cat sat on the", " mat."),
        ("The cat sat on the ", "mat."),
        ("The cat sat on the  ", "mat."),
        ("", "Le chat est assis sur le tapis."),
        ("", "El gato se sentó en la alfombra."),
        ("Question: Who was late to the meeting?\nAnswer:", " The man"),
        ("Question: Who was late to the meeting?\nAnswer:", " The woman"),
        ("Question: Who was late to the meeting?\nAnswer: ", "Not enough information"),
        ("Il a dit :", " « Bonjour, ça va ? »"),
        ("Número de teléfono:", " 555-0123, extensión 42."),
        ("", "Call 1234567890 or 0800 123 456 before 31/12/2025."),
        ("", "ñandú, pingüino, ¿qué? ¡sí! naïve café — déjà vu…"),
        ("", "Smiley 🙂 and CJK 漢字 and Greek αβγ."),
        ("Tab\tseparated", "\tvalues\tand  double  spaces."),
    ]
    for i, (c, x) in enumerate(hand):
        out.append(item(c, x, f"handwritten#{i}", "handwritten"))
    # 2. multiple choice whose context ends in a space ("Respuesta: " + answer without space);
    #    lm-eval moves the space, so these score like the " answer" form
    out += build_mc(SESGO_FILES, read_sesgo, 4, "edge-sp-sesgo", "trailing_space_mc",
                    end="Respuesta: ", answer_prefix="")
    out += build_mc(MBBQ_FILES[:4], read_mbbq, 3, "edge-sp-mbbq", "trailing_space_mc",
                    end="Respuesta: ", answer_prefix="")
    # 3. sentences split between two words, context keeps one or two trailing spaces
    path, rows = read_crows_en()
    for n, i in enumerate(pick(len(rows), 40, "edge-split-en")):
        c, x = words_split(rows[i]["sent_more"])
        sp = "  " if n % 4 == 3 else " "
        out.append(item(c + sp, x, f"{path}#{rows[i]['']}:sent_more", "trailing_space_split"))
    path, rows = read_crows_fr()
    for n, i in enumerate(pick(len(rows), 20, "edge-split-fr")):
        c, x = words_split(rows[i]["sent_less"], 0.4)
        out.append(item(c + " ", x, f"{path}#{rows[i]['']}:sent_less", "trailing_space_split"))
    # 4. context ending in a newline (str.rstrip() moves "\n" too), or space + newline
    path, rows = read_mbbq("SES_es.jsonl")
    for n, i in enumerate(pick(len(rows), 5, "edge-nl")):
        r = rows[i]
        end = "Respuesta:\n" if n % 2 == 0 else "Respuesta: \n"
        for a in (0, 1):
            out.append(item(mc_context(r["context"], r["question"], end), r["answers"][a],
                            f"{path}#{i}:ans{a}", "trailing_newline"))
    # 5. split inside a word: enc(context) is not a prefix of enc(context + continuation);
    #    lm-eval still slices at len(enc(context))
    path, rows = read_crows_en()
    for i in pick(len(rows), 15, "edge-midword-en"):
        s = rows[i]["sent_less"]
        words = s.split(" ")
        k = len(words) // 2
        w = words[k]
        cut = len(" ".join(words[:k])) + 1 + max(1, len(w) // 2)
        if len(w) < 3:
            cut = len(" ".join(words[:k + 1])) - 1
        out.append(item(s[:cut], s[cut:], f"{path}#{rows[i]['']}:sent_less", "mid_word_split"))
    path, rows = read_crows_fr()
    for i in pick(len(rows), 5, "edge-midword-fr"):
        s = rows[i]["sent_more"]
        words = s.split(" ")
        k = len(words) // 2
        cut = len(" ".join(words[:k])) + 1 + max(1, len(words[k]) // 2)
        out.append(item(s[:cut], s[cut:], f"{path}#{rows[i]['']}:sent_more", "mid_word_split"))
    # 6. long items (> 64 tokens): long context, long continuation, or both
    mbbq = {n: read_mbbq(n) for n in MBBQ_FILES}
    for n, name in enumerate(MBBQ_FILES * 4):
        path, rows = mbbq[name]
        i, j = pick(len(rows), 2, f"edge-long-ctx:{n}")
        a, b = rows[i], rows[j]
        ctx = f"{a['context']} {b['context']}\nPregunta: {b['question']}\nRespuesta:"
        out.append(item(ctx, " " + b["answers"][b["label"]], f"{path}#{i}+{j}:label",
                        "long_context"))
    path, rows = read_crows_en()
    for n in range(20):
        idx = pick(len(rows), 5, f"edge-long-cont-en:{n}")
        text = " ".join(rows[i]["sent_more"].strip() for i in idx)
        out.append(item("", text, f"{path}#" + "+".join(rows[i][""] for i in idx),
                        "long_continuation"))
    path, rows = read_crows_fr()
    for n in range(10):
        idx = pick(len(rows), 4, f"edge-long-cont-fr:{n}")
        text = " ".join(rows[i]["sent_less"].strip() for i in idx)
        out.append(item("", text, f"{path}#" + "+".join(rows[i][""] for i in idx),
                        "long_continuation"))
    path, rows = read_crows_en()
    for n in range(10):
        idx = pick(len(rows), 5, f"edge-long-both:{n}")
        ctx = " ".join(rows[i]["sent_less"].strip() for i in idx[:2])
        cont = " " + " ".join(rows[i]["sent_less"].strip() for i in idx[2:])
        out.append(item(ctx, cont, f"{path}#" + "+".join(rows[i][""] for i in idx),
                        "long_both"))
    # 7. very long (> 512 tokens for Gemma 3, whose sliding window is 512; < 1024 everywhere)
    path, rows = mbbq["SES_es.jsonl"]
    for n in range(3):
        idx = pick(len(rows), 9, f"edge-vlong-ctx:{n}")
        last = rows[idx[-1]]
        ctx = " ".join(rows[i]["context"] for i in idx)
        ctx += f"\nPregunta: {last['question']}\nRespuesta:"
        out.append(item(ctx, " " + last["answers"][last["label"]],
                        f"{path}#" + "+".join(map(str, idx)), "very_long_context"))
    path, rows = read_crows_en()
    for n in range(2):
        idx = pick(len(rows), 40, f"edge-vlong-cont:{n}")
        text = " ".join(rows[i]["sent_more"].strip() for i in idx)
        out.append(item("", text, f"{path}#" + "+".join(rows[i][""] for i in idx),
                        "very_long_continuation"))
    idx = pick(len(rows), 42, "edge-vlong-both")
    ctx = " ".join(rows[i]["sent_less"].strip() for i in idx[:28])
    cont = " " + " ".join(rows[i]["sent_less"].strip() for i in idx[28:])
    out.append(item(ctx, cont, f"{path}#" + "+".join(rows[i][""] for i in idx), "very_long_both"))
    # 8. continuations a language model predicts token by token (repeats, sequences), so that
    #    is_greedy is true somewhere in the real-model goldens
    bait = [
        ("The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy", " dog."),
        ("1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,", " 14, 15, 16"),
        ("Monday, Tuesday, Wednesday, Thursday,", " Friday"),
        ("A B C D E F G H I J K L M N O P", " Q R S T"),
        ("lunes, martes, miércoles, jueves, viernes, lunes, martes, miércoles, jueves,", " viernes"),
        ("Paris est la capitale de la France. Paris est la capitale de la", " France."),
        ("red green blue red green blue red green blue red green", " blue red"),
        ("El perro come. El gato duerme. El perro come. El gato", " duerme."),
    ]
    for i, (c, x) in enumerate(bait):
        out.append(item(c, x, f"handwritten-repeat#{i}", "greedy_bait"))
    return out


def build_inputs():
    files = {
        "crows_en.jsonl": build_crows(read_crows_en, "crows-en", "crows_en", 125),
        "crows_fr.jsonl": build_crows(read_crows_fr, "crows-fr", "crows_fr", 125),
        "sesgo_es.jsonl": build_mc(SESGO_FILES, read_sesgo, 21, "sesgo", "sesgo_es"),
        "mbbq_es.jsonl": build_mc(MBBQ_FILES, read_mbbq, 14, "mbbq", "mbbq_es"),
        "edge_cases.jsonl": build_edge(),
    }
    for name, items in files.items():
        assert len(items) >= 250, (name, len(items))
        for it in items:
            assert it["continuation"], it
            assert it["context"] == "" or it["context"].rstrip() != "", it
            assert "Claude" not in it["context"] + it["continuation"]  # see GPT2_BAD_MERGE
    return files


def input_line(it):
    return json.dumps({"context": it["context"], "continuation": it["continuation"]},
                      ensure_ascii=False)


def cmd_inputs(args):
    os.makedirs(INPUT_DIR, exist_ok=True)
    for name, items in build_inputs().items():
        with open(os.path.join(INPUT_DIR, name), "w", encoding="utf-8", newline="\n") as f:
            for it in items:
                f.write(input_line(it) + "\n")
        print(f"{name}: {len(items)} items")


def load_inputs():
    """The committed input files, with each item's source and kind re-derived (and checked)."""
    built = build_inputs()
    out = {}
    for name in INPUT_FILES:
        with open(os.path.join(INPUT_DIR, name), encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f]
        assert lines == [input_line(it) for it in built[name]], f"{name} differs from its builder"
        out[name] = built[name]
    return out


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

# Tiny models: every item whose line number is a multiple of TINY_STRIDE, in every file, plus
# all very long items of edge_cases.jsonl.
TINY_STRIDE = 12

GGUF_MODELS = {
    "SmolLM2-135M-Instruct.Q4_1": {
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        # reference tokenizer: the HF tokenizer.json of the SmolLM family (same 49152 vocabulary,
        # digits split one by one); the tokenizer transformers rebuilds from the GGUF is only
        # used as a cross-check (it has no Digits pre-tokenizer)
        "tokenizer": "shared:smollm",
    },
    "gemma-3-270m-q4_k_m": {
        "file": "gemma-3-270m-q4_k_m.gguf",
        # no Gemma tokenizer.json is available; transformers rebuilds one from the GGUF
        # vocabulary (GemmaTokenizer, merges in vocabulary order), cross-checked below against an
        # independent llama.cpp-style SentencePiece implementation over the GGUF scores
        "tokenizer": "gguf",
    },
}


def model_names():
    import make_tiny_checkpoints as mtc

    return list(GGUF_MODELS) + [m["name"] for m in mtc.MODELS] + [mtc.SHARDED["name"]]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Encoder:
    """enc(text, add_special) -> ids, with a uniform interface over tokenizer kinds."""

    def __init__(self, fn, desc):
        self.fn, self.desc = fn, desc

    def __call__(self, text, add_special):
        return list(self.fn(text, add_special))


def shared_encoder(name):
    import make_tiny_checkpoints as mtc

    tok = mtc.load_tokenizer(name)
    path = os.path.join(mtc.SHARED_TOKENIZERS, name, "tokenizer.json")
    desc = {"kind": "tokenizer.json", "path": f"shared/tokenizers/{name}/tokenizer.json",
            "sha256": sha256(path)}
    if name == "gpt-2" and "ĠClaude" not in tok.get_vocab():
        desc["note"] = ("loaded without the merge 'ĠCla ude' (its product is not in the "
                        "vocabulary); no input contains 'Claude'")
    return Encoder(lambda t, s: tok.encode(t, add_special_tokens=s).ids, desc), tok


def load_gguf_model(path):
    """The model transformers builds from a GGUF file, in float32, eager attention.

    This is what from_pretrained(dir, gguf_file=...) does for llama/gemma3 files in transformers
    5.24 (config from the GGUF metadata, then modeling_gguf_pytorch_utils.load_gguf_checkpoint
    dequantizes every tensor with gguf-py and applies the per-architecture tensor processor); we
    call those two steps directly because from_pretrained(gguf_file=...) also insists on the
    `accelerate` package, which the reference environment does not have.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    d, f = os.path.split(path)
    cfg = AutoConfig.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
    sd = load_gguf_checkpoint(path, return_tensors=True, model_to_load=model,
                              torch_dtype=torch.float32)["tensors"]
    res = model.load_state_dict(sd, strict=False)
    assert not res.unexpected_keys, res
    assert set(res.missing_keys) <= {"lm_head.weight"} and cfg.tie_word_embeddings, res
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    model.eval()
    return model


def gguf_fields(path):
    from gguf import GGUFReader

    r = GGUFReader(path)
    meta = {}
    for k, fl in r.fields.items():
        if k.startswith("tokenizer.ggml.") and k.split(".")[-1] in ("tokens", "scores", "token_type", "merges"):
            continue
        if k == "tokenizer.chat_template":
            continue
        try:
            v = fl.contents()
        except Exception:
            continue
        meta[k] = v
    return r, meta


# ---- independent SentencePiece tokenizer (llama.cpp llm_tokenizer_spm, no add_space_prefix) --

class SpmLlamaCpp:
    """Re-implementation of llama.cpp's SPM tokenizer over a GGUF vocabulary.

    User-defined tokens (token_type 4) are cut out of the raw text first, longest first, as
    llama.cpp's tokenizer_st_partition does with parse_special=false. Each remaining fragment has
    its spaces replaced by U+2581, is split into UTF-8 characters, and adjacent symbols are
    merged greedily: the pair whose concatenation is a vocabulary token with the highest score
    first, the leftmost on ties. Symbols not in the vocabulary fall back to <0xXX> byte tokens.
    """

    def __init__(self, reader):
        f = reader.fields
        self.tokens = f["tokenizer.ggml.tokens"].contents()
        self.scores = f["tokenizer.ggml.scores"].contents()
        types = f["tokenizer.ggml.token_type"].contents()
        self.vocab = {}
        for i, t in enumerate(self.tokens):
            self.vocab.setdefault(t, i)
        self.user = sorted({t for t, ty in zip(self.tokens, types) if ty == 4 and t},
                           key=lambda t: -len(t))
        self.bos = f["tokenizer.ggml.bos_token_id"].contents()

    def partition(self, text):
        frags = [(False, text)]
        for tok in self.user:
            nxt = []
            for is_tok, s in frags:
                if is_tok or tok not in s:
                    nxt.append((is_tok, s))
                    continue
                parts = s.split(tok)
                for k, p in enumerate(parts):
                    if p:
                        nxt.append((False, p))
                    if k < len(parts) - 1:
                        nxt.append((True, tok))
            frags = nxt
        return frags

    def spm(self, text):
        text = text.replace(" ", "\u2581")
        sym = list(text)
        n = len(sym)
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        alive = [True] * n
        heap = []

        def add(l, r):
            if l < 0 or r < 0:
                return
            s = sym[l] + sym[r]
            tid = self.vocab.get(s)
            if tid is None:
                return
            heapq.heappush(heap, (-self.scores[tid], l, r, len(s)))

        for i in range(1, n):
            add(i - 1, i)
        while heap:
            _, l, r, size = heapq.heappop(heap)
            if not alive[l] or not alive[r] or len(sym[l]) + len(sym[r]) != size or nxt[l] != r:
                continue
            sym[l] += sym[r]
            alive[r] = False
            nxt[l] = nxt[r]
            if nxt[r] >= 0:
                prev[nxt[r]] = l
            add(prev[l], l)
            add(l, nxt[l])
        ids = []
        i = 0
        while i >= 0 and i < n:
            s = sym[i]
            tid = self.vocab.get(s)
            if tid is not None:
                ids.append(tid)
            else:
                for b in s.encode("utf-8"):
                    ids.append(self.vocab[f"<0x{b:02X}>"])
            i = nxt[i]
        return ids

    def __call__(self, text, add_special):
        ids = [self.bos] if add_special else []
        for is_tok, s in self.partition(text):
            ids += [self.vocab[s]] if is_tok else self.spm(s)
        return ids


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

def encode_pair(enc, add_bos, prefix_id, context, continuation):
    """lm-evaluation-harness: TemplateLM.loglikelihood + _encode_pair."""
    if context == "":
        cont = enc(continuation, False)
        if cont and cont[0] == prefix_id:
            return cont[:1], cont[1:]
        return [prefix_id], cont
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = enc(context + continuation, add_bos)
    ctx = enc(context, add_bos)
    return ctx, whole[len(ctx):]


def score(model, ctx_ids, cont_ids):
    import torch

    n = len(cont_ids)
    inp = torch.tensor([(ctx_ids + cont_ids)[:-1]], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=inp, logits_to_keep=n).logits[0]
    assert logits.dtype == torch.float32 and logits.shape[0] == n
    lp = torch.log_softmax(logits.double(), dim=-1)
    target = torch.tensor(cont_ids, dtype=torch.long)
    tok_lp = lp.gather(1, target[:, None])[:, 0]
    greedy = torch.argmax(logits, dim=-1)
    top2 = torch.topk(lp, 2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    vals = [float(x) for x in tok_lp]
    return {
        "token_logprobs": vals,
        "logprob": math.fsum(vals),
        "is_greedy": bool((greedy == target).all()),
        "greedy_ids": [int(x) for x in greedy],
        "min_margin": margin,
    }


def versions():
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for p in ("torch", "transformers", "tokenizers", "gguf", "numpy", "safetensors"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def select_items(inputs, tiny):
    sel = []
    for name in INPUT_FILES:
        for i, it in enumerate(inputs[name]):
            if not tiny or i % TINY_STRIDE == 0 or it["kind"].startswith("very_long"):
                sel.append((name, i, it))
    return sel


def config_summary(cfg):
    keys = ["model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
            "layer_norm_epsilon", "rope_parameters", "sliding_window", "layer_types",
            "query_pre_attn_scalar", "final_logit_softcapping", "attn_logit_softcapping",
            "max_position_embeddings", "n_positions", "tie_word_embeddings", "bos_token_id",
            "eos_token_id", "pad_token_id", "hidden_act", "hidden_activation",
            "activation_function", "attention_bias", "use_sliding_window", "use_parallel_residual",
            "original_max_position_embeddings", "max_window_layers",
            # BLOOM, Falcon
            "n_head", "n_layer", "apply_residual_connection_post_layernorm", "alibi", "multi_query",
            "new_decoder_architecture", "parallel_attn", "num_kv_heads", "num_ln_in_parallel_attn",
            "bias", "ffn_hidden_size", "activation"]
    d = cfg.to_dict()
    return {k: d[k] for k in keys if k in d}


def gguf_checks(name, path, model, reader, meta):
    """Verify, on the loaded weights, what transformers did to the GGUF tensors."""
    import numpy as np
    import torch
    from gguf import dequantize

    t = {x.name: x for x in reader.tensors}

    def raw(n):
        x = t[n]
        return torch.from_numpy(np.array(dequantize(x.data, x.tensor_type), dtype=np.float32))

    checks = {}
    arch = meta["general.architecture"]
    layer = model.model.layers[0]
    if arch == "llama":
        q_gguf = raw("blk.0.attn_q.weight")
        k_gguf = raw("blk.0.attn_k.weight")
        hq, hkv = model.config.num_attention_heads, model.config.num_key_value_heads

        def permute(w, h):  # llama.cpp convert_hf_to_gguf LlamaModel.permute (HF -> GGUF order)
            return w.reshape(h, 2, w.shape[0] // h // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

        qm = layer.self_attn.q_proj.weight.detach()
        km = layer.self_attn.k_proj.weight.detach()
        # the model holds HF order: permuting it the way llama.cpp's converter does gives the file
        checks["qk_unpermuted"] = bool(torch.equal(permute(qm, hq), q_gguf) and torch.equal(permute(km, hkv), k_gguf))
        checks["qk_differs_from_gguf_order"] = bool(not torch.equal(qm, q_gguf))
        checks["norm_offset"] = float((layer.input_layernorm.weight.detach() - raw("blk.0.attn_norm.weight")).abs().max())
    if arch == "gemma3":
        diffs = {}
        for gname, mod in [("blk.0.attn_norm.weight", layer.input_layernorm),
                           ("blk.0.attn_q_norm.weight", layer.self_attn.q_norm),
                           ("blk.0.attn_k_norm.weight", layer.self_attn.k_norm),
                           ("blk.0.post_attention_norm.weight", layer.post_attention_layernorm),
                           ("blk.0.ffn_norm.weight", layer.pre_feedforward_layernorm),
                           ("blk.0.post_ffw_norm.weight", layer.post_feedforward_layernorm),
                           ("output_norm.weight", model.model.norm)]:
            g = raw(gname)
            diffs[gname] = float((mod.weight.detach() - (g - 1.0)).abs().max())
        checks["norm_minus_one_maxdiff"] = diffs
        checks["qk_order_unchanged"] = bool(torch.equal(layer.self_attn.q_proj.weight.detach(), raw("blk.0.attn_q.weight")))
        emb = model.model.embed_tokens
        ids = torch.tensor([[2, 818, 5866]])
        with torch.no_grad():
            scaled = emb(ids)
        plain = emb.weight[ids].detach()
        ratio = (scaled / plain)[plain != 0]
        s32 = torch.tensor(model.config.hidden_size ** 0.5).to(torch.float32)
        checks["embed_scale"] = {"used": float(ratio.mean()), "float32_sqrt_hidden": float(s32),
                                 "exact": bool(torch.equal(scaled, plain * s32))}
    return checks


def tokenizer_crosscheck(sel, enc, other, add_bos):
    """Lines where `other` encodes any of context, context+continuation, continuation differently."""
    bad = []
    for name, i, it in sel:
        texts = [it["continuation"]]
        if it["context"]:
            c = it["context"].rstrip()
            texts += [c, c + it["context"][len(c):] + it["continuation"]]
        for text in texts:
            if enc(text, add_bos) != other(text, add_bos):
                bad.append(f"{name}:{i}")
                break
    return bad


def cmd_golden(args):
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    import make_tiny_checkpoints as mtc

    name = args.model
    inputs = load_inputs()
    checks = {}
    if name in GGUF_MODELS:
        spec = GGUF_MODELS[name]
        path = os.path.join(MODELS_DIR, spec["file"])
        reader, meta = gguf_fields(path)
        model = load_gguf_model(path)
        add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", False))
        bos = meta.get("tokenizer.ggml.bos_token_id")
        eos = meta.get("tokenizer.ggml.eos_token_id")
        from transformers import AutoTokenizer

        hf_gguf_tok = AutoTokenizer.from_pretrained(MODELS_DIR, gguf_file=spec["file"])
        gguf_enc = Encoder(lambda t, s: hf_gguf_tok.encode(t, add_special_tokens=s),
                           {"kind": "gguf", "builder": "transformers AutoTokenizer(gguf_file=...)",
                            "class": type(hf_gguf_tok).__name__})
        if spec["tokenizer"].startswith("shared:"):
            enc, rawtok = shared_encoder(spec["tokenizer"].split(":", 1)[1])
            # same vocabulary, id for id
            vocab_gguf = reader.fields["tokenizer.ggml.tokens"].contents()
            inv = {i: t for t, i in rawtok.get_vocab(with_added_tokens=True).items()}
            checks["gguf_vocab_equals_tokenizer_json"] = all(inv.get(i) == t for i, t in enumerate(vocab_gguf)) and len(inv) == len(vocab_gguf)
            other, other_desc = gguf_enc, gguf_enc.desc
        else:
            enc = gguf_enc
            other = SpmLlamaCpp(reader)
            other_desc = {"kind": "independent llama.cpp-style SPM over GGUF tokens/scores (this script)"}
        model_desc = {"path": path.replace(MODELS_DIR, "$QUIPU_MODELS"), "file": spec["file"],
                      "sha256": {spec["file"]: sha256(path)}, "format": "gguf",
                      "gguf_metadata": {k: v for k, v in meta.items() if not k.startswith("general.")
                                        or k in ("general.architecture", "general.name", "general.file_type")}}
        checks.update(gguf_checks(name, path, model, reader, meta))
        tiny = False
    else:
        specs = {m["name"]: m for m in mtc.MODELS}
        base = name if name in specs else mtc.SHARDED["from"]
        spec = specs[base]
        d = os.path.join(REPO, "tests", "models", name)
        from transformers import AutoModelForCausalLM

        with open(os.path.join(d, "config.json")) as f:
            moe = json.load(f)["model_type"] in ("mixtral", "qwen2_moe", "qwen3_moe")
        # mixture of experts: transformers' plain loop over the experts hit, in ascending order
        # (its grouped-GEMM default also refuses the tiny models' 24-byte rows)
        kw = {"experts_implementation": "eager"} if moe else {}
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager", **kw)
        model.eval()
        with open(os.path.join(d, "tokenizer.source")) as f:
            tname = f.read().strip()
        enc, rawtok = shared_encoder(tname)
        bos, eos = model.config.bos_token_id, model.config.eos_token_id
        # add_bos: whether the tokenizer's own post-processor adds a BOS token
        add_bos = len(rawtok.encode("a", add_special_tokens=True).ids) > len(rawtok.encode("a", add_special_tokens=False).ids)
        other = None
        model_desc = {"path": f"tests/models/{name}", "format": "safetensors",
                      "stored_dtype": str(spec["dtype"]).replace("torch.", ""),
                      "sha256": {f: sha256(os.path.join(d, f)) for f in sorted(os.listdir(d))}}
        tiny = True
    prefix = bos if bos is not None else eos
    assert prefix is not None
    assert model.config._attn_implementation == "eager"

    sel = select_items(inputs, tiny)
    if other is not None:
        bad = tokenizer_crosscheck(sel, enc, other, add_bos)
        checks["tokenizer_crosscheck"] = {"against": other_desc, "items": len(sel), "disagree": bad}
        print(f"tokenizer cross-check: {len(bad)} of {len(sel)} items disagree", file=sys.stderr)

    out = os.path.join(GOLDEN_DIR, f"{name}.jsonl")
    previous = {}
    if args.reuse and os.path.exists(out):
        # Each item is scored alone (one forward, no padding), so an item whose text and token
        # ids are unchanged gets the same result; --reuse takes it from the existing file.
        with open(out, encoding="utf-8") as f:
            old_rows = [json.loads(line) for line in f]
        if old_rows and old_rows[0]["versions"] == versions() and old_rows[0]["model_info"]["sha256"] == model_desc["sha256"]:
            previous = {(r["file"], r["line"], r["context"], r["continuation"]): r for r in old_rows[1:]}
    rows = []
    reused = 0
    t0 = time.time()
    for k, (fname, line, it) in enumerate(sel):
        ctx_ids, cont_ids = encode_pair(enc, add_bos, prefix, it["context"], it["continuation"])
        assert len(cont_ids) >= 1, (fname, line)
        # BLOOM (ALiBi) has neither key: 2048, lm-evaluation-harness's max_length without one
        assert len(ctx_ids) + len(cont_ids) - 1 <= getattr(model.config, "max_position_embeddings",
                                                           getattr(model.config, "n_positions", 2048))
        old = previous.get((fname, line, it["context"], it["continuation"]))
        if old and old["context_ids"] == ctx_ids and old["continuation_ids"] == cont_ids:
            r = old
            reused += 1
        else:
            r = score(model, ctx_ids, cont_ids)
        rows.append({
            "file": fname, "line": line, "kind": it["kind"], "source": it["source"],
            "context": it["context"], "continuation": it["continuation"],
            "context_ids": ctx_ids, "continuation_ids": cont_ids, "n_tokens": len(cont_ids),
            "logprob": r["logprob"], "is_greedy": r["is_greedy"],
            "token_logprobs": r["token_logprobs"], "greedy_ids": r["greedy_ids"],
            "min_margin": r["min_margin"],
        })
        if (k + 1) % 50 == 0:
            print(f"{k + 1}/{len(sel)} {time.time() - t0:.0f}s", file=sys.stderr)

    lengths = [len(r["context_ids"]) + len(r["continuation_ids"]) - 1 for r in rows]
    cfg_summary = config_summary(model.config)  # before the check below changes the window
    caps = (getattr(model.config, "attn_logit_softcapping", None), getattr(model.config, "final_logit_softcapping", None))
    if any(caps):
        # Show that each cap matters: rescore the longest item with one cap lifted, then the other.
        k = max(range(len(rows)), key=lambda j: lengths[j])
        effect = {"item": f'{rows[k]["file"]}:{rows[k]["line"]}', "attn_logit_softcapping": caps[0],
                  "final_logit_softcapping": caps[1], "logprob": rows[k]["logprob"]}
        attn_mods = [m for m in model.modules() if hasattr(m, "attn_logit_softcapping")]
        if caps[0]:
            for m in attn_mods:
                m.attn_logit_softcapping = None
            effect["logprob_without_attn_cap"] = score(model, rows[k]["context_ids"], rows[k]["continuation_ids"])["logprob"]
            for m in attn_mods:
                m.attn_logit_softcapping = caps[0]
            assert abs(effect["logprob_without_attn_cap"] - rows[k]["logprob"]) > 1e-3, effect
        if caps[1]:
            model.config.final_logit_softcapping = None
            effect["logprob_without_final_cap"] = score(model, rows[k]["context_ids"], rows[k]["continuation_ids"])["logprob"]
            model.config.final_logit_softcapping = caps[1]
            assert abs(effect["logprob_without_final_cap"] - rows[k]["logprob"]) > 1e-3, effect
        checks["softcap_effect"] = effect
    if model.config.model_type == "bloom":
        # Show that ALiBi matters: rescore the longest item with every slope 0 (no position signal)
        import transformers.models.bloom.modeling_bloom as mb

        k = max(range(len(rows)), key=lambda j: lengths[j])
        keep = mb._get_alibi_slopes
        mb._get_alibi_slopes = lambda n, device: torch.zeros(n, device=device)
        try:
            flat = score(model, rows[k]["context_ids"], rows[k]["continuation_ids"])["logprob"]
        finally:
            mb._get_alibi_slopes = keep
        checks["alibi_effect"] = {"item": f'{rows[k]["file"]}:{rows[k]["line"]}', "input_tokens": lengths[k],
                                  "logprob": rows[k]["logprob"], "logprob_with_zero_slopes": flat}
        assert abs(flat - rows[k]["logprob"]) > 1e-3, checks["alibi_effect"]
    window = getattr(model.config, "sliding_window", None)
    if window:
        # Show that the window matters: rescore the longest item with it lifted.
        k = max(range(len(rows)), key=lambda j: lengths[j])
        model.config.sliding_window = 1 << 30
        for m in model.modules():
            if getattr(m, "sliding_window", None):
                m.sliding_window = 1 << 30
        full = score(model, rows[k]["context_ids"], rows[k]["continuation_ids"])["logprob"]
        checks["sliding_window_effect"] = {
            "item": f'{rows[k]["file"]}:{rows[k]["line"]}', "input_tokens": lengths[k],
            "window": window, "logprob": rows[k]["logprob"], "logprob_without_window": full}
        assert abs(full - rows[k]["logprob"]) > 1e-3, checks["sliding_window_effect"]
    header = {
        "header": True,
        "format": "quipu-logprob-golden/1",
        "model": name,
        "model_info": model_desc,
        "tokenizer": enc.desc,
        "add_bos": add_bos,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "prefix_token_id": prefix,
        "compute": {"dtype": "float32", "device": "cpu", "attn_implementation": "eager",
                    "log_softmax": "float64 over float32 logits", "batch": "one item per forward, no padding",
                    "torch_threads": args.threads},
        "config": cfg_summary,
        "versions": versions(),
        "command": "python scripts/golden/make_logprob_golden.py golden --model " + shlex.quote(name),
        "inputs": {f: sha256(os.path.join(INPUT_DIR, f)) for f in INPUT_FILES},
        "selection": ("every item of every input file" if not tiny else
                      f"lines with line % {TINY_STRIDE} == 0 of every input file, plus the very_long_* items"),
        "n_items": len(rows),
        "max_input_tokens": max(lengths),
        "checks": checks,
        "seconds": round(time.time() - t0, 1),
    }
    if reused:
        header["reused_items"] = reused
        header["command"] += " --reuse"
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    n_greedy = sum(r["is_greedy"] for r in rows)
    print(f"{out}: {len(rows)} items, {n_greedy} greedy, max {max(lengths)} tokens, "
          f"{os.path.getsize(out)} bytes", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Independent check of the tiny-model goldens: a float64 numpy forward pass written from the
# formulas (reference/FORMATS.md section 6), reading the safetensors files directly.
# --------------------------------------------------------------------------------------------

def np_weights(d):
    import numpy as np
    from safetensors.numpy import load_file

    w = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".safetensors"):
            try:
                part = load_file(os.path.join(d, f))
            except TypeError:  # bfloat16 has no numpy dtype: go through torch
                from safetensors.torch import load_file as tload
                part = {k: v.float().numpy() for k, v in tload(os.path.join(d, f)).items()}
            w.update(part)
    return {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}


def np_rope_inv_freq(cfg, hd):
    """Inverse frequencies for n_rot = hd rotary dims, and the factor cos/sin are scaled by."""
    import numpy as np

    rp = cfg.get("rope_parameters") or {}
    theta = cfg.get("rope_theta") or cfg.get("rotary_emb_base") or rp["rope_theta"]
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    sc = cfg.get("rope_scaling") or rp
    kind = sc.get("rope_type") or sc.get("type")
    if kind == "llama3":
        factor, lo, hi = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        orig = sc["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        low_wl, high_wl = orig / lo, orig / hi
        out = []
        for f, w in zip(inv, wl):
            if w < high_wl:
                out.append(f)
            elif w > low_wl:
                out.append(f / factor)
            else:
                s = (orig / w - lo) / (hi - lo)
                out.append((1 - s) * f / factor + s * f)
        inv = np.array(out)
    if kind in ("longrope", "su"):
        # every golden item is shorter than original_max_position_embeddings: the short factors
        orig = sc.get("original_max_position_embeddings") or cfg["original_max_position_embeddings"]
        factor = sc.get("factor") or cfg["max_position_embeddings"] / orig
        af = sc.get("attention_factor") or (math.sqrt(1 + math.log(factor) / math.log(orig)) if factor > 1 else 1.0)
        return inv / np.array(sc["short_factor"], dtype=np.float64), af
    return inv, 1.0


def np_forward(d, ids):
    """log-softmax rows [T, V] for token ids, float64: gpt2, llama/mistral/qwen2/qwen3, gemma2,
    olmo2, phi3, gpt_neox, bloom, falcon (rotary, parallel layers), mixtral, qwen2_moe, qwen3_moe."""
    import numpy as np

    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = np_weights(d)
    T = len(ids)
    mt = cfg["model_type"]

    def softmax_attend(q, k, v, window, scale=None, softcap=None, slopes=None):
        # q [H, T, hd], k/v [Hkv, T, hd]; slopes: ALiBi, slope[h] * (key pos - query pos) added
        H, Hkv, hd = q.shape[0], k.shape[0], q.shape[2]
        out = np.zeros_like(q)
        t = np.arange(T)
        allowed = t[None, :] <= t[:, None]
        if window:
            allowed &= (t[:, None] - t[None, :]) < window
        for h in range(H):
            kk, vv = k[h // (H // Hkv)], v[h // (H // Hkv)]
            s = q[h] @ kk.T * (scale if scale else 1 / math.sqrt(hd))
            if softcap:
                s = softcap * np.tanh(s / softcap)
            if slopes is not None:
                s = s + slopes[h] * (t[None, :] - t[:, None])
            s = np.where(allowed, s, -np.inf)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            out[h] = (s / s.sum(axis=1, keepdims=True)) @ vv
        return out

    def ln(x, p, eps):
        m = x.mean(-1, keepdims=True)
        var = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def gelu_tanh(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    def gelu_erf(x):
        return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))

    def lin(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    def rope_tables(n_rot):
        inv, af = np_rope_inv_freq(cfg, n_rot)
        ang = np.arange(T)[:, None] * inv[None, :]
        return np.cos(np.concatenate([ang, ang], 1)) * af, np.sin(np.concatenate([ang, ang], 1)) * af

    def rope(x, cos, sin):  # [heads, T, hd], rotate_half over the first n_rot dims
        n = cos.shape[1]
        r, rest = x[..., :n], x[..., n:]
        rot = np.concatenate([-r[..., n // 2:], r[..., :n // 2]], -1)
        return np.concatenate([r * cos + rot * sin, rest], -1)

    if mt == "gpt2":
        E, eps, H = w["transformer.wte.weight"], cfg["layer_norm_epsilon"], cfg["n_head"]
        x = E[ids] + w["transformer.wpe.weight"][np.arange(T)]
        D = x.shape[1]
        for i in range(cfg["n_layer"]):
            p = f"transformer.h.{i}."
            a = ln(x, p + "ln_1", eps)
            qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # Conv1D: [in, out]
            q, k, v = (qkv[:, j * D:(j + 1) * D].reshape(T, H, D // H).transpose(1, 0, 2) for j in range(3))
            o = softmax_attend(q, k, v, None).transpose(1, 0, 2).reshape(T, D)
            x = x + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            m = ln(x, p + "ln_2", eps)
            x = x + gelu_tanh(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        logits = ln(x, "transformer.ln_f", eps) @ E.T
    elif mt == "bloom":
        # ALiBi slopes as the paper defines them (Press et al. 2022, in float64): for n a power of
        # two, 2^(-8/n), its square, ...; otherwise those of the closest smaller power of two, then
        # every other slope of twice that power
        E, eps, H = w["transformer.word_embeddings.weight"], cfg["layer_norm_epsilon"], cfg["n_head"]
        D = E.shape[1]
        hd = D // H

        def pow2_slopes(n):
            return [2.0 ** (-8.0 * (j + 1) / n) for j in range(n)]
        p2 = 2 ** int(math.floor(math.log2(H)))
        slopes = pow2_slopes(p2) + pow2_slopes(2 * p2)[0::2][:H - p2]
        x = ln(E[ids], "transformer.word_embeddings_layernorm", eps)
        for i in range(cfg["n_layer"]):
            p = f"transformer.h.{i}."
            a = ln(x, p + "input_layernorm", eps)
            qkv = lin(a, p + "self_attention.query_key_value").reshape(T, H, 3, hd).transpose(2, 1, 0, 3)
            o = softmax_attend(qkv[0], qkv[1], qkv[2], None, slopes=slopes)
            x = x + lin(o.transpose(1, 0, 2).reshape(T, D), p + "self_attention.dense")
            m = ln(x, p + "post_attention_layernorm", eps)
            x = x + lin(gelu_tanh(lin(m, p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")
        head = w["lm_head.weight"] if "lm_head.weight" in w else E
        logits = ln(x, "transformer.ln_f", eps) @ head.T
    elif mt == "falcon":
        E, eps, H = w["transformer.word_embeddings.weight"], cfg["layer_norm_epsilon"], cfg["num_attention_heads"]
        D = E.shape[1]
        hd = D // H
        new = cfg.get("new_decoder_architecture", False)
        if cfg.get("alibi") or not cfg.get("parallel_attn", True) and not new:
            raise NotImplementedError("Falcon with alibi or sequential layers")
        cos, sin = rope_tables(hd)
        act = gelu_tanh if cfg.get("activation", "gelu") in ("gelu_new", "gelu_pytorch_tanh") else gelu_erf
        x = E[ids]
        for i in range(cfg["num_hidden_layers"]):
            p = f"transformer.h.{i}."
            qkv_w = p + "self_attention.query_key_value"
            if new:  # per KV group: its g query heads, then k, then v
                kv = cfg["num_kv_heads"]
                a = ln(x, p + "ln_attn", eps)
                m_in = ln(x, p + "ln_mlp", eps) if cfg.get("num_ln_in_parallel_attn") in (None, 2) else a
                g = lin(a, qkv_w).reshape(T, kv, H // kv + 2, hd)
                q = g[:, :, :-2].reshape(T, H, hd).transpose(1, 0, 2)
                k, v = g[:, :, -2].transpose(1, 0, 2), g[:, :, -1].transpose(1, 0, 2)
            else:
                a = ln(x, p + "input_layernorm", eps)
                m_in = a
                y = lin(a, qkv_w)
                if cfg.get("multi_query", True):  # all query heads, then one k, one v
                    q = y[:, :H * hd].reshape(T, H, hd).transpose(1, 0, 2)
                    k = y[:, H * hd:(H + 1) * hd].reshape(T, 1, hd).transpose(1, 0, 2)
                    v = y[:, (H + 1) * hd:].reshape(T, 1, hd).transpose(1, 0, 2)
                else:  # q, k, v per head
                    q, k, v = y.reshape(T, H, 3, hd).transpose(2, 1, 0, 3)
            o = softmax_attend(rope(q, cos, sin), rope(k, cos, sin), v, None)
            att = lin(o.transpose(1, 0, 2).reshape(T, D), p + "self_attention.dense")
            mlp = lin(act(lin(m_in, p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")
            x = x + att + mlp
        head = w["lm_head.weight"] if "lm_head.weight" in w else E
        logits = ln(x, "transformer.ln_f", eps) @ head.T
    elif mt == "gpt_neox":
        E, eps, H = w["gpt_neox.embed_in.weight"], cfg["layer_norm_eps"], cfg["num_attention_heads"]
        D = E.shape[1]
        hd = D // H
        n_rot = int(hd * cfg.get("rotary_pct", 0.25))
        cos, sin = rope_tables(n_rot)
        x = E[ids]
        for i in range(cfg["num_hidden_layers"]):
            p = f"gpt_neox.layers.{i}."
            a = ln(x, p + "input_layernorm", eps)
            # fused rows per head: [H, 3, hd]
            qkv = lin(a, p + "attention.query_key_value").reshape(T, H, 3, hd).transpose(2, 1, 0, 3)
            o = softmax_attend(rope(qkv[0], cos, sin), rope(qkv[1], cos, sin), qkv[2], None)
            att = lin(o.transpose(1, 0, 2).reshape(T, D), p + "attention.dense")
            m = lin(gelu_erf(lin(ln(x, p + "post_attention_layernorm", eps), p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")
            if cfg.get("use_parallel_residual", True):
                x = x + att + m
            else:
                raise NotImplementedError("sequential GPT-NeoX")
        head = w["embed_out.weight"] if "embed_out.weight" in w else w["lm_head.weight"]
        logits = ln(x, "gpt_neox.final_layer_norm", eps) @ head.T
    else:
        E, eps = w["model.embed_tokens.weight"], cfg["rms_norm_eps"]
        H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        D = E.shape[1]
        hd = cfg.get("head_dim") or D // H
        gemma = mt == "gemma2"
        layer_types = cfg.get("layer_types") or (
            ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(cfg["num_hidden_layers"])] if gemma
            else ["sliding_attention" if mt in ("mistral", "phi3") else "full_attention"] * cfg["num_hidden_layers"])
        window = cfg.get("sliding_window")
        scale = cfg["query_pre_attn_scalar"] ** -0.5 if gemma else None
        cos, sin = rope_tables(hd)

        def rms(x, name):
            g = w[name]
            return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * ((1 + g) if gemma else g)

        def heads(y, n):
            return y.reshape(T, n, hd).transpose(1, 0, 2)

        def moe_layer(i):  # transformers' rule for a sparse layer
            if mt == "mixtral":
                return True
            n_exp = cfg.get("num_experts", cfg.get("num_local_experts", 0))
            return (mt in ("qwen2_moe", "qwen3_moe") and n_exp > 0 and i not in (cfg.get("mlp_only_layers") or [])
                    and (i + 1) % cfg.get("decoder_sparse_step", 1) == 0)

        def moe(m, p):
            # softmax over the experts, the k largest (stable sort: a tie to the lower index), the
            # weights renormalized (Mixtral; Qwen when norm_topk_prob), each token's experts summed;
            # Qwen2-MoE adds sigmoid(shared_expert_gate . m) * shared_expert(m)
            mix = mt == "mixtral"
            blk = p + ("block_sparse_moe." if mix else "mlp.")
            gn, un, dn = ("w1", "w3", "w2") if mix else ("gate_proj", "up_proj", "down_proj")
            k = cfg["num_experts_per_tok"]
            lg = m @ w[blk + "gate.weight"].T
            pr = np.exp(lg - lg.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            out = np.zeros_like(m)
            for t in range(T):
                top = np.argsort(-pr[t], kind="stable")[:k]
                wt = pr[t, top] / (pr[t, top].sum() if mix or cfg.get("norm_topk_prob") else 1.0)
                for e, we in zip(top, wt):
                    q = f"{blk}experts.{e}."
                    g, u = lin(m[t:t + 1], q + gn), lin(m[t:t + 1], q + un)
                    out[t] += we * lin(g / (1 + np.exp(-g)) * u, q + dn)[0]
            if blk + "shared_expert_gate.weight" in w:
                g, u = lin(m, blk + "shared_expert.gate_proj"), lin(m, blk + "shared_expert.up_proj")
                sh = lin(g / (1 + np.exp(-g)) * u, blk + "shared_expert.down_proj")
                out += sh / (1 + np.exp(-lin(m, blk + "shared_expert_gate")))
            return out

        x = E[ids] * (float(np.float32(math.sqrt(D))) if gemma else 1.0)
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            a = x if mt == "olmo2" else rms(x, p + "input_layernorm.weight")
            if mt == "phi3":
                qkv = lin(a, p + "self_attn.qkv_proj")
                q, k, v = qkv[:, :H * hd], qkv[:, H * hd:(H + Hkv) * hd], qkv[:, (H + Hkv) * hd:]
            else:
                q, k, v = (lin(a, p + f"self_attn.{n}_proj") for n in "qkv")
            if mt == "olmo2":  # over the whole projection
                q, k = rms(q, p + "self_attn.q_norm.weight"), rms(k, p + "self_attn.k_norm.weight")
            q, k, v = heads(q, H), heads(k, Hkv), heads(v, Hkv)
            if mt in ("qwen3", "qwen3_moe"):  # per head
                q, k = rms(q, p + "self_attn.q_norm.weight"), rms(k, p + "self_attn.k_norm.weight")
            win = window if layer_types[i] == "sliding_attention" else None
            o = softmax_attend(rope(q, cos, sin), rope(k, cos, sin), v, win, scale,
                               cfg.get("attn_logit_softcapping") if gemma else None)
            o = lin(o.transpose(1, 0, 2).reshape(T, H * hd), p + "self_attn.o_proj")
            if gemma or mt == "olmo2":
                o = rms(o, p + "post_attention_layernorm.weight")
            x = x + o
            if gemma:
                m = rms(x, p + "pre_feedforward_layernorm.weight")
            elif mt == "olmo2":
                m = x
            else:
                m = rms(x, p + "post_attention_layernorm.weight")
            if moe_layer(i):
                x = x + moe(m, p)
                continue
            if mt == "phi3":
                gu = lin(m, p + "mlp.gate_up_proj")
                g, u = gu[:, :gu.shape[1] // 2], gu[:, gu.shape[1] // 2:]
            else:
                g, u = lin(m, p + "mlp.gate_proj"), lin(m, p + "mlp.up_proj")
            f = lin((gelu_tanh(g) if gemma else g / (1 + np.exp(-g))) * u, p + "mlp.down_proj")
            if gemma or mt == "olmo2":
                f = rms(f, p + "post_feedforward_layernorm.weight")
            x = x + f
        head = w["lm_head.weight"] if "lm_head.weight" in w else E
        logits = rms(x, "model.norm.weight") @ head.T
        if gemma and cfg.get("final_logit_softcapping"):
            c = cfg["final_logit_softcapping"]
            logits = c * np.tanh(logits / c)
    mx = logits.max(-1, keepdims=True)
    return logits - mx - np.log(np.exp(logits - mx).sum(-1, keepdims=True))


def cmd_verify(args):
    """Recompute tiny-model goldens with np_forward and report the largest differences."""
    worst_tok = worst_sum = 0.0
    name = args.model
    d = os.path.join(REPO, "tests", "models", name)
    with open(os.path.join(GOLDEN_DIR, f"{name}.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][1:]
    for r in rows[: args.limit]:
        ids = r["context_ids"] + r["continuation_ids"]
        lp = np_forward(d, ids[:-1])
        n0 = len(r["context_ids"]) - 1
        vals = [float(lp[n0 + j, t]) for j, t in enumerate(r["continuation_ids"])]
        worst_tok = max(worst_tok, max(abs(a - b) for a, b in zip(vals, r["token_logprobs"])))
        worst_sum = max(worst_sum, abs(math.fsum(vals) - r["logprob"]))
    print(f"{name}: {min(len(rows), args.limit)} items, max |token diff| {worst_tok:.3g}, "
          f"max |sum diff| {worst_sum:.3g}")
    if worst_tok > args.tol:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("inputs", help="write tests/golden/score_inputs/*.jsonl")
    g = sub.add_parser("golden", help="write tests/golden/logprobs/<model>.jsonl")
    g.add_argument("--model", required=True)
    g.add_argument("--threads", type=int, default=2)
    g.add_argument("--reuse", action="store_true",
                   help="keep the results of items whose text and token ids are unchanged in the existing file")
    sub.add_parser("list", help="print the model names")
    v = sub.add_parser("verify", help="recompute a tiny model's golden with an independent numpy forward")
    v.add_argument("--model", required=True)
    v.add_argument("--limit", type=int, default=1000)
    v.add_argument("--tol", type=float, default=1e-3)
    args = ap.parse_args()
    if args.cmd == "inputs":
        cmd_inputs(args)
    elif args.cmd == "verify":
        cmd_verify(args)
    elif args.cmd == "list":
        print("\n".join(model_names()))
    else:
        if args.model not in model_names():
            ap.error(f"unknown model {args.model}; one of {model_names()}")
        cmd_golden(args)


if __name__ == "__main__":
    main()
