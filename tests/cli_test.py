#!/usr/bin/env python3
"""Every program's command line as a user meets it: --help and --version exit 0, a bad
flag or value exits 2 with one line on stderr naming the flag, a failure exits 1, and
the llama.cpp-style flags work. Usage: cli_test.py BIN_DIR SOURCE_DIR WORK_DIR [EMULATOR...]
"""
import os
import re
import signal
import subprocess
import sys
import time

bin_dir, source, work = (os.path.abspath(a) for a in sys.argv[1:4])
emulator = [a for a in sys.argv[4:] if a]
os.makedirs(work, exist_ok=True)
model = os.path.join(source, "models", "stories260K.gguf")
failures = []


def run(program, *args, timeout=120, env=None):
    cmd = emulator + [os.path.join(bin_dir, program)] + list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, cwd=work)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(ok, what, detail=""):
    if not ok:
        failures.append(f"{what}\n{detail}")


def expect_usage_error(program, args, flag):
    """Exit 2 and exactly one line on stderr that names the flag."""
    rc, out, err = run(program, *args, timeout=30)
    detail = f"  rc {rc}\n  stderr: {err!r}"
    check(rc == 2, f"{program} {args}: exit 2 expected", detail)
    check(err.count("\n") == 1 and err.endswith("\n"), f"{program} {args}: one line on stderr expected", detail)
    check(flag in err, f"{program} {args}: the message should name {flag}", detail)


programs = ["nibble-generate", "nibble-tokenize", "nibble-info", "nibble-convert", "nibble-quantize",
            "nibble-perplexity", "nibble-embed", "nibble-chat", "nibble-bench", "nibble-bench-kernels"]
present = [p for p in programs if os.path.exists(os.path.join(bin_dir, p))]
for required in ["nibble-generate", "nibble-tokenize", "nibble-info", "nibble-quantize", "nibble-perplexity",
                 "nibble-embed", "nibble-chat"]:
    check(required in present, f"{required} was not built")

# 1. --help, -h, --version and a bad flag, for every program.
for p in present:
    for h in ["--help", "-h"]:
        rc, out, err = run(p, h)
        check(rc == 0, f"{p} {h}: exit 0 expected, got {rc}", err)
        check(("Usage: " + p) in out or (p == "nibble-bench-kernels" and "--benchmark_filter" in out),
              f"{p} {h}: usage on stdout expected", out[:500])
    rc, out, err = run(p, "--version")
    check(rc == 0 and re.fullmatch(re.escape(p) + r" \d+\.\d+\.\d+ \(commit ([0-9a-f]{4,40}|unknown)\)\n", out),
          f"{p} --version: 'NAME X.Y.Z (commit C)' expected", f"rc {rc}: {out!r} {err!r}")
    rc, out, err = run(p, "--no-such-flag")
    check(rc == 2, f"{p} --no-such-flag: exit 2 expected, got {rc}", err)
    check("--no-such-flag" in err and err.count("\n") == 1, f"{p} --no-such-flag: one line naming it expected", err)

# 2. Values refused before any work (issue 13): exit 2, one line naming the flag.
fifo = os.path.join(work, "fifo")
if not os.path.exists(fifo):
    os.mkfifo(fifo)
for args, flag in [
    (["--tokens", "abc"], "--tokens"),
    (["--tokens", "4294967297"], "--tokens"),
    (["--tokens", "-1"], "--tokens"),
    (["-c", "-1"], "--ctx-size"),
    (["-c", "1000000000"], "--ctx-size"),
    (["-b", "-1"], "--batch-size"),
    (["-b", "0"], "--batch-size"),
    (["-t", "2147483647"], "--threads"),
    (["-t", "0"], "--threads"),
    (["-tb", "100000"], "--threads-batch"),
    (["-n", "-2"], "--n-predict"),
    (["-n", "x"], "--n-predict"),
    (["--top-p", "nan"], "--top-p"),
    (["--top-p", "1.5"], "--top-p"),
    (["--min-p", "nan"], "--min-p"),
    (["--repeat-penalty", "nan"], "--repeat-penalty"),
    (["--repeat-penalty", "0"], "--repeat-penalty"),
    (["--temp", "nan"], "--temp"),
    (["--temperature", "inf"], "--temp"),
    (["--temp", "-1"], "--temp"),
    (["-s", "-5"], "--seed"),
    (["-m", ""], "--model"),
    (["-m", work], "--model"),
    (["-m", fifo], "--model"),
    (["-m", os.path.join(work, "absent.gguf")], "--model"),
    (["-f", work], "--file"),
    (["-f", fifo], "--file"),
    (["-f", "/dev/zero"], "--file"),
    (["-p", "a", "-f", model], "--file"),
    (["-m"], "--model"),
    (["-ctk", "q4_0"], "--cache-type-k"),
    (["--cache-type-v", "bf16"], "--cache-type-v"),
]:
    expect_usage_error("nibble-generate", args, flag)
