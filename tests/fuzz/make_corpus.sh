#!/bin/sh
# Seed corpus for fuzz_gguf: usage make_corpus.sh TESTDATA_DIR OUT_DIR.
# Writes (never into the repository) the first 64 KiB of every shared GGUF file (their headers,
# metadata and tensor infos) and a small complete GGUF generated here with every value type, arrays of
# numbers, strings and bools, general.alignment and tensors of three types.
set -eu
data=${1:?testdata dir}
out=${2:?output dir}
mkdir -p "$out"
n=0
for f in "$data"/models/*.gguf "$data"/models/quant/*.gguf "$data"/vocab/*.gguf; do
    [ -f "$f" ] || continue
    head -c 65536 "$f" > "$out/prefix-$(basename "$f")"
    n=$((n + 1))
done
python3 - "$out/synthetic.gguf" <<'PY'
import struct, sys
def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
kv = []
def add(key, t, payload): kv.append(s(key) + struct.pack('<I', t) + payload)
add('general.architecture', 8, s('llama'))
add('general.alignment', 4, struct.pack('<I', 64))
add('llama.block_count', 4, struct.pack('<I', 1))
add('llama.embedding_length', 4, struct.pack('<I', 32))
add('llama.feed_forward_length', 4, struct.pack('<I', 64))
add('llama.attention.head_count', 4, struct.pack('<I', 4))
add('llama.attention.head_count_kv', 9, struct.pack('<IQ', 5, 1) + struct.pack('<i', 2))
add('llama.context_length', 10, struct.pack('<Q', 128))
add('llama.attention.layer_norm_rms_epsilon', 6, struct.pack('<f', 1e-5))
add('llama.rope.freq_base', 12, struct.pack('<d', 10000.0))
add('x.u8', 0, b'\x07'); add('x.i8', 1, b'\xf9'); add('x.u16', 2, struct.pack('<H', 65535))
add('x.i16', 3, struct.pack('<h', -2)); add('x.i64', 11, struct.pack('<q', -5)); add('x.bool', 7, b'\x01')
add('tokenizer.ggml.model', 8, s('llama'))
toks = ['<unk>', '<s>', '</s>', 'a', 'b']
add('tokenizer.ggml.tokens', 9, struct.pack('<IQ', 8, len(toks)) + b''.join(s(t) for t in toks))
add('tokenizer.ggml.scores', 9, struct.pack('<IQ', 6, len(toks)) + struct.pack('<5f', 0, 0, 0, -1, -2))
add('tokenizer.ggml.flags', 9, struct.pack('<IQ', 7, 3) + b'\x00\x01\x00')
add('tokenizer.ggml.bos_token_id', 4, struct.pack('<I', 1))
add('tokenizer.chat_template', 8, s('{{ messages }}'))
tensors = [('token_embd.weight', [32, 5], 1, 32 * 5 * 2), ('output_norm.weight', [32], 0, 32 * 4),
           ('blk.0.attn_q.weight', [32, 32], 2, 32 * 18)]
infos, off, align = b'', 0, 64
for name, dims, typ, size in tensors:
    infos += s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims)
    infos += struct.pack('<IQ', typ, off)
    off = (off + size + align - 1) // align * align
head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv)) + b''.join(kv) + infos
head += b'\0' * (-len(head) % align)
open(sys.argv[1], 'wb').write(head + bytes((i * 7) & 255 for i in range(off)))
PY
echo "make_corpus: $n prefixes and 1 synthetic file in $out"
