// The float element-wise work of the forward pass, one set per kernel table: the
// reference loops (kernels/reference/float_ops.cpp) and, for every SIMD table, the same
// operations written once with xsimd (float_ops_simd.hpp).
#pragma once

#include <cstddef>

namespace nibble::kernels {

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
};

/// The scalar definitions (sums of squares and of exponentials in double).
const FloatOps& reference_float_ops() noexcept;

}  // namespace nibble::kernels