for args, flag in [
    (["-m", model, "-f", "/dev/zero"], "--file"),
    (["-m", model, "-f", fifo], "--file"),
    (["-m", model, "-f", work], "--file"),
    (["-m", "", "-p", "x"], "--model"),
    (["-p", "x"], "--model"),
    (["-m", model], "-f FILE"),
    (["-m", model, "-p", "x", "--ids", "--pieces"], "--pieces"),
]:
    expect_usage_error("nibble-tokenize", args, flag)
expect_usage_error("nibble-perplexity", ["-m", model, "-f", model, "-c", "2"], "--ctx-size")
expect_usage_error("nibble-quantize", [model, os.path.join(work, "x.gguf"), "q9_9"], "q9_9")
expect_usage_error("nibble-quantize", [model, os.path.join(work, "x.gguf"), "--ggjt", "4"], "--ggjt")
expect_usage_error("nibble-info", [work], "MODEL")
if "nibble-bench" in present:
    expect_usage_error("nibble-bench", ["--synthetic", "tinyllama-1.1b:q4_0", "-t", "0"], "--threads")
    expect_usage_error("nibble-bench", ["--synthetic", "tinyllama-1.1b:q4_0", "-o", "xml"], "--output")
    expect_usage_error("nibble-bench", ["--synthetic", "tinyllama-1.1b:q4_0", "-p", "1,x"], "--n-prompt")
    expect_usage_error("nibble-bench", ["--synthetic", "tinyllama-1.1b:q4_0", "-d", "-1"], "--n-depth")
    expect_usage_error("nibble-bench", ["--synthetic", "tinyllama-1.1b:q4_0", "-ctv", "f16,q5_0"], "--cache-type-v")

# A file that is not a model: exit 1, one line naming the file.
junk = os.path.join(work, "junk.gguf")
with open(junk, "wb") as f:
    f.write(b"GGUF\x03\x00\x00\x00 not a model")
for p, args in [("nibble-generate", ["-m", junk]), ("nibble-info", [junk]), ("nibble-tokenize", ["-m", junk, "-p", "x"])]:
    rc, out, err = run(p, *args)
    check(rc == 1 and "junk.gguf" in err and err.count("\n") == 1, f"{p} {args}: exit 1 and one line expected",
          f"rc {rc}: {err!r}")

# 3. The llama.cpp flags do what llama.cpp's do.
prompt_file = os.path.join(work, "prompt.txt")
with open(prompt_file, "w") as f:
    f.write("Once upon a time")
rc, out_p, err = run("nibble-generate", "-p", "Once upon a time", "--temp", "0", "-n", "12", "--print-ids")
rc2, out_f, err2 = run("nibble-generate", "-f", prompt_file, "--temperature", "0", "-n", "12", "--print-ids")
check(rc == 0 and rc2 == 0 and out_p == out_f and out_p.startswith("Once upon a time"),
      "-f FILE should generate what -p TEXT does", f"{out_p!r}\n{out_f!r}\n{err}{err2}")
