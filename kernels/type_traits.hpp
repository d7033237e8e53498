// One row per ggml tensor type: everything nibble knows about a type in one place.
// Adding a type that nibble computes with means a row here, its block struct
// (blocks.hpp), its KernelTable member (kernels.hpp) and its kernels: the reference
// (dequantize, quantize, dot) and each ISA's entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/kernels.hpp"

namespace nibble::kernels {

struct TypeTraits {
    uint32_t id;                ///< the ggml type id in files
    std::string_view name;      ///< as ggml names it
    size_t block_elements;      ///< weights per block (1 for the float types)
    size_t block_bytes;         ///< bytes per block in the GGUF layout
    /// The activation format the type multiplies; empty for types nibble can only describe.
    std::optional<ActivationFormat> activation;
    bool packs = false;         ///< repacked into panels (packed.hpp) where the table has a kernel for it
    TypeKernels KernelTable::*kernels = nullptr;  ///< its entry in every kernel table
};

using AF = ActivationFormat;
// Every type id whose size nibble knows, so that files holding types nibble cannot
// compute with still parse and can be described (nibble-info).
inline constexpr std::array<TypeTraits, 32> type_traits{{
    {0, "f32", 1, 4, AF::f32, false, &KernelTable::f32},
    {1, "f16", 1, 2, AF::f16, false, &KernelTable::f16},
    {2, "q4_0", 32, 18, AF::q8_0, true, &KernelTable::q4_0},
    {3, "q4_1", 32, 20, AF::q8_0, true, &KernelTable::q4_1},
    {4, "q4_2", 16, 10, AF::q8_0, true, &KernelTable::q4_2},
    {5, "q4_3", 16, 12, std::nullopt},
    {6, "q5_0", 32, 22, AF::q8_0, true, &KernelTable::q5_0},
    {7, "q5_1", 32, 24, AF::q8_0, true, &KernelTable::q5_1},
    {8, "q8_0", 32, 34, AF::q8_0, true, &KernelTable::q8_0},
    {10, "q2_K", 256, 84, AF::q8_K, true, &KernelTable::q2_K},
    {11, "q3_K", 256, 110, AF::q8_K, true, &KernelTable::q3_K},
    {12, "q4_K", 256, 144, AF::q8_K, true, &KernelTable::q4_K},
    {13, "q5_K", 256, 176, AF::q8_K, true, &KernelTable::q5_K},
    {14, "q6_K", 256, 210, AF::q8_K, true, &KernelTable::q6_K},
    {16, "iq2_xxs", 256, 66, std::nullopt},
    {17, "iq2_xs", 256, 74, std::nullopt},
    {18, "iq3_xxs", 256, 98, std::nullopt},
    {19, "iq1_s", 256, 50, std::nullopt},
    {20, "iq4_nl", 32, 18, AF::q8_0, true, &KernelTable::iq4_nl},
    {21, "iq3_s", 256, 110, std::nullopt},
    {22, "iq2_s", 256, 82, std::nullopt},
    {23, "iq4_xs", 256, 136, AF::q8_K, true, &KernelTable::iq4_xs},
    {24, "i8", 1, 1, std::nullopt},
    {25, "i16", 1, 2, std::nullopt},
    {26, "i32", 1, 4, std::nullopt},
    {27, "i64", 1, 8, std::nullopt},
    {28, "f64", 1, 8, std::nullopt},
    {29, "iq1_m", 256, 56, std::nullopt},
    {30, "bf16", 1, 2, AF::bf16, false, &KernelTable::bf16},
    {34, "tq1_0", 256, 54, std::nullopt},
    {35, "tq2_0", 256, 66, std::nullopt},
    {39, "mxfp4", 32, 17, std::nullopt},
}};

/// The row for a type id, or null for ids nibble does not know.
constexpr const TypeTraits* find_type_traits(uint32_t id) noexcept {
    for (const auto& t : type_traits) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

constexpr const TypeTraits* find_type_traits(TensorType type) noexcept { return find_type_traits(static_cast<uint32_t>(type)); }

/// What a row length of the type must be a multiple of: its block, and the activation
/// block it meets (q4_2's blocks of 16 meet activation blocks of 32).
constexpr size_t row_multiple(const TypeTraits& t) noexcept {
    const size_t activation_block = t.activation == ActivationFormat::q8_0 ? 32 : t.activation == ActivationFormat::q8_K ? 256 : 1;
    return t.block_elements > activation_block ? t.block_elements : activation_block;
}

}  // namespace nibble::kernels
