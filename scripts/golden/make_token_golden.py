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

  make_token_golden.py graphemes UNICODE_SEGMENTATION/src/tables.rs src/tok/grapheme_tables.c
      The Grapheme_Cluster_Break classes (plus InCB, Extended_Pictographic) of the
      unicode-segmentation crate tokenizers links, for the Precompiled normalizer's clusters.

  make_token_golden.py golden tests/golden/tokens [--models DIR] [--shared DIR] [--llama-python PY]
                       [--keep-synth [--retrain NAME,...]] [--only NAME,...] [--charsmap NMT_NFKC.BIN]
      Tokenizes the corpora (CrowS-Pairs en and fr, MBBQ es contexts/questions/answers, SESGO es
      paper version) and a list of hard strings (plus llama.cpp's 46 test strings) with:
        - every tokenizer.json under shared/tokenizers (tokenizers.Tokenizer.from_file),
        - GGUF tokenizers: the SmolLM2 and Gemma 3 files of the model cache and vocabulary-only
          GGUF files written here (gguf/*.gguf.zst: SentencePiece for architectures llama and phi3,
          byte-level with pre llama-bpe, qwen2, gpt-2, mpt, refact, falcon, bloom and default).
          Their references are the model's own tokenizer (tokenizers on the tokenizer.json the
          GGUF was converted from, or the tokenizer.json of that model family, built here from
          the same vocabulary) and llama.cpp (llama-cpp-python, Llama(path, vocab_only=True)
          .tokenize(text, add_bos=False, special=False), run with --llama-python, a Python that
          has llama-cpp-python). quipu must equal the tokenizer.json where there is one, else
          llama.cpp; every line where llama.cpp differs keeps llama.cpp's ids and the reason.
        - ten small tokenizers trained here (synth/*.json), one per less common component, and two
          small Unigram ones (byte fallback; a tiny Precompiled charsmap from CHARSMAP_RULES),
        - Unigram tokenizer.json files of XLM-R's and CamemBERT's kind (unigram/*.json.zst): a
          SentencePiece unigram model trained on the benchmark sentences (sentencepiece, with
          protobuf), converted by transformers (make_unigram); --charsmap is spm_precompiled's
          src/nmt_nfkc.bin, the older nmt_nfkc map that u-camembert carries.
      add_special_tokens=False for every string, add_special_tokens=True for a few. Writes
      texts.jsonl.zst (each input once; invalid UTF-8 inputs as hex) and <tokenizer>.jsonl.zst,
      each with a header line (format, reference versions, command), compressed with the zstd
      command-line tool. Training is not deterministic across runs, so a rerun rewrites synth/
      and its goldens together; --keep-synth keeps synth/ and unigram/ as they are, except the
      tokenizers named in --retrain. New texts are only appended (EXTRA_HARD_STRINGS), so the
      goldens made before stay valid.

  make_token_golden.py llamacpp FILE.gguf
      (run by `golden` with --llama-python) JSON {"texts": [...], "special": [...]} on stdin ->
      JSON {"version", "plain", "plain_special", "special", "special_parse"} on stdout: llama.cpp's
      ids for each text with special=False and special=True, and for the "special" texts with
      add_bos=True (the GGUF's add_bos/add_eos flags).
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


# Grapheme cluster break classes, in the order of quipu_gcb (src/tok/grapheme_tables.h).
GCB_CLASSES = ["Any", "CR", "LF", "Control", "Extend", "ZWJ", "Regional_Indicator", "Prepend", "SpacingMark",
               "L", "V", "T", "LV", "LVT", "InCB_Consonant", "Extended_Pictographic"]
GCB_INCB_LINKER, GCB_INCB_EXTEND = 0x40, 0x80


def make_grapheme_tables(tables_rs, out_path):
    """Grapheme_Cluster_Break classes exactly as tokenizers' Precompiled normalizer sees them: its
    `graphemes(true)` comes from the unicode-segmentation crate, whose generated src/tables.rs
    (tables_rs: the file of the crate version the installed tokenizers was built with; 1.13.x for
    tokenizers 0.23.3, Unicode 17.0.0) holds the data. Read from there: the class of every code point
    (the GCB value, else InCB=Consonant, else Extended_Pictographic; the crate keeps them disjoint)
    and the InCB=Linker and InCB=Extend flags of rule GB9c. Only data is taken, no code."""
    import re
    import tokenizers

    src = open(tables_rs, encoding="utf-8").read()
    ver = re.search(r"UNICODE_VERSION: \(u64, u64, u64\) = \((\d+), (\d+), (\d+)\)", src)
    so = glob.glob(os.path.join(os.path.dirname(tokenizers.__file__), "*.so"))
    built = set()
    for path in so:
        with open(path, "rb") as f:
            built |= set(m.decode() for m in re.findall(rb"unicode-segmentation-(\d+\.\d+)\.\d+", f.read()))
    if not ver or not built:
        raise SystemExit("cannot find the Unicode version in %s or the crate version in tokenizers' library" % tables_rs)
    uver = ".".join(ver.groups())
    cp_re = r"'\\u\{([0-9a-fA-F]+)\}'"
    body = re.search(r"const grapheme_cat_table: &\[\(char, char, GraphemeCat\)\] = &\[(.*?)\];", src, re.S).group(1)
    cats = re.findall(r"\(%s,\s*%s,\s*GC_(\w+)\)" % (cp_re, cp_re), body)
    body = re.search(r"const InCB_Extend_table: &\[\(char, char\)\] = &\[(.*?)\];", src, re.S).group(1)
    extend = re.findall(r"\(%s,\s*%s\)" % (cp_re, cp_re), body)
    body = re.search(r"pub fn is_incb_linker\(c: char\) -> bool \{\s*matches!\(c,(.*?)\)\s*\}", src, re.S).group(1)
    linker = re.findall(cp_re, body)
    if not cats or not extend or not linker:
        raise SystemExit("%s: grapheme tables not found (another layout of the crate?)" % tables_rs)
    values = [0] * 0x110000
    for a, b, name in cats:
        if name not in GCB_CLASSES or name == "Any":
            raise SystemExit("%s: unknown grapheme class GC_%s" % (tables_rs, name))
        for cp in range(int(a, 16), int(b, 16) + 1):
            values[cp] = GCB_CLASSES.index(name)
    for a, b in extend:
        for cp in range(int(a, 16), int(b, 16) + 1):
            values[cp] |= GCB_INCB_EXTEND
    for a in linker:
        values[int(a, 16)] |= GCB_INCB_LINKER
    ranges = []
    for cp, v in enumerate(values):
        if ranges and ranges[-1][1] == cp - 1 and ranges[-1][2] == v:
            ranges[-1][1] = cp
        elif v:
            ranges.append([cp, cp, v])
    lines = [
        "/* grapheme_tables.c — GENERATED by scripts/golden/make_token_golden.py graphemes; do not edit.",
        " * Grapheme_Cluster_Break classes of Unicode %s as the unicode-segmentation crate %s.x groups them" % (
            uver, "/".join(sorted(built))),
        " * for tokenizers' Precompiled normalizer (tokenizers %s): class (low 6 bits, enum quipu_gcb)," %
        tokenizers.__version__,
        " * InCB=Linker 0x40, InCB=Extend 0x80. Sorted inclusive ranges; code points not listed are Any. */",
        '#include "tok/grapheme_tables.h"',
        "",
        "const quipu_gcb_range quipu_gcb_table[] = {",
    ]
    row = []
    for a, b, v in ranges:
        row.append("{0x%X,0x%X,0x%02X}" % (a, b, v))
        if len(row) == 6:
            lines.append("    " + ",".join(row) + ",")
            row = []
    if row:
        lines.append("    " + ",".join(row) + ",")
    lines.append("};")
    lines.append("const size_t quipu_gcb_table_n = %d;" % len(ranges))
    lines.append("")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d ranges)" % (out_path, len(ranges)))


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
    " \u00bd", "4\u00bd", "\u2167 VIII \u216b", " \u2460 \u2461", "x\u00b2 + y\u00b3", "\u0e51\u0e52 thai digits", "\u00bc cup",
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

