#!/usr/bin/env python3
"""Tiny masked LMs and their pseudo-log-likelihood goldens (issue 10, part 3).

Writes, from the repository root (shared/ beside it, or QUIPU_SHARED):

  tests/models/tiny-bert-mlm/      BertForMaskedLM, a WordPiece tokenizer trained here
  tests/models/tiny-roberta-mlm/   RobertaForMaskedLM, a byte-level BPE tokenizer trained here
  tests/models/tiny-xlmr-mlm/      XLMRobertaForMaskedLM; its tokenizer is u-xlmr
                                   (tests/golden/tokens/unigram/u-xlmr.json.zst: Unigram with the
                                   Precompiled normalizer), named by tokenizer.zst.source
  tests/golden/mlm/<model>.jsonl   reference PLLs from transformers fp32 (CPU)
  tests/golden/mlm/align.jsonl     difflib.SequenceMatcher(None, a, b) matching blocks and
                                   opcodes on hand-made id sequences

Each model: 2 layers, width 32, 4 heads, FFN 64, fp32, seed-fixed random weights drawn wider than
the transformers init (so that log-probs vary), the embedding rows = the tokenizer's vocabulary.
The tokenizers are trained with `tokenizers` on the first 125 CrowS-Pairs pairs of
tests/golden/score_inputs/crows_en.jsonl (BERT, RoBERTa); XLM-R uses u-xlmr as it is.

Golden lines (after one header line):
  {"kind": "pll", "text": ..., "ids": [...], "token_logprobs": [...], "logprob": sum}
      Salazar et al. (2020) all-tokens PLL: the text encoded with special tokens, every
      non-special token masked in turn (one forward per masked copy).
  {"kind": "crows", "more": ..., "less": ..., "more_ids", "less_ids", "more_masked": [positions],
   "less_masked": [...], "more_token_logprobs", "less_token_logprobs", "more_score", "less_score"}
      CrowS-Pairs (Nangia et al. 2020, nyu-mll/crows-pairs metric.py, mask_unigram): a
      transcription of get_span + mask_unigram: difflib on str(ids), the 'equal' spans'
      indices, template[1:-1] masked one at a time.

Usage: python scripts/golden/make_mlm_golden.py [--only bert,roberta,xlmr]
"""
import argparse
import difflib
import hashlib
import json
import os
import random
import subprocess
import sys

import numpy as np
import torch
import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
N_PAIRS_TRAIN = 125
N_PAIRS_GOLDEN = 40
SEED = 20261206


def crows_lines(name):
    with open(os.path.join(ROOT, "tests/golden/score_inputs", name), encoding="utf-8") as f:
        return [json.loads(l)["continuation"] for l in f]


def train_wordpiece(texts):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tr = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(texts, tr)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    return tok


def train_bytelevel_bpe(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tr = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, tr)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def u_xlmr_json():
    p = os.path.join(ROOT, "tests/golden/tokens/unigram/u-xlmr.json.zst")
    return subprocess.run(["zstd", "-dc", p], check=True, capture_output=True).stdout.decode("utf-8")


