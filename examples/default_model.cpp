// The shipped stories260K model (MIT), embedded in the binary so that
// nibble-generate works from any directory and after installation.
#include <cstdint>

#include "default_model.hpp"

// The size is computed by the assembler, so C++ never subtracts unrelated pointers.
__asm__(".section .rodata\n"
        ".balign 64\n"
        "nibble_default_model_data:\n"
        ".incbin \"" NIBBLE_DEFAULT_MODEL_PATH "\"\n"
        "nibble_default_model_data_end:\n"
        ".balign 8\n"
        "nibble_default_model_size:\n"
        ".quad nibble_default_model_data_end - nibble_default_model_data\n"
        ".previous\n");

extern "C" const std::byte nibble_default_model_data[];
extern "C" const uint64_t nibble_default_model_size;

std::span<const std::byte> nibble_default_model() {
    return {nibble_default_model_data, static_cast<size_t>(nibble_default_model_size)};
}
