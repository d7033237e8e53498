# Issue 13's reproductions through the programs: the library's fixes as a user sees them.
# Each must end with a message and exit 1, quickly, leaving the input intact.
# Inputs: BIN, RUN (emulator, when cross-compiled), SOURCE, WORK.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# run_fails(EXPECTED_TEXT program args...): exit 1 within 60 s, stderr containing the text.
function(run_fails expected)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 60)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "${expected}")
    message(FATAL_ERROR "expected exit 1 and '${expected}' (got ${rc}): ${ARGN}\nstdout: ${out}\nstderr: ${err}")
  endif()
endfunction()

# run_refused(EXPECTED_TEXT program args...): the same, where the command line already
# refuses the value (exit 2, a usage error) or the library does (exit 1).
function(run_refused expected)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 60)
  if(NOT (rc EQUAL 1 OR rc EQUAL 2) OR NOT err MATCHES "${expected}")
    message(FATAL_ERROR "expected exit 1 or 2 and '${expected}' (got ${rc}): ${ARGN}\nstdout: ${out}\nstderr: ${err}")
  endif()
endfunction()

set(MODEL "${WORK}/model.gguf")
file(COPY_FILE "${SOURCE}/models/stories260K.gguf" "${MODEL}")
file(SHA256 "${MODEL}" before)

# The output is the input (it used to die with SIGBUS and leave a 12 KB file).
run_fails("is the input file" ${RUN} "${BIN}/nibble-convert" "${MODEL}" "${MODEL}")
run_fails("is the input file" ${RUN} "${BIN}/nibble-convert" "${MODEL}" "${WORK}/./model.gguf")
run_fails("is the input file" ${RUN} "${BIN}/nibble-quantize" "${MODEL}" "${MODEL}" q8_0)
file(CREATE_LINK "${MODEL}" "${WORK}/link.gguf" SYMBOLIC)
run_fails("is the input file" ${RUN} "${BIN}/nibble-quantize" "${MODEL}" "${WORK}/link.gguf" q4_0)
file(SHA256 "${MODEL}" after)
if(NOT before STREQUAL after)
  message(FATAL_ERROR "the input changed")
endif()

# A FIFO given as a model (it used to block in open()), a directory.
execute_process(COMMAND mkfifo "${WORK}/fifo" RESULT_VARIABLE made)
if(made EQUAL 0)
  run_refused("not a regular file" ${RUN} "${BIN}/nibble-info" "${WORK}/fifo")
endif()
run_refused("is a directory|not a regular file" ${RUN} "${BIN}/nibble-info" "${WORK}")

# A converted model replaces an older output whole, and converts back.
execute_process(COMMAND ${RUN} "${BIN}/nibble-convert" "${MODEL}" "${WORK}/copy.gguf" RESULT_VARIABLE rc)
file(SHA256 "${WORK}/copy.gguf" copy1)
execute_process(COMMAND ${RUN} "${BIN}/nibble-convert" "${WORK}/copy.gguf" "${WORK}/copy2.gguf" RESULT_VARIABLE rc2)
file(SHA256 "${WORK}/copy2.gguf" copy2)
if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0 OR NOT copy1 STREQUAL copy2)
  message(FATAL_ERROR "convert is not stable (${rc}, ${rc2})")
endif()
file(GLOB leftovers "${WORK}/.*nibble-*")
if(leftovers)
  message(FATAL_ERROR "temporary files left behind: ${leftovers}")
endif()
