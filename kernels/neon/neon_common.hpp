// NEON kernels written once over an int8 dot-product primitive: widening multiplies on
// plain ARMv8 (neon.cpp), SDOT where the CPU has the dot-product extension
// (neon_dotprod.cpp). Everything here has internal linkage: each file compiles its own
// copy with its own target flags.
#pragma once

#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/float_gemm.hpp"
#include "kernels/float_ops_simd.hpp"
#include "kernels/kernels.hpp"
#include "kernels/ktile_gemm.hpp"
#include "kernels/packed_gemm.hpp"
#include "kernels/packed_iq4xs_gemm.hpp"
#include "kernels/packed_k_gemm.hpp"
#include "kernels/reference/reference_kernels.hpp"
#include "kernels/rows_by_dot.hpp"

namespace nibble::kernels {
namespace {

constexpr FloatOps neon_float_ops = SimdFloatOps<xsimd::neon64>::table();

// Float tiles of 4 rows x 6 tokens: 24 accumulators of the 32 registers.
struct NeonFloat {
    static constexpr size_t lanes = 4;
    static constexpr int row_tile = 4, token_tile = 6;
    using F = float32x4_t;
    static F zero() { return vdupq_n_f32(0.0f); }
    static F load(const float* p) { return vld1q_f32(p); }
    static F load(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
    static F load(const Bf16Bits* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16)); }
    static F fmadd(F a, F b, F c) { return vfmaq_f32(c, a, b); }
    static float sum(F v) { return vaddvq_f32(v); }
};

// Panels of 4 rows (one int32 lane each) x 8 tokens for the matrix kernels
// (packed_gemm.hpp): SDOT where the CPU has it, otherwise widening multiplies whose
// adjacent pairs are summed in 16 bits (exact for nibbles, as with x86's maddubs).
template <class Dot, bool DotProd>
struct NeonVec {
    static constexpr size_t rows = 4;
    static constexpr int tokens = 8;
    using I = int32x4_t;
    using F = float32x4_t;
    static int8x16_t bytes(I v) { return vreinterpretq_s8_s32(v); }
    static uint8x16_t ubytes(I v) { return vreinterpretq_u8_s32(v); }
    static I load(const std::byte* p) { return vreinterpretq_s32_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(p))); }
    static I low_nibbles(I v) { return vreinterpretq_s32_u8(vandq_u8(ubytes(v), vdupq_n_u8(0x0f))); }
    static I high_nibbles(I v) { return vreinterpretq_s32_u8(vshrq_n_u8(ubytes(v), 4)); }
    static I set1(int32_t v) { return vdupq_n_s32(v); }
    static I broadcast4(const int8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return vdupq_n_s32(v);
    }
    static I broadcast_i32(const int32_t* p) { return vld1q_dup_s32(p); }
    static I add(I a, I b) { return vaddq_s32(a, b); }
    static I sub(I a, I b) { return vsubq_s32(a, b); }
    template <int Bits>
    static I shift_left(I v) { return vshlq_n_s32(v, Bits); }
    static I zero() { return vdupq_n_s32(0); }
    // Lane r's four products summed in two 16-bit pairs, kept in row order.
    static I pair_products(I u, I s) {
        const int16x8_t low = vmull_s8(vget_low_s8(bytes(u)), vget_low_s8(bytes(s)));
        const int16x8_t high = vmull_high_s8(bytes(u), bytes(s));
        return vreinterpretq_s32_s16(vpaddq_s16(low, high));
    }
    static I add16(I a, I b) { return vreinterpretq_s32_s16(vaddq_s16(vreinterpretq_s16_s32(a), vreinterpretq_s16_s32(b))); }
    static I sub16(I a, I b) { return vreinterpretq_s32_s16(vsubq_s16(vreinterpretq_s16_s32(a), vreinterpretq_s16_s32(b))); }
    // pair_products multiplies signed bytes as they are.
    static I magnitude(I w) { return w; }
    static I sign_of(I s, I) { return s; }
    static I load_u16_lanes(const std::byte* p) { return vreinterpretq_s32_u32(vmovl_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)))); }
    static I widen_pairs(I v) { return vpaddlq_s16(vreinterpretq_s16_s32(v)); }
    template <int Bits>
    static I shift_right_arith32(I v) { return vshrq_n_s32(v, Bits); }
    template <int Bits>
    static I shift_right_arith16(I v) { return vreinterpretq_s32_s16(vshrq_n_s16(vreinterpretq_s16_s32(v), Bits)); }
    template <int Bits>
    static I shift_left16(I v) { return vreinterpretq_s32_s16(vshlq_n_s16(vreinterpretq_s16_s32(v), Bits)); }
    static I grid16(const int8_t* values) { return vreinterpretq_s32_s8(vld1q_s8(values)); }
    static I lookup16(I table, I index) { return vreinterpretq_s32_s8(vqtbl1q_s8(bytes(table), ubytes(index))); }
    static I and_(I a, I b) { return vandq_s32(a, b); }
    static I or_(I a, I b) { return vorrq_s32(a, b); }
    template <int Bits>
    static I shift_right32(I v) {
        if constexpr (Bits == 0) return v; else return vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(v), Bits));
    }
    // Lane r: the sum of its two 16-bit halves of a times those of b.
    static I madd16(I a, I b) {
        const int16x8_t x = vreinterpretq_s16_s32(a), y = vreinterpretq_s16_s32(b);
        return vpaddq_s32(vmull_s16(vget_low_s16(x), vget_low_s16(y)), vmull_high_s16(x, y));
    }
    static I madd16_add(I acc, I a, I b) { return vaddq_s32(acc, madd16(a, b)); }
    static constexpr bool pair_sums = !DotProd;
    static constexpr bool unsigned_bytes = false;  // SDOT and SMULL are signed x signed
    static I dot(I acc, I u, I s) {
        if constexpr (DotProd) {
            return Dot::accumulate(acc, bytes(u), bytes(s));
        } else {  // |w| <= 128, |s| <= 127: a pair sums to at most 32512
            return vaddq_s32(acc, widen_pairs(pair_products(u, s)));
        }
    }
    static I flip_sign_bits(I v) { return vreinterpretq_s32_u8(veorq_u8(ubytes(v), vdupq_n_u8(0x80))); }
    static I dot_signed(I acc, I w, I s) { return dot(acc, w, s); }
    static void keep_in_register(I& v) { asm("" : "+w"(v)); }
    static F zero_f() { return vdupq_n_f32(0.0f); }
    static F set1_f(float v) { return vdupq_n_f32(v); }
    static F load_f(const float* p) { return vld1q_f32(p); }
    static F add_f(F a, F b) { return vaddq_f32(a, b); }
    static F load_half(const std::byte* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)))); }
    static F to_float(I v) { return vcvtq_f32_s32(v); }
    static F mul(F a, F b) { return vmulq_f32(a, b); }
    static F fmadd(F a, F b, F c) { return vfmaq_f32(c, a, b); }
    static void prefetch(const std::byte* p) { __builtin_prefetch(p); }
    static void prefetch_l2(const std::byte* p) { __builtin_prefetch(p, 0, 2); }  // PRFM PLDL2KEEP
    static void store_f(float* p, F v) { vst1q_f32(p, v); }
    static void store(uint8_t* p, I v) { vst1q_u8(p, vreinterpretq_u8_s32(v)); }
};

