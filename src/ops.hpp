// Element-wise float operations of the forward pass that every table shares (scalar).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::detail {

// Norms, softmax and SwiGLU live in the kernel tables (kernels/float_ops.hpp).
/// In-place GELU (tanh form), evaluated as the reference does: through a table over
/// every fp16 input, giving fp16-precise outputs; exact pass-through beyond |x| >= 10.
void gelu(float* x, size_t n);
/// Clips every value to [-limit, limit].
void clamp(float* x, size_t n, float limit);
/// ALiBi slope of head h of n_head for a maximum bias (power-of-two heads and the rest).
float alibi_slope(uint32_t head, uint32_t n_head, float max_bias);

/// Rotary position embedding, in place, on one head vector of `head_dim` values:
/// the first n_rot dimensions rotate, the rest pass through. Adjacent pairs rotate
/// (x[2i], x[2i+1]); half split rotates (x[i], x[i + n_rot/2]).
/// cos/sin of the rotation angles of one position, n_rot/2 entries each.
void rope_angles(uint32_t position, uint32_t n_rot, float base, float* cos_out, float* sin_out);
void rope_adjacent(float* x, const float* cos, const float* sin, uint32_t n_rot);
void rope_half_split(float* x, const float* cos, const float* sin, uint32_t n_rot);

}  // namespace nibble::detail
