# The benchmark tools as a user runs them, on tiny synthetic models: nibble-bench's
# records and flags, every synthetic weight type, its errors, report.py, and
# nibble-bench-kernels. Inputs: BIN, RUN (emulator, when cross-compiled), SOURCE, WORK,
# PYTHON (empty: skip report.py).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/run_helpers.cmake")

set(SHAPE "custom/e=128/l=2/h=4/kv=2/ff=256/v=512")
run_ok(${RUN} "${BIN}/nibble-bench" --synthetic "${SHAPE}:q4_0" --synthetic-dir "${WORK}" -p 16 -n 8 -t 1,2 -r 2
       --probe-mib 16 -o json)
file(WRITE "${WORK}/e2e.json" "${out}")
string(JSON records LENGTH "${out}")
if(NOT records EQUAL 4)
  message(FATAL_ERROR "expected 4 records (2 thread counts x pp and tg), got ${records}:\n${out}")
endif()
math(EXPR last "${records} - 1")
set(seen "")
foreach(i RANGE ${last})
  foreach(field n_prompt n_gen n_threads avg_ts stddev_ts model_size probe_gbs bandwidth_fraction peak_rss_bytes)
    string(JSON value ERROR_VARIABLE missing GET "${out}" ${i} ${field})
    if(missing)
      message(FATAL_ERROR "record ${i} has no ${field}:\n${out}")
    endif()
    set(${field} "${value}")
  endforeach()
  if(NOT avg_ts GREATER 0 OR NOT model_size GREATER 0)
    message(FATAL_ERROR "record ${i}: no speed or size:\n${out}")
  endif()
  if(n_prompt EQUAL 0 AND NOT (n_gen EQUAL 8 AND probe_gbs GREATER 0 AND bandwidth_fraction GREATER 0))
    message(FATAL_ERROR "generation record ${i} lacks its bandwidth figures:\n${out}")
  endif()
  list(APPEND seen "${n_threads}:${n_prompt}:${n_gen}")
endforeach()
list(SORT seen)
if(NOT seen STREQUAL "1:0:8;1:16:0;2:0:8;2:16:0")
  message(FATAL_ERROR "wrong set of tests: ${seen}")
endif()

# The markdown table, llama-bench's columns first; every weight type a synthetic model can have.
foreach(type q4_1 q4_2 q8_0 f16 f32)
  run_ok(${RUN} "${BIN}/nibble-bench" --synthetic "${SHAPE}:${type}" --synthetic-dir "${WORK}" -p 8 -n 4 -r 1 -t 1 --probe-mib 8)
  if(NOT out MATCHES "\\| model \\| size \\| params \\| backend \\| threads \\| test \\| t/s \\|" OR
     NOT out MATCHES "\\| llama [0-9.]+M ${type} \\|[^\n]*\\| pp8 \\|" OR NOT out MATCHES "\\| tg4 \\|")
    message(FATAL_ERROR "markdown for ${type}:\n${out}")
  endif()
endforeach()

# llama-quantize's presets (its mix rules) and the types that came after 2023, on rows of 256.
set(SHAPE256 "custom/e=256/l=2/h=4/kv=2/ff=512/v=512")
foreach(type Q4_K_M q5_k_m Q6_K IQ4_XS q5_0 q5_1 iq4_nl bf16)
  run_ok(${RUN} "${BIN}/nibble-bench" --synthetic "${SHAPE256}:${type}" --synthetic-dir "${WORK}" -p 8 -n 4 -r 1 -t 1 --probe-mib 8)
  if(NOT out MATCHES "\\| pp8 \\|" OR NOT out MATCHES "\\| tg4 \\|")
    message(FATAL_ERROR "markdown for ${type}:\n${out}")
  endif()
endforeach()

# Bad requests are refused with a reason, not a crash.
foreach(bad "tinyllama-1.1b:q9_9" "nosuchshape:q4_0" "custom/e=100/l=1/h=3/kv=1/ff=64/v=32:q4_0")
  execute_process(COMMAND ${RUN} "${BIN}/nibble-bench" --synthetic "${bad}" -p 4 -n 0 RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "nibble-bench: synthetic model|nibble-bench: custom shape")
    message(FATAL_ERROR "'${bad}' should be refused with a reason (rc ${rc}): ${err}")
  endif()
endforeach()

if(PYTHON)
  run_ok("${PYTHON}" "${SOURCE}/bench/report.py" "${WORK}/e2e.json" --md "${WORK}/table.md" --png "${WORK}/plot.png")
  file(READ "${WORK}/table.md" table)
  if(NOT table MATCHES "\\| llama [0-9.]+M q4_0 \\| q4_0 \\|[^\n]*\\| 2 \\| tg8 \\|")
    message(FATAL_ERROR "report.py table:\n${table}")
  endif()
  file(SIZE "${WORK}/plot.png" png_size)
  if(png_size LESS 1000)
    message(FATAL_ERROR "report.py wrote no plot")
  endif()
  # compare.py alternates two llama-bench-compatible programs on one file (here nibble-bench
  # twice: the peer is never part of the suite) and prints the ratio table.
  if(NOT RUN)
    run_ok("${PYTHON}" "${SOURCE}/bench/compare.py" "${BIN}/nibble-bench" "${BIN}/nibble-bench"
           "${WORK}/nibble-synthetic-custom_e256_l2_h4_kv2_ff512_v512-Q4_K_M.gguf" -p 8 -n 4 -t 1 -r 2 --json "${WORK}/compare.json")
    if(NOT out MATCHES "\\| pp8 \\| 1 \\| [0-9.]+ \\| [0-9.]+ \\| [0-9.]+x \\|" OR NOT out MATCHES "\\| tg4 \\| 1 \\|")
      message(FATAL_ERROR "compare.py table:\n${out}")
    endif()
  endif()
endif()

if(EXISTS "${BIN}/nibble-bench-kernels")
  run_ok("${BIN}/nibble-bench-kernels" "--benchmark_filter=^(dot/q4_0|quantize/q4_2|matmul/q4_0/.*/batch32|probe/int8)" --benchmark_min_time=0.01
         --benchmark_format=json)
  string(JSON count LENGTH "${out}" benchmarks)
  if(count LESS 4 OR NOT out MATCHES "\"GB/s\"" OR NOT out MATCHES "\"GOP/s\"")
    message(FATAL_ERROR "nibble-bench-kernels:\n${out}")
  endif()
  # The int8 peak's inputs: a clock, and on x86 and ARM at least one dot instruction's rate.
  if(NOT out MATCHES "\"GHz\": [1-9]" AND NOT out MATCHES "\"GHz\": 0\\.[0-9]*[1-9]")
    message(FATAL_ERROR "nibble-bench-kernels: no clock in the instruction probe:\n${out}")
  endif()
  if(NOT out MATCHES "(vpmaddubsw ymm|smull 8b) per cycle\": [0-9.]*[1-9]")
    message(FATAL_ERROR "nibble-bench-kernels: no int8 instruction rate:\n${out}")
  endif()
endif()
