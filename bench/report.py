#!/usr/bin/env python3
"""Turns nibble-bench JSON (and optionally nibble-bench-kernels JSON) into a markdown
table and a PNG plot comparing the quantization formats.

  nibble-bench --synthetic tinyllama-1.1b:q4_0,tinyllama-1.1b:q4_1 -o json > e2e.json
  nibble-bench-kernels --benchmark_filter=matvec --benchmark_format=json > kernels.json
  bench/report.py e2e.json --kernels kernels.json --md table.md --png formats.png
"""
import argparse
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def test_name(r):
    if r["n_gen"] == 0:
        return f"pp{r['n_prompt']}"
    if r["n_prompt"] == 0:
        return f"tg{r['n_gen']}"
    return f"pp{r['n_prompt']}+tg{r['n_gen']}"


def e2e_table(records):
    lines = [
        "| model | weights | size (MiB) | threads | test | t/s | GB/s | probe GB/s | of probe | peak RSS over file+KV |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in records:
        tg = r["n_prompt"] == 0
        bw = f"{r['bandwidth_gbs']:.2f}" if tg else ""
        probe = f"{r['probe_gbs']:.2f}" if tg and r["probe_gbs"] > 0 else ""
        frac = f"{100 * r['bandwidth_fraction']:.1f} %" if tg and r["probe_gbs"] > 0 else ""
        lines.append(
            f"| {r['model_type']} | {r['weight_type']} | {r['model_size'] / 2**20:.1f} | {r['n_threads']} | {test_name(r)} "
            f"| {r['avg_ts']:.2f} ± {r['stddev_ts']:.2f} | {bw} | {probe} | {frac} | {100 * r['peak_rss_over_file_and_kv']:+.1f} % |"
        )
    return "\n".join(lines)


def kernel_table(data):
    lines = ["| benchmark | time | GB/s | GOP/s | layout |", "| --- | ---: | ---: | ---: | --- |"]
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        gbs = b.get("GB/s")
        gops = b.get("GOP/s")
        lines.append(
            f"| {b['name']} | {b['real_time']:.3g} {b['time_unit']} | {gbs or 0:.2f} | "
            f"{gops or 0:.2f} | {b.get('label', '')} |"
        )
    return "\n".join(lines)


def plot(records, kernels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = sorted({test_name(r) for r in records})
    threads = sorted({r["n_threads"] for r in records})
    types = []
    for r in records:
        if r["weight_type"] not in types:
            types.append(r["weight_type"])
    generation = [t for t in tests if t.startswith("tg")]
    panels = len(tests) + len(generation) + (1 if kernels else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), squeeze=False)
    width = 0.8 / max(len(threads), 1)
    for ax, test in zip(axes[0], tests):
        for i, t in enumerate(threads):
            values = []
            for ty in types:
                match = [r for r in records if test_name(r) == test and r["n_threads"] == t and r["weight_type"] == ty]
                values.append(match[0]["avg_ts"] if match else 0)
            ax.bar([x + i * width for x in range(len(types))], values, width, label=f"{t} thread{'s' if t > 1 else ''}")
        ax.set_xticks([x + width * (len(threads) - 1) / 2 for x in range(len(types))], types)
        ax.set_ylabel("tokens/s")
        ax.set_title(f"{records[0]['model_type'].split(' ')[1]} shape, {test}")
        ax.legend()
    for ax, test in zip(axes[0][len(tests):], generation):  # generation against the probe
        for i, t in enumerate(threads):
            values = []
            for ty in types:
                match = [r for r in records if test_name(r) == test and r["n_threads"] == t and r["weight_type"] == ty]
                values.append(100 * match[0]["bandwidth_fraction"] if match else 0)
            ax.bar([x + i * width for x in range(len(types))], values, width, label=f"{t} thread{'s' if t > 1 else ''}")
        ax.axhline(90, color="gray", linestyle="--", linewidth=1)
        ax.set_xticks([x + width * (len(threads) - 1) / 2 for x in range(len(types))], types)
        ax.set_ylabel("% of the probed read bandwidth")
        ax.set_title(f"{test}: bandwidth reached")
        ax.legend(loc="lower right")
    if kernels:
        ax = axes[0][-1]
        rows = [b for b in kernels.get("benchmarks", []) if b["name"].startswith("matvec/") and "4096x4096" in b["name"]]
        labels = [b["name"].split("/")[1] + "\n" + b["name"].split("/")[2] for b in rows]
        ax.bar(range(len(rows)), [b.get("GB/s", 0) for b in rows])  # counters are in GB/s already
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_ylabel("GB/s of weights, 1 thread")
        ax.set_title("matrix x vector 4096x4096")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("e2e", nargs="+", help="nibble-bench -o json output files")
    p.add_argument("--kernels", help="nibble-bench-kernels --benchmark_format=json output")
    p.add_argument("--md", help="write the markdown here (default: stdout)")
    p.add_argument("--png", help="write the plot here")
    args = p.parse_args()
    records = [r for path in args.e2e for r in load(path)]
    kernels = load(args.kernels) if args.kernels else None
    text = e2e_table(records)
    if kernels:
        text += "\n\n" + kernel_table(kernels)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if args.png:
        plot(records, kernels, args.png)


if __name__ == "__main__":
    main()
