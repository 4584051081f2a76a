# test_bad_input.sh — bad model files and inputs through the real commands: each gives one error
# line naming the file and the problem, a non-zero exit, and no crash (CI runs under ASan/UBSan).
# (Parser-level cases, one per malformed field, are in test_gguf.c and test_safetensors.c.)
. "$QUIPU_SOURCE_DIR/tests/common.sh"
need_shared tokenizers

# a minimal GGUF writer (standard library only) for synthetic files
cat > "$TMPD/mkgguf.py" <<'PY'
import struct, sys
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
def kv_str(k, v): return s(k) + struct.pack("<I", 8) + s(v)
def kv_u32(k, v): return s(k) + struct.pack("<I", 4) + struct.pack("<I", v)
out, arch, ttype = sys.argv[1], sys.argv[2], int(sys.argv[3])
kvs = [kv_str("general.architecture", arch), kv_u32(arch + ".block_count", 1)]
tensors = [("token_embd.weight", [32, 4], ttype)]
body = struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kvs)) + b"".join(kvs)
for name, ne, t in tensors:
    body += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", t, 0)
body += b"\0" * ((32 - len(body) % 32) % 32)
body += b"\0" * (32 * 4 * 4)
open(out, "wb").write(body)
PY
python3 "$TMPD/mkgguf.py" "$TMPD/foo-arch.gguf" foo 0
expect_error "unknown architecture" "foo-arch.gguf: unknown architecture 'foo'" "$QUIPU_BIN" inspect "$TMPD/foo-arch.gguf"
python3 "$TMPD/mkgguf.py" "$TMPD/badtype.gguf" llama 77
expect_error "unknown quantization type" "badtype.gguf: .*(type|77)" "$QUIPU_BIN" inspect "$TMPD/badtype.gguf"
head -c 4096 /dev/urandom > "$TMPD/random.gguf"
expect_error "bad magic" "random.gguf: .*(magic|GGUF)" "$QUIPU_BIN" score --model "$TMPD/random.gguf"

if [ -f "$SMOL" ]; then
  head -c 5000000 "$SMOL" > "$TMPD/truncated.gguf"
  expect_error "truncated GGUF" "truncated.gguf: .*(truncat|past|end)" "$QUIPU_BIN" score --model "$TMPD/truncated.gguf"
  head -c 100000 "$SMOL" > "$TMPD/truncated-meta.gguf"
  expect_error "GGUF truncated in metadata" "truncated-meta.gguf: .*(truncat|past|end)" "$QUIPU_BIN" inspect "$TMPD/truncated-meta.gguf"
else
  echo "note: $SMOL absent: truncated-model cases use the synthetic file only"
  head -c 200 "$TMPD/foo-arch.gguf" > "$TMPD/truncated.gguf"
  expect_error "truncated GGUF" "truncated.gguf: " "$QUIPU_BIN" inspect "$TMPD/truncated.gguf"
fi

# tiny checkpoints: NaN weights, wrong tokenizer, missing weights, broken config
d=$(tiny_model tiny-llama)
cp -r "$d" "$TMPD/nan"
python3 - "$TMPD/nan/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
name = next(k for k in hdr if k.endswith("layers.1.mlp.down_proj.weight"))
t = hdr[name]
off = 8 + n + t["data_offsets"][0] + 6 * {"F32": 4, "F16": 2, "BF16": 2}[t["dtype"]]
nan = {"F32": struct.pack("<I", 0x7fc00000), "F16": struct.pack("<H", 0x7e00), "BF16": struct.pack("<H", 0x7fc0)}[t["dtype"]]
b[off:off + len(nan)] = nan
open(p, "wb").write(b)
PY
echo '{"context": "", "continuation": "hi"}' > "$TMPD/one.jsonl"
expect_error "NaN weights" "nan: tensor 'model.layers.1.mlp.down_proj.weight' holds a non-finite value" "$QUIPU_BIN" score --model "$TMPD/nan" < "$TMPD/one.jsonl"
cp -r "$d" "$TMPD/wrongtok"
cp "$QUIPU_SHARED/tokenizers/gpt-2/tokenizer.json" "$TMPD/wrongtok/tokenizer.json"
rm -f "$TMPD/wrongtok/tokenizer_config.json"
expect_error "tokenizer does not fit the model" "wrongtok: the tokenizer has 50257 tokens but the model's embedding has only 32000 rows" "$QUIPU_BIN" score --model "$TMPD/wrongtok" < "$TMPD/one.jsonl"
cp -r "$d" "$TMPD/truncst"
head -c 100000 "$d/model.safetensors" > "$TMPD/truncst/model.safetensors"
expect_error "truncated safetensors" "truncst/model.safetensors: " "$QUIPU_BIN" score --model "$TMPD/truncst" < "$TMPD/one.jsonl"
cp -r "$d" "$TMPD/badcfg"
printf '{"model_type": "llama", "hidden_size": ' > "$TMPD/badcfg/config.json"
expect_error "malformed config.json" "badcfg/config.json:1:[0-9]+: cannot parse config.json" "$QUIPU_BIN" score --model "$TMPD/badcfg" < "$TMPD/one.jsonl"
cp -r "$d" "$TMPD/unkarch"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['model_type']='mamba'; json.dump(c, open(p,'w'))" "$TMPD/unkarch/config.json"
expect_error "unknown HF architecture" "unkarch/config.json: unknown architecture 'mamba'" "$QUIPU_BIN" score --model "$TMPD/unkarch" < "$TMPD/one.jsonl"
cp -r "$d" "$TMPD/olmo"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['model_type']='olmo'; json.dump(c, open(p,'w'))" "$TMPD/olmo/config.json"
expect_error "a known family quipu refuses, with what it needs" "olmo/config.json: architecture 'olmo' is not supported yet: it needs OLMo 1's non-parametric LayerNorm" \
  "$QUIPU_BIN" score --model "$TMPD/olmo" < "$TMPD/one.jsonl"