# Appended after every text above (goldens refer to texts by index, so new strings only ever go at
# the end): compatibility forms (NFKC / SentencePiece's nmt_nfkc charsmap), grapheme clusters that
# the Precompiled normalizer looks up whole (UAX #29: CR LF, Hangul jamo, Indic conjuncts (GB9c),
# emoji ZWJ and flag sequences, prepended concatenation marks), chars a charsmap removes.
EXTRA_HARD_STRINGS = [
    "\u2122", "\u2122\x1eg", "TM\u2122tm", "\u2103 \u338f \u3392", "\u2460\u2473 \u246a", "\u00bd\u2153\u215e",
    "x\u00b2\u2075", "\uff21\u0301", "\uff28\uff45\uff4c\uff4c\uff4f\uff0c\u3000\uff57\uff4f\uff52\uff4c\uff44\uff01",
    "\ufb01\u0301", "\ufb00\ufb04 \ufb06", "e\u0301\u0301", "a\u0308\u0301", "A\u030a\u0301", "o\u0302\u0323",
    "\u0301\u0301x", "\r\n", "a\r\nb", "\r\r\n\n", "\n\r", " \r\n ", "\u0915\u094d\u0937",
    "\u0915\u094d\u200d\u0937", "\u0915\u094d\u094d\u0937\u093f", "\u0995\u09cd\u09b7", "\u0d15\u0d4d\u0d15",
    "\U0001F1EB\U0001F1F7\U0001F1EA", "\U0001F1EB\U0001F1F7\U0001F1EA\U0001F1F8\U0001F1EB", "\U0001F44D\U0001F3FD\u200d",
    "\U0001F469\U0001F3FD\u200d\U0001F4BB", "\u2764\ufe0f\u200d\U0001F525",
    "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "\u1100\u1100\u1161\u11a8\u11a8",
    "\uac00\u11a8", "\uac01\u11a8 \u1161", "\u0e01\u0e33 \u0e19\u0e49\u0e33", "\u0600\u0661\u0662", "\u06dd\u0661",
    "\x1e", "\x1eabc", " \x1e leading", "a\x1f\x1eb", "\x7f\x7f", "\u00ad\u00ad", "\uff76\uff9e\uff8a\uff9f",
    "\u30ab\u3099", "\u00a0\u00a0x\u00a0", "a\u200bb\u2060c", "\ufeff\ufeffx", "x\t\ty\t", "tab\there", "     ",
    " \t ", "\u3000\u3000", "\u2028\u2029", "\u2025\u2026\u22ef", "\u216b \u217b", "\u337f", "\u33a1 m\u00b2", "\ufdfa",
    "\u0130\u0131", "\u1e9e\u00df", "\ufe30\ufe31", "\u00b5\u03bc", "Quelle heure est-il\u202f?", "\u00ab\u202fOui\u202f\u00bb",
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
    for s in EXTRA_HARD_STRINGS:
        if s not in entries:  # the lines before stay exactly as they were
            add(s, "hard")
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
    out = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__, "gguf": gguf_v}
    try:
        import sentencepiece
        out["sentencepiece"] = sentencepiece.__version__  # the Unigram files are trained with it
    except ImportError:
        pass
    return out


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


