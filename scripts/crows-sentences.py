#!/usr/bin/env python3
"""crows-sentences.py DATASETS PAIRS [--shared-prompt] — the sentences scripts/gpu-check.sh and
scripts/gpu-emulate.sh score: the first PAIRS pairs of CrowS-Pairs (en) and of French CrowS-Pairs,
each pair's more- then less-stereotyping sentence, as `quipu score` JSON lines with an empty
context (from DATASETS, else the subset shipped in configs/demo/). --shared-prompt adds three
continuations of one prompt (the shared-prefix attention path)."""
import csv
import json
import os
import sys

d, n = sys.argv[1], int(sys.argv[2])
en = os.path.join(d, "crows-pairs/data/crows_pairs_anonymized.csv")
fr = os.path.join(d, "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv")
if not os.path.exists(en):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "demo")
    en = os.path.join(d, "crows-pairs/data/crows_pairs_anonymized.csv")
    fr = os.path.join(d, "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv")
for path, delim in ((en, ","), (fr, "\t")):
    if not os.path.exists(path):
        continue
    for r in list(csv.DictReader(open(path, encoding="utf-8"), delimiter=delim))[:n]:
        for k in ("sent_more", "sent_less"):
            if r.get(k):
                print(json.dumps({"context": "", "continuation": r[k]}, ensure_ascii=False))
if "--shared-prompt" in sys.argv[3:]:
    for c in (" Santiago.", " Valparaíso.", " Concepción."):
        print(json.dumps({"context": "La capital de Chile es", "continuation": c}, ensure_ascii=False))
