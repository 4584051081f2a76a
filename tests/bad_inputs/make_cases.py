#!/usr/bin/env python3
"""make_cases.py OUT TINY_LLAMA TINY_GPT2 -- writes the bad-input catalogue into OUT.

Each case is one broken input (a model file or folder, a config.json, a tokenizer, a dataset,
an experiment config) and the command that reads it. OUT/cases.tsv lists them, one a line:
    name <TAB> mode <TAB> target <TAB> pattern
mode: inspect | score | tokenize | run (target is a YAML config) -- see test_bad_inputs.sh.
pattern: an extended regex the single error line must match (it names the file and the problem).
TINY_LLAMA / TINY_GPT2: checkpoint folders with their tokenizer.json (tests/common.sh tiny_model).
Standard library only; everything is made from scratch or from the tiny test models.
"""
import json
import os
import shutil
import struct
import sys

OUT, LLAMA, GPT2 = sys.argv[1], sys.argv[2], sys.argv[3]
cases = []


def case(name, mode, target, pattern):
    assert "\t" not in pattern and name not in [c[0] for c in cases], name
    cases.append((name, mode, target, pattern))


def path(*p):
    return os.path.join(OUT, *p)


# ------------------------------------------------------------------ GGUF, written from scratch

def gs(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(b)) + b


def kv_str(k, v):
    return gs(k) + struct.pack("<I", 8) + gs(v)


def kv_u32(k, v):
    return gs(k) + struct.pack("<I", 4) + struct.pack("<I", v)


def kv_u64(k, v):
    return gs(k) + struct.pack("<I", 10) + struct.pack("<Q", v)


def kv_f32(k, v):
    return gs(k) + struct.pack("<I", 6) + struct.pack("<f", v)


def tinfo(name, ne, ttype=0, offset=0):
    return gs(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", ttype, offset)


def gguf(name, kvs=None, tensors=None, version=3, data=None, n_tensors=None, n_kv=None, raw=None):
    """A GGUF file: header, metadata, tensor infos, padding to 32, data (default: enough zeros)."""
    if kvs is None:
        kvs = [kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1),
               kv_u32("llama.embedding_length", 4), kv_u32("llama.attention.head_count", 1),
               kv_u32("llama.feed_forward_length", 8)]
    if tensors is None:
        tensors = [tinfo("token_embd.weight", [4, 32])]
    body = struct.pack("<IIQQ", 0x46554747, version, len(tensors) if n_tensors is None else n_tensors,
                       len(kvs) if n_kv is None else n_kv)
    body += b"".join(kvs) + b"".join(tensors)
    body += b"\0" * ((32 - len(body) % 32) % 32)
    body += b"\0" * (4 * 4 * 32) if data is None else data
    if raw is not None:
        body = raw
    p = path(name)
    with open(p, "wb") as f:
        f.write(body)
    return p


case("gguf-bad-magic", "inspect", gguf("bad-magic.gguf", raw=b"GGUX" + b"\0" * 60), r"bad-magic\.gguf: not a GGUF file")
case("gguf-version-1", "inspect", gguf("v1.gguf", version=1), r"v1\.gguf: GGUF version 1 is not supported")
case("gguf-byte-swapped", "inspect", gguf("swapped.gguf", version=0x03000000), r"swapped\.gguf: .*byte-swapped")
case("gguf-header-truncated", "inspect", gguf("hdr-trunc.gguf", raw=b"GGUF\x03\0\0\0\x01"), r"hdr-trunc\.gguf: truncated file")
case("gguf-absurd-tensor-count", "inspect", gguf("n-tensors.gguf", n_tensors=1 << 60), r"n-tensors\.gguf: corrupt header: .*tensor infos")
case("gguf-absurd-kv-count", "inspect", gguf("n-kv.gguf", n_kv=1 << 62), r"n-kv\.gguf: corrupt header: .*metadata entries")
case("gguf-string-past-end", "inspect",
     gguf("str-past-end.gguf", kvs=[gs("general.architecture") + struct.pack("<I", 8) + struct.pack("<Q", 1 << 40)]),
     r"str-past-end\.gguf: truncated file: .*string length")
