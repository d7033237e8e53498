#pragma once
#include <cstddef>
#include <span>

/// Bytes of the default model (stories260K as GGUF), built into the program.
std::span<const std::byte> nibble_default_model();
