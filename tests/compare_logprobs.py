#!/usr/bin/env python3
"""Compares `quipu score --per-token --ids` output with a golden file made by an outside reference
(scripts/golden/make_logprob_golden.py: transformers in fp32). Standard library only.

usage: compare_logprobs.py GOLDEN.jsonl QUIPU_OUTPUT.jsonl
Checks per item: identical context and continuation token ids; every token log-prob within
TOK_TOL (1e-4) of the reference, the sum within SUM_TOL (1e-3); is_greedy equal unless the
reference's own top-2 margin is below 1e-4 (a tie that fp32 noise may flip). Prints a summary
and the worst items; exit 1 on any failure."""
import json
import sys

TOK_TOL, SUM_TOL, MARGIN = 1e-4, 1e-3, 1e-4


def main(golden_path, out_path):
    with open(golden_path, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f if x.strip()]
    header = lines[0] if lines and lines[0].get("header") else None
    items = lines[1:] if header else lines
    with open(out_path, encoding="utf-8") as f:
        got = [json.loads(x) for x in f if x.strip()]
    fails = []
    if len(got) != len(items):
        print(f"{golden_path}: {len(items)} reference items, quipu printed {len(got)}")
        return 1
    worst_tok, worst_sum, n_tok = 0.0, 0.0, 0
    for i, (ref, q) in enumerate(zip(items, got)):
        tag = f"item {i} ({ref.get('source', '')})"
        if q.get("context_ids") != ref["context_ids"] or q.get("continuation_ids") != ref["continuation_ids"]:
            fails.append(f"{tag}: token ids differ: ref {ref['context_ids']}|{ref['continuation_ids']} "
                         f"quipu {q.get('context_ids')}|{q.get('continuation_ids')}")
            continue
        d = [abs(a - b) for a, b in zip(q["token_logprobs"], ref["token_logprobs"])]
        n_tok += len(d)
        md = max(d) if d else 0.0
        sd = abs(q["logprob"] - ref["logprob"])
        worst_tok, worst_sum = max(worst_tok, md), max(worst_sum, sd)
        if md > TOK_TOL:
            fails.append(f"{tag}: token log-prob off by {md:.3g} (> {TOK_TOL})")
        if sd > SUM_TOL:
            fails.append(f"{tag}: sum off by {sd:.3g} (> {SUM_TOL})")
        if q["is_greedy"] != ref["is_greedy"] and ref.get("min_margin", 1.0) >= MARGIN:
            fails.append(f"{tag}: is_greedy {q['is_greedy']} vs reference {ref['is_greedy']}")
    print(f"{golden_path.split('/')[-1]}: {len(items)} items, {n_tok} tokens, max |Δ token| {worst_tok:.3g}, "
          f"max |Δ sum| {worst_sum:.3g}, {len(fails)} failures")
    for x in fails[:10]:
        print("  " + x)
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
