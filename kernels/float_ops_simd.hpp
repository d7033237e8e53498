// FloatOps written once over xsimd's batch<float, Arch>; each ISA file instantiates it
// with the architecture its flags allow. Internal linkage throughout.
#pragma once

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>

#include "kernels/float_ops.hpp"

namespace nibble::kernels {
namespace {

template <class Arch>
struct SimdFloatOps {
    using B = xsimd::batch<float, Arch>;
    static constexpr size_t W = B::size;

    static B load(const float* p) { return B::load_unaligned(p); }

    static float dot(const float* a, const float* b, size_t n) {
        B acc0(0.0f), acc1(0.0f);
        size_t i = 0;
        for (; i + 2 * W <= n; i += 2 * W) {
            acc0 = xsimd::fma(load(a + i), load(b + i), acc0);
            acc1 = xsimd::fma(load(a + i + W), load(b + i + W), acc1);
        }
        for (; i + W <= n; i += W) acc0 = xsimd::fma(load(a + i), load(b + i), acc0);
        float sum = xsimd::hadd(acc0 + acc1);
        for (; i < n; ++i) sum += a[i] * b[i];
        return sum;
    }

    static void axpy(float a, const float* x, float* y, size_t n) {
        const B av(a);
        size_t i = 0;
        for (; i + W <= n; i += W) xsimd::fma(av, load(x + i), load(y + i)).store_unaligned(y + i);
        for (; i < n; ++i) y[i] += a * x[i];
    }

    static float sum_of_squares(const float* x, size_t n) { return dot(x, x, n); }

    static void scale_into(const float* x, float shift, float scale, const float* weight, const float* bias, float* y, size_t n) {
        const B sh(shift), sc(scale);
        size_t i = 0;
        for (; i + W <= n; i += W) {
            B v = (load(x + i) - sh) * sc * load(weight + i);
            if (bias != nullptr) v += load(bias + i);
            v.store_unaligned(y + i);
        }
        for (; i < n; ++i) {
            const float v = (x[i] - shift) * scale * weight[i];
            y[i] = bias != nullptr ? v + bias[i] : v;
        }
    }

    static void rms_norm(const float* x, const float* weight, float* y, size_t n, float eps) {
        const float scale = 1.0f / std::sqrt(sum_of_squares(x, n) / static_cast<float>(n) + eps);
        scale_into(x, 0.0f, scale, weight, nullptr, y, n);
    }

    static void layer_norm(const float* x, const float* weight, const float* bias, float* y, size_t n, float eps) {
        B acc(0.0f);
        size_t i = 0;
        for (; i + W <= n; i += W) acc += load(x + i);
        float sum = xsimd::hadd(acc);
        for (; i < n; ++i) sum += x[i];
        const float mean = sum / static_cast<float>(n);
        const B m(mean);
        B var_acc(0.0f);
        for (i = 0; i + W <= n; i += W) {
            const B d = load(x + i) - m;
            var_acc = xsimd::fma(d, d, var_acc);
        }
        float var = xsimd::hadd(var_acc);
        for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
        const float scale = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
        scale_into(x, mean, scale, weight, bias, y, n);
    }

    static void softmax(float* x, size_t n) {
        B max_acc(-INFINITY);
        size_t i = 0;
        for (; i + W <= n; i += W) max_acc = xsimd::max(max_acc, load(x + i));
        alignas(64) float lanes[W];
        max_acc.store_aligned(lanes);
        float max = *std::max_element(lanes, lanes + W);
        for (; i < n; ++i) max = std::max(max, x[i]);
        const B m(max);
        B sum_acc(0.0f);
        for (i = 0; i + W <= n; i += W) {
            const B e = xsimd::exp(load(x + i) - m);
            e.store_unaligned(x + i);
            sum_acc += e;
        }
        float sum = xsimd::hadd(sum_acc);
        for (; i < n; ++i) {
            x[i] = std::exp(x[i] - max);
            sum += x[i];
        }
        const float inv = 1.0f / sum;
        const B iv(inv);
        for (i = 0; i + W <= n; i += W) (load(x + i) * iv).store_unaligned(x + i);
        for (; i < n; ++i) x[i] *= inv;
    }

    static void swiglu(const float* gate, float* x, size_t n) {
        const B one(1.0f);
        size_t i = 0;
        for (; i + W <= n; i += W) {
            const B g = load(gate + i);
            (load(x + i) * (g / (one + xsimd::exp(-g)))).store_unaligned(x + i);
        }
        for (; i < n; ++i) x[i] *= gate[i] / (1.0f + std::exp(-gate[i]));
    }

    static void add(float* x, const float* a, const float* b, size_t n) {
        size_t i = 0;
        for (; i + W <= n; i += W) {
            B v = load(x + i) + load(a + i);
            if (b != nullptr) v += load(b + i);
            v.store_unaligned(x + i);
        }
        for (; i < n; ++i) x[i] += b != nullptr ? a[i] + b[i] : a[i];
    }

    // W rows at a time: W accumulators, reduced together by haddp (a transpose-and-add)
    // instead of W separate horizontal sums.
    static void dots(const float* q, const float* rows, size_t row_stride, size_t count, size_t n, float* out) {
        size_t p = 0;
        if (n % W == 0) {
            for (; p + W <= count; p += W) {
                B acc[W];
                for (size_t j = 0; j < W; ++j) acc[j] = B(0.0f);
                for (size_t i = 0; i < n; i += W) {
                    const B qv = load(q + i);
                    for (size_t j = 0; j < W; ++j) acc[j] = xsimd::fma(qv, load(rows + (p + j) * row_stride + i), acc[j]);
                }
                xsimd::haddp(acc).store_unaligned(out + p);
            }
        }
        for (; p < count; ++p) out[p] = dot(q, rows + p * row_stride, n);
    }

    // Columns in strips of K vectors, every row added into the strip before it is stored.
    template <size_t K>
    static void weighted_strip(const float* weights, const float* rows, size_t row_stride, size_t count, float* out) {
        B acc[K];
        for (size_t k = 0; k < K; ++k) acc[k] = B(0.0f);
        for (size_t p = 0; p < count; ++p) {
            const B w(weights[p]);
            const float* row = rows + p * row_stride;
            for (size_t k = 0; k < K; ++k) acc[k] = xsimd::fma(w, load(row + k * W), acc[k]);
        }
        for (size_t k = 0; k < K; ++k) acc[k].store_unaligned(out + k * W);
    }

    // Wide strips first: each row's weight is broadcast once for more columns, and eight
    // independent sums keep the adds from waiting on each other (a head of 64 is one strip
    // on AVX2).
    static void weighted_sum(const float* weights, const float* rows, size_t row_stride, size_t count, size_t n, float* out) {
        size_t i = 0;
        for (; i + 8 * W <= n; i += 8 * W) weighted_strip<8>(weights, rows + i, row_stride, count, out + i);
        for (; i + 4 * W <= n; i += 4 * W) weighted_strip<4>(weights, rows + i, row_stride, count, out + i);
        for (; i + W <= n; i += W) weighted_strip<1>(weights, rows + i, row_stride, count, out + i);
        for (; i < n; ++i) {
            float sum = 0.0f;
            for (size_t p = 0; p < count; ++p) sum += weights[p] * rows[p * row_stride + i];
            out[i] = sum;
        }
    }

    static constexpr FloatOps table() { return {dot, axpy, rms_norm, layer_norm, softmax, swiglu, add, dots, weighted_sum}; }
};

}  // namespace
}  // namespace nibble::kernels