def randomize(model, seed):
    """Weights drawn wider than the transformers init, so predictions are far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5) * 1.5)
        # the decoder bias is a parameter of its own (cls.predictions.bias / lm_head.bias)
        for name, p in model.named_parameters():
            if name.endswith("predictions.bias") or name == "lm_head.bias":
                p.copy_(torch.randn(p.shape, generator=g))
    model.tie_weights()


SPECS = {
    "bert": dict(dir="tiny-bert-mlm", cls="BertForMaskedLM", cfg="BertConfig", mask="[MASK]"),
    "roberta": dict(dir="tiny-roberta-mlm", cls="RobertaForMaskedLM", cfg="RobertaConfig", mask="<mask>"),
    "xlmr": dict(dir="tiny-xlmr-mlm", cls="XLMRobertaForMaskedLM", cfg="XLMRobertaConfig", mask="<mask>"),
}


def build(which, en_texts):
    spec = SPECS[which]
    out = os.path.join(ROOT, "tests/models", spec["dir"])
    os.makedirs(out, exist_ok=True)
    if which == "bert":
        tok = train_wordpiece(en_texts)
        tok.save(os.path.join(out, "tokenizer.json"))
        pad = tok.token_to_id("[PAD]")
    elif which == "roberta":
        tok = train_bytelevel_bpe(en_texts)
        tok.save(os.path.join(out, "tokenizer.json"))
        pad = tok.token_to_id("<pad>")
    else:
        tok = Tokenizer.from_str(u_xlmr_json())
        with open(os.path.join(out, "tokenizer.zst.source"), "w") as f:
            f.write("tests/golden/tokens/unigram/u-xlmr.json.zst\n")
        pad = tok.token_to_id("<pad>")
    V = tok.get_vocab_size(with_added_tokens=True)
    cfg_cls = getattr(transformers, spec["cfg"])
    kw = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=pad)
    if which == "bert":
        kw.update(max_position_embeddings=128, type_vocab_size=2)
    else:
        kw.update(max_position_embeddings=130, type_vocab_size=1, bos_token_id=0, eos_token_id=2)
    cfg = cfg_cls(**kw)
    torch.manual_seed(SEED)
    model = getattr(transformers, spec["cls"])(cfg).eval()
    randomize(model, SEED + len(which))
    model.save_pretrained(out, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(out, extra)
        if os.path.exists(p):
            os.remove(p)
    return out, tok, model


def sha256(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def logprob_at(model, ids, pos, target):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, pos].double()
    return float(torch.log_softmax(logits, dim=-1)[target])


def pll_all_tokens(model, tok, mask_id, text):
    enc = tok.encode(text)  # with the template's special tokens
    ids, special = enc.ids, enc.special_tokens_mask
    lps = []
    for i, t in enumerate(ids):
        if special[i]:
            continue
        m = list(ids)
        m[i] = mask_id
        lps.append(logprob_at(model, m, i, t))
    return ids, [i for i in range(len(ids)) if not special[i]], lps


def crows_metric(model, tok, mask_id, s1, s2):
    """metric.py's get_span + mask_unigram (nyu-mll/crows-pairs), one masked copy per forward."""
    a, b = tok.encode(s1).ids, tok.encode(s2).ids
    sm = difflib.SequenceMatcher(None, [str(x) for x in a], [str(x) for x in b])
    t1, t2 = [], []
    for op in sm.get_opcodes():
        if op[0] == "equal":
            t1 += list(range(op[1], op[2]))
            t2 += list(range(op[3], op[4]))
    assert len(t1) == len(t2)
    n = len(t1)
    l1, l2 = [], []
    for i in range(1, n - 1):  # skipping CLS and SEP, as metric.py does
        m1, m2 = list(a), list(b)
        m1[t1[i]] = mask_id
        m2[t2[i]] = mask_id
        l1.append(logprob_at(model, m1, t1[i], a[t1[i]]))
        l2.append(logprob_at(model, m2, t2[i], b[t2[i]]))
    return a, b, t1[1:n - 1], t2[1:n - 1], l1, l2


def header(which, out, extra):
    files = sorted(os.listdir(out))
    h = {"header": True, "format": "quipu-mlm-golden/1", "model": SPECS[which]["dir"],
         "command": "python scripts/golden/make_mlm_golden.py", "seed": SEED,
         "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
                      "tokenizers": tokenizers.__version__, "numpy": np.__version__},
         "sha256": {f: sha256(os.path.join(out, f)) for f in files}, "dtype": "float32", "device": "cpu"}
    h.update(extra)
    return h


