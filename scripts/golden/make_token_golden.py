#!/usr/bin/env python3
"""make_token_golden.py — reference data for quipu's tokenizer, made with Hugging Face's own code.

Two jobs, both run with the reference Python environment (tokenizers 0.23.3, transformers 5.24.0,
gguf 0.19.0):

  make_token_golden.py tables src/tok/unicode_tables.c
      Asks the `tokenizers` library, code point by code point, how its regex engine (Oniguruma)
      classifies \\p{L} \\p{N} \\s \\d \\w, what Rust's char::is_numeric / is_whitespace say, what
      its (older) unicode_categories tables call punctuation, control/format/private-use and
      non-spacing marks, what Lowercase maps each char to, and which chars NFD/NFKD decompose.
      quipu compiles these tables in, so its answers do not depend on the Unicode version of the
      local PCRE2 / utf8proc.

  make_token_golden.py golden tests/golden/tokens [--models DIR] [--shared DIR]
      Tokenizes the corpora (CrowS-Pairs en and fr, MBBQ es contexts/questions/answers, SESGO es
      paper version) and a list of hard strings (plus llama.cpp's 46 test strings) with:
        - every tokenizer.json under shared/tokenizers (tokenizers.Tokenizer.from_file),
        - the SmolLM2 and Gemma 3 GGUF files of the model cache (transformers AutoTokenizer,
          gguf_file=...),
        - four vocabulary-only GGUF files written here (gguf/*.gguf.zst: SentencePiece for
          architectures llama and phi3, byte-level with pre llama-bpe and qwen2),
        - ten small tokenizers trained here (synth/*.json), one per less common component.
      add_special_tokens=False for every string, add_special_tokens=True for a few. Writes
      texts.jsonl.zst (each input once; invalid UTF-8 inputs as hex) and <tokenizer>.jsonl.zst,
      each with a header line (format, reference versions, command), compressed with the zstd
      command-line tool. Training is not deterministic across runs, so a rerun rewrites synth/
      and its goldens together.
"""
import argparse
import csv
import glob
import hashlib
import json
import os
import subprocess
import sys


# ---------------------------------------------------------------------------------------------
# Unicode tables
# ---------------------------------------------------------------------------------------------

