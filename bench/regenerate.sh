#!/usr/bin/env bash
# Regenerates every figure of docs/benchmarks.md in one command, on a quiet machine:
#   bench/regenerate.sh NAME        (NAME: a short machine name, e.g. zen4vm2)
# Builds the release tree, runs the benchmarks the page shows, keeps their JSON in
# docs/bench-data/NAME-*.json, writes the tables to docs/bench-data/NAME-tables.md and
# the plots to docs/benchmarks-formats.png and docs/benchmarks-threads.png (Debian's
# python3-matplotlib). The page's prose and tables are then updated by hand from them.
# With LLAMA_BENCH and LLAMA_QUANTIZE naming llama.cpp's programs (built outside this
# tree), it also quantizes one synthetic f16 file to Q4_K_M with both quantizers and to
# Q6_K with nibble's, and alternates the two benchmarks on them (bench/compare.py).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: bench/regenerate.sh MACHINE_NAME}
data=docs/bench-data
python=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target nibble-bench nibble-bench-kernels nibble-quantize
bin=build/bin
mkdir -p "$data"
threads="1,2"
if [ "$(nproc)" -ge 4 ]; then threads="1,2,4"; fi
set -x
"$bin/nibble-bench" --synthetic tinyllama-1.1b:q4_0,tinyllama-1.1b:q4_1,tinyllama-1.1b:q4_2,tinyllama-1.1b:q8_0,tinyllama-1.1b:Q4_K_M,tinyllama-1.1b:Q6_K \
  -p 512 -n 64 -t "$threads" -r 3 -o json > "$data/$name-1.1b.json"
"$bin/nibble-bench" --synthetic llama-7b:q4_0,llama-7b:q4_2 -p 64 -n 16 -t 1,2 -r 3 -o json > "$data/$name-7b.json"
NIBBLE_ISA=scalar "$bin/nibble-bench" --synthetic tinyllama-1.1b:q4_0 -p 64 -n 16 -t 1 -r 2 -o json > "$data/$name-scalar.json"
"$bin/nibble-bench-kernels" --benchmark_format=json > "$data/$name-kernels.json"
"$python" bench/report.py "$data/$name-1.1b.json" "$data/$name-7b.json" "$data/$name-scalar.json" \
  --md "$data/$name-tables.md"
"$python" bench/report.py "$data/$name-1.1b.json" --kernels "$data/$name-kernels.json" \
  --png docs/benchmarks-formats.png --threads-png docs/benchmarks-threads.png --md /dev/null
if [ -n "${LLAMA_BENCH:-}" ] && [ -n "${LLAMA_QUANTIZE:-}" ]; then
  models=$(mktemp -d)
  trap 'rm -rf "$models"' EXIT
  "$bin/nibble-bench" --synthetic tinyllama-1.1b:f16 --synthetic-dir "$models" -p 0 -n 1 -r 1 >/dev/null
  f16="$models/nibble-synthetic-tinyllama-1.1b-f16.gguf"
  "$bin/nibble-quantize" "$f16" "$models/tl-nibble.Q4_K_M.gguf" Q4_K_M 2>/dev/null
  "$LLAMA_QUANTIZE" "$f16" "$models/tl-llama.Q4_K_M.gguf" Q4_K_M 2 >/dev/null 2>&1
  "$bin/nibble-quantize" "$f16" "$models/tl-nibble.Q6_K.gguf" Q6_K 2>/dev/null
  "$python" bench/compare.py "$bin/nibble-bench" "$LLAMA_BENCH" "$models/tl-nibble.Q4_K_M.gguf" \
    "$models/tl-llama.Q4_K_M.gguf" "$models/tl-nibble.Q6_K.gguf" -p 512 -n 64 -t 1,2 -r 3 \
    --json "$data/$name-compare.json" > "$data/$name-compare.md"
fi
