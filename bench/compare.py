#!/usr/bin/env python3
"""Alternates nibble-bench and llama.cpp's llama-bench on the same model files and
prints the medians and their ratio per test, as a markdown table.

  bench/compare.py NIBBLE_BENCH LLAMA_BENCH MODEL [MODEL...] [-p 512] [-n 64] [-t 1,2]
                   [-r 3] [--json OUT.json]

Each round runs every model once with each program (nibble first in odd rounds, the
peer first in even ones), one repetition each, so a busy spell of a shared machine
falls on both; the table gives the median over rounds of each program's tokens/s and
the ratio of the medians.
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out[out.index("["):])


def records(entries):
    """(test, threads) -> tokens/s for one run of either program."""
    found = {}
    for e in entries:
        test = f"pp{e['n_prompt']}" if e["n_prompt"] > 0 else f"tg{e['n_gen']}"
        if e.get("n_depth", 0) > 0:
            test += f" @ d{e['n_depth']}"
        found[(test, int(e["n_threads"]))] = float(e["avg_ts"])
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nibble_bench")
    ap.add_argument("llama_bench")
    ap.add_argument("models", nargs="+")
    ap.add_argument("-p", default="512")
    ap.add_argument("-n", default="64")
    ap.add_argument("-t", default="1,2")
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("-d", help="depths (tokens in the cache before each test), passed to both programs")
    ap.add_argument("--json")
    args = ap.parse_args()
    samples = {}  # (model, engine, test, threads) -> [t/s]
    for round_ in range(args.r):
        for model in args.models:
            engines = [("nibble", [args.nibble_bench, "--probe-mib", "0"]), ("llama.cpp", [args.llama_bench])]
            if round_ % 2 == 1:
                engines.reverse()
            for name, cmd in engines:
                common = ["-m", model, "-p", args.p, "-n", args.n, "-t", args.t, "-r", "1", "-o", "json"]
                if args.d:
                    common += ["-d", args.d]
                for key, ts in records(run(cmd + common)).items():
                    samples.setdefault((model, name) + key, []).append(ts)
                print(f"round {round_ + 1}/{args.r} {name} {model}", file=sys.stderr)
    rows = []
    print("| model | test | threads | nibble t/s | llama.cpp t/s | nibble / llama.cpp |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    keys = sorted({k[2:] for k in samples}, key=lambda k: (k[0][:2] != "pp", k[0], k[1]))
    for model in args.models:
        for test, threads in keys:
            a = samples.get((model, "nibble", test, threads))
            b = samples.get((model, "llama.cpp", test, threads))
            if not a or not b:
                continue
            ma, mb = statistics.median(a), statistics.median(b)
            rows.append({"model": model, "test": test, "threads": threads, "nibble": a, "llama.cpp": b, "ratio": ma / mb})
            print(f"| {model.split('/')[-1]} | {test} | {threads} | {ma:.2f} | {mb:.2f} | {ma / mb:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