def _ranges(cps):
    out = []
    for c in cps:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def _all_code_points():
    return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def make_tables(out_path):
    from tokenizers import Regex, normalizers as nm, pre_tokenizers as pt

    cps = _all_code_points()

    def regex_class(pattern):
        sp = pt.Split(Regex(pattern), behavior="removed")
        return [cp for cp in cps if not sp.pre_tokenize_str(chr(cp))]

    tables = {}
    # Oniguruma (what Split/Replace regexes and the ByteLevel regex see).
    for name, pat in [("rx_L", r"\p{L}"), ("rx_N", r"\p{N}"), ("rx_s", r"\s"),
                      ("rx_d", r"\d"), ("rx_w", r"\w")]:
        tables[name] = regex_class(pat)

    digits = pt.Digits(individual_digits=True)
    punct = pt.Punctuation()
    wsplit = pt.WhitespaceSplit()
    wspace = pt.Whitespace()
    clean = nm.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                              lowercase=False)
    strip_mn = nm.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                 lowercase=False)
    strip_marks = nm.StripAccents()
    lower = nm.Lowercase()
    nfd, nfkd = nm.NFD(), nm.NFKD()

    numeric, punctuation, white, word, other, mn, marks, dec, kdec = ([] for _ in range(9))
    lower_map = []
    for cp in cps:
        c = chr(cp)
        if len(digits.pre_tokenize_str("a" + c + "a")) == 3:
            numeric.append(cp)
        if len(punct.pre_tokenize_str("a" + c + "a")) == 3:
            punctuation.append(cp)
        is_white = len(wsplit.pre_tokenize_str("a" + c + "a")) == 2
        if is_white:
            white.append(cp)
        # Whitespace = split on \w+|[^\w\s]+ (Rust regex crate): "a"+c stays one piece iff c is \w.
        if not is_white and len(wspace.pre_tokenize_str("a" + c)) == 1:
            word.append(cp)
        if cp not in (0, 0xFFFD, 9, 10, 13) and clean.normalize_str(c) == "":
            other.append(cp)
        if strip_mn.normalize_str(c) == "":
            mn.append(cp)
        if strip_marks.normalize_str(c) == "":
            marks.append(cp)
        lo = lower.normalize_str(c)
        if lo != c:
            lower_map.append((cp, [ord(x) for x in lo]))
        if nfd.normalize_str(c) != c:
            dec.append(cp)
        if nfkd.normalize_str(c) != c:
            kdec.append(cp)
    tables.update(numeric=numeric, punct=punctuation, white=white, word=word, bert_other=other,
                  mn=mn, mark=marks, nfd_dec=dec, nfkd_dec=kdec)

    import tokenizers
    lines = [
        "/* unicode_tables.c — GENERATED by scripts/golden/make_token_golden.py tables; do not edit.",
        " * Character classes as Hugging Face tokenizers %s sees them (Oniguruma for regexes, Rust std"
        % tokenizers.__version__,
        " * and the unicode_categories crate for the pre-tokenizers and BertNormalizer), as sorted",
        " * inclusive code point ranges. */",
        '#include "tok/unicode_tables.h"',
        "",
    ]
    for name in sorted(tables):
        rs = _ranges(tables[name])
        lines.append("const quipu_u_range quipu_u_%s[] = {" % name)
        row = []
        for a, b in rs:
            row.append("{0x%X,0x%X}" % (a, b))
            if len(row) == 8:
                lines.append("    " + ",".join(row) + ",")
                row = []
        if row:
            lines.append("    " + ",".join(row) + ",")
        lines.append("};")
        lines.append("const size_t quipu_u_%s_n = %d;" % (name, len(rs)))
        lines.append("")
    # Lowercase: single code point results in one table, the few longer ones in another.
    single = [(a, l[0]) for a, l in lower_map if len(l) == 1]
    multi = [(a, l) for a, l in lower_map if len(l) != 1]
    lines.append("const quipu_u_map quipu_u_lower[] = {")
    row = []
    for a, b in single:
        row.append("{0x%X,0x%X}" % (a, b))
        if len(row) == 8:
            lines.append("    " + ",".join(row) + ",")
            row = []
    if row:
        lines.append("    " + ",".join(row) + ",")
    lines.append("};")
    lines.append("const size_t quipu_u_lower_n = %d;" % len(single))
    lines.append("const quipu_u_map3 quipu_u_lower_multi[] = {")
    for a, l in multi:
        assert 1 < len(l) <= 3, (a, l)
        lines.append("    {0x%X,%d,{%s}}," % (a, len(l), ",".join("0x%X" % x for x in l + [0] * (3 - len(l)))))
    lines.append("};")
    lines.append("const size_t quipu_u_lower_multi_n = %d;" % len(multi))
    lines.append("")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("wrote %s" % out_path)


# ---------------------------------------------------------------------------------------------