# BLOOM and Falcon checkpoints missing a tensor (renamed in the header: the file stays valid)
hide_tensor() { # DIR NAME: tensor NAME is renamed NAME.hidden
  python3 - "$1/model.safetensors" "$2" <<'PY'
import json, struct, sys
p, name = sys.argv[1], sys.argv[2]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
hdr[name + ".hidden"] = hdr.pop(name)
h = json.dumps(hdr).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(p, "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])
PY
}
cp -r "$(tiny_model tiny-bloom)" "$TMPD/bloom-noln"
hide_tensor "$TMPD/bloom-noln" transformer.word_embeddings_layernorm.bias
expect_error "BLOOM missing its embedding LayerNorm bias" "bloom-noln: missing tensor 'transformer.word_embeddings_layernorm.bias'" \
  "$QUIPU_BIN" score --model "$TMPD/bloom-noln" < "$TMPD/one.jsonl"
cp -r "$(tiny_model tiny-falcon-40b)" "$TMPD/falcon-nomlp"
hide_tensor "$TMPD/falcon-nomlp" transformer.h.1.ln_mlp.weight
expect_error "Falcon 40B layout missing ln_mlp" "falcon-nomlp: missing tensor 'transformer.h.1.ln_mlp.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/falcon-nomlp" < "$TMPD/one.jsonl"
# mixture of experts: a missing expert, more experts per token than experts
cp -r "$(tiny_model tiny-mixtral)" "$TMPD/mixtral-noexp"
hide_tensor "$TMPD/mixtral-noexp" model.layers.1.block_sparse_moe.experts.4.w2.weight
expect_error "Mixtral missing an expert's w2" "mixtral-noexp: missing tensor 'model.layers.1.block_sparse_moe.experts.4.w2.weight'" \
  "$QUIPU_BIN" score --model "$TMPD/mixtral-noexp" < "$TMPD/one.jsonl"
cp -r "$(tiny_model tiny-qwen2-moe)" "$TMPD/qwen2moe-k"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['num_experts_per_tok']=9; json.dump(c, open(p,'w'))" "$TMPD/qwen2moe-k/config.json"
expect_error "more experts per token than experts" "qwen2moe-k/config.json: 'num_experts_per_tok' is 9, expected 1 to the 5 experts" \
  "$QUIPU_BIN" score --model "$TMPD/qwen2moe-k" < "$TMPD/one.jsonl"
expect_error "an adapter on a mixture of experts" "adapters and weight edits are not supported on mixture-of-experts models \\(qwen3_moe\\) yet" \
  "$QUIPU_BIN" score --model "$(tiny_model tiny-qwen3-moe)" --adapter "$QUIPU_SOURCE_DIR/tests/models/adapters/llama-lora-r1" < "$TMPD/one.jsonl"
cp -r "$(tiny_model tiny-falcon)" "$TMPD/falcon-alibi"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['alibi']=True; json.dump(c, open(p,'w'))" "$TMPD/falcon-alibi/config.json"
expect_error "Falcon-RW (alibi) refused with what it needs" "falcon-alibi/config.json: Falcon with alibi: true \\(Falcon-RW\\) is not supported: it needs ALiBi" \
  "$QUIPU_BIN" score --model "$TMPD/falcon-alibi" < "$TMPD/one.jsonl"
cp -r "$(tiny_model tiny-falcon)" "$TMPD/refinedweb"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['model_type']='RefinedWebModel'; json.dump(c, open(p,'w'))" "$TMPD/refinedweb/config.json"
expect_error "Falcon's old remote-code config" "refinedweb/config.json: architecture 'RefinedWebModel' is not supported yet: it needs the config.json tiiuae" \
  "$QUIPU_BIN" score --model "$TMPD/refinedweb" < "$TMPD/one.jsonl"
python3 "$TMPD/mkgguf.py" "$TMPD/gemma2.gguf" gemma2 0
expect_error "a family quipu reads from safetensors only" "gemma2.gguf: architecture 'gemma2' is read from Hugging Face safetensors checkpoints only" \
  "$QUIPU_BIN" inspect "$TMPD/gemma2.gguf"
# LongRoPE: a sequence past original_max_position_embeddings (1024) would need the long factors
phi3=$(tiny_model tiny-phi3)
python3 -c "import json; print(json.dumps({'context': '', 'continuation': ' a' * 1100}))" > "$TMPD/long.jsonl"
expect_error "LongRoPE long factors refused" "more than 1024 tokens .*needs LongRoPE's long factors" "$QUIPU_BIN" score --model "$phi3" < "$TMPD/long.jsonl"
printf 'not json\n' > "$TMPD/badtok.json"
expect_error "tokenizer.json not JSON" "badtok.json" "$QUIPU_BIN" tokenize --model "$TMPD/badtok.json" < "$TMPD/one.jsonl"
finish