case("gguf-bad-value-type", "inspect", gguf("vtype.gguf", kvs=[gs("x") + struct.pack("<II", 99, 0)]), r"vtype\.gguf: metadata key 'x': invalid value type 99")
case("gguf-nested-array", "inspect", gguf("nested.gguf", kvs=[gs("x") + struct.pack("<IIQ", 9, 9, 1)]), r"nested\.gguf: .*nested arrays")
case("gguf-bool-2", "inspect", gguf("bool2.gguf", kvs=[gs("x") + struct.pack("<IB", 7, 2)]), r"bool2\.gguf: .*bool value 2")
case("gguf-duplicate-key", "inspect", gguf("dupkey.gguf", kvs=[kv_u32("a", 1), kv_u32("a", 2)]), r"dupkey\.gguf: duplicate metadata key 'a'")
case("gguf-bad-alignment", "inspect", gguf("align3.gguf", kvs=[kv_u32("general.alignment", 3)]), r"align3\.gguf: general\.alignment is 3")
case("gguf-five-dims", "inspect", gguf("dims5.gguf", tensors=[tinfo("t", [1, 1, 1, 1, 1])]), r"dims5\.gguf: .*n_dims is 5")
case("gguf-unknown-tensor-type", "inspect", gguf("ttype.gguf", tensors=[tinfo("token_embd.weight", [4, 32], 77)]), r"ttype\.gguf: .*unknown tensor type 77")
case("gguf-tensor-past-end", "inspect", gguf("past-end.gguf", tensors=[tinfo("token_embd.weight", [4, 32], 0, 1 << 20)]), r"past-end\.gguf: truncated file: .*past end of file")
case("gguf-misaligned-offset", "inspect",
     gguf("misaligned.gguf", tensors=[tinfo("token_embd.weight", [4, 32]), tinfo("b", [4], 0, 5)]), r"misaligned\.gguf: .*not a multiple of the alignment")
case("gguf-duplicate-tensor", "inspect",
     gguf("duptensor.gguf", tensors=[tinfo("token_embd.weight", [4, 32]), tinfo("token_embd.weight", [4, 32], 0, 512)]),
     r"duptensor\.gguf: duplicate tensor name")
# issue 11: tensors sharing bytes (ggml lays them out one after another)
case("gguf-overlapping-tensors", "inspect",
     gguf("overlap.gguf", tensors=[tinfo("token_embd.weight", [4, 32]), tinfo("output_norm.weight", [4], 0, 256)]),
     r"overlap\.gguf: tensors .* overlap")
# issue 11: a zero dimension hides an overflowing product of the others
case("gguf-zero-dim-overflow", "inspect",
     gguf("zero-dim.gguf", tensors=[tinfo("token_embd.weight", [4, 32]), tinfo("blk.0.attn_norm.weight", [0, 1 << 40, 1 << 40], 0, 512)]),
     r"zero-dim\.gguf: .*overflows the element count")
case("gguf-unknown-architecture", "inspect", gguf("arch.gguf", kvs=[kv_str("general.architecture", "mamba")]), r"arch\.gguf: unknown architecture 'mamba'")
case("gguf-no-architecture", "inspect", gguf("noarch.gguf", kvs=[kv_u32("llama.block_count", 1)]), r"noarch\.gguf: no general\.architecture")
case("gguf-missing-embedding", "inspect", gguf("noembd.gguf", tensors=[tinfo("output_norm.weight", [4])]), r"noembd\.gguf: missing tensor 'token_embd\.weight'")
# issue 11: hyper-parameters have ranges, the error names the key
case("gguf-huge-embedding-length", "inspect",
     gguf("huge-embd.gguf", kvs=[kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1), kv_u64("llama.embedding_length", 1 << 40),
                                 kv_u32("llama.attention.head_count", 1), kv_u32("llama.feed_forward_length", 8)]),
     r"huge-embd\.gguf: 'llama\.embedding_length' is 1099511627776, expected an integer")
case("gguf-nan-rope-base", "inspect",
     gguf("nan-rope.gguf", kvs=[kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1), kv_u32("llama.embedding_length", 4),
                                kv_u32("llama.attention.head_count", 1), kv_u32("llama.feed_forward_length", 8), kv_f32("llama.rope.freq_base", float("nan"))]),
     r"nan-rope\.gguf: 'llama\.rope\.freq_base' is NaN")
case("gguf-huge-vocabulary", "inspect", gguf("huge-vocab.gguf", tensors=[tinfo("token_embd.weight", [0, 1 << 40])]),
     r"huge-vocab\.gguf: tensor 'token_embd\.weight' has .* rows, expected")


# ------------------------------------------------------------------ checkpoint folders