# SentencePiece normalization rules (hex code points, TAB, replacement) for the small Precompiled
# charsmap of s-unigram-charsmap: a removal at the start, a one-char key that shadows a longer one
# ("a" before "ab": the shortest key wins), keys longer than one char inside and across grapheme
# clusters (CR LF, e + U+0301, a flag of 8 bytes that is never looked up whole), expansions.
CHARSMAP_RULES = [
    ("1E", ""), ("301", ""), ("9", "20"), ("FF21", "41"), ("61", "41"), ("61 62", "58"), ("65 301", "E9"),
    ("D A", "20"), ("2122", "54 4D"), ("3000", "20"), ("FB01", "66 69"), ("1F1EB 1F1F7", "46 52"), ("AC00", "41 43"),
    ("20 20", "20"), ("E9", "65 301 301"),
]


def _spm_train(prefix, sentences, **kw):
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_prefix=prefix, model_type="unigram",
                                   num_threads=1, minloglevel=2, shuffle_input_sentence=False, **kw)
    from transformers.convert_slow_tokenizer import import_protobuf
    proto = import_protobuf().ModelProto()
    with open(prefix + ".model", "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def make_synth_unigram(outdir, corpus, tmpdir, want):
    """Two small Unigram tokenizers trained with tokenizers' UnigramTrainer: one with byte fallback
    (all 256 <0xXX> pieces), NFKC and Metaspace(first, split); one with a tiny Precompiled charsmap
    built by SentencePiece from CHARSMAP_RULES, WhitespaceSplit then Metaspace(first, no split), a
    normalized added token and unk runs (no byte fallback). Written to outdir as tokenizer.json."""
    from tokenizers import AddedToken, Tokenizer, models, normalizers as N, pre_tokenizers as P, processors as PP, \
        trainers

    os.makedirs(outdir, exist_ok=True)
    ascii_corpus = [x for x in corpus if x.isascii()]

    def train(tok, sentences, specials):
        tok.train_from_iterator(sentences, trainers.UnigramTrainer(
            vocab_size=700, special_tokens=specials, unk_token="<unk>", show_progress=False))
        return json.loads(tok.to_str())

    def save(name, j, post=None, added=()):
        tok = Tokenizer.from_str(json.dumps(j, ensure_ascii=False))
        for a in added:
            tok.add_tokens([a]) if not a.special else tok.add_special_tokens([a])
        if post is not None:
            tok.post_processor = post(tok)
        tok.save(os.path.join(outdir, name + ".json"))

    if want("s-unigram-bytefallback"):
        # trained on ASCII text only, so accents, CJK and emoji fall back to bytes
        t = Tokenizer(models.Unigram())
        t.normalizer = N.NFKC()
        t.pre_tokenizer = P.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
        j = train(t, ascii_corpus, ["<unk>", "<s>", "</s>"])
        have = set(p for p, _ in j["model"]["vocab"])
        j["model"]["vocab"] += [["<0x%02X>" % b, -30.0] for b in range(256) if "<0x%02X>" % b not in have]
        j["model"]["byte_fallback"] = True
        save("s-unigram-bytefallback", j, post=lambda k: PP.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", k.token_to_id("<s>")), ("</s>", k.token_to_id("</s>"))]))

    if want("s-unigram-charsmap"):
        rules = os.path.join(tmpdir, "charsmap_rules.tsv")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("".join("%s\t%s\n" % r for r in CHARSMAP_RULES))
        proto = _spm_train(os.path.join(tmpdir, "rules"), corpus[:3000], vocab_size=400, normalization_rule_tsv=rules)
        t = Tokenizer(models.Unigram())
        t.normalizer = N.Precompiled(proto.normalizer_spec.precompiled_charsmap)
        t.pre_tokenizer = P.Sequence([P.WhitespaceSplit(),
                                      P.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)])
        j = train(t, corpus[: len(corpus) // 2], ["<unk>", "<sep>"])
        save("s-unigram-charsmap", j, added=[AddedToken("\u2122", normalized=True), AddedToken("<sep>", special=True)])


def make_unigram(outdir, texts, charsmap_bin, tmpdir, want):
    """Unigram tokenizer.json files of XLM-R's and CamemBERT's kind, made the way theirs were: a
    SentencePiece unigram model (sentencepiece, normalization rule nmt_nfkc, whose charsmap the file
    then carries) trained here on the benchmark sentences, turned into a tokenizer.json by
    transformers:
      u-xlmr      all benchmark text (en, fr, es), 2,000 pieces; XLMRobertaConverter
                  (Precompiled, Strip(right), Replace(" {2,}", "\u2581"), Metaspace(always), <s> $A </s>),
                  plus XLM-R's added tokens (<mask> with lstrip, as in xlm-roberta-base)
      u-camembert French CrowS-Pairs, 1,000 pieces; CamembertConverter's vocabulary (<s>NOTUSED,
                  <unk>NOTUSED at -100, ...) in transformers' CamembertTokenizer pipeline
                  (Precompiled, WhitespaceSplit, Metaspace(always, split), <s> $A </s>), with the
                  charsmap of charsmap_bin (spm_precompiled's nmt_nfkc.bin: the nmt_nfkc map of the
                  SentencePiece release XLM-R and mBART were made with) in place of today's
      u-identity  all benchmark text, 1,000 pieces, normalization rule identity (no charsmap);
                  XLMRobertaConverter
    Written zstd-compressed to outdir/NAME.json.zst. Returns {name: what it is}."""
    import sentencepiece as spm
    from tokenizers import AddedToken
    from transformers import CamembertTokenizer
    from transformers.convert_slow_tokenizer import CamembertConverter, XLMRobertaConverter

    os.makedirs(outdir, exist_ok=True)
    everything = [t for t, src in texts if isinstance(t, str) and t.strip() and set(src) & {
        "crows-en", "crows-fr", "mbbq-es", "sesgo-es"}]
    french = [t for t, src in texts if isinstance(t, str) and t.strip() and "crows-fr" in src]
    notes = {}

    class Shim:  # what the converters read from a slow tokenizer
        def __init__(self, vocab_file):
            self.vocab_file, self.add_prefix_space, self.ids = vocab_file, True, {}

        def convert_tokens_to_ids(self, tok):
            return self.ids[tok]

    def convert(conv_cls, model_file):
        shim = Shim(model_file)
        conv = conv_cls(shim)
        shim.ids = {p: i for i, (p, _) in enumerate(conv.vocab(conv.proto))}
        return conv, conv.converted()

    def write(name, tok, note):
        path = os.path.join(tmpdir, name + ".json")
        tok.save(path)
        with open(path, "rb") as f:
            data = f.read()
        subprocess.run(["zstd", "-q", "-f", "-19", "--long=27", "-o", os.path.join(outdir, name + ".json.zst")],
                       input=data, check=True)
        notes[name] = "%s; tokenizer.json sha256 %s" % (note, hashlib.sha256(data).hexdigest())

    def charsmap_note(proto):
        return "charsmap sha256 %s" % hashlib.sha256(proto.normalizer_spec.precompiled_charsmap).hexdigest()

    spm_v = "sentencepiece %s" % spm.__version__
    if want("u-xlmr"):
        prefix = os.path.join(tmpdir, "xlmr")
        proto = _spm_train(prefix, everything, vocab_size=2000, normalization_rule_name="nmt_nfkc",
                           character_coverage=0.9995)
        _, tok = convert(XLMRobertaConverter, prefix + ".model")
        tok.add_special_tokens([AddedToken("<pad>", special=True, normalized=False),
                                AddedToken("<unk>", special=True, normalized=False),
                                AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
        write("u-xlmr", tok, "%s unigram, nmt_nfkc, 2000 pieces, all benchmark text; XLMRobertaConverter; %s" % (
            spm_v, charsmap_note(proto)))
    if want("u-camembert"):
        if not charsmap_bin:
            raise SystemExit("u-camembert needs --charsmap (spm_precompiled's src/nmt_nfkc.bin)")
        with open(charsmap_bin, "rb") as f:
            old = f.read()
        prefix = os.path.join(tmpdir, "camembert")
        _spm_train(prefix, french, vocab_size=1000, normalization_rule_name="nmt_nfkc", character_coverage=1.0,
                   hard_vocab_limit=False)
        conv, _ = convert(CamembertConverter, prefix + ".model")
        cam = CamembertTokenizer(vocab=conv.vocab(conv.proto), _spm_precompiled_charsmap=old)
        write("u-camembert", cam.backend_tokenizer, "%s unigram, nmt_nfkc, 1000 pieces, French CrowS-Pairs; "
              "CamembertConverter.vocab in transformers' CamembertTokenizer; charsmap %s (sha256 %s)" % (
                  spm_v, os.path.basename(charsmap_bin), hashlib.sha256(old).hexdigest()))
    if want("u-identity"):
        prefix = os.path.join(tmpdir, "identity")
        _spm_train(prefix, everything, vocab_size=1000, normalization_rule_name="identity", character_coverage=0.9995)
        _, tok = convert(XLMRobertaConverter, prefix + ".model")
        write("u-identity", tok, "%s unigram, identity, 1000 pieces, all benchmark text; XLMRobertaConverter" % spm_v)
    return notes


# The tokenizer.json pipelines of model families whose file is not in shared/ (read from the
# families' published tokenizer.json files: Meta-Llama-3 and Qwen1.5/Qwen2). Used with the SmolLM
# vocabulary to make the tokenizer.json reference of a vocabulary-only GGUF with that pre name.
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
FAMILY_PIPELINES = {
    "llama-bpe": {"normalizer": None, "ignore_merges": True, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}},
    "qwen2": {"normalizer": {"type": "NFC"}, "ignore_merges": False, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}},
}


def make_vocab_ggufs(outdir, shared, tmpdir):
    """Vocabulary-only GGUF files for the tokenizer paths that have no real model in the cache:
    a SentencePiece vocab for architecture llama (merges rebuilt from scores) and phi3
    (user-defined tokens); byte-level vocabularies converted from the tokenizer.json files in
    shared/ with their own pre name (gpt-2, mpt, refact, falcon); and the SmolLM vocabulary with
    pre llama-bpe, qwen2, bloom and default. Written zstd-compressed to outdir; the uncompressed
    copies go to tmpdir. Returns [(name, gguf path, source, tokenizer.json reference or None,
    what the reference is)]."""
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

    def write(name, arch, fill, ref, ref_note):
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
        made.append((name, path, "gguf/%s.gguf.zst" % name, ref, ref_note))

    def spm_vocab(folder):
        with open(os.path.join(shared, "tokenizers", folder, "tokenizer.json"), encoding="utf-8") as f:
            j = json.load(f)
        vocab = j["model"]["vocab"]
        added = {a["id"]: a for a in j["added_tokens"]}
        # SentencePiece merges by score: a token's score is minus the rank of the first tokenizer.json
        # merge that makes it (the order the file's merges were derived in), so that llama.cpp's
        # score-driven merging and the file's merge list agree; tokens no merge makes score lowest
        first_rank = {}
        for r, m in enumerate(j["model"]["merges"]):
            a, b = m.split(" ") if isinstance(m, str) else m
            first_rank.setdefault(a + b, r)
        n = max(list(vocab.values()) + list(added)) + 1
        toks, scores, types = [""] * n, [0.0] * n, [1] * n
        for t, i in vocab.items():
            toks[i] = t
            scores[i] = -float(first_rank[t]) if t in first_rank else -1e9
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

    tj = lambda folder: os.path.join(shared, "tokenizers", folder, "tokenizer.json")
    write("v-llama-spm", "llama", spm_fill("llama-spm", lambda w: None), tj("llama-spm"),
          "tokenizers/llama-spm/tokenizer.json (the file the vocabulary comes from)")
    write("v-phi3", "phi3", spm_fill("phi-3", lambda w: (w.add_add_bos_token(False), w.add_add_eos_token(True),
                                                         w.add_name("Phi-3-mini-4k-instruct"))),
          tj("phi-3"), "tokenizers/phi-3/tokenizer.json (the file the vocabulary comes from)")

    def bytelevel_vocab(path):
        j = _load_json_tokenizer_dict(path)
        vocab = dict(j["model"]["vocab"])
        special = {}
        for a in j.get("added_tokens", []):
            vocab.setdefault(a["content"], a["id"])
            special[a["content"]] = a["special"]
        n = max(vocab.values()) + 1
        toks = [None] * n
        for t, i in vocab.items():
            toks[i] = t
        assert all(x is not None for x in toks), path
        types = [(3 if special[t] else 4) if t in special else 1 for t in toks]
        merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
        return toks, types, merges

    def bpe_fill(pre, add_bos, toks, types, merges, bos):
        def fill(w):
            w.add_tokenizer_model("gpt2")
            w.add_tokenizer_pre(pre)
            w.add_token_list(toks)
            w.add_token_types(types)
            w.add_token_merges(merges)
            w.add_bos_token_id(bos)
            w.add_eos_token_id(2 if bos == 1 else bos)
            w.add_add_bos_token(add_bos)
        return fill

    # byte-level files converted from their own tokenizer.json, with the pre name llama.cpp gives them
    for name, folder, pre, eot in [("v-gpt2", "gpt-2", "gpt-2", "<|endoftext|>"), ("v-mpt", "mpt", "mpt", "<|endoftext|>"),
                                   ("v-refact", "refact", "refact", "<|endoftext|>"),
                                   ("v-falcon", "falcon", "falcon", "<|endoftext|>")]:
        toks, types, merges = bytelevel_vocab(tj(folder))
        write(name, "llama", bpe_fill(pre, False, toks, types, merges, toks.index(eot)), tj(folder),
              "tokenizers/%s/tokenizer.json (the file the vocabulary comes from)" % folder)

    # the SmolLM vocabulary with other pre names; the reference tokenizer.json is SmolLM's with the
    # family's pipeline (FAMILY_PIPELINES), or none (llama.cpp only)
    stoks, stypes, smerges = bytelevel_vocab(tj("smollm"))
    with open(tj("smollm"), encoding="utf-8") as f:
        sj = json.load(f)
    for name, arch, pre, add_bos in [("v-llama-bpe", "llama", "llama-bpe", True), ("v-qwen2", "qwen2", "qwen2", False),
                                     ("v-bloom", "llama", "bloom", False), ("v-default", "llama", "default", False)]:
        ref, note = None, "none: llama.cpp only"
        if pre in FAMILY_PIPELINES:
            fam = FAMILY_PIPELINES[pre]
            j = json.loads(json.dumps(sj))
            j["normalizer"] = fam["normalizer"]
            j["pre_tokenizer"] = fam["pre_tokenizer"]
            j["model"]["ignore_merges"] = fam["ignore_merges"]
            ref = os.path.join(tmpdir, name + ".tokenizer.json")
            with open(ref, "w", encoding="utf-8") as f:
                json.dump(j, f, ensure_ascii=False)
            note = "tokenizers/smollm/tokenizer.json with the %s family's normalizer, pre_tokenizer and ignore_merges" % pre
        write(name, arch, bpe_fill(pre, add_bos, stoks, stypes, smerges, 1), ref, note)
    return made


def _load_json_tokenizer_dict(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


LLAMA_CPP_REASONS = {
    "control": "the text spells a control token: llama.cpp with special=False keeps it as text, Hugging Face "
               "(and quipu) match it as the token",
    "nfc": "the tokenizer.json normalizes to NFC, llama.cpp does not",
    "other": "llama.cpp differs from the tokenizer.json (see docs/fidelity.md)",
}


def run_llama_cpp(args):
    """The `llamacpp` command: runs in the Python that has llama-cpp-python."""
    import llama_cpp
    req = json.load(sys.stdin)
    llm = llama_cpp.Llama(model_path=args.gguf, vocab_only=True, verbose=False)
    enc = lambda s, bos, sp: llm.tokenize(s.encode("utf-8"), add_bos=bos, special=sp)
    out = {"version": llama_cpp.__version__,
           "plain": [enc(s, False, False) for s in req["texts"]],
           "plain_special": [enc(s, False, True) for s in req["texts"]],
           "special": [enc(s, True, False) for s in req["special"]],
           "special_parse": [enc(s, True, True) for s in req["special"]]}
    json.dump(out, sys.stdout)


def _gguf_facts(path):
    """(control token texts, add_bos, add_eos, bos id, eos id) from a GGUF's metadata."""
    import gguf
    r = gguf.GGUFReader(path)

    def field(key):
        f = r.fields.get(key)
        return f.contents() if f is not None else None

    toks = field("tokenizer.ggml.tokens")
    types = field("tokenizer.ggml.token_type") or [1] * len(toks)
    model = field("tokenizer.ggml.model")
    add_bos = field("tokenizer.ggml.add_bos_token")
    if add_bos is None:
        add_bos = model == "llama"
    add_eos = bool(field("tokenizer.ggml.add_eos_token"))
    # control and unknown tokens, which llama.cpp matches only with special=True; llama.cpp also makes
    # these end-of-generation tokens control tokens whatever their type
    # (Gemma's user-defined "</s>")
    eog = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
           "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"}
    control = [t for t, ty in zip(toks, types) if (ty in (2, 3) or t in eog) and t]
    return control, bool(add_bos), add_eos, field("tokenizer.ggml.bos_token_id"), field("tokenizer.ggml.eos_token_id")


def _llama_cpp_ids(args, path, texts, special_texts):
    if not args.llama_python:
        raise SystemExit("GGUF goldens need llama.cpp: pass --llama-python PY (a Python with llama-cpp-python)")
    req = json.dumps({"texts": texts, "special": special_texts})
    r = subprocess.run([args.llama_python, os.path.abspath(__file__), "llamacpp", path], input=req.encode("utf-8"),
                       stdout=subprocess.PIPE, check=True)
    return json.loads(r.stdout)


def make_golden(args):
    shared = os.path.abspath(args.shared)
    texts = _read_texts(shared)
    inputs = [t if isinstance(t, str) else t.decode("utf-8", errors="replace") for t, _ in texts]
    versions = _versions()
    command = "scripts/golden/make_token_golden.py golden " + " ".join(
        a if not os.path.isabs(a) else os.path.basename(a) for a in sys.argv[2:])
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

    jobs = []  # (kind, name, path, source, json reference, what the reference is)
    tokdir = os.path.join(shared, "tokenizers")
    for d in sorted(os.listdir(tokdir)) + ["_pending/" + x for x in sorted(os.listdir(os.path.join(tokdir, "_pending")))]:
        p = os.path.join(tokdir, d, "tokenizer.json")
        if os.path.isfile(p):
            jobs.append(("json", d.replace("/", "-"), p, "tokenizers/%s/tokenizer.json" % d, None, None))
    for name, f, ref in [("smollm2-gguf", "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm"),
                         ("gemma3-gguf", "gemma-3-270m-q4_k_m.gguf", None)]:
        if os.path.isfile(os.path.join(args.models, f)):
            jobs.append(("gguf", name, os.path.join(args.models, f), f,
                         os.path.join(tokdir, ref, "tokenizer.json") if ref else None,
                         "tokenizers/%s/tokenizer.json (its vocabulary equals the GGUF's id for id)" % ref if ref
                         else "none public: llama.cpp only"))
        else:
            print("warning: %s not in %s, no golden for it" % (f, args.models))

    import tempfile
    for name, path, source, ref, note in make_vocab_ggufs(os.path.join(args.outdir, "gguf"), shared,
                                                          tempfile.mkdtemp(prefix="quipu-vocab-gguf-")):
        jobs.append(("gguf-local", name, path, source, ref, note))
    synth_dir = os.path.join(args.outdir, "synth")
    train = [t for t, src in texts if isinstance(t, str) and ("crows-en" in src or "crows-fr" in src or "hard" in src)]
    retrain = set(args.retrain.split(",")) if args.retrain else set()
    want = lambda name: not args.keep_synth or name in retrain
    if not args.keep_synth:
        make_synth(synth_dir, train)
    made_dir = tempfile.mkdtemp(prefix="quipu-unigram-")
    make_synth_unigram(synth_dir, train, made_dir, want)
    for path in sorted(glob.glob(os.path.join(synth_dir, "*.json"))):
        name = os.path.basename(path)[:-5]
        jobs.append(("json-local", name, path, "synth/%s.json" % name, None, None))
    # Unigram files of XLM-R's and CamemBERT's kind: compressed (their charsmaps are 240 KB); what each
    # is, and its sha256, in unigram/notes.json and the golden's header
    uni_dir = os.path.join(args.outdir, "unigram")
    notes_path = os.path.join(uni_dir, "notes.json")
    notes = {}
    if os.path.isfile(notes_path):
        with open(notes_path, encoding="utf-8") as f:
            notes = json.load(f)
    notes.update(make_unigram(uni_dir, texts, args.charsmap, made_dir, want))
    with open(notes_path, "w", encoding="utf-8") as f:
        json.dump(notes, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    for path in sorted(glob.glob(os.path.join(uni_dir, "*.json.zst"))):
        name = os.path.basename(path)[:-len(".json.zst")]
        plain = os.path.join(made_dir, name + ".json")
        with open(plain, "wb") as f:
            f.write(subprocess.run(["zstd", "-q", "-dc", path], stdout=subprocess.PIPE, check=True).stdout)
        jobs.append(("json-local", name, plain, "unigram/%s.json.zst" % name, None, notes.get(name)))
    subset = set(i for i, (t, src) in enumerate(texts) if set(src) & {"crows-en", "crows-fr", "hard", "hard-bytes"})
    if args.only:
        jobs = [j for j in jobs if j[1] in args.only.split(",")]

    for kind, name, path, source, ref, ref_note in jobs:
        note = None
        full = kind not in ("json-local", "gguf-local") or source.startswith("unigram/")
        which = list(range(len(inputs))) if full else sorted(subset)
        head = {"format": "quipu-token-golden-1", "tokenizer": name, "kind": kind, "source": source}
        extra, json_ids = {}, {}
        if kind in ("json", "json-local"):
            tok, note = _load_json_tokenizer(path)
            plain = [e.ids for e in tok.encode_batch([inputs[i] for i in which], add_special_tokens=False)]
            special = [tok.encode(inputs[i], add_special_tokens=True).ids for i in special_idx]
            head["loader"] = "tokenizers.Tokenizer.from_file(path).encode(text, add_special_tokens=...)"
            head["versions"] = versions
            if ref_note:
                head["source_note"] = ref_note
        else:
            control, add_bos, add_eos, bos, eos = _gguf_facts(path)
            lc = _llama_cpp_ids(args, path, [inputs[i] for i in which], [inputs[i] for i in special_idx])
            has_control = lambda s: any(c in s for c in control)
            wrap = lambda ids: ([bos] if add_bos else []) + ids + ([eos] if add_eos else [])
            reasons = {}
            json_ids = {}
            if ref:
                # the tokenizer.json, except where the text spells a control token: a GGUF does not carry
                # the file's added-token flags (lstrip, rstrip, normalized, single_word), so there the
                # reference is llama.cpp with special=True, which matches the token with no flags as
                # Hugging Face does by default; the file's ids are kept beside them
                tok, note = _load_json_tokenizer(ref)
                nfc = '"NFC"' in json.dumps(_load_json_tokenizer_dict(ref).get("normalizer"))
                pj = [e.ids for e in tok.encode_batch([inputs[i] for i in which], add_special_tokens=False)]
                sj = [wrap(tok.encode(inputs[i], add_special_tokens=False).ids) for i in special_idx]
                plain = [lc["plain_special"][k] if has_control(inputs[i]) else pj[k] for k, i in enumerate(which)]
                special = [lc["special_parse"][k] if has_control(inputs[i]) else sj[k] for k, i in enumerate(special_idx)]
                for k, i in enumerate(which):
                    if pj[k] != plain[k]:
                        json_ids[(i, 0)] = pj[k]
                for k, i in enumerate(special_idx):
                    if sj[k] != special[k]:
                        json_ids[(i, 1)] = sj[k]
                head["reference"] = ("the tokenizer.json: %s; special lines: its ids with the GGUF's add_bos/add_eos; "
                                     "where the text spells a control token, llama.cpp with special=True (the file's "
                                     "ids in tokenizer_json where they differ)" % ref_note)
                head["tokenizer_json_lines_differ"] = len(json_ids)
            else:
                # no tokenizer.json: llama.cpp, with special=True where the text spells a control token
                plain = [lc["plain_special"][k] if has_control(inputs[i]) else lc["plain"][k] for k, i in enumerate(which)]
                special = [lc["special_parse"][k] if has_control(inputs[i]) else lc["special"][k]
                           for k, i in enumerate(special_idx)]
                nfc = False
                head["reference"] = ("llama.cpp (%s), special=True where the text spells a control token, as Hugging "
                                     "Face matches special tokens" % ref_note)
            for k, i in enumerate(which):
                if plain[k] != lc["plain"][k]:
                    import unicodedata
                    why = "control" if has_control(inputs[i]) else \
                        "nfc" if nfc and unicodedata.normalize("NFC", inputs[i]) != inputs[i] else "other"
                    extra[(i, 0)] = (lc["plain"][k], why)
            for k, i in enumerate(special_idx):
                if special[k] != lc["special"][k]:
                    extra[(i, 1)] = (lc["special"][k], "control" if has_control(inputs[i]) else "other")
            for _, why in extra.values():
                reasons[why] = reasons.get(why, 0) + 1
            head["loader"] = ("llama_cpp.Llama(path, vocab_only=True).tokenize(text.encode(), add_bos=False, "
                              "special=False); add_bos=True for the special lines")
            head["versions"] = dict(versions, **{"llama-cpp-python": lc["version"]})
            head["llama_cpp"] = {"lines_equal": len(plain) + len(special) - len(extra), "lines_differ": len(extra),
                                 "reasons": {k: "%d: %s" % (v, LLAMA_CPP_REASONS[k]) for k, v in sorted(reasons.items())}}
        head.update({"command": command, "texts": "texts.jsonl.zst", "texts_sha256": texts_sha, "n": len(plain),
                     "n_special": len(special)})
        if note:
            head["note"] = note
        lines = [json.dumps(head, ensure_ascii=False)]
        for i, ids in zip(which, plain):
            d = {"i": i, "ids": ids}
            if (i, 0) in extra:
                d["llama_cpp"], d["why"] = extra[(i, 0)]
            if (i, 0) in json_ids:
                d["tokenizer_json"] = json_ids[(i, 0)]
            lines.append(json.dumps(d, separators=(",", ":")))
        for i, ids in zip(special_idx, special):
            d = {"i": i, "special": 1, "ids": ids}
            if (i, 1) in extra:
                d["llama_cpp"], d["why"] = extra[(i, 1)]
            if (i, 1) in json_ids:
                d["tokenizer_json"] = json_ids[(i, 1)]
            lines.append(json.dumps(d, separators=(",", ":")))
        out = os.path.join(args.outdir, name + ".jsonl.zst")
        _zstd_write(out, lines)
        print("%-16s %6d strings  %8d ids  %8d bytes%s" % (name, len(plain), sum(map(len, plain)), os.path.getsize(out),
                                                         "  llama.cpp differs on %d lines %s; the tokenizer.json on %d (control-token text)" % (
                                                             len(extra), reasons, len(json_ids))
                                                         if kind.startswith("gguf") else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tables")
    t.add_argument("out")
    gr = sub.add_parser("graphemes")
    gr.add_argument("tables_rs", help="src/tables.rs of the unicode-segmentation crate tokenizers was built with")
    gr.add_argument("out")
    g = sub.add_parser("golden")
    g.add_argument("outdir")
    g.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
    g.add_argument("--models", default=os.path.expanduser("~/.cache/quipu/models"))
    g.add_argument("--llama-python", help="a Python interpreter with llama-cpp-python (GGUF references)")
    g.add_argument("--keep-synth", action="store_true", help="reuse synth/*.json instead of training them again")
    g.add_argument("--only", help="comma-separated tokenizer names to regenerate")
    g.add_argument("--retrain", help="with --keep-synth: comma-separated synth/unigram tokenizers to make again")
    g.add_argument("--charsmap", help="spm_precompiled's src/nmt_nfkc.bin (the older nmt_nfkc charsmap) for u-camembert")
    lc = sub.add_parser("llamacpp")
    lc.add_argument("gguf")
    args = ap.parse_args()
    if args.cmd == "tables":
        make_tables(args.out)
    elif args.cmd == "graphemes":
        make_grapheme_tables(args.tables_rs, args.out)
    elif args.cmd == "llamacpp":
        run_llama_cpp(args)
    else:
        make_golden(args)


if __name__ == "__main__":
    main()
