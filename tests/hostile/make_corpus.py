#!/usr/bin/env python3
"""Generates the hostile corpus: broken model files of every container nibble reads.

Usage: make_corpus.py SOURCE_DIR FIXTURES_DIR OUT_DIR

Each file is a valid model (the shipped stories260K, the fixtures' tiny models of every
family and every 2023 container, a llama2.c checkpoint and its tokenizer) with one
thing broken: a truncation, an edited count, type, shape, offset or hyperparameter.
OUT_DIR/manifest.tsv lists one case per line:

    file <TAB> expected <TAB> tokenizer <TAB> what was done

where `expected` is a text the loader's Error message must contain (case-insensitive;
alternatives separated by '|'), naming the problem, and `tokenizer` is a llama2.c
tokenizer path for LoadOptions (or '-'). Every file must make Model::load throw a
nibble::Error containing `expected`; probe() must not crash.
"""
import math
import os
import random
import struct
import sys

source_dir, fixtures, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out_dir, exist_ok=True)
cases = []


def emit(name, data, expected, what, tokenizer="-"):
    path = os.path.join(out_dir, name)
    with open(path, "wb") as f:
        f.write(data)
    cases.append((name, expected, tokenizer, what))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def have(rel):
    return os.path.exists(os.path.join(fixtures, rel))


# ---------------------------------------------------------------- GGUF ----

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q",
          F64: "<d"}


