#!/usr/bin/env python3
"""make-fuzz-seeds.py OUT [SHARED] -- seed corpora for the libFuzzer targets of tests/fuzz.

Writes OUT/<target>/<seed> for every target: tiny GGUF models and headers written here from
scratch, tiny safetensors checkpoints (with the fixed tokenizer of fuzz_safetensors_model.c),
the repository's experiment configs, the first rows of each shared dataset (SHARED, default
../shared beside the repository), and journal lines. Standard library only; deterministic.
"""
import glob
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = sys.argv[1]
SHARED = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "..", "shared")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---------------------------------------------------------------- GGUF

def gs(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def kv(k, t, v):
    fmt = {4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q"}
    if t == 8:
        return gs(k) + struct.pack("<I", 8) + gs(v)
    if t == 9:  # (elem type, list)
        et, items = v
        body = b"".join(gs(x) if et == 8 else struct.pack(fmt[et], x) for x in items)
        return gs(k) + struct.pack("<IIQ", 9, et, len(items)) + body
    return gs(k) + struct.pack("<I", t) + struct.pack(fmt[t], v)


def gguf(kvs, tensors):
    """tensors: (name, ne list, float values); F32, each padded to 32 bytes."""
    infos, data = b"", b""
    for name, ne, vals in tensors:
        infos += gs(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", 0, len(data))
        data += struct.pack("<%df" % len(vals), *vals)
        data += b"\0" * ((32 - len(data) % 32) % 32)
    body = struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kvs)) + b"".join(kvs) + infos
    body += b"\0" * ((32 - len(body) % 32) % 32)
    return body + data


def vals(n, seed):
    return [((i * 7 + seed * 13) % 17 - 8) / 64.0 for i in range(n)]


def tiny_gguf(arch, fused):
    D, F, V, H = 8, 16, 8, 2
    toks = ["<unk>", "<s>", "</s>", "\u2581a", "a", "b", "\u2581", "c"]
    kvs = [kv("general.architecture", 8, arch), kv(arch + ".block_count", 4, 1), kv(arch + ".embedding_length", 4, D),
           kv(arch + ".feed_forward_length", 4, F), kv(arch + ".attention.head_count", 4, H), kv(arch + ".context_length", 4, 16),
           kv("tokenizer.ggml.model", 8, "llama"), kv("tokenizer.ggml.tokens", 9, (8, toks)),
           kv("tokenizer.ggml.scores", 9, (6, [0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0])),
           kv("tokenizer.ggml.token_type", 9, (5, [2, 3, 3, 1, 1, 1, 1, 1])),
           kv("tokenizer.ggml.bos_token_id", 4, 1), kv("tokenizer.ggml.eos_token_id", 4, 2)]
    if arch == "llama":
        kvs.append(kv(arch + ".attention.layer_norm_rms_epsilon", 6, 1e-5))
    else:
        kvs.append(kv(arch + ".attention.layer_norm_epsilon", 6, 1e-5))
    t = [("token_embd.weight", [D, V], vals(D * V, 1)), ("output_norm.weight", [D], [1.0] * D), ("blk.0.attn_norm.weight", [D], [1.0] * D)]
    if arch == "gpt2":
        t += [("position_embd.weight", [D, 16], vals(D * 16, 2)), ("output_norm.bias", [D], [0.0] * D), ("blk.0.attn_norm.bias", [D], [0.0] * D)]
    if fused:
        t += [("blk.0.attn_qkv.weight", [D, 3 * D], vals(3 * D * D, 3)), ("blk.0.attn_qkv.bias", [3 * D], vals(3 * D, 4))]
    else:
        t += [("blk.0.attn_q.weight", [D, D], vals(D * D, 5)), ("blk.0.attn_k.weight", [D, D], vals(D * D, 6)),
              ("blk.0.attn_v.weight", [D, D], vals(D * D, 7))]
    t += [("blk.0.attn_output.weight", [D, D], vals(D * D, 8)), ("blk.0.ffn_norm.weight", [D], [1.0] * D),
          ("blk.0.ffn_up.weight", [D, F], vals(D * F, 9)), ("blk.0.ffn_down.weight", [F, D], vals(D * F, 10))]
    if arch == "llama":
        t.append(("blk.0.ffn_gate.weight", [D, F], vals(D * F, 11)))
    return gguf(kvs, t)


llama = tiny_gguf("llama", False)
gpt2 = tiny_gguf("gpt2", True)
for target in ("gguf", "gguf_model"):
    put(target, "llama.gguf", llama)
    put(target, "gpt2-fused-qkv.gguf", gpt2)
put("gguf", "header-only.gguf", gguf([kv("general.architecture", 8, "llama"), kv("general.alignment", 4, 64)], []))
put("gguf", "arrays.gguf", gguf([kv("a", 9, (4, [1, 2, 3])), kv("b", 9, (7, [0, 1])), kv("c", 10, 1 << 40), kv("d", 5, -3)], []))

# ---------------------------------------------------------------- safetensors checkpoints


def st(tensors):
    hdr, data = {}, b""
    for name, shape, vs in tensors:
        b = struct.pack("<%df" % len(vs), *vs)
        hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


D, F, V = 8, 16, 8
cfg_llama = {"model_type": "llama", "hidden_size": D, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
             "intermediate_size": F, "max_position_embeddings": 16, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
             "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 1}
w_llama = st([("model.embed_tokens.weight", [V, D], vals(V * D, 1)), ("model.norm.weight", [D], [1.0] * D),
              ("model.layers.0.input_layernorm.weight", [D], [1.0] * D), ("model.layers.0.post_attention_layernorm.weight", [D], [1.0] * D),
              ("model.layers.0.self_attn.q_proj.weight", [D, D], vals(D * D, 2)), ("model.layers.0.self_attn.k_proj.weight", [4, D], vals(4 * D, 3)),
              ("model.layers.0.self_attn.v_proj.weight", [4, D], vals(4 * D, 4)), ("model.layers.0.self_attn.o_proj.weight", [D, D], vals(D * D, 5)),
              ("model.layers.0.mlp.gate_proj.weight", [F, D], vals(F * D, 6)), ("model.layers.0.mlp.up_proj.weight", [F, D], vals(F * D, 7)),
              ("model.layers.0.mlp.down_proj.weight", [D, F], vals(F * D, 8))])
cfg_gpt2 = {"model_type": "gpt2", "n_embd": D, "n_layer": 1, "n_head": 2, "n_positions": 16, "layer_norm_epsilon": 1e-5,
            "activation_function": "gelu_new", "bos_token_id": 0, "eos_token_id": 0}
w_gpt2 = st([("wte.weight", [V, D], vals(V * D, 1)), ("wpe.weight", [16, D], vals(16 * D, 2)), ("ln_f.weight", [D], [1.0] * D),
             ("ln_f.bias", [D], [0.0] * D), ("h.0.ln_1.weight", [D], [1.0] * D), ("h.0.ln_1.bias", [D], [0.0] * D),
             ("h.0.attn.c_attn.weight", [D, 3 * D], vals(3 * D * D, 3)), ("h.0.attn.c_attn.bias", [3 * D], vals(3 * D, 4)),
             ("h.0.attn.c_proj.weight", [D, D], vals(D * D, 5)), ("h.0.attn.c_proj.bias", [D], [0.0] * D),
             ("h.0.ln_2.weight", [D], [1.0] * D), ("h.0.ln_2.bias", [D], [0.0] * D),
             ("h.0.mlp.c_fc.weight", [D, 4 * D], vals(4 * D * D, 6)), ("h.0.mlp.c_fc.bias", [4 * D], [0.0] * (4 * D)),
             ("h.0.mlp.c_proj.weight", [4 * D, D], vals(4 * D * D, 7)), ("h.0.mlp.c_proj.bias", [D], [0.0] * D)])
SEP = b"\n@@SAFETENSORS@@\n"
put("safetensors_model", "llama", json.dumps(cfg_llama).encode() + SEP + w_llama)
put("safetensors_model", "gpt2", json.dumps(cfg_gpt2).encode() + SEP + w_gpt2)
q = dict(cfg_llama, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8})
put("safetensors_model", "llama3-rope", json.dumps(q).encode() + SEP + w_llama)

# ---------------------------------------------------------------- experiment configs
for p in sorted(glob.glob(os.path.join(REPO, "configs", "*.yaml")) + glob.glob(os.path.join(REPO, "configs", "*", "*.yaml"))):
    put("config_yaml", os.path.relpath(p, REPO).replace("/", "_"), open(p, "rb").read())
put("config_yaml", "with-overrides", "name: t\nmodels:\n  - path: m.gguf\nbenchmarks: [crows_pairs_en]\n"
    "\n@@SET@@\nscoring.batch_tokens=512\nbenchmarks.0={name: bbq, limit: 10}\nmetrics.bootstrap=100\n")

# ---------------------------------------------------------------- template definitions
for p in sorted(glob.glob(os.path.join(REPO, "configs", "templates", "*.yaml"))):
    put("template", os.path.basename(p), open(p, "rb").read())
put("template", "pairs-forms-names", "kind: pairs\ncultures: {CL: es-CL, FR: fr-FR}\nslots:\n"
    "  G:\n    all:\n      - {text: Nahuel, role: target, group: mapuche, gender: m, number: sg}\n"
    "      - {text: Millaray, role: target, group: mapuche, gender: f, number: sg}\n"
    "      - {text: Tomás, role: other, group: santiaguino, gender: m, number: sg}\n"
    "  A:\n    es: [{forms: {m.sg: flojo, f.sg: floja}}]\n    fr: [{forms: {m: paresseux, f: paresseuse}}]\n"
    "templates:\n  - {id: t, text: \"{{x}} {G} es {A:agree=G}.\", differ: G, match: gender}\n")

# ---------------------------------------------------------------- dataset rows (first byte: loader)
LOADERS = [None, None, "crows-pairs/data/crows_pairs_anonymized.csv",
           "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv", "bbq/data/Age.jsonl",
           "esbbq-cabbq/data_es/Age.full.csv", "stereoset/third_party_elidek-themis/intrasentence_stereo_set.csv",
           "kobbq/data/KoBBQ_test_samples.tsv"]
put("data_rows", "pairs", bytes([0]) + b'{"id": 1, "more": "The old man forgot.", "less": "The young man forgot.", "category": "age", '
    b'"language": "en", "culture": "US"}\n{"id": 2, "more": "She cried.", "less": "He cried.", "language": "en", "culture": "US", "direction": -1}\n')
put("data_rows", "mc", bytes([1]) + b'{"id": "q1", "context": "Two people talked.", "question": "Who forgot?", "choices": ["The old one", '
    b'"The young one", "Unknown"], "label": 2, "language": "en", "culture": "US", "category": "age", "unknown_choice": 2}\n')
for i, rel in enumerate(LOADERS):
    if rel is None:
        continue
    p = os.path.join(SHARED, "datasets", rel)
    if not os.path.exists(p):
        continue
    head = b"".join(open(p, "rb").readlines()[:6])
    put("data_rows", "loader%d" % i, bytes([i]) + head)
    put("data_rows", "loader%d-skip" % i, bytes([i | 0x80]) + head)

# ---------------------------------------------------------------- journal lines


def jline(i, lp, nt, nb, g):
    s = '{"id": %s, "lp": [%s], "nt": [%s], "nb": [%s], "g": [%s]' % (json.dumps(i), ", ".join("%.17g" % x for x in lp),
                                                                     ", ".join(map(str, nt)), ", ".join(map(str, nb)), ", ".join(map(str, g)))
    return s + ', "ck": "%08x"}\n' % (zlib.crc32(s.encode()) & 0xFFFFFFFF)


lines = [jline("m|f|cpu/f32/2048|crows|crows_pairs_en:%04d|abc" % i, [-12.5 - i, -13.25], [4, 5], [20, 22], [0, 1]) for i in range(4)]
put("journal", "checksummed", "".join(lines))
put("journal", "torn-tail", "".join(lines) + lines[0][:30])
put("journal", "legacy", '{"id": "a:1", "lp": [-1.5, -2.5], "nt": [2, 3], "nb": [5, 6], "g": [1, 0]}\n')
put("journal", "mc", jline("bbq:1", [-3.0, -4.0, -5.5], [1, 1, 2], [3, 4, 9], [1, 0, 0]))
# ---------------------------------------------------------------- tokenizer.json
# Each shared tokenizer's pipeline (normalizer, pre-tokenizer, post-processor, added tokens) over
# its first 400 vocabulary entries and the merges among them; then small hand-made files.


def shrink(tok, keep=400):
    m = tok.get("model") or {}
    vocab = m.get("vocab")
    if isinstance(vocab, dict):
        kept = dict(sorted(vocab.items(), key=lambda kv: kv[1])[:keep])
        m["vocab"] = kept
        merges = []
        for mg in m.get("merges") or []:
            a, b = mg.split(" ", 1) if isinstance(mg, str) else mg
            if a in kept and b in kept and a + b in kept:
                merges.append(mg)
        m["merges"] = merges
    elif isinstance(vocab, list):  # Unigram
        m["vocab"] = vocab[:keep]
    ids = set((m.get("vocab") or {}).values()) if isinstance(m.get("vocab"), dict) else None
    if ids is not None:
        tok["added_tokens"] = [t for t in tok.get("added_tokens") or [] if t.get("id", 0) < keep + 64]
    return tok


for path in sorted(glob.glob(os.path.join(SHARED, "tokenizers", "*", "tokenizer.json"))):
    try:
        tok = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError):
        continue
    put("tokenizer_json", os.path.basename(os.path.dirname(path)), json.dumps(shrink(tok), ensure_ascii=False))