// The single-row dots: int32 sums are exact, and blocks are accumulated in order in
// float, so they give the scalar reference's results bit for bit.
template <class Dot, bool DotProd>
struct NeonKernels {
    static void quantize_activations_q8_0(const float* x, void* out, size_t n) {
        auto* blocks = static_cast<BlockQ8_0*>(out);
        for (size_t b = 0; b < n / qk8_0; ++b) {
            float32x4_t v[8];
            float32x4_t amax = vdupq_n_f32(0.0f);
            for (int i = 0; i < 8; ++i) {
                v[i] = vld1q_f32(x + b * qk8_0 + 4 * static_cast<size_t>(i));
                amax = vmaxq_f32(amax, vabsq_f32(v[i]));
            }
            const float d = vmaxvq_f32(amax) / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            blocks[b].d = fp32_to_fp16(d);
            for (int i = 0; i < 8; i += 2) {
                const int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(v[i], id));  // round half to even
                const int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(v[i + 1], id));
                const int16x8_t q16 = vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1));
                vst1_s8(blocks[b].qs + 4 * i, vqmovn_s16(q16));
            }
        }
    }

    static void convert_activations_f16(const float* x, void* out, size_t n) {
        auto* h = static_cast<uint16_t*>(out);
        for (size_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(x[i]);
    }

    static float dot_f32(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const float*>(weights);
        const auto* a = static_cast<const float*>(activations);
        float32x4_t acc = vdupq_n_f32(0.0f);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, vld1q_f32(w + i), vld1q_f32(a + i));
        float sum = vaddvq_f32(acc);
        for (; i < n; ++i) sum += w[i] * a[i];
        return sum;
    }

    static float dot_f16(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const uint16_t*>(weights);
        const auto* a = static_cast<const uint16_t*>(activations);
        float32x4_t acc = vdupq_n_f32(0.0f);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const float32x4_t wv = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + i)));
            const float32x4_t av = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a + i)));
            acc = vfmaq_f32(acc, wv, av);
        }
        float sum = vaddvq_f32(acc);
        for (; i < n; ++i) sum += fp16_to_fp32(w[i]) * fp16_to_fp32(a[i]);
        return sum;
    }

    static float dot_q4_0(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const BlockQ4_0*>(weights);
        const auto* a = static_cast<const BlockQ8_0*>(activations);
        float sum = 0.0f;
        for (size_t b = 0; b < n / qk4_0; ++b) {
            const uint8x16_t packed = vld1q_u8(w[b].qs);
            const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
            const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(packed, 4)), vdupq_n_s8(8));
            int32x4_t acc = Dot::accumulate(vdupq_n_s32(0), lo, vld1q_s8(a[b].qs));
            acc = Dot::accumulate(acc, hi, vld1q_s8(a[b].qs + 16));
            sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d));
        }
        return sum;
    }

    static float dot_q4_1(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const BlockQ4_1*>(weights);
        const auto* a = static_cast<const BlockQ8_0*>(activations);
        float sum = 0.0f;
        for (size_t b = 0; b < n / qk4_1; ++b) {
            const uint8x16_t packed = vld1q_u8(w[b].qs);
            const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f)));
            const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(packed, 4));
            const int8x16_t y0 = vld1q_s8(a[b].qs), y1 = vld1q_s8(a[b].qs + 16);
            const int32_t dot = vaddvq_s32(Dot::accumulate(Dot::accumulate(vdupq_n_s32(0), lo, y0), hi, y1));
            const int32_t act = vaddlvq_s8(y0) + vaddlvq_s8(y1);
            const float da = fp16_to_fp32(a[b].d);
            sum += static_cast<float>(dot) * (fp16_to_fp32(w[b].d) * da) + static_cast<float>(act) * (fp16_to_fp32(w[b].m) * da);
        }
        return sum;
    }

    static float dot_q4_2(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const BlockQ4_2*>(weights);
        const auto* a = static_cast<const BlockQ8_0*>(activations);
        float sum = 0.0f;
        for (size_t b = 0; b < n / qk4_2; ++b) {
            const uint8x8_t packed = vld1_u8(w[b].qs);
            const uint8x8x2_t pairs = vzip_u8(vand_u8(packed, vdup_n_u8(0x0f)), vshr_n_u8(packed, 4));
            const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(vcombine_u8(pairs.val[0], pairs.val[1])), vdupq_n_s8(8));
            const BlockQ8_0& act = a[b / 2];
            const int32x4_t acc = Dot::accumulate(vdupq_n_s32(0), q, vld1q_s8(act.qs + (b % 2) * qk4_2));
            sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(act.d));
        }
        return sum;
    }

    static float dot_q8_0(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const BlockQ8_0*>(weights);
        const auto* a = static_cast<const BlockQ8_0*>(activations);
        float sum = 0.0f;
        for (size_t b = 0; b < n / qk8_0; ++b) {
            int32x4_t acc = Dot::accumulate(vdupq_n_s32(0), vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
            acc = Dot::accumulate(acc, vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
            sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d));
        }
        return sum;
    }

    // q5_0 / q5_1: nibbles plus the fifth bits of qh as bit 4.
    template <bool HasMin>
    static float dot_q5(const void* weights, const void* activations, size_t n) {
        using Block = std::conditional_t<HasMin, BlockQ5_1, BlockQ5_0>;
        const auto* w = static_cast<const Block*>(weights);
        const auto* a = static_cast<const BlockQ8_0*>(activations);
        const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
        float sum = 0.0f;
        for (size_t b = 0; b < n / qk5_0; ++b) {
            uint32_t qh;
            std::memcpy(&qh, w[b].qh, 4);
            // bytes 0..15 take bits 0..15, bytes 16..31 bits 16..31
            const uint8x16_t spread_lo = vcombine_u8(vdup_n_u8(static_cast<uint8_t>(qh)), vdup_n_u8(static_cast<uint8_t>(qh >> 8)));
            const uint8x16_t spread_hi = vcombine_u8(vdup_n_u8(static_cast<uint8_t>(qh >> 16)), vdup_n_u8(static_cast<uint8_t>(qh >> 24)));
            const uint8x16_t h_lo = vandq_u8(vtstq_u8(spread_lo, bit), vdupq_n_u8(16));
            const uint8x16_t h_hi = vandq_u8(vtstq_u8(spread_hi, bit), vdupq_n_u8(16));
            const uint8x16_t packed = vld1q_u8(w[b].qs);
            int8x16_t lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(packed, vdupq_n_u8(0x0f)), h_lo));
            int8x16_t hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(packed, 4), h_hi));
            if constexpr (!HasMin) {
                lo = vsubq_s8(lo, vdupq_n_s8(16));
                hi = vsubq_s8(hi, vdupq_n_s8(16));
            }
            const int8x16_t y0 = vld1q_s8(a[b].qs), y1 = vld1q_s8(a[b].qs + 16);
            const int32_t dot = vaddvq_s32(Dot::accumulate(Dot::accumulate(vdupq_n_s32(0), lo, y0), hi, y1));
            const float da = fp16_to_fp32(a[b].d);
            sum += static_cast<float>(dot) * (fp16_to_fp32(w[b].d) * da);
            if constexpr (HasMin) sum += static_cast<float>(vaddlvq_s8(y0) + vaddlvq_s8(y1)) * (fp16_to_fp32(w[b].m) * da);
        }
        return sum;
    }
    static float dot_q5_0(const void* w, const void* a, size_t n) { return dot_q5<false>(w, a, n); }
    static float dot_q5_1(const void* w, const void* a, size_t n) { return dot_q5<true>(w, a, n); }

    // 16 packed nibbles -> the iq4 grid values of elements 0..15 and 16..31.
    static void iq4_lookup(const uint8_t* qs, int8x16_t& lo, int8x16_t& hi) {
        const int8x16_t values = vld1q_s8(iq4_values);
        const uint8x16_t packed = vld1q_u8(qs);
        lo = vqtbl1q_s8(values, vandq_u8(packed, vdupq_n_u8(0x0f)));
        hi = vqtbl1q_s8(values, vshrq_n_u8(packed, 4));
    }

    static float dot_iq4_nl(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const BlockIQ4_NL*>(weights);
        const auto* a = static_cast<const BlockQ8_0*>(activations);
        float sum = 0.0f;
        for (size_t b = 0; b < n / 32; ++b) {
            int8x16_t lo, hi;
            iq4_lookup(w[b].qs, lo, hi);
            const int32x4_t acc = Dot::accumulate(Dot::accumulate(vdupq_n_s32(0), lo, vld1q_s8(a[b].qs)), hi, vld1q_s8(a[b].qs + 16));
            sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d));
        }
        return sum;
    }

    static float dot_iq4_xs(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const BlockIQ4_XS*>(weights);
        const auto* a = static_cast<const BlockQ8_K*>(activations);
        float sum = 0.0f;
        for (size_t b = 0; b < n / qk_k; ++b) {
            int32_t isum = 0;
            for (int s = 0; s < 8; ++s) {
                int8x16_t lo, hi;
                iq4_lookup(w[b].qs + 16 * s, lo, hi);
                const int8_t* q8 = a[b].qs + 32 * s;
                const int32x4_t acc = Dot::accumulate(Dot::accumulate(vdupq_n_s32(0), lo, vld1q_s8(q8)), hi, vld1q_s8(q8 + 16));
                isum += (iq4_xs_scale(w[b], s) - 32) * vaddvq_s32(acc);
            }
            sum = std::fma(static_cast<float>(isum), fp16_to_fp32(w[b].d) * a[b].d, sum);  // fused, as the panel kernel
        }
        return sum;
    }

    static float dot_bf16(const void* weights, const void* activations, size_t n) {
        const auto* w = static_cast<const uint16_t*>(weights);
        const auto* a = static_cast<const uint16_t*>(activations);
        float32x4_t acc = vdupq_n_f32(0.0f);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const float32x4_t wv = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(w + i), 16));
            const float32x4_t av = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(a + i), 16));
            acc = vfmaq_f32(acc, wv, av);
        }
        float sum = vaddvq_f32(acc);
        for (; i < n; ++i) sum += bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]);
        return sum;
    }

    using V = NeonVec<Dot, DotProd>;

    // The K types run the tiled kernel for every token count, one row for a row dot.
    template <TensorType Type>
    static float dot_k(const void* weights, const void* activations, size_t n) {
        float y = 0.0f;
        KTileGemm<V, Type>::mul(static_cast<const std::byte*>(weights), 0, 1, static_cast<const std::byte*>(activations), 0, 1, n, &y, 1);
        return y;
    }

    static constexpr KernelTable table(const char* name) {
        return {
            .isa = name,
            .quantize_activations_q8_0 = quantize_activations_q8_0,
            .quantize_activations_q8_K = reference::quantize_activations_q8_K,
            .convert_activations_f16 = convert_activations_f16,
            .convert_activations_bf16 = reference::convert_activations_bf16,
            .f32 = {dot_f32, FloatGemm<NeonFloat, float>::mul},
            .f16 = {dot_f16, FloatGemm<NeonFloat, uint16_t>::mul},
            .bf16 = {dot_bf16, FloatGemm<NeonFloat, Bf16Bits>::mul},
            .q4_0 = {dot_q4_0, rows_by_dot<dot_q4_0>, PackedGemm<V, TensorType::q4_0>::mul},
            .q4_1 = {dot_q4_1, rows_by_dot<dot_q4_1>, PackedGemm<V, TensorType::q4_1>::mul},
            .q4_2 = {dot_q4_2, rows_by_dot<dot_q4_2>, PackedGemm<V, TensorType::q4_2>::mul},
            .q5_0 = {dot_q5_0, rows_by_dot<dot_q5_0>, PackedGemm<V, TensorType::q5_0>::mul},
            .q5_1 = {dot_q5_1, rows_by_dot<dot_q5_1>, PackedGemm<V, TensorType::q5_1>::mul},
            .q8_0 = {dot_q8_0, rows_by_dot<dot_q8_0>, PackedGemm<V, TensorType::q8_0>::mul},
            .q2_K = {dot_k<TensorType::q2_K>, KTileGemm<V, TensorType::q2_K>::mul, PackedQ236KGemm<V, TensorType::q2_K>::mul},
            .q3_K = {dot_k<TensorType::q3_K>, KTileGemm<V, TensorType::q3_K>::mul, PackedQ236KGemm<V, TensorType::q3_K>::mul},
            .q4_K = {dot_k<TensorType::q4_K>, KTileGemm<V, TensorType::q4_K>::mul, PackedQ45KGemm<V, TensorType::q4_K>::mul},
            .q5_K = {dot_k<TensorType::q5_K>, KTileGemm<V, TensorType::q5_K>::mul, PackedQ45KGemm<V, TensorType::q5_K>::mul},
            .q6_K = {dot_k<TensorType::q6_K>, KTileGemm<V, TensorType::q6_K>::mul, PackedQ236KGemm<V, TensorType::q6_K>::mul},
            .iq4_nl = {dot_iq4_nl, rows_by_dot<dot_iq4_nl>, PackedGemm<V, TensorType::iq4_nl>::mul},
            .iq4_xs = {dot_iq4_xs, rows_by_dot<dot_iq4_xs>, PackedIQ4XSGemm<V>::mul},
            .panel_rows = V::rows,
            .ops = &neon_float_ops,
        };
    }
};

}  // namespace
}  // namespace nibble::kernels
