#!/usr/bin/env bash
# Runs every fuzz target of a NIBBLE_FUZZ=ON build for SECONDS each, from a copy of its
# seed corpus, and fails on any crash, leak, timeout (-timeout=10) or out-of-memory
# (-rss_limit_mb=2048). Two targets run at a time. Prints one line per target:
# executions, executions/s, coverage (cov) and features (ft) at the end of the run.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]    (targets: gguf legacy llama2c llama2c_tokenizer tokenizer server_request)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(gguf legacy llama2c llama2c_tokenizer tokenizer server_request)
work="$build/fuzz-work"
mkdir -p "$work"

run_one() {
  local reader=$1 exe
  exe="$build/tests/fuzz/fuzz-${reader//_/-}"
  rm -rf "$work/$reader" && mkdir -p "$work/$reader"
  local dict=()
  case $reader in gguf | legacy) dict=(-dict="$here/gguf.dict") ;; esac
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$work/$reader-" "$work/$reader" "$here/corpus/$reader" >"$work/$reader.log" 2>&1
  local rc=$?
  local last execs speed
  last=$(grep -E "^#[0-9]+" "$work/$reader.log" | tail -1)
  execs=$(grep -E "stat::number_of_executed_units" "$work/$reader.log" | awk '{print $2}')
  speed=$(grep -E "stat::average_exec_per_sec" "$work/$reader.log" | awk '{print $2}')
  echo "fuzz-$reader: rc=$rc ${seconds}s executions=${execs:-?} exec/s=${speed:-?} $(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
  if [ $rc -ne 0 ]; then
    echo "fuzz-$reader FAILED (log $work/$reader.log):"
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$work/$reader.log" | head -20
  fi
  return $rc
}

failed=0
pids=()
names=()
for reader in "${targets[@]}"; do
  run_one "$reader" >"$work/$reader.summary" &
  pids+=($!)
  names+=("$reader")
  if [ ${#pids[@]} -eq 2 ]; then
    for i in 0 1; do wait "${pids[$i]}" || failed=1; cat "$work/${names[$i]}.summary"; done
    pids=()
    names=()
  fi
done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed=1; cat "$work/${names[$i]}.summary"; done
[ $failed -eq 0 ]
