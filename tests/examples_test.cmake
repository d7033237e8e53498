# Runs the example programs as a user would and checks what they print.
# Inputs: BIN (folder of the programs), RUN (emulator, when cross-compiled), SOURCE (project root),
# FIXTURES, WORK (scratch folder).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run_ok)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\nstdout: ${out}\nstderr: ${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect text pattern what)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: expected /${pattern}/ in:\n${text}")
  endif()
endfunction()

# 1. The README's first command: no arguments, the built-in model, a story.
run_ok(${RUN} "${BIN}/nibble-generate" -n 48)
expect("${out}" "^Once upon a time[^\n]+" "default generation")
expect("${err}" "generation: [0-9]+ tokens, [0-9.]+ tokens/s" "timings on stderr")

# 2. Greedy ids equal llama2.c's (the expected file ships in tests/data).
file(STRINGS "${SOURCE}/tests/data/greedy_once_upon_a_time_64.ids" lines REGEX "^[0-9]")
list(GET lines 1 expected)
string(REGEX MATCH "^[0-9]+ [0-9]+ [0-9]+ [0-9]+ " forced "${expected}")  # 4 forced prompt ids
string(LENGTH "${forced}" skip)
string(SUBSTRING "${expected}" ${skip} -1 expected)
run_ok(${RUN} "${BIN}/nibble-generate" --temp 0 -n 60 --print-ids)
string(STRIP "${out}" out)
string(REGEX MATCH "[^\n]+$" ids "${out}")
if(NOT ids STREQUAL expected)
  message(FATAL_ERROR "greedy ids differ:\n got ${ids}\nwant ${expected}")
endif()

# 3. Seeded sampling is reproducible and stops at -n.
run_ok(${RUN} "${BIN}/nibble-generate" -n 7 --seed 3 --temp 1.0 --print-ids)
set(first "${out}")
run_ok(${RUN} "${BIN}/nibble-generate" -n 7 --seed 3 --temp 1.0 --print-ids)
if(NOT first STREQUAL out)
  message(FATAL_ERROR "same seed, different output:\n${first}\n---\n${out}")
endif()
string(STRIP "${out}" out)
string(REGEX MATCH "[^\n]+$" ids "${out}")
string(REPLACE " " ";" ids "${ids}")
list(LENGTH ids n)
if(n GREATER 7)
  message(FATAL_ERROR "-n 7 generated ${n} tokens")
endif()

# 4. --tokens and --dump-logits: [n_prompt][n_vocab] float32.
run_ok(${RUN} "${BIN}/nibble-generate" --tokens "1 403 407 261 378" -n 0 --dump-logits "${WORK}/logits.f32")
file(SIZE "${WORK}/logits.f32" size)
math(EXPR want "5 * 512 * 4")
if(NOT size EQUAL want)
  message(FATAL_ERROR "dumped ${size} bytes of logits, expected ${want}")
endif()

# 5. nibble-tokenize prints ids without BOS unless asked.
set(MODEL "${SOURCE}/models/stories260K.gguf")
run_ok(${RUN} "${BIN}/nibble-tokenize" -m "${MODEL}" -p "Once upon a time")
expect("${out}" "^403 407 261 378\n$" "tokenize")
run_ok(${RUN} "${BIN}/nibble-tokenize" -m "${MODEL}" -p "Once upon a time" --bos)
expect("${out}" "^1 403 407 261 378\n$" "tokenize --bos")

# 6. nibble-info describes a model, and says why a file cannot load (exit 1).
run_ok(${RUN} "${BIN}/nibble-info" "${MODEL}")
expect("${out}" "architecture: +llama" "info")
expect("${out}" "heads: +8 \\(KV heads 4" "info heads")
file(WRITE "${WORK}/junk.gguf" "GGUF\x03\x00\x00\x00 this is not a model")
execute_process(COMMAND ${RUN} "${BIN}/nibble-info" "${WORK}/junk.gguf" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "nibble-info on a broken file returned ${rc}")
endif()
expect("${err}" "junk.gguf" "info error names the file")

# 7. The shipped model is exactly what our converter makes of the llama2.c checkpoint.
if(EXISTS "${FIXTURES}/stories260K/stories260K.bin")
  run_ok(${RUN} "${BIN}/nibble-convert" "${FIXTURES}/stories260K/stories260K.bin" "${WORK}/stories260K.gguf")
  file(SHA256 "${WORK}/stories260K.gguf" made)
  file(SHA256 "${MODEL}" shipped)
  if(NOT made STREQUAL shipped)
    message(FATAL_ERROR "converting stories260K.bin does not reproduce models/stories260K.gguf")
  endif()
  run_ok(${RUN} "${BIN}/nibble-generate" -m "${FIXTURES}/stories260K/stories260K.bin" --temp 0 -n 60 --print-ids)
  string(STRIP "${out}" out)
  string(REGEX MATCH "[^\n]+$" ids "${out}")
  if(NOT ids STREQUAL expected)
    message(FATAL_ERROR "greedy ids from the llama2.c checkpoint differ")
  endif()
endif()
message(STATUS "examples behave")