HARD_STRINGS = [
    # whitespace runs, tabs, newlines
    "", " ", "  ", "   ", "    ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\t\t\tx", "a  b",
    "a   b    c", "   leading", "trailing   ", "  Hello", "   Hello", "Hello  ", "Hello\n",
    "Hello \n world", " \t \n ", "a \t b", "\n \n", "  \n  \n", "x\n\n\ny", "line1\r\nline2",
    "x\u00a0y", "\u3000full width space", "a\u2028b", "a\u180eb", "a\u0085b", "zero\u200bwidth",
    "word\u200cnon\u200djoiner", "\u2009thin\u202fspace",
    # digits and numbers
    "0", "123", "1234567890", " 42", "3.14159", "1,000,000", "\u0663\u0664\u0665 arabic-indic",
    "\u0967\u0968\u0969 devanagari", "\u00bd \u00bc \u00b2 \u00b3", "\u2460\u2461\u2462", "1st 2nd 3rd",
    "$100.00", "10%", "2024-01-15", "9" * 200, "ied 4 \u00bd months",
    # emoji, ZWJ sequences, flags, skin tones
    "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
    "\U0001F3F3\ufe0f\u200d\U0001F308", "\U0001F1EB\U0001F1F7\U0001F1EA\U0001F1F8", "\u2764\ufe0f",
    "\U0001F999", "\U0001F970 new emoji", "\U0001FAE0", "I love it \U0001F60D\U0001F60D!", "\U0001F642" * 50,
    # accents, combining marks, NFC vs NFD, compatibility forms, case
    "caf\u00e9", "cafe\u0301", "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m", "\u212b", "na\u00efve fa\u00e7ade r\u00e9sum\u00e9",
    "\u00c6\u00d8\u00c5 \u00e6\u00f8\u00e5", "\u00df stra\u00dfe STRASSE", "\u0130stanbul", "\u015e\u011e\u00dc\u00d6\u00c7 \u015f\u011f\u00fc\u00f6\u00e7",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
    "\u01c5 \u01c8 \u01cb titlecase", "\ufb01 \ufb02 \ufb03 ligatures", "\u216b roman", "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
    "x\u0300\u0301\u0302\u0303 stacked", "\u0301 leading mark", "e\u0301\u0327", "\u1e69 \u0073\u0323\u0307",
    "HELLO World", "hELLo", "\u00c4pfel", "F\u00fchrer",
    # French and Spanish
    "l'homme d'\u00c9tat", "aujourd'hui", "\u00c7a va ? Oui !", "ni\u00f1o a\u00f1o ping\u00fcino",
    "\u00a1Hola, se\u00f1or!", "\u00bfQu\u00e9? \u00a1S\u00ed!", "\u0153uvre c\u0153ur \u0152", "l\u2019h\u00f4pital",
    # CJK, Korean, other scripts
    "\u4e2d\u6587\u6d4b\u8bd5", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\uc548\ub155\ud558\uc138\uc694", "\u1100\u1161\u11a8", "\uff76\uff80\uff76\uff85\uff9e", "\u4e2d\u6587\uff0c\u6807\u70b9\u3002",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\u1781\u17d2\u1798\u17c2\u179a", "\U00020000\U0002a6d6 ext-b",
    # punctuation, contractions, code, markup
    "Hello, world!", "Wait... what?!", "\u201cquotes\u201d \u2018single\u2019 \u00abguillemets\u00bb",
    "em\u2014dash en\u2013dash", "it's I'm we'll they'd you've she's", "IT'S I'M WE'LL", "don't", "'s 't 're",
    "a/b\\c|d", "<html>&amp;</html>", "C++ && x->y", "@user #tag", "http://example.com/path?q=1&r=2",
    "email@example.com", "def f(x):\n    return x**2\n", "\tindented\n\t\tcode", "SELECT * FROM t;",
    "((()))[[]]{{}}", "___init___", "...", "!!!???", "--", "a.b.c",
    # text that looks like special tokens
    "<|endoftext|>", "<s>", "</s>", "<bos>", "<eos>", "<unk>", "<pad>", "<mask>", "[CLS] [SEP] [MASK]",
    "<|im_start|>user\nhi<|im_end|>", "<start_of_turn>user\nhi<end_of_turn>", "text<|endoftext|>more",
    " <s> spaced </s> ", "[UNK]", "<0x0A>", "<|endoftext|><|endoftext|>", "<<s>>",
    # control, format, private-use, noncharacters
    "\x00", "a\x00b", "\x07bell", "\x1b[31mred", "\x7f", "\ufeffBOM", "\ufffd replacement",
    "\ue000 private", "\U000f0000", "\uffff", "\U0010ffff", "\u061c\u200e\u200f marks", "a\u00adb soft hyphen",
    # added tokens with lstrip/rstrip, Gemma's user-defined tokens, chat markup
    "</s>   after", "hi </s> there", "<|user|>\nHello<|end|>\n<|assistant|>", "a  <|endoftext|>  b",
    "<table><tr><td>x</td></tr></table>", "<h1>Title</h1>", "para\n\n\nnext", "<unused0><start_of_image>",
    "[CLS]hello[SEP]", "x<mask>y", "<s><s></s>",
    # for the add_special_tokens=True checks
    "Hello world", " Hello", "\u00bfQu\u00e9 tal?", "The poor are really ignorant.",
    # long inputs
    "a" * 5000, "a" * 300, "word " * 100, "ab" * 500, "\u00e9" * 100, " " * 40 + "x",
]