def clone(src, name):
    d = path(name)
    shutil.copytree(src, d)
    return d


def read_st(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def write_st(p, hdr, data):
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def edit_config(d, **kv):
    p = os.path.join(d, "config.json")
    c = json.load(open(p))
    c.update(kv)
    with open(p, "w") as f:
        f.write(json.dumps(c))


def edit_tensor(d, suffix, fn):
    """fn(entry) edits one tensor's header entry (shape/dtype); other tensors keep their bytes."""
    p = os.path.join(d, "model.safetensors")
    hdr, data = read_st(p)
    name = next(k for k in hdr if k.endswith(suffix))
    fn(hdr[name])
    write_st(p, hdr, data)
    return name


def drop_tensor_bytes(d, suffix, new_shape):
    """Gives tensor `suffix` a new shape and exactly the bytes that shape needs (0 for a zero
    dimension), re-tiling the data buffer so the file itself stays valid."""
    p = os.path.join(d, "model.safetensors")
    hdr, data = read_st(p)
    width = {"F32": 4, "F16": 2, "BF16": 2}
    items = sorted(((k, v) for k, v in hdr.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0])
    out, pos = b"", 0
    for k, v in items:
        b0, b1 = v["data_offsets"]
        chunk = data[b0:b1]
        if k.endswith(suffix):
            v["shape"] = new_shape
            n = 1
            for s in new_shape:
                n *= s
            chunk = b"\0" * (n * width[v["dtype"]]) if n < (1 << 20) else chunk
        v["data_offsets"] = [pos, pos + len(chunk)]
        out += chunk
        pos += len(chunk)
    write_st(p, hdr, out)


case("cfg-missing", "score", (lambda d: (os.remove(os.path.join(d, "config.json")), d)[1])(clone(LLAMA, "nocfg")),
     r"nocfg/config\.json: missing")
d = clone(LLAMA, "cfg-syntax")
open(os.path.join(d, "config.json"), "w").write('{"model_type": "llama", "hidden_size": ')
case("cfg-syntax-error", "score", d, r"cfg-syntax/config\.json:1:[0-9]+: cannot parse config\.json")
d = clone(LLAMA, "cfg-array")
open(os.path.join(d, "config.json"), "w").write("[1, 2]")
case("cfg-not-object", "inspect", d, r"cfg-array/config\.json: config\.json is not a JSON object")
d = clone(LLAMA, "cfg-fifo")
os.remove(os.path.join(d, "config.json"))
os.mkfifo(os.path.join(d, "config.json"))
case("cfg-fifo", "inspect", d, r"cfg-fifo/config\.json: is a FIFO, expected a regular file")
d = clone(LLAMA, "cfg-big")
edit_config(d, hidden_size=1e300)
case("cfg-hidden-size-1e300", "score", d, r"cfg-big/config\.json: 'hidden_size' is 1e\+300, expected an integer in \[1, 131072\]")
d = clone(GPT2, "cfg-gpt2-embd")
edit_config(d, n_embd=1 << 62, n_inner=None)
case("cfg-gpt2-n-embd-overflow", "score", d, r"cfg-gpt2-embd/config\.json: 'n_embd' is [0-9]+, expected an integer")
d = clone(LLAMA, "cfg-layers")
edit_config(d, num_hidden_layers=-3)
case("cfg-negative-layers", "inspect", d, r"cfg-layers/config\.json: 'num_hidden_layers' is -3")
d = clone(LLAMA, "cfg-eps")
edit_config(d, rms_norm_eps="small")
case("cfg-eps-string", "inspect", d, r"cfg-eps/config\.json: 'rms_norm_eps' is a string")
d = clone(LLAMA, "cfg-theta")
edit_config(d, rope_theta=-5)
case("cfg-negative-rope-theta", "inspect", d, r"cfg-theta/config\.json: 'rope_theta' is -5")
d = clone(LLAMA, "cfg-heads")
edit_config(d, num_key_value_heads=3)
case("cfg-heads-not-multiple", "inspect", d, r"cfg-heads/config\.json: .*not a multiple of 3 key/value heads")
d = clone(LLAMA, "cfg-ctx")
edit_config(d, max_position_embeddings=1 << 40)
case("cfg-huge-context", "inspect", d, r"cfg-ctx/config\.json: 'max_position_embeddings' is 1099511627776")
d = clone(LLAMA, "cfg-llama3")
edit_config(d, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 2.0, "high_freq_factor": 2.0,
                             "original_max_position_embeddings": 64})
