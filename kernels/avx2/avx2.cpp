// AVX2 + FMA + F16C kernels (Haswell and later, Zen). Compiled with those flags only in
// this file; selected at run time when the CPU has all three.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/kernels.hpp"
#include "kernels/float_gemm.hpp"
#include "kernels/float_ops_simd.hpp"
#include "kernels/ktile_gemm.hpp"
#include "kernels/packed_gemm.hpp"
#include "kernels/packed_iq4xs_gemm.hpp"
#include "kernels/packed_k_gemm.hpp"
#include "kernels/rows_by_dot.hpp"

namespace nibble::kernels {
namespace {

inline float hsum(__m256 v) {
    const __m128 pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 two = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

inline float half(uint16_t h) { return _cvtsh_ss(h); }

// 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high (split order).
inline __m256i split_nibbles(const uint8_t* qs) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i bytes = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(bytes, _mm256_set1_epi8(0x0f));
}

// 8 bytes of packed nibbles -> 16 bytes in adjacent-pair order (q4_2).
inline __m128i pair_nibbles(const uint8_t* qs) {
    const __m128i packed = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs));
    const __m128i mask = _mm_set1_epi8(0x0f);
    return _mm_unpacklo_epi8(_mm_and_si128(packed, mask), _mm_and_si128(_mm_srli_epi16(packed, 4), mask));
}

// Signed x signed bytes -> 8 int32 sums of 4 products. |x| <= 128 and |y| <= 127
// keep maddubs's 16-bit pair sums from saturating.
inline __m256i dot_i8(__m256i x, __m256i y) {
    const __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
}

// Unsigned x signed bytes -> 8 int32 sums.
inline __m256i dot_u8_i8(__m256i x, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

void quantize_activations_q8_0(const float* x, void* out, size_t n) {
    auto* blocks = static_cast<BlockQ8_0*>(out);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t b = 0; b < n / qk8_0; ++b) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(x + b * qk8_0 + 8 * static_cast<size_t>(i));
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        blocks[b].d = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        const __m256 scale = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; ++i) {
            q[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[i], scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        // pack 32 int32 -> 32 int8; packs interleave 128-bit lanes, the permute restores order
        const __m256i q01 = _mm256_packs_epi32(q[0], q[1]);
        const __m256i q23 = _mm256_packs_epi32(q[2], q[3]);
        const __m256i bytes = _mm256_packs_epi16(q01, q23);
        const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(blocks[b].qs), ordered);
    }
}

void convert_activations_f16(const float* x, void* out, size_t n) {
    auto* h = static_cast<uint16_t*>(out);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) h[i] = static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

float dot_f32(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const float*>(weights);
    const auto* a = static_cast<const float*>(activations);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(a + i + 8), acc1);
    }
    float sum = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) sum += w[i] * a[i];
    return sum;
}

float dot_f16(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const uint16_t*>(weights);
    const auto* a = static_cast<const uint16_t*>(activations);
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
        const __m256 av = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
        acc = _mm256_fmadd_ps(wv, av, acc);
    }
    float sum = hsum(acc);
    for (; i < n; ++i) sum += half(w[i]) * half(a[i]);
    return sum;
}

float dot_q4_0(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ4_0*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    __m256 acc = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    for (size_t b = 0; b < n / qk4_0; ++b) {
        const __m256i q = _mm256_sub_epi8(split_nibbles(w[b].qs), eight);
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
        const __m256 scale = _mm256_set1_ps(half(w[b].d) * half(a[b].d));
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum(acc);
}

float dot_q4_1(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ4_1*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    __m256 acc = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi8(1);
    for (size_t b = 0; b < n / qk4_1; ++b) {
        const __m256i q = split_nibbles(w[b].qs);
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
        const float da = half(a[b].d);
        const __m256 scale = _mm256_set1_ps(half(w[b].d) * da);
        const __m256 offset = _mm256_set1_ps(half(w[b].m) * da);
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_u8_i8(q, y)), acc);
        acc = _mm256_fmadd_ps(offset, _mm256_cvtepi32_ps(dot_u8_i8(ones, y)), acc);
    }
    return hsum(acc);
}

