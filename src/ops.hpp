// Element-wise float operations of the forward pass that every table shares (scalar).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::detail {

// Norms, softmax, SwiGLU, GELU and the rotation itself live in the kernel tables
// (kernels/float_ops.hpp).
/// Clips every value to [-limit, limit].
void clamp(float* x, size_t n, float limit);
/// ALiBi slope of head h of n_head for a maximum bias (power-of-two heads and the rest).
float alibi_slope(uint32_t head, uint32_t n_head, float max_bias);

/// cos/sin of the rotary angles of one position, n_rot/2 entries each (the rotation is
/// FloatOps::rope_adjacent / rope_half_split). `divisors` (n_rot/2 of them, or null)
/// divide each pair's angle: Llama 3.1's rope_freqs.
void rope_angles(uint32_t position, uint32_t n_rot, float base, const float* divisors, float* cos_out, float* sin_out);

}  // namespace nibble::detail
