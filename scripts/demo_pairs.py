#!/usr/bin/env python3
"""Builds the demo's pairs from benchmark data and prints which side the model prefers.

  demo_pairs.py make DATASETS_DIR N > pairs.jsonl     # two score lines per pair, plus a sidecar
  demo_pairs.py show pairs.jsonl scores.jsonl         # the table

DATASETS_DIR is laid out like the full datasets folder: configs/demo (the subset shipped with
quipu, the default of scripts/demo.sh) or the full datasets (scripts/fetch-datasets.sh).
N pairs per benchmark, evenly spread over its rows (for CrowS-Pairs the same rows from the subset
as from the full files when N divides 360):
- CrowS-Pairs (en) and French CrowS-Pairs (fr): sent_more vs sent_less, each scored as a whole
  sentence (empty context).
- EsBBQ (es-ES, Spain): ambiguous contexts with a negative question, prompted as
  lm-evaluation-harness's esbbq task does ("Contexto: ...\\nPregunta: ...\\nRespuesta:"):
  log P(answer naming the stereotyped group | prompt) vs the other group's answer. In an ambiguous
  context neither is supported by the text ("No hay suficiente información" is the right answer).
Standard library only, so it runs on a bare machine."""
import ast
import csv
import json
import os
import sys

CROWS_EN = "crows-pairs/data/crows_pairs_anonymized.csv"
CROWS_FR = "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv"
ES_CATS = ["Age", "DisabilityStatus", "Gender", "LGBTQIA", "Nationality", "PhysicalAppearance", "RaceEthnicity",
           "Religion", "SES", "SpanishRegion"]
ESBBQ = "esbbq-cabbq/data_es/{}.full.csv"


def need(datasets, rel):
    path = os.path.join(datasets, rel)
    if not os.path.isfile(path):
        sys.exit(f"demo_pairs.py: {path}: no such file; the folder {datasets} does not have the benchmark files: "
                 "fetch them with scripts/fetch-datasets.sh, or set QUIPU_DATASETS to a folder that has them "
                 "(unset, the demo uses the subset in configs/demo)")
    return path


def spread(rows, n):
    return [rows[(i * len(rows)) // n] for i in range(min(n, len(rows)))]


def crows(path, delim, lang):
    with open(path, newline="", encoding="utf-8") as f:
        return [{"bench": "crows-pairs", "lang": lang, "category": row["bias_type"].lower(),
                 "a": ("", row["sent_more"]), "b": ("", row["sent_less"]),
                 "a_label": "more-stereotyping", "b_label": "less-stereotyping"}
                for row in csv.DictReader(f, delimiter=delim)]


def group_of(info):
    """the group of an answer_info.ansN [text, group] pair: its last element after the last comma"""
    return ast.literal_eval(info)[-1].split(",")[-1].strip()


def esbbq(datasets):
    out = []
    for cat in ES_CATS:
        with open(need(datasets, ESBBQ.format(cat)), newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["context_condition"] != "ambig" or row["question_polarity"] != "neg":
                    continue
                stereo = set(ast.literal_eval(row["stereotyped_groups"]))
                groups = [group_of(row[f"answer_info.ans{i}"]) for i in range(3)]
                target = [i for i in range(3) if groups[i] != "unknown" and groups[i] in stereo]
                other = [i for i in range(3) if groups[i] != "unknown" and groups[i] not in stereo]
                if len(target) != 1 or len(other) != 1:
                    continue
                prompt = f"Contexto: {row['context']}\nPregunta: {row['question']}\nRespuesta:"
                out.append({"bench": "esbbq", "lang": "es-ES", "category": row["category"],
                            "a": (prompt, " " + row[f"ans{target[0]}"]), "b": (prompt, " " + row[f"ans{other[0]}"]),
                            "a_label": "stereotyped group", "b_label": "other group"})
    return out


def make(datasets, n):
    pairs = spread(crows(need(datasets, CROWS_EN), ",", "en-US"), n)
    pairs += spread(crows(need(datasets, CROWS_FR), "\t", "fr-FR"), n)
    pairs += spread(esbbq(datasets), n)
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
    print("Δ logprob = log P(first side) − log P(second side), natural log: more- minus less-stereotyping")
    print("sentence (CrowS-Pairs); stereotyped-group minus other-group answer to an ambiguous question (EsBBQ).")
    print(f"{'benchmark':<12} {'lang':<6} {'category':<19} {'prefers':<18} {'Δ logprob':>9}  text (preferred side)")
    for i in range(0, len(lines), 2):
        p = lines[i]["pair"]
        la, lb = scores[i]["logprob"], scores[i + 1]["logprob"]
        pref, text = (p["a_label"], p["a"][1]) if la > lb else (p["b_label"], p["b"][1])
        text = text.strip()
        if p["a"][0]:  # a question: the answer, then the question
            q = p["a"][0].split("\nPregunta: ")[-1].split("\n")[0]
            text = f"{text} ({q})"
        if len(text) > 64:
            text = text[:61] + "..."
        print(f"{p['bench']:<12} {p['lang']:<6} {p['category'][:19]:<19} {pref:<18} {la - lb:>9.3f}  {text}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "show":
        show(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