rc, out, err = run("nibble-generate", "-e", "-p", "Once\\tupon\\x41", "-n", "0")
check(rc == 0 and out.startswith("Once\tuponA"), "-e should process escapes", repr(out))
rc, out, err = run("nibble-generate", "-p", "Once\\tupon", "-n", "0")
check(rc == 0 and out.startswith("Once\\tupon"), "without -e escapes stay as typed", repr(out))
# -n -1: until end of sequence or a full context (here 48 positions).
rc, out, err = run("nibble-generate", "-n", "-1", "-c", "48", "--ignore-eos", "--temp", "0", "--print-ids")
ids = out.strip().split("\n")[-1].split()
check(rc == 0 and 40 <= len(ids) <= 48, "-n -1 -c 48 should stop at the full context", f"{len(ids)} ids: {out!r}")
# -tb, --no-mmap, --mlock, -s, -b, -t: accepted, same greedy ids.
rc, base, err = run("nibble-generate", "-m", model, "--temp", "0", "-n", "16", "--print-ids")
# --mlock is mlockall(): not under an emulator or ASan, whose huge reserved mappings it
# would try to fault in.
sanitized = os.environ.get("NIBBLE_SANITIZED") == "1" or "ASAN_OPTIONS" in os.environ
mlock = [] if emulator or sanitized else ["--mlock"]
rc2, same, err2 = run("nibble-generate", "-m", model, "--temp", "0", "-n", "16", "--print-ids", "-tb", "1", "-t", "1",
                      "--no-mmap", "-b", "2", "-s", "7", "-c", "64", *mlock)
check(rc == 0 and rc2 == 0 and base == same, "-tb/-t/--no-mmap/--mlock/-b/-s should not change greedy output",
      f"{base!r}\n{same!r}\n{err2}")
# -ctk/-ctv: the default is f16 (as llama.cpp); q8_0 and f32 run.
rc, same, err = run("nibble-generate", "-m", model, "--temp", "0", "-n", "16", "--print-ids", "-ctk", "f16",
                    "--cache-type-v", "f16")
check(rc == 0 and base == same, "-ctk f16 -ctv f16 should be the default", f"{base!r}\n{same!r}\n{err}")
for types in [["-ctk", "q8_0", "-ctv", "q8_0"], ["-ctk", "f32", "-ctv", "q8_0"]]:
    rc, out, err2 = run("nibble-generate", "-m", model, "--temp", "0", "-n", "8", *types)
    check(rc == 0, f"nibble-generate {types} should run", f"rc {rc}: {err2}")
rc, out, _ = run("nibble-info", model, "-c", "100", "-ctk", "q8_0", "-ctv", "f32")
# 5 layers x 100 positions x (34 bytes of q8_0 keys + 128 of f32 values) = 81000 bytes
check(rc == 0 and "KV cache:        0.08 MiB at context 100 (keys q8_0, values f32)" in out, "nibble-info -c -ctk -ctv", out)
# Timings at the end, as llama.cpp prints them.
for what in ["load time", "prompt eval time", "eval time", "total time"]:
    check(re.search(r"nibble-generate: +" + what + r" = +[0-9.]+ ms", err), f"timings: '{what}' missing", err)
check(re.search(r"prompt eval time = +[0-9.]+ ms / +\d+ tokens \( +[0-9.]+ ms per token, +[0-9.]+ tokens per second\)",
                err), "timings: ms per token and tokens per second", err)
# Loading progress, plain lines when stderr is not a terminal.
check(re.search(r"loading .*stories260K.gguf: 100 %", err) and len(re.findall(r"loading .*: [1-9]0 %", err)) >= 3,
      "a line per 10 % while loading expected", err)
# An empty text has no tokens (llama-tokenize prints an empty list too).
rc, out, err = run("nibble-tokenize", "-m", model, "-p", "", "--ids", "--no-bos")
check(rc == 0 and out == "[]\n", "nibble-tokenize -p '' --ids --no-bos: []", f"rc {rc}: {out!r} {err!r}")
# nibble-quantize takes any case for the type.
rc, out, err = run("nibble-quantize", model, os.path.join(work, "upper.gguf"), "Q4_0")
check(rc == 0 and "q4_0" in out and re.search(r"quantizing .*: 100 %", err), "nibble-quantize Q4_0", out + err)

# A full context stops with a message; --context-shift goes on (issue 11).
rc, out, err = run("nibble-generate", "-c", "64", "-n", "200", "--ignore-eos", "--temp", "0", "--print-ids")
ids = out.strip().split("\n")[-1].split()
check(rc == 0 and len(ids) == 60 and "context of 64 tokens is full" in err, "-c 64 -n 200: 60 tokens and a message",
      f"{len(ids)} ids, rc {rc}: {err}")
rc, out, err = run("nibble-generate", "-c", "64", "-n", "200", "--ignore-eos", "--context-shift", "--print-ids", "-s", "3")
ids = out.strip().split("\n")[-1].split()
check(rc == 0 and len(ids) == 200 and "context shifted" in err, "-c 64 -n 200 --context-shift: 200 tokens",
      f"{len(ids)} ids, rc {rc}: {err}")