def golden(which, out, tok, model, texts, pairs, ctx_items):
    mask_id = tok.token_to_id(SPECS[which]["mask"])
    rows = []
    for t in texts:
        ids, pos, lps = pll_all_tokens(model, tok, mask_id, t)
        rows.append({"kind": "pll", "text": t, "ids": ids, "masked": pos, "token_logprobs": lps, "logprob": sum(lps)})
    for s1, s2 in pairs:
        a, b, p1, p2, l1, l2 = crows_metric(model, tok, mask_id, s1, s2)
        rows.append({"kind": "crows", "more": s1, "less": s2, "more_ids": a, "less_ids": b, "more_masked": p1, "less_masked": p2,
                     "more_token_logprobs": l1, "less_token_logprobs": l2, "more_score": sum(l1), "less_score": sum(l2)})
    for ctx, cont in ctx_items:
        # a context: the whole text encoded, the continuation's tokens (those past the context's
        # own encoding, stripped of trailing spaces) masked in turn, the template around it all
        c_ids = tok.encode(ctx.rstrip(), add_special_tokens=False).ids
        w_ids = tok.encode(ctx + cont, add_special_tokens=False).ids
        split = min(len(c_ids), len(w_ids))
        enc = tok.encode(ctx + cont)
        full, special = enc.ids, enc.special_tokens_mask
        body = [i for i in range(len(full)) if not special[i]]
        assert [full[i] for i in body] == w_ids
        pos = body[split:]
        lps = []
        for i in pos:
            m = list(full)
            m[i] = mask_id
            lps.append(logprob_at(model, m, i, full[i]))
        rows.append({"kind": "pll_context", "context": ctx, "continuation": cont, "ids": full, "masked": pos,
                     "token_logprobs": lps, "logprob": sum(lps)})
    gdir = os.path.join(ROOT, "tests/golden/mlm")
    os.makedirs(gdir, exist_ok=True)
    with open(os.path.join(gdir, SPECS[which]["dir"] + ".jsonl"), "w", encoding="utf-8") as f:
        f.write(json.dumps(header(which, out, {"mask_id": mask_id, "n_pll": len(texts), "n_crows": len(pairs),
                                               "n_pll_context": len(ctx_items)})) + "\n")
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def align_cases():
    rnd = random.Random(SEED)
    cases = [
        ([2, 10, 11, 12, 13, 3], [2, 10, 11, 14, 13, 3]),                       # one substitution
        ([2, 10, 11, 12, 13, 3], [2, 10, 15, 16, 12, 13, 3]),                   # one for two, lengths differ
        ([2, 5, 6, 7, 8, 9, 3], [2, 5, 60, 7, 80, 9, 3]),                        # two differences
        ([2, 5, 6, 5, 6, 5, 3], [2, 5, 6, 7, 5, 6, 5, 3]),                       # repeated words, an insertion
        ([2, 7, 7, 7, 7, 3], [2, 7, 7, 3]),                                      # repeats, deletion
        ([2, 3], [2, 3]),                                                        # empty sentences
        ([2, 1, 2, 3], [2, 4, 5, 3]),                                            # nothing shared inside
        ([2, 9, 8, 7, 6, 3], [2, 6, 7, 8, 9, 3]),                                # reversed
        ([], [2, 3]),
        ([2, 3], []),
    ]
    # 200+ elements: autojunk drops b's elements that occur more than len(b) // 100 + 1 times
    # from the index (here 10 and 11, "the" and "."); they only join matches by extension
    for n in (210, 260, 400):
        a = [2] + [rnd.choice([10, 11]) if rnd.random() < 0.3 else rnd.randrange(20, 90) for _ in range(n)] + [3]
        b = list(a)
        for _ in range(6):
            k = rnd.randrange(1, len(b) - 1)
            op = rnd.random()
            if op < 0.4:
                b[k] = rnd.randrange(20, 90)
            elif op < 0.7:
                b.insert(k, rnd.choice([10, 11, rnd.randrange(20, 90)]))
            else:
                del b[k]
        cases.append((a, b))
    # a popular element between two differences: matches run through it only by extension
    a = [2] + [10, 30] * 110 + [3]
    b = [2] + [10, 30] * 50 + [10, 31] + [10, 30] * 59 + [3]
    cases.append((a, b))
    # cases where autojunk changes the answer (checked against autojunk=False below): a run of
    # popular ids is the longest match, but no seed can start it
    cases.append(([10] * 5 + [7], [8] + [10] * 5 + list(range(100, 300))))
    found = 0
    while found < 3:
        n = rnd.randrange(200, 260)
        a = [2] + [rnd.choice([10, 11, 12]) if rnd.random() < 0.6 else rnd.randrange(20, 400) for _ in range(n)] + [3]
        b = list(a)
        for _ in range(8):
            k = rnd.randrange(1, len(b) - 1)
            if rnd.random() < 0.5:
                b[k] = rnd.randrange(20, 400)
            else:
                b.insert(k, rnd.choice([10, 11, 12]))
        x = difflib.SequenceMatcher(None, [str(v) for v in a], [str(v) for v in b]).get_matching_blocks()
        y = difflib.SequenceMatcher(None, [str(v) for v in a], [str(v) for v in b], autojunk=False).get_matching_blocks()
        if x != y:
            cases.append((a, b))
            found += 1
    out = []
    for a, b in cases:
        sm = difflib.SequenceMatcher(None, [str(x) for x in a], [str(x) for x in b])
        plain = difflib.SequenceMatcher(None, [str(x) for x in a], [str(x) for x in b], autojunk=False)
        out.append({"a": a, "b": b, "blocks": [list(x) for x in sm.get_matching_blocks()],
                    "autojunk_matters": sm.get_matching_blocks() != plain.get_matching_blocks(),
                    "opcodes": [list(x) for x in sm.get_opcodes()]})
    gdir = os.path.join(ROOT, "tests/golden/mlm")
    os.makedirs(gdir, exist_ok=True)
    with open(os.path.join(gdir, "align.jsonl"), "w") as f:
        f.write(json.dumps({"header": True, "format": "quipu-align-golden/1", "command": "python scripts/golden/make_mlm_golden.py",
                            "python": sys.version.split()[0], "reference": "difflib.SequenceMatcher(None, a, b) on str(ids), autojunk=True"}) + "\n")
        for r in out:
            f.write(json.dumps(r) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="bert,roberta,xlmr")
    args = ap.parse_args()
    torch.set_num_threads(1)
    en = crows_lines("crows_en.jsonl")
    fr = crows_lines("crows_fr.jsonl")
    en_pairs = list(zip(en[0::2], en[1::2]))
    fr_pairs = list(zip(fr[0::2], fr[1::2]))
    ctx_items = [("The cat sat", " on the mat."), ("He looked like a", " black rapper in drugs."),
                 ("She said that  ", "it was fine."), ("", "Just one sentence.")]
    align_cases()
    for which in args.only.split(","):
        out, tok, model = build(which, en[:2 * N_PAIRS_TRAIN])
        pairs = (fr_pairs if which == "xlmr" else en_pairs)[:N_PAIRS_GOLDEN]
        texts = [s for p in pairs[:10] for s in p] + ["", "a", "Hello, world!"]
        golden(which, out, tok, model, texts, pairs, ctx_items)
        print(which, "done", file=sys.stderr)


if __name__ == "__main__":
    main()
