// Element-wise float operations of the forward pass (scalar; ISA versions come later).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::detail {

/// y = x / sqrt(mean(x^2) + eps) * weight
void rms_norm(const float* x, const float* weight, float* y, size_t n, float eps);
/// y = (x - mean) / sqrt(var + eps) * weight + bias (bias may be null)
void layer_norm(const float* x, const float* weight, const float* bias, float* y, size_t n, float eps);
/// In-place softmax over n values.
void softmax(float* x, size_t n);
/// x[i] = silu(gate[i]) * x[i]
void swiglu(const float* gate, float* x, size_t n);
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
