// The 2023 block encodings of q4_0, q4_1, q4_2 and q8_0 (FORMATS.md section 3):
// decode and quantize them as each era's code did, and convert them to the layout
// the kernels read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace nibble::formats {

/// Quantization-format generation. qnt0: f32 scales, adjacent-pair nibbles (ggml,
/// ggmf, ggjt v1; q4_2 exists). qnt1: f32 scales, split nibbles (ggjt v2). qnt2: fp16
/// scales, split nibbles (ggjt v3, GGUF).
enum class QuantEra { qnt0 = 0, qnt1 = 1, qnt2 = 2 };

std::string era_name(QuantEra era);

/// Bytes of one block of ggml type `type_id` in `era`; empty where the type did not
/// exist in that era or nibble does not read it. Float types: bytes per element.
std::optional<size_t> legacy_block_bytes(uint32_t type_id, QuantEra era);
/// Elements per block (1 for float types).
size_t legacy_block_elements(uint32_t type_id);

/// Decodes n elements, bit for bit as that era's dequantizer.
void dequantize_legacy(uint32_t type_id, QuantEra era, const std::byte* src, float* dst, size_t n);
/// Quantizes n elements with that era's reference quantizer.
void quantize_legacy(uint32_t type_id, QuantEra era, const float* src, std::byte* dst, size_t n);
/// Rewrites n elements of `era` blocks in the current layout (fp16 scales, split
/// nibbles). q4_2 and float types are returned unchanged.
std::vector<std::byte> convert_to_current(uint32_t type_id, QuantEra era, std::span<const std::byte> src, size_t n);

/// The inverse: current-layout blocks rewritten in `era`'s layout (exact: fp16 scales
/// widen to f32). Throws unsupported where the type did not exist in that era.
std::vector<std::byte> convert_from_current(uint32_t type_id, QuantEra era, std::span<const std::byte> src, size_t n);

}  // namespace nibble::formats
