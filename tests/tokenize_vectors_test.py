#!/usr/bin/env python3
"""The reference tokenizer vectors beside the vocabulary-only GGUF files, reproduced
through the nibble-tokenize command line (--ids --no-bos -f FILE), one run per string.
Vocabularies whose pre-tokenizer nibble refuses are reported as skipped (exit 77 when
nothing could be checked). Usage: tokenize_vectors_test.py BIN_DIR FIXTURES WORK [EMULATOR...]
"""
import json
import os
import subprocess
import sys

bin_dir, fixtures, work = (os.path.abspath(a) for a in sys.argv[1:4])
emulator = [a for a in sys.argv[4:] if a]
os.makedirs(work, exist_ok=True)
SEPARATOR = "\n__ggml_vocab_test__\n"

vocabs = []
for folder in ["tokenizer", "modern"]:
    d = os.path.join(fixtures, folder)
    if os.path.isdir(d):
        vocabs += [os.path.join(d, f) for f in sorted(os.listdir(d))
                   if f.startswith("ggml-vocab-") and f.endswith(".gguf") and os.path.exists(os.path.join(d, f + ".inp"))]
if not vocabs:
    print(f"no vocabulary fixtures under {fixtures}: skipped")
    sys.exit(77)
if emulator:  # under qemu each run costs ~0.4 s: one SentencePiece and one BPE vocabulary
    vocabs = [v for v in vocabs if os.path.basename(v) in ("ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf")]
# Under AddressSanitizer a run loading a 150k-token vocabulary takes seconds: the first
# strings of each then (the fixture tests check every string in one process there too).
sanitized = os.environ.get("NIBBLE_SANITIZED") == "1" or "ASAN_OPTIONS" in os.environ
strings_per_vocab = 8 if sanitized else None

failures, checked, skipped = [], 0, []
for vocab in vocabs:
    name = os.path.basename(vocab)
    with open(vocab + ".inp", encoding="utf-8", newline="") as f:
        inputs = f.read().split(SEPARATOR)[:-1]  # every string is followed by the separator
    with open(vocab + ".out", encoding="utf-8") as f:
        outputs = [[int(x) for x in line.split()] for line in f.read().split("\n")[: len(inputs)]]
    if len(inputs) != len(outputs) or not inputs:
        failures.append(f"{name}: {len(inputs)} inputs but {len(outputs)} outputs")
        continue
    for i, (text, want) in enumerate(list(zip(inputs, outputs))[:strings_per_vocab]):
        path = os.path.join(work, "input.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        cmd = emulator + [os.path.join(bin_dir, "nibble-tokenize"), "-m", vocab, "-f", path, "--ids", "--no-bos"]
        p = subprocess.run(cmd, capture_output=True, timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode == 1 and "pre-tokenizer" in err and "not supported" in err:
            skipped.append(f"{name} ({err.strip()})")
            break
        if p.returncode != 0:
            failures.append(f"{name} string {i}: exit {p.returncode}: {err}")
            break
        got = json.loads(p.stdout)
        if got != want:
            failures.append(f"{name} string {i} {text!r}:\n  got  {got}\n  want {want}")
        checked += 1

for s in skipped:
    print(f"skipped, pre-tokenizer not supported: {s}")
if failures:
    print(f"{len(failures)} failures:")
    for f in failures:
        print("- " + f)
    sys.exit(1)
if checked == 0:
    sys.exit(77)
print(f"{checked} strings tokenized as the reference does, over {len(vocabs) - len(skipped)} vocabularies")