INVALID_BYTES = [
    b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"abc\x80def", b"\xe2\x82",
    b"caf\xe9", b"\xf0\x9f\x98", b"\xc3", b"\xc3\x28", b"\xe2\x28\xa1", b"\xf8\x88\x80\x80\x80",
    b"ok\xfe\xffok", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"Hello \xf0\x9f\x98 world \xe2\x82\xac",
    b"\x80\x80\x80", b"\xc2", b"tail\xe2",
]

SPECIAL_CHECKS = ["Hello world", " Hello", "", " ", "<s>", "</s>", "\u00bfQu\u00e9 tal?", "The poor are really ignorant.",
                  "<|endoftext|>", "caf\u00e9"]


def _read_texts(shared):
    """[(key, raw bytes, sources)] with each text once; key is the str (or bytes.hex)."""
    ds = os.path.join(shared, "datasets")
    entries = {}
    order = []

    def add(text, src):
        key = text if isinstance(text, str) else b"\0hex:" + text
        if key not in entries:
            entries[key] = set()
            order.append((key, text))
        entries[key].add(src)

    with open(os.path.join(ds, "crows-pairs/data/crows_pairs_anonymized.csv"), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            add(row["sent_more"], "crows-en")
            add(row["sent_less"], "crows-en")
    with open(os.path.join(ds, "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv"),
              encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            add(row["sent_more"], "crows-fr")
            add(row["sent_less"], "crows-fr")
    for path in sorted(glob.glob(os.path.join(ds, "mbbq/data/*_es.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                for k in ("context", "question", "ans0", "ans1", "ans2"):
                    add(d[k], "mbbq-es")
                for k in ("ans0", "ans1", "ans2"):  # as a continuation after the prompt
                    add(" " + d[k], "mbbq-es")
    import ast
    for path in sorted(glob.glob(os.path.join(ds, "sesgo/paper_version_89b8a0e/derived_csv/*.csv"))):
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                for k in ("context", "question", "answer"):
                    add(row[k], "sesgo-es")
                for v in ast.literal_eval(row["answer_info"]).values():
                    v = v if isinstance(v, str) else v[0]
                    add(v, "sesgo-es")
                    add(" " + v, "sesgo-es")
    for s in HARD_STRINGS:
        add(s, "hard")
    # llama.cpp's tokenizer test strings (shared/tokenizers/vocab-test.inp)
    with open(os.path.join(shared, "tokenizers", "vocab-test.inp"), encoding="utf-8") as f:
        for s in f.read().split("\n__ggml_vocab_test__\n")[:-1]:
            add(s, "hard")
    for b in INVALID_BYTES:
        add(b, "hard-bytes")
    return [(text, sorted(entries[key])) for key, text in order]


def _zstd_write(path, lines):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    subprocess.run(["zstd", "-q", "-f", "-19", "--long=27", "-o", path], input=data, check=True)


def _versions():
    import tokenizers
    import transformers
    try:
        from importlib.metadata import version
        gguf_v = version("gguf")
    except Exception:
        gguf_v = "?"
    return {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__, "gguf": gguf_v}


def _load_json_tokenizer(path):
    """tokenizers.Tokenizer.from_file; the genuine GPT-2 file has one merge ("ĠCla ude") whose
    result is not in its vocab, which tokenizers >= 0.2x refuses: drop such merges then."""
    from tokenizers import Tokenizer
    try:
        return Tokenizer.from_file(path), None
    except Exception as e:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        m = j["model"]
        vocab = m["vocab"]
        kept, dropped = [], []
        for mg in m["merges"]:
            a, b = mg.split(" ") if isinstance(mg, str) else mg
            (kept if (a + b) in vocab else dropped).append(mg)
        if not dropped:
            raise
        m["merges"] = kept
        note = "tokenizers refused the file (%s); loaded after dropping merges whose result is not in the vocab: %s" % (
            str(e)[:80], dropped)
        return Tokenizer.from_str(json.dumps(j)), note


def make_synth(outdir, corpus):
    """Small tokenizers trained here, one per less common component, so that every normalizer,
    pre-tokenizer, model option, added-token flag and post-processor quipu implements is checked
    against tokenizers itself. Written as tokenizer.json files next to the goldens."""
    from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers as N, pre_tokenizers as P, \
        processors as PP, trainers

    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    os.makedirs(outdir, exist_ok=True)
    made = []

    def bpe_trainer(special, **kw):
        return trainers.BpeTrainer(vocab_size=900, min_frequency=2, special_tokens=special, show_progress=False, **kw)

    def finish(name, tok, trainer, added=(), post=None, truncation=None):
        tok.train_from_iterator(corpus, trainer)
        for a in added:
            tok.add_tokens([a]) if not a.special else tok.add_special_tokens([a])
        if post is not None:
            tok.post_processor = post(tok)
        if truncation:
            tok.enable_truncation(max_length=truncation)
        path = os.path.join(outdir, name + ".json")
        tok.save(path)
        made.append((name, path))

    # Metaspace, prepend_scheme first, split; NFKC; byte fallback + fused unk; <s> $A </s>
    t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    t.normalizer = N.NFKC()
    t.pre_tokenizer = P.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    finish("s-metaspace-first", t, bpe_trainer(["<unk>", "<s>", "</s>"] + byte_tokens),
           post=lambda k: PP.TemplateProcessing(single="<s> $A </s>", special_tokens=[
               ("<s>", k.token_to_id("<s>")), ("</s>", k.token_to_id("</s>"))]))

    # Metaspace always, no split; unk not fused; lstrip/rstrip and single_word added tokens
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = P.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    finish("s-metaspace-always", t, bpe_trainer(["<unk>"]),
           added=[AddedToken("<mask>", lstrip=True, rstrip=True, special=True, normalized=False),
                  AddedToken("<sep>", single_word=True, special=False, normalized=True),
                  AddedToken("\u2581the", special=False, normalized=False)])

    # a Split before Metaspace(first): only the piece at offset 0 gets the prefix
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.normalizer = N.Lowercase()
    t.pre_tokenizer = P.Sequence([P.Split(Regex(r"\d+"), behavior="isolated"),
                                  P.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)])
    finish("s-split-metaspace", t, bpe_trainer(["<unk>"]))

    # every Split behaviour, String and Regex patterns, invert; ByteLevel with prefix, no regex
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = P.Sequence([
        P.Split(Regex(r"\s+"), behavior="removed"),
        P.Split("-", behavior="merged_with_previous"),
        P.Split(".", behavior="merged_with_next"),
        P.Split(Regex("[,;]"), behavior="contiguous"),
        P.Split(Regex("[aeiou]"), behavior="merged_with_next", invert=True),
        P.ByteLevel(add_prefix_space=True, use_regex=False)])
    finish("s-split-behaviors", t, bpe_trainer([], initial_alphabet=P.ByteLevel.alphabet()))

    # normalizers NFD, StripAccents, Lowercase, Strip, Replace (regex and string), Prepend; WordLevel
    t = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    t.normalizer = N.Sequence([N.NFD(), N.StripAccents(), N.Lowercase(), N.Strip(left=True, right=True),
                               N.Replace(Regex(r"\s+"), " "), N.Replace("'", "\u2019"), N.Prepend("_")])
    t.pre_tokenizer = P.WhitespaceSplit()
    finish("s-normalizers-wordlevel", t, trainers.WordLevelTrainer(vocab_size=900, min_frequency=2,
                                                                  special_tokens=["[UNK]"], show_progress=False))

    # cased BertNormalizer, BertPreTokenizer, WordPiece with a short max word, BertProcessing
    t = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=20))
    t.normalizer = N.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    t.pre_tokenizer = P.BertPreTokenizer()
    finish("s-bert-cased", t, trainers.WordPieceTrainer(vocab_size=900, min_frequency=2, show_progress=False,
                                                        special_tokens=["[UNK]", "[CLS]", "[SEP]"]),
           added=[AddedToken("cat", single_word=True, special=False, normalized=False)],
           post=lambda k: PP.BertProcessing(("[SEP]", k.token_to_id("[SEP]")), ("[CLS]", k.token_to_id("[CLS]"))))

    # Punctuation (contiguous), Digits (runs), Whitespace; BPE with ## prefix and </w> suffix; Roberta
    t = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    t.pre_tokenizer = P.Sequence([P.Punctuation(behavior="contiguous"), P.Digits(individual_digits=False),
                                  P.Whitespace()])
    finish("s-punct-digits-suffix", t, bpe_trainer(["<unk>", "<s>", "</s>"], continuing_subword_prefix="##",
                                                   end_of_word_suffix="</w>"),
           post=lambda k: PP.RobertaProcessing(("</s>", k.token_to_id("</s>")), ("<s>", k.token_to_id("<s>"))))

    # NFKC + Nmt, ByteLevel with prefix space and regex, ignore_merges, Sequence post, truncation
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.normalizer = N.Sequence([N.NFKC(), N.Nmt()])
    t.pre_tokenizer = P.ByteLevel(add_prefix_space=True, use_regex=True)
    finish("s-bytelevel-ignore-merges", t, bpe_trainer(["<|bos|>"], initial_alphabet=P.ByteLevel.alphabet()),
           post=lambda k: PP.Sequence([PP.ByteLevel(trim_offsets=False), PP.TemplateProcessing(
               single="<|bos|> $A", special_tokens=[("<|bos|>", k.token_to_id("<|bos|>"))])]),
           truncation=24)

    # CharDelimiterSplit + NFKD; WordLevel; EOS-only template
    t = Tokenizer(models.WordLevel(unk_token="<unk>"))
    t.normalizer = N.NFKD()
    t.pre_tokenizer = P.CharDelimiterSplit(" ")
    finish("s-chardelim-wordlevel", t, trainers.WordLevelTrainer(vocab_size=900, min_frequency=2,
                                                                special_tokens=["<unk>", "<eos>"], show_progress=False),
           post=lambda k: PP.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", k.token_to_id("<eos>"))]))

    # normalized added tokens (matched after Lowercase), raw ones, single_word; digits isolated then
    # ByteLevel with a prefix space on every piece; Strip(left)
    t = Tokenizer(models.BPE())
    t.normalizer = N.Sequence([N.Strip(left=True, right=False), N.Lowercase()])
    t.pre_tokenizer = P.Sequence([P.Digits(individual_digits=True), P.ByteLevel(add_prefix_space=True)])
    finish("s-added-normalized", t, bpe_trainer([], initial_alphabet=P.ByteLevel.alphabet()),
           added=[AddedToken("HELLO", normalized=True), AddedToken("[Raw]", normalized=False),
                  AddedToken("ab", single_word=True, normalized=False), AddedToken("<|sp|>", special=True)])
    return made


def make_vocab_ggufs(outdir, shared, tmpdir):
    """Vocabulary-only GGUF files for the tokenizer paths that have no real model in the cache:
    a SentencePiece vocab for architecture llama (Metaspace, merges rebuilt from scores) and phi3
    (Prepend + Replace, user-defined tokens), and byte-level vocabs with tokenizer.ggml.pre
    llama-bpe and qwen2 (transformers' split regexes). Written zstd-compressed to outdir; the
    uncompressed copies (for transformers) go to tmpdir."""
    import gguf

    os.makedirs(outdir, exist_ok=True)
    os.makedirs(tmpdir, exist_ok=True)
    made = []

    def hparams(w, arch):
        w.add_context_length(2048)
        w.add_embedding_length(64)
        w.add_block_count(1)
        w.add_feed_forward_length(128)
        w.add_head_count(4)
        w.add_head_count_kv(4)
        w.add_layer_norm_rms_eps(1e-5)

    def write(name, arch, fill):
        path = os.path.join(tmpdir, name + ".gguf")
        w = gguf.GGUFWriter(path, arch)
        hparams(w, arch)
        fill(w)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        with open(path, "rb") as f:
            data = f.read()
        subprocess.run(["zstd", "-q", "-f", "-19", "-o", os.path.join(outdir, name + ".gguf.zst")], input=data, check=True)
        made.append((name, path, "gguf/%s.gguf.zst" % name))

    def spm_vocab(folder):
        with open(os.path.join(shared, "tokenizers", folder, "tokenizer.json"), encoding="utf-8") as f:
            j = json.load(f)
        vocab = j["model"]["vocab"]
        added = {a["id"]: a for a in j["added_tokens"]}
        n = max(list(vocab.values()) + list(added)) + 1
        toks, scores, types = [""] * n, [0.0] * n, [1] * n
        for t, i in vocab.items():
            toks[i] = t
            scores[i] = -float(i)
            types[i] = 6 if (t.startswith("<0x") and len(t) == 6) else 1
        for i, a in added.items():
            toks[i] = a["content"]
            scores[i] = 0.0
            types[i] = 3 if a["special"] else 4
        types[0] = 2
        return toks, scores, types

    def spm_fill(folder, extra):
        def fill(w):
            toks, scores, types = spm_vocab(folder)
            w.add_tokenizer_model("llama")
            w.add_tokenizer_pre("default")
            w.add_token_list(toks)
            w.add_token_scores(scores)
            w.add_token_types(types)
            w.add_bos_token_id(1)
            w.add_eos_token_id(2)
            w.add_unk_token_id(0)
            extra(w)
        return fill

    write("v-llama-spm", "llama", spm_fill("llama-spm", lambda w: None))
    write("v-phi3", "phi3", spm_fill("phi-3", lambda w: (w.add_add_bos_token(False), w.add_add_eos_token(True))))

    with open(os.path.join(shared, "tokenizers", "smollm", "tokenizer.json"), encoding="utf-8") as f:
        sj = json.load(f)
    svocab = sj["model"]["vocab"]
    stoks = [None] * len(svocab)
    for t, i in svocab.items():
        stoks[i] = t
    smerges = [m if isinstance(m, str) else " ".join(m) for m in sj["model"]["merges"]]
    stypes = [3 if i < 17 else 1 for i in range(len(stoks))]

    def bpe_fill(pre, add_bos):
        def fill(w):
            w.add_tokenizer_model("gpt2")
            w.add_tokenizer_pre(pre)
            w.add_token_list(stoks)
            w.add_token_types(stypes)
            w.add_token_merges(smerges)
            w.add_bos_token_id(1)
            w.add_eos_token_id(2)
            w.add_add_bos_token(add_bos)
        return fill

    write("v-llama-bpe", "llama", bpe_fill("llama-bpe", True))
    write("v-qwen2", "qwen2", bpe_fill("qwen2", False))
    return made


def make_golden(args):
    from transformers import AutoTokenizer

    shared = os.path.abspath(args.shared)
    texts = _read_texts(shared)
    inputs = [t if isinstance(t, str) else t.decode("utf-8", errors="replace") for t, _ in texts]
    versions = _versions()
    command = "scripts/golden/make_token_golden.py golden " + " ".join(sys.argv[2:])
    os.makedirs(args.outdir, exist_ok=True)

    tlines = [json.dumps({"format": "quipu-token-texts-1", "n": len(texts), "versions": versions,
                          "command": command,
                          "note": "hex = raw bytes (not UTF-8); Hugging Face sees bytes.decode('utf-8', errors='replace')"},
                         ensure_ascii=False)]
    for i, (t, src) in enumerate(texts):
        d = {"i": i, "src": src}
        if isinstance(t, str):
            d["text"] = t
        else:
            d["hex"] = t.hex()
        tlines.append(json.dumps(d, ensure_ascii=False))
    texts_path = os.path.join(args.outdir, "texts.jsonl.zst")
    _zstd_write(texts_path, tlines)
    with open(texts_path, "rb") as f:
        texts_sha = hashlib.sha256(f.read()).hexdigest()
    special_idx = [i for i, s in enumerate(inputs) if s in SPECIAL_CHECKS]

    jobs = []
    tokdir = os.path.join(shared, "tokenizers")
    for d in sorted(os.listdir(tokdir)) + ["_pending/" + x for x in sorted(os.listdir(os.path.join(tokdir, "_pending")))]:
        p = os.path.join(tokdir, d, "tokenizer.json")
        if os.path.isfile(p):
            jobs.append(("json", d.replace("/", "-"), p, "tokenizers/%s/tokenizer.json" % d))
    for name, f in [("smollm2-gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"), ("gemma3-gguf", "gemma-3-270m-q4_k_m.gguf")]:
        if os.path.isfile(os.path.join(args.models, f)):
            jobs.append(("gguf", name, f, f))
        else:
            print("warning: %s not in %s, no golden for it" % (f, args.models))

    import tempfile
    for name, path, source in make_vocab_ggufs(os.path.join(args.outdir, "gguf"), shared,
                                               tempfile.mkdtemp(prefix="quipu-vocab-gguf-")):
        jobs.append(("gguf-local", name, path, source))
    synth_dir = os.path.join(args.outdir, "synth")
    train = [t for t, src in texts if isinstance(t, str) and ("crows-en" in src or "crows-fr" in src or "hard" in src)]
    for name, path in make_synth(synth_dir, train):
        jobs.append(("json-local", name, path, "synth/%s.json" % name))  # relative to the golden folder
    subset = set(i for i, (t, src) in enumerate(texts) if set(src) & {"crows-en", "crows-fr", "hard", "hard-bytes"})

    for kind, name, path, source in jobs:
        note = None
        which = list(range(len(inputs))) if kind not in ("json-local", "gguf-local") else sorted(subset)
        if kind in ("json", "json-local"):
            tok, note = _load_json_tokenizer(path)
            plain = [e.ids for e in tok.encode_batch([inputs[i] for i in which], add_special_tokens=False)]
            special = [tok.encode(inputs[i], add_special_tokens=True).ids for i in special_idx]
            loader = "tokenizers.Tokenizer.from_file(path).encode(text, add_special_tokens=...)"
        else:
            tok = AutoTokenizer.from_pretrained(os.path.dirname(path) if kind == "gguf-local" else args.models,
                                                gguf_file=os.path.basename(path) if kind == "gguf-local" else path)
            plain = tok([inputs[i] for i in which], add_special_tokens=False)["input_ids"]
            special = [tok.encode(inputs[i], add_special_tokens=True) for i in special_idx]
            loader = "transformers.AutoTokenizer.from_pretrained(models_dir, gguf_file=file).encode(text, add_special_tokens=...)"
        head = {"format": "quipu-token-golden-1", "tokenizer": name, "kind": kind, "source": source,
                "loader": loader, "versions": versions, "command": command, "texts": "texts.jsonl.zst",
                "texts_sha256": texts_sha, "n": len(plain), "n_special": len(special)}
        if note:
            head["note"] = note
        lines = [json.dumps(head, ensure_ascii=False)]
        for i, ids in zip(which, plain):
            lines.append(json.dumps({"i": i, "ids": ids}, separators=(",", ":")))
        for i, ids in zip(special_idx, special):
            lines.append(json.dumps({"i": i, "special": 1, "ids": ids}, separators=(",", ":")))
        out = os.path.join(args.outdir, name + ".jsonl.zst")
        _zstd_write(out, lines)
        print("%-16s %6d strings  %8d ids  %8d bytes" % (name, len(plain), sum(map(len, plain)), os.path.getsize(out)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tables")
    t.add_argument("out")
    g = sub.add_parser("golden")
    g.add_argument("outdir")
    g.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
    g.add_argument("--models", default=os.path.expanduser("~/.cache/quipu/models"))
    args = ap.parse_args()
    if args.cmd == "tables":
        make_tables(args.out)
    else:
        make_golden(args)


if __name__ == "__main__":
    main()