rc2, out2, err2 = run("nibble-generate", "-c", "64", "-n", "200", "--ignore-eos", "--context-shift", "--print-ids", "-s", "3")
check(out == out2, "--context-shift with a seed is deterministic", f"{out!r}\n{out2!r}")
# --prompt-cache: the first run saves the prompt, the second evaluates none of it and
# generates the same text.
cache = os.path.join(work, "prompt.cache")
if os.path.exists(cache):
    os.remove(cache)
pc_args = ["-p", "Once upon a time, in a small town", "--temp", "0", "-n", "24", "--print-ids", "--prompt-cache", cache]
rc, first_out, err = run("nibble-generate", *pc_args)
rc2, second_out, err2 = run("nibble-generate", *pc_args)
check(rc == 0 and rc2 == 0 and first_out == second_out and os.path.exists(cache), "--prompt-cache twice: same output",
      f"{first_out!r}\n{second_out!r}\n{err}{err2}")
check(re.search(r"prompt cache .*: (\d+) of \1 prompt tokens from the cache, 0 to evaluate", err2) and
      re.search(r"prompt eval time = +[0-9.]+ ms / +0 tokens", err2), "the second run evaluates no prompt token", err2)
rc, out, err = run("nibble-generate", "-p", "Once upon a time, in a big city", "--temp", "0", "-n", "4", "--prompt-cache", cache)
check(rc == 0 and re.search(r"prompt cache .*: \d+ of \d+ prompt tokens from the cache, [1-9]\d* to evaluate", err),
      "a prompt sharing a prefix reuses it", err)
with open(cache, "r+b") as f:
    f.seek(40)
    f.write(b"\xff\xff\xff\xff")
rc, out, err = run("nibble-generate", *pc_args)
check(rc == 0 and out == first_out and "prompt cache not used" in err, "a damaged prompt cache is reported and ignored", err)
expect_usage_error("nibble-generate", ["--prompt-cache", cache, "--dump-logits", os.path.join(work, "l.bin")], "--dump-logits")
# nibble-embed: a normalised vector, the same for the same text.
rc, out, err = run("nibble-embed", "-m", model, "-p", "Once upon a time")
rc2, out2, _ = run("nibble-embed", "-m", model, "-p", "Once upon a time")
values = [float(v) for v in out.split()] if rc == 0 else []
check(rc == 0 and len(values) == 64 and abs(sum(v * v for v in values) - 1) < 1e-4 and out == out2,
      "nibble-embed: 64 numbers of norm 1, reproducible", f"rc {rc}: {out[:200]!r} {err}")
rc, out, err = run("nibble-embed", "-m", model, "-p", "Once upon a time", "--pooling", "last", "--json")
check(rc == 0 and out.startswith('{"n_tokens": 5, "embedding": ['), "nibble-embed --json --pooling last", out[:200])
expect_usage_error("nibble-embed", ["-m", model, "--pooling", "max", "-p", "x"], "--pooling")
expect_usage_error("nibble-embed", ["-m", model], "-p TEXT")
expect_usage_error("nibble-chat", ["-m", model, "--chat-template", "chatgpt"], "--chat-template")
expect_usage_error("nibble-chat", ["--chat-template", "chatml"], "--model")

# 4. Ctrl-C stops generation, prints the timings and exits 130. The scalar kernels and
# one thread make the 512-position run long enough to interrupt.
env = dict(os.environ, NIBBLE_ISA="scalar")
cmd = emulator + [os.path.join(bin_dir, "nibble-generate"), "-n", "-1", "--ignore-eos", "-t", "1", "--temp", "0"]
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=work)
first = proc.stdout.read(16)  # the prompt is echoed before generation starts
time.sleep(0.02)
proc.send_signal(signal.SIGINT)
out, err = proc.communicate(timeout=60)
err = err.decode("utf-8", "replace")
ids_seen = len((first + out).split())
check(proc.returncode == 130 and "eval time" in err and "interrupted" in err,
      "Ctrl-C: timings and exit 130 expected", f"rc {proc.returncode}, {ids_seen} words\n{err}")

if failures:
    print(f"{len(failures)} failures:")
    for f in failures:
        print("- " + f)
    sys.exit(1)
print(f"command lines of {len(present)} programs behave")
