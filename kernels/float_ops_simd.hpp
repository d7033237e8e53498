// FloatOps written once over xsimd's batch<float, Arch>; each ISA file instantiates it
// with the architecture its flags allow. Internal linkage throughout.
#pragma once

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>

#include "kernels/attention_simd.hpp"
#include "kernels/float_ops.hpp"
#include "kernels/gelu_table.hpp"

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

    using I = xsimd::batch<int32_t, Arch>;

    // fp32 -> fp16 bits, rounding to nearest even, for finite inputs below 65504 (what
    // the GELU table sees): the bits of fp32_to_fp16 without a branch per element.
    static I fp16_bits(B x) {
        const I bits = xsimd::bitwise_cast<I>(x);
        const I sign = (bits >> 16) & I(0x8000);
        const I magnitude = bits & I(0x7fffffff);
        // Normal halves: move the exponent bias from 127 to 15 and round off 13 bits,
        // ties to the even one (a carry into the exponent is the right answer).
        const I normal = (magnitude - I(0x38000000) + I(0x0fff) + ((magnitude >> 13) & I(1))) >> 13;
        // Subnormal halves: adding 0.5 makes the float addition itself round to a
        // multiple of 2^-24, the subnormal step; the low bits are then the half.
        const I tiny = xsimd::bitwise_cast<I>(xsimd::abs(x) + B(0.5f)) - I(0x3f000000);
        // All ones where the half is normal (magnitude >= 2^-14), from the sign of a
        // difference: xsimd's integer select does not compile at -O0 for AVX-512BW.
        const I is_normal = (I(0x387fffff) - magnitude) >> 31;
        return sign | (normal & is_normal) | (tiny & ~is_normal);
    }

    static void gelu(float* x, size_t n) {
        const float* table = gelu_fp16_table();
        size_t i = 0;
        for (; i + W <= n; i += W) {
            const B v = load(x + i);
            const auto in_table = (v > B(gelu_table_low)) & (v < B(gelu_table_high));
            // Lanes outside the table (and NaN) read entry 0 and are replaced below.
            const I index = fp16_bits(v) & xsimd::bitwise_cast<I>(xsimd::bitwise_cast(in_table));
            const B looked_up = B::gather(table, index);
            const B y = xsimd::select(v <= B(gelu_table_low), B(0.0f), xsimd::select(in_table, looked_up, v));
            y.store_unaligned(x + i);
        }
        reference_float_ops().gelu(x + i, n - i);
    }

    struct SwapPairs {
        static constexpr unsigned get(unsigned i, unsigned) { return i ^ 1u; }
    };
    struct SpreadLowHalf {
        static constexpr unsigned get(unsigned i, unsigned) { return i / 2; }
    };
    struct SpreadHighHalf {
        static constexpr unsigned get(unsigned i, unsigned n) { return n / 2 + i / 2; }
    };
    struct NegateEven {
        static constexpr unsigned get(unsigned i, unsigned) { return i % 2 == 0 ? 0x80000000u : 0u; }
    };
    using U = xsimd::batch<uint32_t, Arch>;

    // Adjacent pairs, 2W values per step: each angle's cos and sin spread over its pair,
    // the pair swapped, and the sine negated on the first element, so that
    // x0 cos - x1 sin and x1 cos + x0 sin come out of the same multiplies and adds as
    // the reference (IEEE addition commutes, and negation is exact).
    static void rope_adjacent(float* x, const float* cos, const float* sin, size_t n_rot) {
        const auto swap = xsimd::make_batch_constant<U, SwapPairs>();
        const auto low = xsimd::make_batch_constant<U, SpreadLowHalf>();
        const auto high = xsimd::make_batch_constant<U, SpreadHighHalf>();
        const B flip_even = xsimd::bitwise_cast<B>(U(xsimd::make_batch_constant<U, NegateEven>()));
        const size_t pairs = n_rot / 2;
        size_t i = 0;
        for (; i + W <= pairs; i += W) {
            const B c = load(cos + i), s = load(sin + i);
            const B c_halves[2] = {xsimd::swizzle(c, low), xsimd::swizzle(c, high)};
            const B s_halves[2] = {xsimd::swizzle(s, low) ^ flip_even, xsimd::swizzle(s, high) ^ flip_even};
            for (size_t h = 0; h < 2; ++h) {
                float* at = x + 2 * i + h * W;
                const B v = load(at);
                (v * c_halves[h] + xsimd::swizzle(v, swap) * s_halves[h]).store_unaligned(at);
            }
        }
        reference_float_ops().rope_adjacent(x + 2 * i, cos + i, sin + i, n_rot - 2 * i);
    }

    static void rope_half_split(float* x, const float* cos, const float* sin, size_t n_rot) {
        const size_t half = n_rot / 2;
        size_t i = 0;
        for (; i + W <= half; i += W) {
            const B x0 = load(x + i), x1 = load(x + i + half), c = load(cos + i), s = load(sin + i);
            (x0 * c - x1 * s).store_unaligned(x + i);
            (x0 * s + x1 * c).store_unaligned(x + i + half);
        }
        for (; i < half; ++i) {
            const float x0 = x[i], x1 = x[i + half];
            x[i] = x0 * cos[i] - x1 * sin[i];
            x[i + half] = x0 * sin[i] + x1 * cos[i];
        }
    }

    static constexpr FloatOps table() {
        using A = SimdAttentionOps<Arch>;
        return {dot,
                axpy,
                rms_norm,
                layer_norm,
                softmax,
                swiglu,
                add,
                A::dots,
                A::weighted_sum,
                A::dots_f16,
                A::weighted_sum_f16,
                A::dots_q8_0,
                A::weighted_sum_q8_0,
                gelu,
                rope_adjacent,
                rope_half_split};
    }
};

}  // namespace
}  // namespace nibble::kernels
