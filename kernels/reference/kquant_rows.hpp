// Rows of q5_0, q5_1, iq4_nl, the K types and iq4_xs: the file-format formulas.
#pragma once

#include <cstddef>

#include "nibble/tensor_type.hpp"

namespace nibble::kernels {

/// Dequantizes n elements of one of those types (the reference engine's values, bit for bit).
void dequantize_row_k(TensorType type, const void* src, float* dst, size_t n);

/// Quantizes n floats into one of those types as llama-quantize does without an
/// importance matrix: q5_0 / q5_1 by their block formulas; q4_K, q5_K and q2_K by a
/// weighted search of each sub-block's scale and minimum; q6_K and q3_K by a search of
/// each sub-block's symmetric scale; iq4_nl and iq4_xs by a search of the scale that
/// best fits the non-uniform grid. Scales of the K types are then quantized to their
/// 4-, 6- or 8-bit codes and the weights re-quantized against the stored scales.
void quantize_row_k(TensorType type, const float* src, void* dst, size_t n);

}  // namespace nibble::kernels
