# nibble-quantize and nibble-perplexity as a user runs them, on the shipped model.
# Inputs: BIN, RUN (emulator, when cross-compiled), SOURCE, FIXTURES, WORK.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

include("${CMAKE_CURRENT_LIST_DIR}/run_helpers.cmake")

set(MODEL "${SOURCE}/models/stories260K.gguf")
set(TEXT "${SOURCE}/tests/data/story.txt")

# Perplexity of the f32 model, and its KL divergence from itself (exactly 0).
run_ok(${RUN} "${BIN}/nibble-perplexity" -m "${MODEL}" -f "${TEXT}" -c 128 --kl-base "${MODEL}")
string(REGEX MATCH "perplexity: ([0-9.]+)" _ "${out}")
set(ppl_f32 "${CMAKE_MATCH_1}")
if(NOT out MATCHES "KL divergence from [^\n]*: 0\\.000000 nats")
  message(FATAL_ERROR "f32 against itself should have zero KL divergence:\n${out}")
endif()

foreach(type q8_0 q4_0 q4_1 q4_2)
  run_ok(${RUN} "${BIN}/nibble-quantize" "${MODEL}" "${WORK}/${type}.gguf" ${type} --pure)
  if(NOT err MATCHES "\\[ *1/47\\] token_embd.weight +f32 -> ${type}")
    message(FATAL_ERROR "no progress lines for ${type}:\n${err}")
  endif()
  if(NOT err MATCHES "ffn_down.weight: rows of 172 are not a multiple of 32, kept as f16")
    message(FATAL_ERROR "the fallback for rows of 172 is not reported:\n${err}")
  endif()
  if(NOT out MATCHES "size: 1\\.01 MiB -> 0\\.[0-9]+ MiB" OR NOT out MATCHES "${type} +31 tensors")
    message(FATAL_ERROR "summary for ${type} is missing:\n${out}")
  endif()
  run_ok(${RUN} "${BIN}/nibble-perplexity" -m "${WORK}/${type}.gguf" -f "${TEXT}" -c 128 --kl-base "${MODEL}")
  string(REGEX MATCH "perplexity: ([0-9.]+)" _ "${out}")
  set(ppl_${type} "${CMAKE_MATCH_1}")
  string(REGEX MATCH "KL divergence from [^:]*: ([0-9.]+)" _ "${out}")
  set(kl_${type} "${CMAKE_MATCH_1}")
  if(ppl_${type} STREQUAL "" OR kl_${type} STREQUAL "" OR kl_${type} LESS_EQUAL 0)
    message(FATAL_ERROR "${type}: no perplexity or KL divergence:\n${out}")
  endif()
  # the generated model still tells a story
  run_ok(${RUN} "${BIN}/nibble-generate" -m "${WORK}/${type}.gguf" -n 16 --seed 1)
endforeach()
# 8-bit weights stay much closer to f32 than 4-bit ones.
if(NOT kl_q8_0 LESS kl_q4_0 OR NOT kl_q8_0 LESS kl_q4_2)
  message(FATAL_ERROR "KL divergence q8_0 ${kl_q8_0} should be below q4_0 ${kl_q4_0} and q4_2 ${kl_q4_2}")
endif()

# Converting without a type keeps every byte: the same greedy ids come out.
run_ok(${RUN} "${BIN}/nibble-quantize" "${WORK}/q4_0.gguf" "${WORK}/copy.gguf")
run_ok(${RUN} "${BIN}/nibble-generate" -m "${WORK}/q4_0.gguf" --temp 0 -n 20 --print-ids)
set(a "${out}")
run_ok(${RUN} "${BIN}/nibble-generate" -m "${WORK}/copy.gguf" --temp 0 -n 20 --print-ids)
if(NOT a STREQUAL out)
  message(FATAL_ERROR "a container copy changed the output")
endif()
# Re-quantizing needs consent.
execute_process(COMMAND ${RUN} "${BIN}/nibble-quantize" "${WORK}/q4_0.gguf" "${WORK}/re.gguf" q8_0 RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "already q4_0")
  message(FATAL_ERROR "re-quantizing without --allow-requantize should fail:\n${err}")
endif()

# Legacy files convert to GGUF and generate the same ids.
if(EXISTS "${FIXTURES}/legacy/llama/tiny-llama-ggjt-v1-q4_0.bin")
  foreach(stem llama/tiny-llama-ggjt-v1-q4_0 gptj/tiny-gptj-ggml-q4_0 mpt/tiny-mpt-ggmm-q4_2 falcon/tiny-falcon-g4a-f32)
    run_ok(${RUN} "${BIN}/nibble-quantize" "${FIXTURES}/legacy/${stem}.bin" "${WORK}/legacy.gguf")
    run_ok(${RUN} "${BIN}/nibble-generate" -m "${FIXTURES}/legacy/${stem}.bin" --tokens "1 2 3" --temp 0 -n 8 --ignore-eos --print-ids)
    set(a "${out}")
    run_ok(${RUN} "${BIN}/nibble-generate" -m "${WORK}/legacy.gguf" --tokens "1 2 3" --temp 0 -n 8 --ignore-eos --print-ids)
    if(NOT a STREQUAL out)
      message(FATAL_ERROR "${stem}: the GGUF conversion generates differently")
    endif()
  endforeach()
endif()
message(STATUS "perplexity f32 ${ppl_f32} q8_0 ${ppl_q8_0} q4_0 ${ppl_q4_0} q4_1 ${ppl_q4_1} q4_2 ${ppl_q4_2}")
message(STATUS "KL q8_0 ${kl_q8_0} q4_0 ${kl_q4_0} q4_1 ${kl_q4_1} q4_2 ${kl_q4_2}")
