// The shipped stories260K model (MIT), embedded in the binary so that
// nibble-generate works from any directory and after installation.
#include "default_model.hpp"

__asm__(".section .rodata\n"
        ".balign 64\n"
        "nibble_default_model_begin:\n"
        ".incbin \"" NIBBLE_DEFAULT_MODEL_PATH "\"\n"
        "nibble_default_model_end:\n"
        ".previous\n");

extern "C" const std::byte nibble_default_model_begin[];
extern "C" const std::byte nibble_default_model_end[];

std::span<const std::byte> nibble_default_model() {
    return {nibble_default_model_begin, nibble_default_model_end};
}
