#!/usr/bin/env python3
"""Turns nibble-bench JSON (and optionally nibble-bench-kernels JSON) into a markdown
table and a PNG plot comparing the quantization formats.

  nibble-bench --synthetic tinyllama-1.1b:q4_0,tinyllama-1.1b:q4_1 -o json > e2e.json
  nibble-bench-kernels --benchmark_filter=matvec --benchmark_format=json > kernels.json
  bench/report.py e2e.json --kernels kernels.json --md table.md --png formats.png --threads-png threads.png

bench/regenerate.sh runs every benchmark docs/benchmarks.md shows and this script, in one command.
"""
import argparse
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def test_name(r):
    depth = f" @ d{r['n_depth']}" if r.get("n_depth", 0) > 0 else ""
    if r["n_gen"] == 0:
        return f"pp{r['n_prompt']}{depth}"
    if r["n_prompt"] == 0:
        return f"tg{r['n_gen']}{depth}"
    return f"pp{r['n_prompt']}+tg{r['n_gen']}{depth}"


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


def grouped_bars(ax, records, test, threads, types, value, ylabel, title):
    """One group of bars per weight type, one bar per thread count, each bar labelled."""
    width = 0.8 / max(len(threads), 1)
    top = 0
    for i, t in enumerate(threads):
        values = []
        for ty in types:
            match = [r for r in records if test_name(r) == test and r["n_threads"] == t and r["weight_type"] == ty]
            values.append(value(match[0]) if match else 0)
        top = max([top] + values)
        bars = ax.bar([x + i * width for x in range(len(types))], values, width,
                      label=f"{t} thread{'s' if t > 1 else ''}")
        ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=2)
    ax.set_xticks([x + width * (len(threads) - 1) / 2 for x in range(len(types))], types)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)  # room for the bar labels
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    # Below the axes, never over the bars.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=max(len(threads), 1), frameon=False)


def plot(records, kernels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 12})
    tests = sorted({test_name(r) for r in records})
    threads = sorted({r["n_threads"] for r in records})
    types = []
    for r in records:
        if r["weight_type"] not in types:
            types.append(r["weight_type"])
    generation = [t for t in tests if t.startswith("tg")]
    panels = len(tests) + len(generation)
    # End-to-end panels on top; the kernels, one group per type, on a full-width row below.
    fig = plt.figure(figsize=(5.5 * panels, 9.6 if kernels else 4.8))
    grid = fig.add_gridspec(2 if kernels else 1, panels)
    axes = [fig.add_subplot(grid[0, i]) for i in range(panels)]
    shape = records[0]["model_type"].split(" ")[1] if " " in records[0]["model_type"] else records[0]["model_type"]
    for ax, test in zip(axes, tests):
        grouped_bars(ax, records, test, threads, types, lambda r: r["avg_ts"], "tokens/s", f"{shape} shape, {test}")
    for ax, test in zip(axes[len(tests):], generation):  # generation against the probe
        grouped_bars(ax, records, test, threads, types, lambda r: 100 * r["bandwidth_fraction"],
                     "% of the probed read bandwidth", f"{test}: bandwidth reached")
        ax.axhline(90, color="gray", linestyle="--", linewidth=1)
        ax.text(1.01, 90, "90 %\ntarget", transform=ax.get_yaxis_transform(), fontsize=8, color="gray", va="center")
    if kernels:
        ax = fig.add_subplot(grid[1, :])
        rows = [b for b in kernels.get("benchmarks", []) if b["name"].startswith("matvec/") and "4096x4096" in b["name"]]
        kinds, isas = [], []
        for b in rows:
            _, kind, isa = b["name"].split("/")[:3]
            if kind not in kinds:
                kinds.append(kind)
            if isa not in isas:
                isas.append(isa)
        width = 0.8 / max(len(isas), 1)
        for i, isa in enumerate(isas):
            values = []
            for kind in kinds:
                match = [b for b in rows if b["name"].split("/")[1:3] == [kind, isa]]
                values.append(match[0].get("GB/s", 0) if match else 0)  # counters are in GB/s already
            bars = ax.bar([x + i * width for x in range(len(kinds))], values, width, label=isa)
            ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=2)
        ax.set_xticks([x + width * (len(isas) - 1) / 2 for x in range(len(kinds))], kinds)
        ax.set_ylabel("GB/s of weights, 1 thread")
        ax.set_title("kernels: matrix x vector, 4096x4096, one thread (nibble-bench-kernels)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=max(len(isas), 1), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")


def plot_threads(records, path):
    """Tokens/s against the thread count: one labelled line per model and test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 12})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), squeeze=False)
    for ax, kind, title in [(axes[0][0], "pp", "prompt processing"), (axes[0][1], "tg", "generation")]:
        series = {}
        machines = {(r.get("cpu_info", ""), r.get("isa", "")) for r in records}
        for r in records:
            name = test_name(r)
            if name.startswith(kind):
                label = f"{r['model_type']}, {name}"
                if len(machines) > 1:  # runs of several machines or kernel tables: say which
                    label += f" ({r.get('isa', '')}, {r.get('cpu_info', '')})"
                series.setdefault(label, []).append((r["n_threads"], r["avg_ts"]))
        for label, points in sorted(series.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        all_threads = sorted({r["n_threads"] for r in records})
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_threads, [str(t) for t in all_threads])
        ax.set_xlabel("threads")
        ax.set_ylabel("tokens/s")
        ax.set_ylim(bottom=0)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=1, frameon=False, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("e2e", nargs="+", help="nibble-bench -o json output files")
    p.add_argument("--kernels", help="nibble-bench-kernels --benchmark_format=json output")
    p.add_argument("--md", help="write the markdown here (default: stdout)")
    p.add_argument("--png", help="write the formats plot here")
    p.add_argument("--threads-png", help="write the thread-scaling plot (tokens/s against threads) here")
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
    if args.threads_png:
        plot_threads(records, args.threads_png)


if __name__ == "__main__":
    main()
