// Weight element types, numbered as ggml numbers them in files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nibble {

/// ggml type ids. Removed or unsupported ids are left as gaps, never reused.
enum class TensorType : uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q4_2 = 4,  // historical (April 2023); only nibble reads it in GGUF
    // 5 was q4_3; 6 q5_0; 7 q5_1 -- not implemented
    q8_0 = 8,
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;
    size_t block_elements;  ///< elements per block (1 for float types)
    size_t block_bytes;     ///< bytes per block in the current (GGUF) layout
    bool computable;        ///< nibble has kernels for it (others can only be described)
};

/// Facts about a ggml type id; empty for ids nibble does not know at all.
std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id) noexcept;

/// "f32", "q4_0", ... or "type#N" for unknown ids.
std::string tensor_type_name(uint32_t type_id);

}  // namespace nibble
