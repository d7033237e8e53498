// The float element-wise work of the forward pass, one set per kernel table: the
// reference loops (kernels/reference/float_ops.cpp) and, for every SIMD table, the same
// operations written once with xsimd (float_ops_simd.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::kernels {

struct BlockQ8_0;

struct FloatOps {
    float (*dot)(const float* a, const float* b, size_t n);
    /// y[i] += a * x[i]
    void (*axpy)(float a, const float* x, float* y, size_t n);
    /// y = x / sqrt(mean(x^2) + eps) * weight
    void (*rms_norm)(const float* x, const float* weight, float* y, size_t n, float eps);
    /// y = (x - mean) / sqrt(var + eps) * weight + bias (bias may be null)
    void (*layer_norm)(const float* x, const float* weight, const float* bias, float* y, size_t n, float eps);
    /// In-place softmax over n values.
    void (*softmax)(float* x, size_t n);
    /// x[i] = silu(gate[i]) * x[i]
    void (*swiglu)(const float* gate, float* x, size_t n);
    /// x[i] += a[i] (+ b[i] when b is not null)
    void (*add)(float* x, const float* a, const float* b, size_t n);
    /// Attention scores of several queries that share one key head:
    /// out[j * out_stride + p] = dot(q + j * q_stride, rows + p * row_stride) over n
    /// values, for j < queries and p < count.
    void (*dots)(const float* q, size_t queries, size_t q_stride, const float* rows, size_t row_stride, size_t count,
                 size_t n, float* out, size_t out_stride);
    /// Their value sums: out[j * out_stride + i] = sum over p < count, in order, of
    /// weights[j * w_stride + p] * rows[p * row_stride + i], for j < queries and i < n.
    void (*weighted_sum)(const float* weights, size_t queries, size_t w_stride, const float* rows, size_t row_stride,
                         size_t count, size_t n, float* out, size_t out_stride);
    /// dots and weighted_sum over the rows of an f16 KV cache (IEEE halves, row_stride
    /// elements apart), converted in registers as they are read: the same sums as the f32
    /// versions over the converted rows, bit for bit.
    void (*dots_f16)(const float* q, size_t queries, size_t q_stride, const uint16_t* rows, size_t row_stride, size_t count,
                     size_t n, float* out, size_t out_stride);
    void (*weighted_sum_f16)(const float* weights, size_t queries, size_t w_stride, const uint16_t* rows, size_t row_stride,
                             size_t count, size_t n, float* out, size_t out_stride);
    /// The same over the rows of a q8_0 KV cache: row p is the row_blocks blocks at
    /// rows + p * row_blocks, and the n values read start at its element `first` (a head
    /// inside the row, which need not start or end on a block). Each value is d * q,
    /// exact in f32, so again the f32 versions' sums over the dequantized rows, bit for bit.
    void (*dots_q8_0)(const float* q, size_t queries, size_t q_stride, const BlockQ8_0* rows, size_t row_blocks, size_t first,
                      size_t count, size_t n, float* out, size_t out_stride);
    void (*weighted_sum_q8_0)(const float* weights, size_t queries, size_t w_stride, const BlockQ8_0* rows, size_t row_blocks,
                              size_t first, size_t count, size_t n, float* out, size_t out_stride);
    /// In-place GELU through the fp16 table (gelu_table.hpp), as the reference computes it.
    void (*gelu)(float* x, size_t n);
    /// Rotary embedding of one head, in place: the first n_rot values turn by the angles
    /// whose cos and sin (n_rot / 2 of each) are given, the rest pass through. Adjacent
    /// pairs turn (x[2i], x[2i+1]); half split turns (x[i], x[i + n_rot / 2]).
    void (*rope_adjacent)(float* x, const float* cos, const float* sin, size_t n_rot);
    void (*rope_half_split)(float* x, const float* cos, const float* sin, size_t n_rot);
};

/// The scalar definitions (sums of squares and of exponentials in double).
const FloatOps& reference_float_ops() noexcept;

}  // namespace nibble::kernels