case("cfg-llama3-equal-freq-factors", "score", d, r"cfg-llama3/config\.json: llama3 rope scaling needs high_freq_factor > low_freq_factor")
d = clone(LLAMA, "cfg-arch")
edit_config(d, model_type="mamba")
case("cfg-unknown-architecture", "inspect", d, r"cfg-arch/config\.json: unknown architecture 'mamba'")
d = clone(LLAMA, "cfg-softcap")
edit_config(d, model_type="gemma2", attn_logit_softcapping="big")
case("cfg-gemma2-softcap-string", "inspect", d, r"cfg-softcap/config\.json: 'attn_logit_softcapping' is a string")
d = clone(LLAMA, "cfg-rotary")
edit_config(d, model_type="gpt_neox", rotary_pct=1.5)
case("cfg-neox-rotary-pct", "inspect", d, r"cfg-rotary/config\.json: 'rotary_pct' is 1\.5, expected a number in \[1e-06, 1\]")
d = clone(LLAMA, "cfg-longrope")
edit_config(d, model_type="phi3", rope_scaling={"type": "longrope", "short_factor": [1.0], "long_factor": [1.0, 2.0, 3.0, 4.0]})
case("cfg-longrope-short-factor", "inspect", d, r"cfg-longrope/config\.json: LongRoPE needs 'short_factor', a list of 4 numbers")
d = clone(LLAMA, "cfg-falcon-alibi")
edit_config(d, model_type="falcon", alibi=True)
case("cfg-falcon-alibi", "inspect", d, r"cfg-falcon-alibi/config\.json: Falcon with alibi: true \(Falcon-RW\) is not supported: it needs ALiBi biases rounded")
d = clone(LLAMA, "cfg-falcon-mq")
edit_config(d, model_type="falcon", multi_query="yes")
case("cfg-falcon-multi-query-string", "inspect", d, r"cfg-falcon-mq/config\.json: 'multi_query' is a string, expected true or false")
d = clone(LLAMA, "cfg-falcon-ln")
edit_config(d, model_type="falcon", new_decoder_architecture=True, num_kv_heads=2, num_ln_in_parallel_attn=3)
case("cfg-falcon-num-ln", "inspect", d, r"cfg-falcon-ln/config\.json: 'num_ln_in_parallel_attn' is 3, expected 1 or 2")
d = clone(LLAMA, "cfg-falcon-2ln")
edit_config(d, model_type="falcon", num_ln_in_parallel_attn=2)
case("cfg-falcon-two-ln-old-decoder", "inspect", d, r"cfg-falcon-2ln/config\.json: num_ln_in_parallel_attn 2 without new_decoder_architecture is not supported")
d = clone(LLAMA, "cfg-falcon-kv")
edit_config(d, model_type="falcon", multi_query=False, num_kv_heads=2)
case("cfg-falcon-kv-heads", "inspect", d, r"cfg-falcon-kv/config\.json: num_kv_heads 2 without multi_query or new_decoder_architecture is not supported")
d = clone(LLAMA, "cfg-bloom-post")
edit_config(d, model_type="bloom", apply_residual_connection_post_layernorm=True)
case("cfg-bloom-post-ln-residual", "inspect", d, r"cfg-bloom-post/config\.json: apply_residual_connection_post_layernorm .* is not supported")
d = clone(LLAMA, "cfg-bos")
edit_config(d, bos_token_id=1 << 40)
case("cfg-bos-out-of-range", "score", d, r"cfg-bos/config\.json: 'bos_token_id' is 1099511627776")

# safetensors
d = clone(LLAMA, "st-trunc")
open(os.path.join(d, "model.safetensors"), "r+b").truncate(100000)
case("st-truncated", "score", d, r"st-trunc/model\.safetensors: ")
d = clone(LLAMA, "st-hdrlen")
with open(os.path.join(d, "model.safetensors"), "r+b") as f:
    f.write(struct.pack("<Q", 1 << 50))
case("st-header-length", "score", d, r"st-hdrlen/model\.safetensors: header length [0-9]+ exceeds the limit")
d = clone(LLAMA, "st-json")
with open(os.path.join(d, "model.safetensors"), "r+b") as f:
    f.seek(8)
    f.write(b"[")
