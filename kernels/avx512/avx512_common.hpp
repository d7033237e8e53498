// AVX-512 matrix kernels over packed panels of 16 rows, 8 tokens per tile, written once
// for CPUs with VNNI (vpdpbusd: a 4-way u8 x i8 dot in one instruction) and without
// (maddubs + madd). Activation quantization and the single-row dot products are the
// AVX2 table's: every AVX-512 CPU has AVX2, and those are not where the time goes.
// Internal linkage throughout: each file compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "kernels/kernels.hpp"
#include "kernels/float_gemm.hpp"
#include "kernels/float_ops_simd.hpp"
#include "kernels/ktile_gemm.hpp"
#include "kernels/packed_gemm.hpp"
#include "kernels/packed_iq4xs_gemm.hpp"
#include "kernels/packed_k_gemm.hpp"

namespace nibble::kernels {
namespace {

template <bool Vnni>
struct Avx512Vec {
    static constexpr size_t rows = 16;
    static constexpr int tokens = 8;
    using I = __m512i;
    using F = __m512;
    static I load(const std::byte* p) { return _mm512_loadu_si512(p); }
    static I low_nibbles(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0f)); }
    static I high_nibbles(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f)); }
    static I set1(int32_t v) { return _mm512_set1_epi32(v); }
    static I broadcast4(const int8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm512_set1_epi32(v);
    }
    static I dot(I acc, I u, I s) {
        if constexpr (Vnni) {
            return _mm512_dpbusd_epi32(acc, u, s);
        } else {  // exact while u * s pair sums fit int16: nibbles, and |w| x moved signs for q8_0
            return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
        }
    }
    static I add(I a, I b) { return _mm512_add_epi32(a, b); }
    static I mul32(I a, I b) { return _mm512_mullo_epi32(a, b); }
    static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
    template <int Bits>
    static I shift_left(I v) { return _mm512_slli_epi32(v, Bits); }
    static I broadcast_i32(const int32_t* p) { return _mm512_set1_epi32(*p); }
    static constexpr bool pair_sums = !Vnni;
    static constexpr bool unsigned_bytes = Vnni;  // vpdpbusd takes 255; maddubs would saturate
    static I flip_sign_bits(I v) { return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80))); }
    // Signed x signed: |w| times s with w's sign moved onto s (|w| <= 128, |s| <= 127).
    static I dot_signed(I acc, I w, I s) {
        const I moved = _mm512_mask_sub_epi8(s, _mm512_movepi8_mask(w), _mm512_setzero_si512(), s);
        return dot(acc, _mm512_abs_epi8(w), moved);
    }
    static I zero() { return _mm512_setzero_si512(); }
    static I pair_products(I u, I s) { return _mm512_maddubs_epi16(u, s); }
    static I add16(I a, I b) { return _mm512_add_epi16(a, b); }
    static I sub16(I a, I b) { return _mm512_sub_epi16(a, b); }
    // Signed bytes multiplied with maddubs: |w| as the unsigned side, w's signs moved onto
    // s (AVX-512 has no byte sign instruction: a masked negation).
    static I magnitude(I w) { return _mm512_abs_epi8(w); }
    static I sign_of(I s, I w) { return _mm512_mask_sub_epi8(s, _mm512_movepi8_mask(w), _mm512_setzero_si512(), s); }
    static I load_u16_lanes(const std::byte* p) { return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static void keep_in_register(I& v) { asm("" : "+v"(v)); }
    static I widen_pairs(I v) { return _mm512_madd_epi16(v, _mm512_set1_epi16(1)); }
    template <int Bits>
    static I shift_right_arith32(I v) { return _mm512_srai_epi32(v, Bits); }
    template <int Bits>
    static I shift_right_arith16(I v) { return _mm512_srai_epi16(v, Bits); }
    template <int Bits>
    static I shift_left16(I v) { return _mm512_slli_epi16(v, Bits); }
    static I grid16(const int8_t* values) {
        return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values)));
    }
    static I lookup16(I table, I index) { return _mm512_shuffle_epi8(table, index); }
    static I and_(I a, I b) { return _mm512_and_si512(a, b); }
    static I or_(I a, I b) { return _mm512_or_si512(a, b); }
    template <int Bits>
    static I shift_right32(I v) { return _mm512_srli_epi32(v, Bits); }
    static I madd16(I a, I b) { return _mm512_madd_epi16(a, b); }
    // acc + madd16(a, b): one vpdpwssd with VNNI.
    static I madd16_add(I acc, I a, I b) {
        if constexpr (Vnni) return _mm512_dpwssd_epi32(acc, a, b);
        else return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
    }
    static F zero_f() { return _mm512_setzero_ps(); }
    static F set1_f(float v) { return _mm512_set1_ps(v); }
    static F load_f(const float* p) { return _mm512_loadu_ps(p); }
    static F add_f(F a, F b) { return _mm512_add_ps(a, b); }
    static F load_half(const std::byte* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static F to_float(I v) { return _mm512_cvtepi32_ps(v); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static void prefetch(const std::byte* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
    static void prefetch_l2(const std::byte* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T2); }
    static void store_f(float* p, F v) { _mm512_storeu_ps(p, v); }
    static void store(uint8_t* p, I v) { _mm512_storeu_si512(p, v); }
};

// Float tiles of 4 rows x 6 tokens: 24 accumulators of the 32 registers.
struct Avx512Float {
    static constexpr size_t lanes = 16;
    static constexpr int row_tile = 4, token_tile = 6;
    using F = __m512;
    static F zero() { return _mm512_setzero_ps(); }
    static F load(const float* p) { return _mm512_loadu_ps(p); }
    static F load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static F load(const Bf16Bits* p) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
    }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static float sum(F v) { return _mm512_reduce_add_ps(v); }
};