byte_chars = [chr(c) for c in range(33, 127)] + ["Ġ", "Ċ", "ĉ"]
bpe = {"version": "1.0", "added_tokens": [{"id": 100, "content": "<|end|>", "special": True, "single_word": False, "lstrip": False,
                                           "rstrip": False, "normalized": False}],
       "normalizer": None,
       "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
           {"type": "Split", "pattern": {"Regex": "\\p{N}"}, "behavior": "Isolated", "invert": False},
           {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
       "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}},
                                                                   {"Sequence": {"id": "A", "type_id": 0}}],
                          "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                          "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [100], "tokens": ["<|end|>"]}}},
       "decoder": {"type": "ByteLevel"},
       "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                 "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                 "vocab": dict({c: i for i, c in enumerate(byte_chars)}, **{"He": 97, "ll": 98, "Hell": 99}),
                 "merges": ["H e", "l l", "He ll"]}}
put("tokenizer_json", "hand-bpe", json.dumps(bpe, ensure_ascii=False))
spm = {"version": "1.0", "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True}],
       "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                          {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
       "pre_tokenizer": None, "decoder": None,
       "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                   {"Sequence": {"id": "A", "type_id": 0}}],
                          "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                          "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
       "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
                 "vocab": dict({"<unk>": 0, "<s>": 1}, **{"<0x%02X>" % b: 2 + b for b in range(256)},
                               **{"\u2581": 258, "a": 259, "\u2581a": 260}),
                 "merges": ["\u2581 a"]}}