case("st-bad-json-header", "score", d, r"st-json/model\.safetensors: (invalid JSON header|JSON header is not an object)")
d = clone(LLAMA, "st-dtype")
edit_tensor(d, "layers.0.mlp.up_proj.weight", lambda e: e.update(dtype="Q9"))
case("st-unknown-dtype", "score", d, r"st-dtype/model\.safetensors: tensor '.*up_proj\.weight': unknown dtype 'Q9'")
d = clone(LLAMA, "st-overlap")
p = os.path.join(d, "model.safetensors")
hdr, data = read_st(p)
k = sorted((k for k in hdr if k != "__metadata__"), key=lambda k: hdr[k]["data_offsets"][0])
hdr[k[1]]["data_offsets"] = [hdr[k[1]]["data_offsets"][0] - 4, hdr[k[1]]["data_offsets"][1] - 4]
write_st(p, hdr, data)
case("st-overlap", "score", d, r"st-overlap/model\.safetensors: .*(overlap|gap)")
# issue 11: zero-sized weights, and a zero dimension hiding an overflowing product
d = clone(LLAMA, "st-zero")
drop_tensor_bytes(d, "layers.0.self_attn.q_proj.weight", [0, 64])
case("st-zero-sized-weight", "score", d, r"st-zero: tensor '.*q_proj\.weight' has shape \[0, 64\]: a zero-sized weight")
d = clone(LLAMA, "st-zero-huge")
drop_tensor_bytes(d, "layers.0.self_attn.q_proj.weight", [1 << 62, 0])
case("st-zero-dim-huge", "score", d, r"st-zero-huge: tensor '.*q_proj\.weight' has shape \[4611686018427387904, 0\]")
d = clone(LLAMA, "st-zero-ovf")
drop_tensor_bytes(d, "layers.0.self_attn.q_proj.weight", [1 << 40, 1 << 40, 0])
case("st-zero-dim-overflow", "score", d, r"st-zero-ovf/model\.safetensors: tensor '.*q_proj\.weight': shape overflows the element count")
# issue 11: a mis-shaped fused QKV bias (the fused weight must not leak: LeakSanitizer runs)
d = clone(GPT2, "st-qkv-bias")
drop_tensor_bytes(d, "h.1.attn.c_attn.bias", [5])
case("st-gpt2-qkv-bias-shape", "score", d, r"st-qkv-bias: tensor '.*h\.1\.attn\.c_attn\.bias' has 5 elements, expected 24")
d = clone(LLAMA, "st-nan")
p = os.path.join(d, "model.safetensors")
hdr, data = read_st(p)
name = next(k for k in hdr if k.endswith("layers.1.mlp.down_proj.weight"))
t = hdr[name]
w = {"F32": 4, "F16": 2, "BF16": 2}[t["dtype"]]
nan = {"F32": struct.pack("<I", 0x7fc00000), "F16": struct.pack("<H", 0x7e00), "BF16": struct.pack("<H", 0x7fc0)}[t["dtype"]]
off = t["data_offsets"][0] + 3 * w
data = data[:off] + nan + data[off + w:]
write_st(p, hdr, data)
case("st-nan-weight", "score", d, r"st-nan: tensor '.*down_proj\.weight' holds a non-finite value")
d = clone(LLAMA, "st-missing")
p = os.path.join(d, "model.safetensors")
hdr, data = read_st(p)
name = next(k for k in hdr if k.endswith("layers.1.mlp.down_proj.weight"))
drop = hdr.pop(name)
b0, b1 = drop["data_offsets"]
for v in hdr.values():
    if isinstance(v, dict) and "data_offsets" in v and v["data_offsets"][0] >= b1:
        v["data_offsets"] = [v["data_offsets"][0] - (b1 - b0), v["data_offsets"][1] - (b1 - b0)]
