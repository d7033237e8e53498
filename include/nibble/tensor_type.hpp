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
    // 5 was q4_3
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    // 9 is q8_1, an activation-only type
    q2_K = 10,
    q3_K = 11,
    q4_K = 12,
    q5_K = 13,
    q6_K = 14,
    // 15 is q8_K (activations only); 16-19, 21, 22 are IQ1/IQ2/IQ3 types nibble lacks
    iq4_nl = 20,
    iq4_xs = 23,
    bf16 = 30,
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

/// The types nibble computes with, as a comma-separated list of names (for messages).
std::string computable_type_names();

}  // namespace nibble