constexpr FloatOps avx512_float_ops = SimdFloatOps<xsimd::avx512bw>::table();

template <bool Vnni>
KernelTable make_avx512_table(const char* name) {
    using V = Avx512Vec<Vnni>;
    KernelTable t = avx2_kernels();
    t.isa = name;
    t.panel_rows = V::rows;
    t.f32.mul = FloatGemm<Avx512Float, float>::mul;
    t.f16.mul = FloatGemm<Avx512Float, uint16_t>::mul;
    t.bf16.mul = FloatGemm<Avx512Float, Bf16Bits>::mul;
    t.q4_0.mul_packed = PackedGemm<V, TensorType::q4_0>::mul;
    t.q4_1.mul_packed = PackedGemm<V, TensorType::q4_1>::mul;
    t.q4_2.mul_packed = PackedGemm<V, TensorType::q4_2>::mul;
    t.q8_0.mul_packed = PackedGemm<V, TensorType::q8_0>::mul;
    t.q5_0.mul_packed = PackedGemm<V, TensorType::q5_0>::mul;
    t.q5_1.mul_packed = PackedGemm<V, TensorType::q5_1>::mul;
    t.iq4_nl.mul_packed = PackedGemm<V, TensorType::iq4_nl>::mul;
    t.iq4_xs.mul_packed = PackedIQ4XSGemm<V>::mul;
    t.q2_K.mul = KTileGemm<V, TensorType::q2_K, avx2_rows::dot_q2_K>::mul;
    t.q2_K.mul_packed = PackedQ236KGemm<V, TensorType::q2_K>::mul;
    t.q3_K.mul = KTileGemm<V, TensorType::q3_K, avx2_rows::dot_q3_K>::mul;
    t.q3_K.mul_packed = PackedQ236KGemm<V, TensorType::q3_K>::mul;
    t.q4_K.mul = KTileGemm<V, TensorType::q4_K, avx2_rows::dot_q4_K>::mul;
    t.q4_K.mul_packed = PackedQ45KGemm<V, TensorType::q4_K>::mul;
    t.q5_K.mul = KTileGemm<V, TensorType::q5_K, avx2_rows::dot_q5_K>::mul;
    t.q5_K.mul_packed = PackedQ45KGemm<V, TensorType::q5_K>::mul;
    t.q6_K.mul = KTileGemm<V, TensorType::q6_K, avx2_rows::dot_q6_K>::mul;
    t.q6_K.mul_packed = PackedQ236KGemm<V, TensorType::q6_K>::mul;
    t.ops = &avx512_float_ops;
    return t;
}

}  // namespace
}  // namespace nibble::kernels