write_st(p, hdr, data[:b0] + data[b1:])
case("st-missing-tensor", "score", d, r"st-missing: missing tensor '.*layers\.1\.mlp\.down_proj\.weight'")
d = clone(LLAMA, "st-none")
os.remove(os.path.join(d, "model.safetensors"))
case("st-no-weights", "score", d, r"st-none: no model\.safetensors or model\.safetensors\.index\.json")
# issue 11: an index that is a FIFO used to hang the reader
d = clone(LLAMA, "st-index-fifo")
os.mkfifo(os.path.join(d, "model.safetensors.index.json"))
case("st-index-fifo", "inspect", d, r"st-index-fifo/model\.safetensors\.index\.json: is a FIFO, expected a regular file")
d = clone(LLAMA, "st-index-shard")
open(os.path.join(d, "model.safetensors.index.json"), "w").write(json.dumps({"weight_map": {"a": "nothere.safetensors"}}))
case("st-index-missing-shard", "inspect", d, r"st-index-shard/model\.safetensors\.index\.json: shard 'nothere\.safetensors' named in weight_map is missing")
d = clone(LLAMA, "st-index-escape")
open(os.path.join(d, "model.safetensors.index.json"), "w").write(json.dumps({"weight_map": {"a": "../x.safetensors"}}))
case("st-index-path-escape", "inspect", d, r"st-index-escape/model\.safetensors\.index\.json: .*not a plain file name")

# tokenizers
d = clone(LLAMA, "tok-wrong")
shutil.copy(os.path.join(GPT2, "tokenizer.json"), os.path.join(d, "tokenizer.json"))
case("tok-wrong-for-model", "score", d, r"tok-wrong: the tokenizer has 50257 tokens but the model's embedding has only")
open(path("badtok.json"), "w").write("not json\n")
case("tok-not-json", "tokenize", path("badtok.json"), r"badtok\.json")
# issue 11: a device would be read until memory runs out, a FIFO would hang
case("tok-dev-zero", "tokenize", "/dev/zero", r"/dev/zero")
os.mkfifo(path("tok.fifo"))
case("tok-fifo", "tokenize", path("tok.fifo"), r"tok\.fifo")
case("model-fifo", "score", path("tok.fifo"), r"tok\.fifo: is a FIFO, expected a regular file")
case("model-dev-zero", "inspect", "/dev/zero", r"/dev/zero: is a character device, expected a regular file")
case("model-missing", "inspect", path("nothere.gguf"), r"nothere\.gguf: ")


# ------------------------------------------------------------------ datasets and configs through `quipu run`

def run_cfg(name, bench_yaml, extra=""):
    y = path(name + ".yaml")
    with open(y, "w") as f:
        f.write("name: %s\noutput: %s\nmodels:\n  - path: %s\n    name: tiny\nbenchmarks:\n%s\nprogress_interval: 0\n%s"
                % (name, path("out-" + name), LLAMA, bench_yaml, extra))
    return y


