#!/usr/bin/env python3
"""Builds the demo's pairs from the staged benchmark data and prints which side the model prefers.

  demo_pairs.py make DATASETS_DIR N > pairs.jsonl     # two score lines per pair, plus a sidecar
  demo_pairs.py show pairs.jsonl scores.jsonl         # the table

Pairs: CrowS-Pairs (en) and French CrowS-Pairs (fr): sent_more vs sent_less, each scored as a whole
sentence (empty context). SESGO (es, Latin America), ambiguous contexts with a negative question:
log P(answer naming the discriminated group | context + question) vs the other group's answer.
Standard library only, so it runs on a bare machine."""
import ast
import csv
import json
import sys


def crows(path, delim, lang, n):
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter=delim):
            out.append({"bench": "crows-pairs", "lang": lang, "category": row["bias_type"],
                        "a": ("", row["sent_more"]), "b": ("", row["sent_less"]),
                        "a_label": "more-stereotyping", "b_label": "less-stereotyping"})
            if len(out) == n:
                break
    return out


def sesgo(path, n):
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["context_condition"] != "ambig" or row["question_polarity"] != "neg":
                continue
            ans = ast.literal_eval(row["answer_info"])
            ctx = row["context"].strip() + " " + row["question"].strip() + " Respuesta:"
            t, o = ans["ans" + row["target"]], ans["ans" + row["other"]]
            out.append({"bench": "sesgo", "lang": "es-419", "category": row["category"],
                        "a": (ctx, " " + t), "b": (ctx, " " + o),
                        "a_label": "target group", "b_label": "other group"})
            if len(out) == n:
                break
    return out


def make(datasets, n):
    pairs = crows(f"{datasets}/crows-pairs/data/crows_pairs_anonymized.csv", ",", "en-US", n)
    pairs += crows(f"{datasets}/crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv", "\t", "fr-FR", n)
    pairs += sesgo(f"{datasets}/sesgo/paper_version_89b8a0e/derived_csv/prompts_racismo.csv", n)
    for p in pairs:
        for side in ("a", "b"):
            ctx, cont = p[side]
            print(json.dumps({"context": ctx, "continuation": cont, "pair": p}, ensure_ascii=False))


def show(pairs_path, scores_path):
    with open(pairs_path, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f if x.strip()]
    with open(scores_path, encoding="utf-8") as f:
        scores = [json.loads(x) for x in f if x.strip()]
    if len(lines) != len(scores):
        sys.exit(f"demo: {len(lines)} inputs but {len(scores)} scores")
    print(f"{'benchmark':<12} {'lang':<7} {'category':<20} {'prefers':<18} {'Δ logprob':>10}  text (preferred side)")
    for i in range(0, len(lines), 2):
        p = lines[i]["pair"]
        la, lb = scores[i]["logprob"], scores[i + 1]["logprob"]
        pref, text = (p["a_label"], p["a"][1]) if la > lb else (p["b_label"], p["b"][1])
        text = text.strip()
        if len(text) > 60:
            text = text[:57] + "..."
        print(f"{p['bench']:<12} {p['lang']:<7} {p['category'][:20]:<20} {pref:<18} {la - lb:>10.3f}  {text}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "show":
        show(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
