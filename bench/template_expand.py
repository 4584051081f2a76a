#!/usr/bin/env python3
"""Writes the definition timed in results/bench/template-expand.md: one pairs template, 100 target
and 100 other names (each with a group, so every item also gets its name-swap keys), 10 attributes
with gender forms, two cultures; gender-matched pairs give 100 x 100 / 2 x 10 x 2 = 100,000 items.
Usage: python3 bench/template_expand.py OUT.yaml"""
import sys

lines = ["kind: pairs", "category: test", "cultures: {CL: es-CL, MX: es-MX}", "slots:", "  NAME:", "    all:"]
for i in range(100):
    lines.append(f"      - {{text: Persona{i:03d}, role: target, group: g1, gender: {'m' if i % 2 else 'f'}, number: sg}}")
for i in range(100):
    lines.append(f"      - {{text: Otra{i:03d}, role: other, group: g2, gender: {'m' if i % 2 else 'f'}, number: sg}}")
lines += ["  ATTR:", "    es:"]
for i in range(10):
    lines.append(f"      - {{forms: {{m.sg: rasgo{i}o, f.sg: rasgo{i}a}}}}")
lines += ["templates:", '  - {id: t1, text: "En mi barrio, {NAME} es {ATTR:agree=NAME}.", differ: NAME, match: gender}']
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