def pairs(name, text):
    p = path(name)
    with open(p, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    return run_cfg(name.replace(".", "-"), "  - name: mine\n    format: pairs\n    path: %s" % p)


good = '{"id": 1, "more": "The old man forgot.", "less": "The young man forgot.", "language": "en", "culture": "US"}\n'
case("data-bad-json", "run", pairs("badjson.jsonl", good + "{bad\n"), r"badjson\.jsonl:2: bad JSON")
case("data-invalid-utf8", "run", pairs("utf8.jsonl", good.encode() + b'{"id": 2, "more": "\xff\xfe", "less": "x"}\n'), r"utf8\.jsonl:2: invalid UTF-8")
case("data-missing-field", "run", pairs("short.jsonl", good + '{"id": 2, "more": "A c."}\n'), r"short\.jsonl:2: missing field")
case("data-empty", "run", pairs("empty.jsonl", ""), r"empty\.jsonl: no data rows")
case("data-not-object", "run", pairs("array.jsonl", good + "[1, 2]\n"), r"array\.jsonl:2: bad JSON: expected an object")
# issue 11: a 2 MB text field is refused with the limit named, not scored
case("data-field-too-long", "run", pairs("long.jsonl", good + '{"id": 2, "more": "%s", "less": "b", "language": "en", "culture": "US"}\n' % ("a" * (2 << 20))),
     r"long\.jsonl:2: row of [0-9]+ bytes is longer than the 1048576-byte limit")
os.mkfifo(path("data.fifo"))
case("data-fifo", "run", run_cfg("data-fifo", "  - name: mine\n    format: pairs\n    path: %s" % path("data.fifo")), r"data\.fifo: ")
os.makedirs(path("ds", "crows-pairs", "data"))
with open(path("ds", "crows-pairs", "data", "crows_pairs_anonymized.csv"), "w") as f:
    f.write(",sent_more,sent_less,stereo_antistereo,bias_type\n0,\"A b.\",\"C b.\",stereo,race-color\n1,\"A b.,C b.,stereo,race-color\n")
case("data-csv-unterminated-quote", "run", run_cfg("csv-quote", "  - crows_pairs_en", "datasets_dir: %s\n" % path("ds")),
     r"crows_pairs_anonymized\.csv:3: unterminated quoted field")
os.makedirs(path("ds3", "crows-pairs", "data"))
with open(path("ds3", "crows-pairs", "data", "crows_pairs_anonymized.csv"), "w") as f:
    f.write(",sent_more,sent_less,stereo_antistereo,bias_type\n0,\"A b.\",\"C b.\",stereo,race-color\n1,A b.,stereo,race-color\n")
case("data-csv-field-count", "run", run_cfg("csv-count", "  - crows_pairs_en", "datasets_dir: %s\n" % path("ds3")),
     r"crows_pairs_anonymized\.csv:3: 4 fields, expected 5")
os.makedirs(path("ds4", "crows-pairs", "data"))
with open(path("ds4", "crows-pairs", "data", "crows_pairs_anonymized.csv"), "w") as f:
    f.write(",sent_more,sent_less,stereo_antistereo,bias_type\n0,\"%s\",\"C b.\",stereo,race-color\n" % ("x" * (1100 * 1024)))
case("data-csv-field-too-long", "run", run_cfg("csv-long", "  - crows_pairs_en", "datasets_dir: %s\n" % path("ds4")),
     r"crows_pairs_anonymized\.csv:2: field 2 has [0-9]+ bytes, longer than the 1048576-byte limit")
os.makedirs(path("ds2", "crows-pairs", "data"))
with open(path("ds2", "crows-pairs", "data", "crows_pairs_anonymized.csv"), "w") as f:
    f.write(",sent_more,sent_less,stereo_antistereo,bias_type\n0,\"A b.\",\"C b.\",sideways,race-color\n")
case("data-csv-bad-label", "run", run_cfg("csv-label", "  - crows_pairs_en", "datasets_dir: %s\n" % path("ds2")),
     r"crows_pairs_anonymized\.csv:2: stereo_antistereo is 'sideways'")
# issue 13: neutral sentences (format: text) and benchmark roles
def text_rows(name, text):
    p = path(name)
    with open(p, "w") as f:
        f.write(text)
    return run_cfg(name.replace(".", "-"), "  - name: calm\n    format: text\n    path: %s" % p)


good_text = '{"id": 1, "text": "The kettle clicked off.", "language": "en", "culture": "US"}\n'
case("data-text-missing", "run", text_rows("notext.jsonl", good_text + '{"id": 2, "language": "en", "culture": "US"}\n'),
     r"notext\.jsonl:2:1: missing field 'text'")
case("data-text-empty", "run", text_rows("emptytext.jsonl", good_text + '{"id": 2, "text": "", "language": "en", "culture": "US"}\n'),
     r"emptytext\.jsonl:2:19: field 'text' is empty")
y = run_cfg("role-unknown", "  - name: mine\n    format: pairs\n    path: %s\n    role: debias" % path("badjson.jsonl"))
case("yaml-role-unknown", "run", y, r"role-unknown\.yaml:[0-9]+:[0-9]+: benchmarks\.0\.role: expected one of bias\|control\|neutral\|knowledge")
y = run_cfg("role-neutral-pairs", "  - name: mine\n    format: pairs\n    path: %s\n    role: neutral" % path("badjson.jsonl"))
case("yaml-role-neutral-on-pairs", "run", y, r"role-neutral-pairs\.yaml:[0-9]+:[0-9]+: benchmarks\.0\.role: role 'neutral' is for neutral sentences")
y = path("syntax.yaml")
open(y, "w").write("name: t\nmodels: [\n")
case("yaml-syntax-error", "run", y, r"syntax\.yaml:[0-9]+:[0-9]+: ")
y = run_cfg("unknown-key", "  - name: mine\n    format: pairs\n    path: %s" % path("badjson.jsonl"), "scoring:\n  batch_tokenz: 10\n")
case("yaml-unknown-key", "run", y, r"unknown-key\.yaml:[0-9]+:[0-9]+: .*batch_tokenz")
# issue 11: an experiment config that is a FIFO used to hang the config reader
y = path("config-fifo.yaml")
os.mkfifo(y)
case("yaml-fifo", "run", y, r"config-fifo\.yaml: cannot read the config: is a FIFO, expected a regular file")

with open(path("cases.tsv"), "w") as f:
    for c in cases:
        f.write("\t".join(c) + "\n")
print(len(cases))