put("tokenizer_json", "hand-spm", json.dumps(spm, ensure_ascii=False))
wp = {"version": "1.0", "added_tokens": [{"id": 0, "content": "[UNK]", "special": True}, {"id": 1, "content": "[CLS]", "special": True},
                                         {"id": 2, "content": "[SEP]", "special": True}],
      "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
      "pre_tokenizer": {"type": "BertPreTokenizer"}, "decoder": None,
      "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                                                  {"Sequence": {"id": "A", "type_id": 0}},
                                                                  {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                         "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                                            "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}},
      "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "w": 4, "##or": 5, "##ld": 6, "1": 7, "2": 8, "3": 9}}}
put("tokenizer_json", "hand-wordpiece", json.dumps(wp, ensure_ascii=False))
uni = {"version": "1.0", "added_tokens": [], "normalizer": None,
       "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}, "decoder": None,
       "post_processor": None,
       "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": False,
                 "vocab": [["<unk>", 0.0], ["\u2581", -2.0], ["\u2581He", -3.0], ["llo", -3.5], ["l", -4.0], ["o", -4.0], ["H", -5.0],
                           ["e", -5.0]]}}
put("tokenizer_json", "hand-unigram", json.dumps(uni, ensure_ascii=False))
put("tokenizer_json", "hand-bpe-text", json.dumps(bpe, ensure_ascii=False).encode() + b"\0Hello 2024 <|end|> world")

print("seeds in %s" % OUT)
