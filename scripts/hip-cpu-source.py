#!/usr/bin/env python3
"""hip-cpu-source.py IN.cu OUT.cpp — one kernel source rewritten for the HIP CPU runtime (the
GPU-on-the-CPU emulation build, -DQUIPU_GPU_EMULATE, docs/gpu.md): a plain C++17 compiler does
not parse CUDA's launch syntax, so every `kernel<<<grid, block, shmem, stream>>>(args);` becomes
`hipLaunchKernelGGL((kernel), grid, block, shmem, stream, args);`. Nothing else changes: the
kernels' code is compiled as it is written, with vendor.h's HIP names."""
import re
import sys


def split_top(s, sep=","):
    """splits s on sep outside (), [], {} and <...> of template arguments"""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def rewrite(src):
    res, i = [], 0
    pat = re.compile(r"([A-Za-z_][\w:]*(?:<[^<>;]*>)?)\s*<<<")
    while True:
        m = pat.search(src, i)
        if not m:
            res.append(src[i:])
            return "".join(res)
        end_cfg = src.index(">>>", m.end())
        cfg = split_top(src[m.end():end_cfg])
        while len(cfg) < 4:
            cfg.append("0")
        j = end_cfg + 3
        while src[j].isspace():
            j += 1
        if src[j] != "(":
            raise SystemExit(f"hip-cpu-source.py: no argument list after a launch at offset {j}")
        depth, k = 0, j
        while True:
            if src[k] == "(":
                depth += 1
            elif src[k] == ")":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        args = src[j + 1:k].strip()
        cfgs = ", ".join(c.strip() for c in cfg)
        res.append(src[i:m.start()])
        res.append(f"hipLaunchKernelGGL(({m.group(1)}), {cfgs}{', ' + args if args else ''})")
        i = k + 1


if __name__ == "__main__":
    text = open(sys.argv[1], encoding="utf-8").read()
    out = '#line 1 "%s"\n' % sys.argv[1].replace("\\", "/") + rewrite(text)
    open(sys.argv[2], "w", encoding="utf-8").write(out)
