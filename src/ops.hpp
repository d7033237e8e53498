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

/// Rotary position embedding, in place, on one head vector of `head_dim` values:
/// the first n_rot dimensions rotate, the rest pass through. Adjacent pairs rotate
/// (x[2i], x[2i+1]); half split rotates (x[i], x[i + n_rot/2]).
/// cos/sin of the rotation angles of one position, n_rot/2 entries each.
void rope_angles(uint32_t position, uint32_t n_rot, float base, float* cos_out, float* sin_out);
void rope_adjacent(float* x, const float* cos, const float* sin, uint32_t n_rot);
void rope_half_split(float* x, const float* cos, const float* sin, uint32_t n_rot);

}  // namespace nibble::detail
