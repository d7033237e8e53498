#!/usr/bin/env python3
"""Writes the fuzz seed corpora, tests/fuzz/corpus/<reader>/, from the fixtures.

Usage: tests/fuzz/make_seeds.py FIXTURES_DIR. Small fixture files are copied whole,
large ones contribute their first bytes (headers, vocabularies); the llama2.c
checkpoint seeds are tiny ones made here in the fixture's layout (the fixture is
1 MB). The committed corpus stays well under the few MB the repository allows."""
import os
import random
import shutil
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")


def out(reader, name, data):
    folder = os.path.join(corpus, reader)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def llama2c(dim, hidden, layers, heads, kv_heads, vocab, seq_len, seed):
    """A llama2.c checkpoint in stories260K's layout with random weights."""
    rng = random.Random(seed)
    head = dim // heads
    kv_dim = dim * kv_heads // heads
    floats = abs(vocab) * dim + layers * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden) + dim + seq_len * head
    if vocab < 0:
        floats += abs(vocab) * dim
    body = struct.pack("<%df" % floats, *[rng.uniform(-1, 1) for _ in range(floats)])
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len) + body


def main(fixtures):
    def fixture(path, limit=None):
        with open(os.path.join(fixtures, path), "rb") as f:
            return f.read() if limit is None else f.read(limit)

    shutil.rmtree(corpus, ignore_errors=True)
    # GGUF: three small models (v3, three families) and the header of a v1 file. (The
    # fixtures' ggml-vocab-* files come from another project: not seeds committed here.)
    for path in ["stories260K/llamacpp/stories260K.q4_0.gguf", "arch/tiny-falcon7b.q4_0.gguf", "arch/tiny-mpt.q4_0.gguf"]:
        out("gguf", os.path.basename(path), fixture(path))
    out("gguf", "stories260K-v1-head.gguf", fixture("stories260K/stories260K-f32-gguf-v1.gguf", 16384))

    # Legacy: the two small GPT4All files whole, the first bytes of every other container.
    for path in ["legacy/gptj/tiny-gptj-ggml-q4_0.bin", "legacy/mpt/tiny-mpt-ggmm-q4_2.bin"]:
        out("legacy", os.path.basename(path), fixture(path))
    for path in ["legacy/falcon/tiny-falcon-g4a-f32.bin", "legacy/llama/tiny-llama-ggjt-v1-q4_0.bin",
                 "legacy/llama/tiny-llama-ggjt-v2-q4_0.bin", "legacy/llama/tiny-llama-ggjt-v3-q4_0.bin",
                 "legacy/llama/tiny-llama-ggmf-v1-q4_0.bin", "legacy/llama/tiny-llama-ggml-q4_1.bin"]:
        out("legacy", os.path.basename(path) + ".head", fixture(path, 32768))

    out("llama2c", "tiny-shared.bin", llama2c(8, 16, 1, 2, 1, 16, 4, 1))
    out("llama2c", "tiny-separate.bin", llama2c(8, 12, 2, 2, 2, -16, 4, 2))

    # llama2.c tokenizer: two bytes of vocabulary size - 1, then the file.
    tok = fixture("stories260K/tok512.bin")
    out("llama2c_tokenizer", "tok512.bin", struct.pack("<H", 511) + tok)
    out("llama2c_tokenizer", "tok512-first300.bin", struct.pack("<H", 299) + tok)

    # Tokenizer text: the first byte picks the tokenizer; the reference test strings.
    strings = fixture("tokenizer/ggml-vocab-gpt-2.gguf.inp").split(b"\n__ggml_vocab_test__\n")
    for i, s in enumerate(strings[:40]):
        out("tokenizer", "inp-%02d" % i, bytes([i % 4]) + s[:512])


if __name__ == "__main__":
    main(sys.argv[1])