float dot_q4_2(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ4_2*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    __m256 acc = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    // Two 16-weight blocks meet one 32-element activation block.
    for (size_t b = 0; b < n / qk8_0; ++b) {
        const BlockQ4_2& w0 = w[2 * b];
        const BlockQ4_2& w1 = w[2 * b + 1];
        const __m256i q = _mm256_sub_epi8(_mm256_set_m128i(pair_nibbles(w1.qs), pair_nibbles(w0.qs)), eight);
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
        const float da = half(a[b].d);
        const __m256 scale = _mm256_set_m128(_mm_set1_ps(half(w1.d) * da), _mm_set1_ps(half(w0.d) * da));
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum(acc);
}

float dot_q8_0(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ8_0*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < n / qk8_0; ++b) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
        const __m256 scale = _mm256_set1_ps(half(w[b].d) * half(a[b].d));
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8(x, y)), acc);
    }
    return hsum(acc);
}

}  // namespace
}  // namespace nibble::kernels

#include "kernels/avx2/avx2_kquants.hpp"

namespace nibble::kernels {
namespace {

// 8 rows per panel, 4 tokens per tile (16 registers). maddubs is exact for nibbles
// (15 * 127 * 2 fits int16); q8_0 goes through the sign trick of dot_i8.
struct Avx2Vec {
    static constexpr size_t rows = 8;
    static constexpr int tokens = 4;
    using I = __m256i;
    using F = __m256;
    static I load(const std::byte* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static I low_nibbles(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0f)); }
    static I high_nibbles(I v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)); }
    static I set1(int32_t v) { return _mm256_set1_epi32(v); }
    static I broadcast4(const int8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    static I dot(I acc, I u, I s) { return _mm256_add_epi32(acc, dot_u8_i8(u, s)); }
    static constexpr bool pair_sums = true;
    static constexpr bool unsigned_bytes = false;  // maddubs saturates on 255 x 127 pairs
    static I flip_sign_bits(I v) { return _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))); }
    static I dot_signed(I acc, I w, I s) { return _mm256_add_epi32(acc, dot_i8(w, s)); }
    static I zero() { return _mm256_setzero_si256(); }
    static I pair_products(I u, I s) { return _mm256_maddubs_epi16(u, s); }
    static I add16(I a, I b) { return _mm256_add_epi16(a, b); }
    static I sub16(I a, I b) { return _mm256_sub_epi16(a, b); }
    // Signed bytes multiplied with maddubs: |w| as the unsigned side, w's signs moved onto s.
    static I magnitude(I w) { return _mm256_sign_epi8(w, w); }
    static I sign_of(I s, I w) { return _mm256_sign_epi8(s, w); }
    static I load_u16_lanes(const std::byte* p) { return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static void keep_in_register(I& v) { asm("" : "+x"(v)); }
    static I widen_pairs(I v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }
    template <int Bits>
    static I shift_right_arith32(I v) { return _mm256_srai_epi32(v, Bits); }
    template <int Bits>
    static I shift_right_arith16(I v) { return _mm256_srai_epi16(v, Bits); }
    template <int Bits>
    static I shift_left16(I v) { return _mm256_slli_epi16(v, Bits); }
    static I grid16(const int8_t* values) {
        return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values)));
    }
    static I lookup16(I table, I index) { return _mm256_shuffle_epi8(table, index); }
    static I and_(I a, I b) { return _mm256_and_si256(a, b); }
    static I or_(I a, I b) { return _mm256_or_si256(a, b); }
    template <int Bits>
    static I shift_right32(I v) { return _mm256_srli_epi32(v, Bits); }
    static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
    static I madd16_add(I acc, I a, I b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
    static I add(I a, I b) { return _mm256_add_epi32(a, b); }
    static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
    template <int Bits>
    static I shift_left(I v) { return _mm256_slli_epi32(v, Bits); }
    static I broadcast_i32(const int32_t* p) { return _mm256_set1_epi32(*p); }
    static F zero_f() { return _mm256_setzero_ps(); }
    static F set1_f(float v) { return _mm256_set1_ps(v); }
    static F load_f(const float* p) { return _mm256_loadu_ps(p); }
    static F add_f(F a, F b) { return _mm256_add_ps(a, b); }
    static F load_half(const std::byte* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static F to_float(I v) { return _mm256_cvtepi32_ps(v); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static void prefetch(const std::byte* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
    static void prefetch_l2(const std::byte* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T2); }
    static void store_f(float* p, F v) { _mm256_storeu_ps(p, v); }
    static void store(uint8_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
    template <TensorType Type>
    static void panel_quants(const std::byte* w, size_t w_stride, size_t rows, size_t block, uint8_t* q) {
        kernels::panel_quants<Type>(w, w_stride, rows, block, q);
    }
};

// Float tiles of 4 rows x 3 tokens: 12 accumulators, 3 activations and a weight vector
// fill the 16 registers.
struct Avx2Float {
    static constexpr size_t lanes = 8;
    static constexpr int row_tile = 4, token_tile = 3;
    using F = __m256;
    static F zero() { return _mm256_setzero_ps(); }
    static F load(const float* p) { return _mm256_loadu_ps(p); }
    static F load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static F load(const Bf16Bits* p) { return load_bf16(reinterpret_cast<const uint16_t*>(p)); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static float sum(F v) { return hsum(v); }
};

constexpr FloatOps avx2_float_ops = SimdFloatOps<xsimd::fma3<xsimd::avx2>>::table();

constexpr KernelTable avx2_table{
    .isa = "avx2",
    .quantize_activations_q8_0 = quantize_activations_q8_0,
    .quantize_activations_q8_K = quantize_activations_q8_K,
    .convert_activations_f16 = convert_activations_f16,
    .convert_activations_bf16 = convert_activations_bf16,
    .f32 = {dot_f32, FloatGemm<Avx2Float, float>::mul},
    .f16 = {dot_f16, FloatGemm<Avx2Float, uint16_t>::mul},
    .bf16 = {dot_bf16, FloatGemm<Avx2Float, Bf16Bits>::mul},
    .q4_0 = {dot_q4_0, rows_by_dot<dot_q4_0>, PackedGemm<Avx2Vec, TensorType::q4_0>::mul},
    .q4_1 = {dot_q4_1, rows_by_dot<dot_q4_1>, PackedGemm<Avx2Vec, TensorType::q4_1>::mul},
    .q4_2 = {dot_q4_2, rows_by_dot<dot_q4_2>, PackedGemm<Avx2Vec, TensorType::q4_2>::mul},
    .q5_0 = {dot_q5_0, rows_by_dot<dot_q5_0>, PackedGemm<Avx2Vec, TensorType::q5_0>::mul},
    .q5_1 = {dot_q5_1, rows_by_dot<dot_q5_1>, PackedGemm<Avx2Vec, TensorType::q5_1>::mul},
    .q8_0 = {dot_q8_0, rows_by_dot<dot_q8_0>, PackedGemm<Avx2Vec, TensorType::q8_0>::mul},
    .q2_K = {dot_k<TensorType::q2_K>, KTileGemm<Avx2Vec, TensorType::q2_K, dot_k<TensorType::q2_K>>::mul,
             PackedQ236KGemm<Avx2Vec, TensorType::q2_K>::mul},
    .q3_K = {dot_k<TensorType::q3_K>, KTileGemm<Avx2Vec, TensorType::q3_K, dot_k<TensorType::q3_K>>::mul,
             PackedQ236KGemm<Avx2Vec, TensorType::q3_K>::mul},
    .q4_K = {dot_k<TensorType::q4_K>, KTileGemm<Avx2Vec, TensorType::q4_K, dot_k<TensorType::q4_K>>::mul,
             PackedQ45KGemm<Avx2Vec, TensorType::q4_K>::mul},
    .q5_K = {dot_k<TensorType::q5_K>, KTileGemm<Avx2Vec, TensorType::q5_K, dot_k<TensorType::q5_K>>::mul,
             PackedQ45KGemm<Avx2Vec, TensorType::q5_K>::mul},
    .q6_K = {dot_k<TensorType::q6_K>, KTileGemm<Avx2Vec, TensorType::q6_K, dot_k<TensorType::q6_K>>::mul, PackedQ236KGemm<Avx2Vec, TensorType::q6_K>::mul},
    .iq4_nl = {dot_iq4_nl, rows_by_dot<dot_iq4_nl>, PackedGemm<Avx2Vec, TensorType::iq4_nl>::mul},
    .iq4_xs = {dot_iq4_xs, rows_by_dot<dot_iq4_xs>, PackedIQ4XSGemm<Avx2Vec>::mul},
    .panel_rows = Avx2Vec::rows,
    .ops = &avx2_float_ops,
};

}  // namespace

const KernelTable& avx2_kernels() noexcept { return avx2_table; }

namespace avx2_rows {
float dot_q2_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q2_K>(w, a, n); }
float dot_q3_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q3_K>(w, a, n); }
float dot_q4_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q4_K>(w, a, n); }
float dot_q5_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q5_K>(w, a, n); }
float dot_q6_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q6_K>(w, a, n); }
}  // namespace avx2_rows

}  // namespace nibble::kernels