class Gguf:
    """A parsed GGUF file: metadata (key -> [type, value, element type]), tensor infos
    and the raw data section, re-serialisable with edits."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        assert self.take(4) == b"GGUF"
        self.version = self.u32()
        self.count = self.u32 if self.version == 1 else self.u64
        n_tensors, n_kv = self.count(), self.count()
        self.kv = []
        for _ in range(n_kv):
            key = self.string()
            t = self.u32()
            if t == ARR:
                et = self.u32()
                n = self.count()
                self.kv.append([key, t, [self.scalar(et) for _ in range(n)], et])
            else:
                self.kv.append([key, t, self.scalar(t), None])
        self.tensors = []
        for _ in range(n_tensors):
            name = self.string()
            nd = self.u32()
            ne = [self.count() for _ in range(nd)]
            ty = self.u32()
            off = self.u64()
            self.tensors.append([name, ne, ty, off])
        align = self.get("general.alignment", 32)
        self.data_start = (self.pos + align - 1) // align * align
        self.blob = data[self.data_start:]

    def take(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def string(self):
        return self.take(self.count()).decode("utf-8", "surrogateescape")

    def scalar(self, t):
        if t == STR:
            return self.string()
        return struct.unpack(SCALAR[t], self.take(struct.calcsize(SCALAR[t])))[0]

    def get(self, key, default=None):
        for k, t, v, et in self.kv:
            if k == key:
                return v
        return default

    def arch(self):
        return self.get("general.architecture")

    def set(self, key, t, value, et=None):
        for entry in self.kv:
            if entry[0] == key:
                entry[1:] = [t, value, et]
                return self
        self.kv.append([key, t, value, et])
        return self

    def remove(self, key):
        self.kv = [e for e in self.kv if e[0] != key]
        return self

    # serialisation
    def bytes(self, n_tensors=None, n_kv=None):
        cnt = (lambda n: struct.pack("<I", n)) if self.version == 1 else (lambda n: struct.pack("<Q", n))

        def s(x):
            b = x.encode("utf-8", "surrogateescape")
            return cnt(len(b)) + b

        def sc(t, v):
            return s(v) if t == STR else struct.pack(SCALAR[t], v)

        out = [b"GGUF", struct.pack("<I", self.version),
               cnt(len(self.tensors) if n_tensors is None else n_tensors), cnt(len(self.kv) if n_kv is None else n_kv)]
        for k, t, v, et in self.kv:
            out.append(s(k) + struct.pack("<I", t))
            if t == ARR:
                out.append(struct.pack("<I", et) + cnt(len(v)) + b"".join(sc(et, x) for x in v))
            else:
                out.append(sc(t, v))
        for name, ne, ty, off in self.tensors:
            out.append(s(name) + struct.pack("<I", len(ne)) + b"".join(cnt(d) for d in ne) + struct.pack("<IQ", ty, off))
        head = b"".join(out)
        align = self.get("general.alignment", 32)
        if not isinstance(align, int) or align <= 0 or align & (align - 1):
            align = 32
        head += b"\0" * ((align - len(head) % align) % align)
        return head + self.blob

    def copy(self):
        g = object.__new__(Gguf)
        g.version, g.count, g.blob, g.data_start = self.version, self.count, self.blob, self.data_start
        g.kv = [list(e) if e[1] != ARR else [e[0], e[1], list(e[2]), e[3]] for e in self.kv]
        g.tensors = [[n, list(ne), ty, off] for n, ne, ty, off in self.tensors]
        return g


def header_end(g):
    """Offset of the end of the tensor infos in g.bytes() (before padding)."""
    body = g.bytes()
    return len(body) - len(g.blob)


def gguf_cases(tag, path):
    data = read(path)
    g = Gguf(data)
    arch = g.arch()
    n = len(data)
    info_end = g.data_start

    # truncations
    for cut in [0, 3, 7, 15, 23, 40, 200, info_end // 2, info_end - 9, info_end - 1]:
        if cut < 4:
            emit(f"{tag}-trunc-{cut}.gguf", data[:cut], "unknown magic|end of file", f"truncated to {cut} bytes")
        else:
            emit(f"{tag}-trunc-{cut}.gguf", data[:cut], "end of file|fit in a file|fit in the|past the end",
                 f"truncated to {cut} bytes (header)")
    for cut in [info_end + 1, (info_end + n) // 2, n - 1]:
        emit(f"{tag}-trunc-{cut}.gguf", data[:cut], "past the end of the file", f"truncated to {cut} bytes (tensor data)")

    # counts
    emit(f"{tag}-tensor-count-huge.gguf", g.bytes(n_tensors=1 << 40), "tensor count", "tensor count 2^40")
    emit(f"{tag}-kv-count-huge.gguf", g.bytes(n_kv=1 << 40), "metadata count", "metadata count 2^40")
    emit(f"{tag}-tensor-count-70000.gguf", g.bytes(n_tensors=70000), "tensor count", "tensor count 70000")
    big = data[:8] + struct.pack("<QQ", len(g.tensors), 70000) + data[24:] if g.version > 1 else None
    if big:
        emit(f"{tag}-kv-count-70000.gguf", big, "metadata count", "metadata count 70000")
    # an array count larger than the file
    h = g.bytes()
    key = b"tokenizer.ggml.tokens"
    at = h.find(key)
    if at > 0:
        count_at = at + len(key) + 8
        emit(f"{tag}-tokens-count-huge.gguf", h[:count_at] + struct.pack("<Q", 1 << 60) + h[count_at + 8:],
             "does not fit", "tokens array count 2^60")
        emit(f"{tag}-tokens-elemtype-13.gguf", h[:at + len(key) + 4] + struct.pack("<I", 13) + h[at + len(key) + 8:],
             "unknown value type", "tokens array element type 13")
        emit(f"{tag}-tokens-nested.gguf", h[:at + len(key) + 4] + struct.pack("<I", ARR) + h[at + len(key) + 8:],
             "nested arrays", "tokens array of arrays")
        emit(f"{tag}-key-length-huge.gguf", h[:at - 8] + struct.pack("<Q", 1 << 50) + h[at:], "claims",
             "key length 2^50")
    # a key type
    key = b"general.architecture"
    at = h.find(key)
    emit(f"{tag}-valuetype-99.gguf", h[:at + len(key)] + struct.pack("<I", 99) + h[at + len(key) + 4:],
         "unknown value type", "value type 99")
    # tokenizer arrays that disagree with the model
    tokens = g.get("tokenizer.ggml.tokens")
    if tokens:
        emit(f"{tag}-tokens-short.gguf", g.copy().set("tokenizer.ggml.tokens", ARR, tokens[:-1], STR).bytes(),
             "tokens but", "one token fewer than the embedding rows")
        scores = g.get("tokenizer.ggml.scores")
        if scores:
            emit(f"{tag}-scores-short.gguf", g.copy().set("tokenizer.ggml.scores", ARR, scores[:-1], F32).bytes(),
                 "scores", "one score fewer than tokens")
        emit(f"{tag}-tokens-empty.gguf", g.copy().set("tokenizer.ggml.tokens", ARR, [], STR).bytes(),
             "tokenizer.ggml.tokens", "empty token list")
        for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]:
            emit(f"{tag}-{key.split('.')[-1]}-out.gguf", g.copy().set(key, U32, len(tokens)).bytes(), key,
                 f"{key} = vocabulary size")
            emit(f"{tag}-{key.split('.')[-1]}-huge.gguf", g.copy().set(key, U32, 0xFFFFFFFF).bytes(), key,
                 f"{key} = 2^32-1")
        emit(f"{tag}-tokenizer-model.gguf", g.copy().set("tokenizer.ggml.model", STR, "sentencepiece-x").bytes(),
             "sentencepiece-x", "unknown tokenizer model")
    emit(f"{tag}-arch-unknown.gguf", g.copy().set("general.architecture", STR, "rwkv9").bytes(), "rwkv9",
         "unknown architecture")
    emit(f"{tag}-arch-missing.gguf", g.copy().remove("general.architecture").bytes(), "general.architecture",
         "no architecture key")
    emit(f"{tag}-arch-type.gguf", g.copy().set("general.architecture", U32, 7).bytes(), "general.architecture",
         "architecture of type u32")
    emit(f"{tag}-alignment-3.gguf", g.copy().set("general.alignment", U32, 3).bytes(), "power of two",
         "general.alignment 3")
    emit(f"{tag}-alignment-type.gguf", g.copy().set("general.alignment", F32, 32.0).bytes(), "general.alignment",
         "general.alignment of type f32")

    # hyperparameters
    def hp(name, key, t, value, expected):
        emit(f"{tag}-{name}.gguf", g.copy().set(key, t, value).bytes(), expected, f"{key} = {value}")

    p = arch + "."
    for v, label in [(0, "0"), (1 << 40, "huge")]:
        hp(f"block-count-{label}", p + "block_count", U64, v, p + "block_count")
        hp(f"embd-{label}", p + "embedding_length", U64, v, p + "embedding_length")
        hp(f"heads-{label}", p + "attention.head_count", U64, v, p + "attention.head_count")
    hp("block-count-1000", p + "block_count", U32, 1000, p + "block_count")
    hp("block-count-neg", p + "block_count", I32, -2, p + "block_count")
    hp("block-count-float", p + "block_count", F32, 2.0, p + "block_count")
    hp("block-count-string", p + "block_count", STR, "2", p + "block_count")
    embd = g.get(p + "embedding_length")
    heads = g.get(p + "attention.head_count")
    hp("heads-nondividing", p + "attention.head_count", U32, 3 if embd % 3 else 7, "head count")
    hp("kv-heads-0", p + "attention.head_count_kv", U32, 0, "KV head count 0")
    hp("kv-heads-nondividing", p + "attention.head_count_kv", U32, heads + 1, "KV head count")
    hp("context-0", p + "context_length", U32, 0, p + "context_length")
    hp("rot-odd", p + "rope.dimension_count", U32, 3, "rope.dimension_count")
    hp("rot-wide", p + "rope.dimension_count", U32, 2 * (embd // heads) + 2, "rope.dimension_count")
    hp("ff-plus1", p + "feed_forward_length", U32, (g.get(p + "feed_forward_length") or 4 * embd) + 1, "ffn")
    for v, label in [(math.nan, "nan"), (0.0, "0"), (-1.0, "neg"), (math.inf, "inf")]:
        if arch != "mpt":
            hp(f"rope-base-{label}", p + "rope.freq_base", F32, v, p + "rope.freq_base")
        eps = {"llama": "attention.layer_norm_rms_epsilon"}.get(arch, "attention.layer_norm_epsilon")
        hp(f"eps-{label}", p + eps, F32, v, p + eps)
    if arch == "mpt":
        hp("alibi-nan", p + "attention.max_alibi_bias", F32, math.nan, "max_alibi_bias")
        hp("alibi-neg", p + "attention.max_alibi_bias", F32, -8.0, "max_alibi_bias")
        hp("clamp-nan", p + "attention.clamp_kqv", F32, math.nan, "clamp_kqv")

    # tensor infos: types, shapes, offsets
    def tensor(name, edit, expected, what):
        c = g.copy()
        edit(c)
        emit(f"{tag}-{name}.gguf", c.bytes(), expected, what)

    first, mid, last = g.tensors[0][0], g.tensors[len(g.tensors) // 2][0], g.tensors[-1][0]
    oblong = next(t[0] for t in g.tensors if len(t[1]) == 2 and t[1][0] != t[1][1])

    def at(c, name):
        return next(t for t in c.tensors if t[0] == name)

    for ty in [99, 1000, 0xFFFFFFFF]:
        tensor(f"type-{ty}", lambda c, ty=ty: at(c, mid).__setitem__(2, ty), "unknown type id", f"{mid}: type {ty}")
    tensor("dim-0", lambda c: at(c, mid).__setitem__(1, [0] + at(c, mid)[1][1:]), "dimension 0 is 0", f"{mid}: ne[0] = 0")
    tensor("dim-huge", lambda c: at(c, mid).__setitem__(1, [1 << 41] + at(c, mid)[1][1:]), "expected 1 to 2^40",
           f"{mid}: ne[0] = 2^41")
    tensor("ndims-0", lambda c: at(c, mid).__setitem__(1, []), "dimensions", f"{mid}: no dimensions")
    tensor("ndims-5", lambda c: at(c, mid).__setitem__(1, at(c, mid)[1] + [1] * (5 - len(at(c, mid)[1]))), "dimensions",
           f"{mid}: 5 dimensions")
    tensor("shape-swapped", lambda c: at(c, oblong).__setitem__(1, list(reversed(at(c, oblong)[1]))), oblong,
           f"{oblong}: dimensions swapped")
    tensor("rows-doubled", lambda c: at(c, last).__setitem__(1, [at(c, last)[1][0]] + [2 * d for d in at(c, last)[1][1:]] if len(at(c, last)[1]) > 1 else [2 * at(c, last)[1][0]]),
           last, f"{last}: twice the rows (past the end)")
    tensor("offset-misaligned", lambda c: at(c, mid).__setitem__(3, at(c, mid)[3] + 1), "alignment",
           f"{mid}: offset + 1")
    tensor("offset-huge", lambda c: at(c, mid).__setitem__(3, 1 << 62), "past the end of the file",
           f"{mid}: offset 2^62")
    tensor("offset-overlap", lambda c: at(c, mid).__setitem__(3, at(c, first)[3]), "overlap",
           f"{mid}: same offset as {first}")
    tensor("name-long", lambda c: at(c, mid).__setitem__(0, "x" * 65), "longer than", "tensor name of 65 bytes")
    tensor("name-duplicate", lambda c: at(c, mid).__setitem__(0, first), "duplicate|" + first, "two tensors of one name")
    tensor("missing", lambda c: c.tensors.remove(at(c, mid)), mid, f"{mid} removed")
    tensor("renamed", lambda c: at(c, mid).__setitem__(0, "blk.0.mystery.weight"), "mystery|" + mid, f"{mid} renamed")


# ----------------------------------------------------------- llama2.c ----

def llama2c_bytes(dim, hidden, layers, heads, kv_heads, vocab, seq_len, seed=1):
    rng = random.Random(seed)
    head = dim // heads
    kv_dim = dim * kv_heads // heads
    floats = abs(vocab) * dim + layers * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden) + dim + seq_len * head
    if vocab < 0:
        floats += abs(vocab) * dim
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len) + \
        struct.pack("<%df" % floats, *[rng.uniform(-0.5, 0.5) for _ in range(floats)])


def llama2c_cases():
    names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"]
    base = llama2c_bytes(16, 24, 2, 4, 2, 32, 8)
    hdr = list(struct.unpack("<7i", base[:28]))
    body = base[28:]
    edits = []
    for i, name in enumerate(names):
        for v in [0, -1, 1 << 30]:
            if name == "vocab_size" and v == -1:
                continue  # -1 is a legal "separate classifier" vocabulary of 1
            edits.append((f"{name}-{v}", i, v))
    edits += [("heads-nondividing", 3, 3), ("kv-gt-heads", 4, 8), ("kv-nondividing", 4, 3), ("odd-head", 3, 16),
              ("vocab-intmin", 5, -2**31), ("vocab-negative", 5, -32)]
    for label, i, v in edits:
        h = list(hdr)
        h[i] = v
        emit(f"llama2c-{label}.bin", struct.pack("<7i", *h) + body, "implausible llama2.c header|llama2.c header implies",
             f"llama2.c header {names[i]} = {v}")
    for cut in [27, 28, 29, len(base) // 2, len(base) - 4, len(base) - 1]:
        emit(f"llama2c-trunc-{cut}.bin", base[:cut], "llama2.c header implies|too short for a llama2.c header",
             f"llama2.c truncated to {cut}")
    emit("llama2c-extra.bin", base + b"\0" * 4, "llama2.c header implies", "4 bytes appended")

    # the tokenizer file beside a real checkpoint
    ckpt = os.path.join(fixtures, "stories260K/stories260K.bin")
    tok = read(os.path.join(fixtures, "stories260K/tok512.bin"))
    if not os.path.exists(ckpt):
        return

    def tok_case(label, data, expected, what):
        name = f"tok512-{label}.bin"
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        cases.append(("@" + ckpt, expected, name, what))

    for cut in [0, 2, 4, 100, len(tok) // 2, len(tok) - 1]:
        tok_case(f"trunc-{cut}", tok[:cut], "end of file|max_token_length|cannot fit", f"tokenizer truncated to {cut}")
    for v in [0, -1, 1 << 20]:
        tok_case(f"maxlen-{v}", struct.pack("<i", v) + tok[4:], "max_token_length", f"max_token_length = {v}")
    # the first token's length
    for v in [-1, 1 << 30, 1000]:
        tok_case(f"len0-{v}", tok[:8] + struct.pack("<i", v) + tok[12:], "length", f"token 0 length = {v}")


# ------------------------------------------------------------- legacy ----

GGML, GGMF, GGJT, GGMM = 0x67676d6c, 0x67676d66, 0x67676a74, 0x67676d6d
BLOCK = {0: (1, 4, 4), 1: (1, 2, 2), 2: (32, 20, 18), 3: (32, 24, 20), 8: (32, 36, 34), 4: (16, 10, 10)}


def legacy_layout(data):
    """(header fields [(name, offset)], vocab start, first record offset, records, aligned)."""
    magic = struct.unpack("<I", data[:4])[0]
    pos = 4
    version = 0
    if magic in (GGMF, GGJT):
        version = struct.unpack("<I", data[4:8])[0]
        pos = 8
    ints = struct.unpack("<8i", data[pos:pos + 32])
    if magic == GGMM:
        names = ["n_vocab", "n_ctx", "n_layer", "n_head", "n_embd", "alibi_bias_max", "clip_qkv", "ftype", "n_vocab2"]
        kind, aligned, era = "mpt", False, None
        fields = [(n, pos + 4 * i) for i, n in enumerate(names)]
        vocab_at = pos + 36
    elif magic == GGML and ints[7] == ints[0]:
        names = ["n_vocab", "n_ctx", "n_embd", "n_head", "n_layer", "n_rot", "ftype", "n_vocab2"]
        kind, aligned = "plain", False
        fields = [(n, pos + 4 * i) for i, n in enumerate(names)]
        vocab_at = pos + 32
    elif magic == GGJT and not (ints[3] > 0 and ints[1] % ints[3] == 0 and ints[5] == ints[1] // ints[3]):
        names = ["n_vocab", "n_embd", "n_head", "n_head_kv", "n_layer", "falcon_version", "ftype"]
        kind, aligned = "scored", True
        fields = [(n, pos + 4 * i) for i, n in enumerate(names)]
        vocab_at = pos + 28
    else:
        names = ["n_vocab", "n_embd", "n_mult", "n_head", "n_layer", "n_rot", "ftype"]
        kind = "plain" if magic == GGML else "scored"
        aligned = magic == GGJT
        fields = [(n, pos + 4 * i) for i, n in enumerate(names)]
        vocab_at = pos + 28
    ftype = struct.unpack("<i", data[dict(fields)["ftype"]:dict(fields)["ftype"] + 4])[0]
    if magic == GGJT and names[0] == "n_vocab" and "n_mult" in names:
        era = min(version - 1, 2)
    elif magic in (GGML, GGMF) and "n_mult" in names:
        era = 0
    elif "falcon_version" in names:
        era = 2
    else:
        era = ftype // 1000
    n_vocab = struct.unpack("<i", data[fields[0][1]:fields[0][1] + 4])[0]
    p = vocab_at
    token_at = []
    for _ in range(n_vocab):
        token_at.append(p)
        length = struct.unpack("<I", data[p:p + 4])[0] & 0x7fffffff
        p += 4 + length + (4 if kind == "scored" else 0)
    records = []
    while p < len(data):
        nd, nl, ty = struct.unpack("<3i", data[p:p + 12])
        ne = struct.unpack("<%di" % nd, data[p + 12:p + 12 + 4 * nd])
        name = data[p + 12 + 4 * nd:p + 12 + 4 * nd + nl].decode()
        q = p + 12 + 4 * nd + nl
        if aligned:
            q += (32 - q % 32) % 32
        t = 8 if (ty == 6 and magic == GGJT and version == 1 and ftype == 7) else ty
        per, old, new = BLOCK[t]
        size = (ne[0] // per) * (new if era == 2 else old)
        for d in ne[1:]:
            size *= d
        records.append({"at": p, "nd": nd, "name": name, "data": q, "size": size, "type": ty})
        p = q + size
    assert p == len(data), "layout walk did not end at the file's end"
    return fields, token_at, records, aligned


def legacy_cases(tag, rel, full):
    """Every edit for `full` containers; header fields and truncations for the others
    (the 3 MB LLaMA files of older eras share the ggjt v3 reader's paths)."""
    data = read(os.path.join(fixtures, rel))
    fields, token_at, records, aligned = legacy_layout(data)
    n = len(data)

    def put(off, fmt, v):
        return data[:off] + struct.pack(fmt, v) + data[off + struct.calcsize(fmt):]

    for name, off in fields if full else fields[:2]:
        if name in ("alibi_bias_max", "clip_qkv"):
            for v, label in [(math.nan, "nan"), (-1.0, "neg"), (math.inf, "inf")]:
                emit(f"{tag}-{name}-{label}.bin", put(off, "<f", v), "alibi_bias_max", f"{name} = {v}")
            continue
        if name == "ftype":
            emit(f"{tag}-ftype-6.bin", put(off, "<i", 6), "ftype", "ftype 6 (q4_3)")
            emit(f"{tag}-ftype-neg.bin", put(off, "<i", -5), "ftype", "ftype -5")
            continue
        if name == "n_vocab2":
            emit(f"{tag}-nvocab-repeat.bin", put(off, "<i", 7), "n_vocab", "n_vocab repeated as 7")
            continue
        for v in [0, -3]:
            emit(f"{tag}-{name}-{v}.bin", put(off, "<i", v), name, f"{name} = {v}")
        if name == "n_vocab":
            emit(f"{tag}-n_vocab-huge.bin", put(off, "<i", 0x7fffffff), "vocabulary|n_vocab", "n_vocab = 2^31-1")
        elif name == "falcon_version":
            emit(f"{tag}-falcon_version-40.bin", put(off, "<i", 40), "falcon_version", "falcon_version 40")
    cuts = [3, 12, token_at[len(token_at) // 2] + 2, records[0]["at"] + 6, records[0]["data"] + 3,
            records[len(records) // 2]["data"] + 1, n - 1]
    for cut in cuts:
        expected = "unknown magic|end of file" if cut < 4 else "end of file|past the end|run past|cannot fit"
        emit(f"{tag}-trunc-{cut}.bin", data[:cut], expected, f"truncated to {cut} bytes")
    if not full:
        return
    # vocabulary entries
    for i in [0, len(token_at) // 2, len(token_at) - 1]:
        emit(f"{tag}-token{i}-len-huge.bin", put(token_at[i], "<I", 0x7ffffff0), "length", f"token {i} length 2^31-16")
    # the first, a middle and the last tensor record
    for r in [records[0], records[len(records) // 2], records[-1]]:
        a = r["at"]
        nm = r["name"]
        emit(f"{tag}-{nm}-ndims-0.bin", put(a, "<i", 0), "dimensions", f"{nm}: 0 dimensions")
        emit(f"{tag}-{nm}-ndims-5.bin", put(a, "<i", 5), "dimensions|end of file", f"{nm}: 5 dimensions")
        emit(f"{tag}-{nm}-namelen-0.bin", put(a + 4, "<i", 0), "name length", f"{nm}: name length 0")
        emit(f"{tag}-{nm}-namelen-300.bin", put(a + 4, "<i", 300), "name length", f"{nm}: name length 300")
        emit(f"{tag}-{nm}-type-99.bin", put(a + 8, "<i", 99), "type 99", f"{nm}: type 99")
        emit(f"{tag}-{nm}-ne0-0.bin", put(a + 12, "<i", 0), "dimension 0 is 0", f"{nm}: ne[0] = 0")
        emit(f"{tag}-{nm}-ne0-neg.bin", put(a + 12, "<i", -64), "dimension 0 is -64", f"{nm}: ne[0] = -64")
        if r["type"] != 0 and r["type"] != 1:
            emit(f"{tag}-{nm}-ne0-odd.bin", put(a + 12, "<i", 33), "not a multiple", f"{nm}: ne[0] = 33")
        else:
            emit(f"{tag}-{nm}-ne0-huge.bin", put(a + 12, "<i", 1 << 30), "past the end", f"{nm}: ne[0] = 2^30")
    # an extra partial record at the end
    emit(f"{tag}-trailing.bin", data + struct.pack("<3i", 2, 4, 0), "end of file", "12 stray bytes after the last tensor")


gguf_cases("stories", os.path.join(source_dir, "models/stories260K.gguf"))
for rel, tag in [("arch/tiny-falcon7b.q4_0.gguf", "falcon7b"), ("arch/tiny-mpt.q4_0.gguf", "mpt"),
                 ("arch/tiny-gptj.q4_0.gguf", "gptj")]:
    if have(rel):
        gguf_cases(tag, os.path.join(fixtures, rel))
if have("stories260K/stories260K-f32-gguf-v1.gguf"):
    v1 = read(os.path.join(fixtures, "stories260K/stories260K-f32-gguf-v1.gguf"))
    g1 = Gguf(v1)
    for cut in [12, 100, g1.data_start - 1, len(v1) - 1]:
        emit(f"v1-trunc-{cut}.gguf", v1[:cut], "end of file|past the end|fit in a file", f"GGUF v1 truncated to {cut}")
    emit("v1-version-9.gguf", v1[:4] + struct.pack("<I", 9) + v1[8:], "version 9", "GGUF version 9")
    emit("v1-version-swapped.gguf", v1[:4] + struct.pack(">I", 1) + v1[8:], "byte-swapped", "big-endian version")
llama2c_cases()
for rel, tag, full in [("legacy/gptj/tiny-gptj-ggml-q4_0.bin", "gptj-ggml", True),
                       ("legacy/mpt/tiny-mpt-ggmm-q4_2.bin", "mpt-ggmm", True),
                       ("legacy/falcon/tiny-falcon-g4a-f32.bin", "falcon-ggjt", True),
                       ("legacy/llama/tiny-llama-ggjt-v3-q4_0.bin", "llama-ggjt3", False),
                       ("legacy/llama/tiny-llama-ggjt-v2-q4_0.bin", "llama-ggjt2", False),
                       ("legacy/llama/tiny-llama-ggjt-v1-q4_2.bin", "llama-ggjt1", False),
                       ("legacy/llama/tiny-llama-ggmf-v1-q4_0.bin", "llama-ggmf", False),
                       ("legacy/llama/tiny-llama-ggml-q4_1.bin", "llama-ggml", False)]:
    if have(rel):
        legacy_cases(tag, rel, full)

with open(os.path.join(out_dir, "manifest.tsv"), "w") as f:
    for c in cases:
        f.write("\t".join(c) + "\n")
print(f"make_corpus: {len(cases)} files in {out_dir}")
