# The bandwidth probe is a ceiling: nibble's own generation, reading a model larger
# than any cache, never reads faster than the probe taken beside it (3 % for timer
# noise). A probe below real code (4 KiB pages where the weights have huge pages, one
# read pattern where another is faster) makes every "fraction of the probe" meaningless.
# Inputs: BIN, WORK.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/run_helpers.cmake")

# q4_0, the fastest generation per byte, about 290 MiB (8 layers of the 1.1B's width):
# far past the last-level cache. The probe's 256 MiB is no larger than the weights, so
# caches favour the probe, never the model.
set(SHAPE "custom/e=2048/l=8/h=16/kv=16/ff=5632/v=32000")
run_ok("${BIN}/nibble-bench" --synthetic "${SHAPE}:q4_0" --synthetic-dir "${WORK}" -p 0 -n 16 -t 1,2 -r 3
       --probe-mib 256 -o json)
string(JSON records LENGTH "${out}")
if(NOT records EQUAL 2)
  message(FATAL_ERROR "expected 2 generation records (1 and 2 threads), got ${records}:\n${out}")
endif()
foreach(i 0 1)
  string(JSON threads GET "${out}" ${i} n_threads)
  string(JSON best GET "${out}" ${i} best_bandwidth_fraction)
  string(JSON probe GET "${out}" ${i} probe_gbs)
  string(JSON read GET "${out}" ${i} bandwidth_gbs)
  string(JSON kernel GET "${out}" ${i} probe_kernel)
  message(STATUS "${threads} threads: generation ${read} GB/s, probe ${probe} GB/s (${kernel}), fastest repetition at ${best} of the best probe")
  if(NOT best GREATER 0.05)
    message(FATAL_ERROR "${threads} threads: no bandwidth fraction (${best}):\n${out}")
  endif()
  if(best GREATER 1.03)
    message(FATAL_ERROR "${threads} threads: generation read ${best} of the probe's best: the probe is no ceiling:\n${out}")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
