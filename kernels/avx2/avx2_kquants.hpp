// AVX2 single-row dots of q5_0, q5_1, iq4_nl, bf16, the K types and iq4_xs, and the q8_K
// and bf16 activation conversions. Included by avx2.cpp after its helpers (hsum, half,
// split_nibbles, dot_i8, dot_u8_i8); internal linkage.
#pragma once

#include <cmath>
#include <type_traits>

#include "kernels/kquant_decode.hpp"
#include "kernels/ktile_gemm.hpp"

namespace nibble::kernels {
namespace {

inline int32_t hsum_i32(__m256i v) {
    const __m128i pair = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i two = _mm_add_epi32(pair, _mm_unpackhi_epi64(pair, pair));
    return _mm_cvtsi128_si32(_mm_add_epi32(two, _mm_shuffle_epi32(two, 1)));
}

// 32 bits -> 32 bytes, 0xff where bit j of `bits` is set.
inline __m256i bits_to_bytes(uint32_t bits) {
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                                               _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202,
                                                                  0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// The iq4 grid as a byte-shuffle table in both 128-bit lanes.
inline __m256i iq4_lookup(__m256i nibbles) {
    const __m128i values = _mm_loadu_si128(reinterpret_cast<const __m128i*>(iq4_values));
    return _mm256_shuffle_epi8(_mm256_set_m128i(values, values), nibbles);
}

void quantize_activations_q8_K(const float* x, void* out, size_t n) {
    auto* blocks = static_cast<BlockQ8_K*>(out);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float* xb = x + b * qk_k;
        __m256 amax = _mm256_setzero_ps();
        for (size_t i = 0; i < qk_k; i += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + i)));
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float max = _mm_cvtss_f32(m);
        BlockQ8_K& q = blocks[b];
        if (max == 0.0f) {
            q = BlockQ8_K{};
            continue;
        }
        const float iscale = 127.0f / max;
        const __m256 scale = _mm256_set1_ps(iscale), top = _mm256_set1_ps(127.0f);
        for (size_t i = 0; i < qk_k; i += 32) {
            __m256i v[4];
            for (int k = 0; k < 4; ++k) {
                const __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + i + 8 * static_cast<size_t>(k)), scale),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                v[k] = _mm256_cvtps_epi32(_mm256_min_ps(r, top));
            }
            const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(q.qs + i),
                                _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
        }
        for (size_t g = 0; g < 16; g += 2) {
            // sums of 16 bytes each: widen to 16 bits and add pairs of pairs
            const __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q.qs + 16 * g)));
            const __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q.qs + 16 * g + 16)));
            q.bsums[g] = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(w, _mm256_set1_epi16(1))));
            q.bsums[g + 1] = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(w2, _mm256_set1_epi16(1))));
        }
        q.d = 1.0f / iscale;
    }
}

void convert_activations_bf16(const float* x, void* out, size_t n) {
    auto* h = static_cast<uint16_t*>(out);
    for (size_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(x[i]);
}

inline __m256 load_bf16(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

float dot_bf16(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const uint16_t*>(weights);
    const auto* a = static_cast<const uint16_t*>(activations);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_bf16(w + i), load_bf16(a + i), acc0);
        acc1 = _mm256_fmadd_ps(load_bf16(w + i + 8), load_bf16(a + i + 8), acc1);
    }
    float sum = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) sum += bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]);
    return sum;
}

template <class Block>
float dot_q5(const void* weights, const void* activations, size_t n) {
    constexpr bool has_min = sizeof(Block) == sizeof(BlockQ5_1);
    const auto* w = static_cast<const Block*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    __m256 acc = _mm256_setzero_ps();
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (size_t b = 0; b < n / qk5_0; ++b) {
        uint32_t qh;
        std::memcpy(&qh, w[b].qh, 4);
        const __m256i q = _mm256_or_si256(split_nibbles(w[b].qs), _mm256_and_si256(bits_to_bytes(qh), sixteen));
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
        const float da = half(a[b].d);
        const __m256 scale = _mm256_set1_ps(half(w[b].d) * da);
        if constexpr (has_min) {
            acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_u8_i8(q, y)), acc);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w[b].m) * da), _mm256_cvtepi32_ps(dot_u8_i8(_mm256_set1_epi8(1), y)), acc);
        } else {
            acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8(_mm256_sub_epi8(q, sixteen), y)), acc);
        }
    }
    return hsum(acc);
}
float dot_q5_0(const void* w, const void* a, size_t n) { return dot_q5<BlockQ5_0>(w, a, n); }
float dot_q5_1(const void* w, const void* a, size_t n) { return dot_q5<BlockQ5_1>(w, a, n); }

float dot_iq4_nl(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockIQ4_NL*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < n / 32; ++b) {
        const __m256i q = iq4_lookup(split_nibbles(w[b].qs));
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w[b].d) * half(a[b].d)), _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum(acc);
}

float dot_iq4_xs(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockIQ4_XS*>(weights);
    const auto* a = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk_k; ++b) {
        // The 8 scales widened once to 16 bits in both lanes; sub-block s's picked by a byte shuffle.
        alignas(8) uint8_t scales[8];
        for (int s = 0; s < 8; ++s) scales[s] = static_cast<uint8_t>(iq4_xs_scale(w[b], s));
        const __m256i scales16 = _mm256_broadcastsi128_si256(
            _mm_sub_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales))), _mm_set1_epi16(32)));
        __m256i acc = _mm256_setzero_si256();
        for (int s = 0; s < 8; ++s) {
            const __m256i q = iq4_lookup(split_nibbles(w[b].qs + 16 * s));
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 32 * s));
            const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
            const __m256i pick = _mm256_set1_epi16(static_cast<int16_t>(0x0100 * (2 * s + 1) + 2 * s));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_shuffle_epi8(scales16, pick)));
        }
        sum = std::fma(static_cast<float>(hsum_i32(acc)), half(w[b].d) * a[b].d, sum);
    }
    return sum;
}

// Bit `Bit` of every byte moved to bit 4 (16-bit shifts keep to their bytes once masked).
template <int Bit>
__m256i bit_to_16(__m256i v) {
    const __m256i four = _mm256_set1_epi8(0x10);
    if constexpr (Bit <= 4) return _mm256_and_si256(_mm256_slli_epi16(v, 4 - Bit), four);
    else return _mm256_and_si256(_mm256_srli_epi16(v, Bit - 4), four);
}

// Chunk C of a q4_K / q5_K super-block: 64 weights as two vectors.
template <class Block, int C>
[[gnu::always_inline]] inline void q45_chunk(const Block& w, __m256i* u) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * C));
    u[2 * C] = _mm256_and_si256(q, nibble);
    u[2 * C + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
    if constexpr (std::is_same_v<Block, BlockQ5_K>) {
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh));
        u[2 * C] = _mm256_or_si256(u[2 * C], bit_to_16<2 * C>(qh));
        u[2 * C + 1] = _mm256_or_si256(u[2 * C + 1], bit_to_16<2 * C + 1>(qh));
    }
}

// The K types' quants of super-block b of a row as 8 vectors of 32 consecutive unsigned
// values (elements 32i .. 32i + 31 in u[i]).
template <TensorType Type>
[[gnu::always_inline]] inline void row_quants(const void* row, size_t b, __m256i u[8]) {
    const auto load = [](const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
    const __m256i nibble = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    if constexpr (Type == TensorType::q4_K || Type == TensorType::q5_K) {
        using Block = std::conditional_t<Type == TensorType::q4_K, BlockQ4_K, BlockQ5_K>;
        const Block& w = static_cast<const Block*>(row)[b];
        q45_chunk<Block, 0>(w, u);
        q45_chunk<Block, 1>(w, u);
        q45_chunk<Block, 2>(w, u);
        q45_chunk<Block, 3>(w, u);
    } else if constexpr (Type == TensorType::q6_K) {
        const BlockQ6_K& w = static_cast<const BlockQ6_K*>(row)[b];
        for (int n = 0; n < 2; ++n) {
            const __m256i ql0 = load(w.ql + 64 * n), ql1 = load(w.ql + 64 * n + 32), qh = load(w.qh + 32 * n);
            const auto high = [&](int shift) { return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, shift), three), 4); };
            u[4 * n] = _mm256_or_si256(_mm256_and_si256(ql0, nibble), high(0));
            u[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(ql1, nibble), high(2));
            u[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), nibble), high(4));
            u[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), nibble), high(6));
        }
    } else {  // q2_K, q3_K: 2-bit planes (element 128h + 32j + l at bits 2j of qs[32h + l])
        using Block = std::conditional_t<Type == TensorType::q2_K, BlockQ2_K, BlockQ3_K>;
        const Block& w = static_cast<const Block*>(row)[b];
        for (int h = 0; h < 2; ++h) {
            const __m256i q = load(w.qs + 32 * h);
            for (int j = 0; j < 4; ++j) u[4 * h + j] = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
        }
        if constexpr (Type == TensorType::q3_K) {
            // hmask bit p (vector p) moved to bit 2 of its byte: +4
            const __m256i hmask = load(w.hmask), four = _mm256_set1_epi8(4);
            u[0] = _mm256_or_si256(u[0], _mm256_and_si256(_mm256_slli_epi16(hmask, 2), four));
            u[1] = _mm256_or_si256(u[1], _mm256_and_si256(_mm256_slli_epi16(hmask, 1), four));
            u[2] = _mm256_or_si256(u[2], _mm256_and_si256(hmask, four));
            u[3] = _mm256_or_si256(u[3], _mm256_and_si256(_mm256_srli_epi16(hmask, 1), four));
            u[4] = _mm256_or_si256(u[4], _mm256_and_si256(_mm256_srli_epi16(hmask, 2), four));
            u[5] = _mm256_or_si256(u[5], _mm256_and_si256(_mm256_srli_epi16(hmask, 3), four));
            u[6] = _mm256_or_si256(u[6], _mm256_and_si256(_mm256_srli_epi16(hmask, 4), four));
            u[7] = _mm256_or_si256(u[7], _mm256_and_si256(_mm256_srli_epi16(hmask, 5), four));
        }
    }
}

inline int32_t hsum_i32x4(__m128i v) {
    const __m128i two = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    return _mm_cvtsi128_si32(_mm_add_epi32(two, _mm_shuffle_epi32(two, 1)));
}

// The integer sums of one super-block against q8_K: isum multiplies d * da, imin (the
// minimums' part, or the offset's) dmin * da, or d * da for the types with an offset.
template <TensorType Type>
void k_block_sums(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin);

// q4_K and q5_K: the eight 6-bit scales and minimums unpacked with 32-bit word operations
// (k_scale_min's formula four bytes at a time), the minimums' part as one multiply-add
// against the pair sums of bsums, each scale broadcast by a byte shuffle.
template <TensorType Type>
    requires(Type == TensorType::q4_K || Type == TensorType::q5_K)
void k_block_sums_45(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    using Block = std::conditional_t<Type == TensorType::q4_K, BlockQ4_K, BlockQ5_K>;
    const Block& w = static_cast<const Block*>(row)[b];
    uint32_t words[3];
    std::memcpy(words, w.scales, 12);
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, top2 = 0x03030303;
    const uint32_t sc_lo = words[0] & low6, mn_lo = words[1] & low6;
    const uint32_t sc_hi = (words[2] & low4) | ((words[0] >> 6) & top2) << 4;
    const uint32_t mn_hi = ((words[2] >> 4) & low4) | ((words[1] >> 6) & top2) << 4;
    const __m128i scales8 = _mm_set_epi32(static_cast<int>(mn_hi), static_cast<int>(mn_lo), static_cast<int>(sc_hi), static_cast<int>(sc_lo));
    const __m128i mins16 = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scales8, scales8));
    const __m128i bsums = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums)),
                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums + 8)));
    imin = hsum_i32x4(_mm_madd_epi16(mins16, bsums));
    // 16-bit scales in both lanes; the shuffle for sub-block j picks bytes 2j, 2j + 1
    const __m256i scales16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales8));
    __m256i u[8];
    row_quants<Type>(row, b, u);
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
        const __m256i pick = _mm256_set1_epi16(static_cast<int16_t>(0x0100 * (2 * j + 1) + 2 * j));
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 32 * j));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u[j], y), _mm256_shuffle_epi8(scales16, pick)));
    }
    isum = hsum_i32(acc);
    d = half(w.d);
    dmin = half(w.dmin);
}
template <>
void k_block_sums<TensorType::q4_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    k_block_sums_45<TensorType::q4_K>(row, b, a, isum, imin, d, dmin);
}
template <>
void k_block_sums<TensorType::q5_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    k_block_sums_45<TensorType::q5_K>(row, b, a, isum, imin, d, dmin);
}

// q2_K, q3_K and q6_K: the 16 scales (one per 16 weights) widened once to 16 bits; the
// minimums' part (q2_K) or the offset's (offset * scale * bsum) as one multiply-add
// against the 16 bsums; vector i's two scales (groups 2i, 2i + 1) picked into its lanes.
template <TensorType Type>
    requires(Type == TensorType::q2_K || Type == TensorType::q3_K || Type == TensorType::q6_K)
void k_block_sums_16(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
    __m256i scales16;
    if constexpr (Type == TensorType::q2_K) {
        const BlockQ2_K& w = static_cast<const BlockQ2_K*>(row)[b];
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)), low4 = _mm_set1_epi8(0x0f);
        scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, low4));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4));
        imin = hsum_i32(_mm256_madd_epi16(mins16, bsums));
        d = half(w.d);
        dmin = half(w.dmin);
    } else if constexpr (Type == TensorType::q3_K) {
        // q3_k_scales four bytes at a time: low nibbles from words 0-1, top bits from word 2
        const BlockQ3_K& w = static_cast<const BlockQ3_K*>(row)[b];
        uint32_t aux[3];
        std::memcpy(aux, w.scales, 12);
        const uint32_t low4 = 0x0f0f0f0f, two = 0x03030303;
        const __m128i scales8 = _mm_setr_epi32(static_cast<int>((aux[0] & low4) | (aux[2] & two) << 4),
                                               static_cast<int>((aux[1] & low4) | (aux[2] >> 2 & two) << 4),
                                               static_cast<int>((aux[0] >> 4 & low4) | (aux[2] >> 4 & two) << 4),
                                               static_cast<int>((aux[1] >> 4 & low4) | (aux[2] >> 6 & two) << 4));
        scales16 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(scales8), _mm256_set1_epi16(32));
        imin = 4 * hsum_i32(_mm256_madd_epi16(scales16, bsums));
        d = half(w.d);
        dmin = 0;
    } else {
        const BlockQ6_K& w = static_cast<const BlockQ6_K*>(row)[b];
        scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
        imin = 32 * hsum_i32(_mm256_madd_epi16(scales16, bsums));
        d = half(w.d);
        dmin = 0;
    }
    __m256i u[8];
    row_quants<Type>(row, b, u);
    __m256i acc = _mm256_setzero_si256();
    // The lane selector must be a constant expression (clang, and GCC at -O0).
    const __m256i halves[2] = {_mm256_permute2x128_si256(scales16, scales16, 0x00),
                               _mm256_permute2x128_si256(scales16, scales16, 0x11)};
    for (int n = 0; n < 2; ++n) {
        const __m256i half_scales = halves[n];
        for (int k = 0; k < 4; ++k) {
            // low lane: int16 element 2k of the half, high lane: element 2k + 1
            const __m256i pick = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0100 * (4 * k + 3) + 4 * k + 2)),
                                                  _mm_set1_epi16(static_cast<int16_t>(0x0100 * (4 * k + 1) + 4 * k)));
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 128 * n + 32 * k));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u[4 * n + k], y), _mm256_shuffle_epi8(half_scales, pick)));
        }
    }
    isum = hsum_i32(acc);
}
template <>
void k_block_sums<TensorType::q2_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    k_block_sums_16<TensorType::q2_K>(row, b, a, isum, imin, d, dmin);
}
template <>
void k_block_sums<TensorType::q3_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    k_block_sums_16<TensorType::q3_K>(row, b, a, isum, imin, d, dmin);
}
template <>
void k_block_sums<TensorType::q6_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin) {
    k_block_sums_16<TensorType::q6_K>(row, b, a, isum, imin, d, dmin);
}

// Eight rows' quants of super-block b in the tiled kernel's panel order: group k (32
// bytes) holds elements 4k .. 4k + 3 of every row; an 8 x 8 transpose of 32-bit words.
template <TensorType Type>
void panel_quants(const std::byte* w, size_t w_stride, size_t rows, size_t b, uint8_t* q) {
    __m256i u[8][8];  // [row][vector]
    for (size_t r = 0; r < 8; ++r) {
        if (r < rows) {
            row_quants<Type>(w + r * w_stride, b, u[r]);
        } else {
            for (auto& v : u[r]) v = _mm256_setzero_si256();
        }
    }
    for (int i = 0; i < 8; ++i) {
        __m256i x[8];
        for (int r = 0; r < 8; ++r) x[r] = u[r][i];
        // words: x[r] = r0..r7 (each 4 bytes); transpose so out[k] = word k of every row
        const __m256i a0 = _mm256_unpacklo_epi32(x[0], x[1]), a1 = _mm256_unpackhi_epi32(x[0], x[1]);
        const __m256i a2 = _mm256_unpacklo_epi32(x[2], x[3]), a3 = _mm256_unpackhi_epi32(x[2], x[3]);
        const __m256i a4 = _mm256_unpacklo_epi32(x[4], x[5]), a5 = _mm256_unpackhi_epi32(x[4], x[5]);
        const __m256i a6 = _mm256_unpacklo_epi32(x[6], x[7]), a7 = _mm256_unpackhi_epi32(x[6], x[7]);
        const __m256i b0 = _mm256_unpacklo_epi64(a0, a2), b1 = _mm256_unpackhi_epi64(a0, a2);
        const __m256i b2 = _mm256_unpacklo_epi64(a1, a3), b3 = _mm256_unpackhi_epi64(a1, a3);
        const __m256i b4 = _mm256_unpacklo_epi64(a4, a6), b5 = _mm256_unpackhi_epi64(a4, a6);
        const __m256i b6 = _mm256_unpacklo_epi64(a5, a7), b7 = _mm256_unpackhi_epi64(a5, a7);
        const __m256i out[8] = {
            _mm256_permute2x128_si256(b0, b4, 0x20), _mm256_permute2x128_si256(b1, b5, 0x20),
            _mm256_permute2x128_si256(b2, b6, 0x20), _mm256_permute2x128_si256(b3, b7, 0x20),
            _mm256_permute2x128_si256(b0, b4, 0x31), _mm256_permute2x128_si256(b1, b5, 0x31),
            _mm256_permute2x128_si256(b2, b6, 0x31), _mm256_permute2x128_si256(b3, b7, 0x31),
        };
        for (int k = 0; k < 8; ++k) _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + (8 * i + k) * 32), out[k]);
    }
}

// The float steps of ktile_gemm.hpp, so the tiled kernel gives these results bit for bit:
// per pass of k_blocks_per_pass super-blocks, the scales' part and the minimums' part
// (or the offset's, with dmin = d) summed apart, then added to the row's total.
template <TensorType Type>
float dot_k(const void* weights, const void* activations, size_t n) {
    const auto* a = static_cast<const BlockQ8_K*>(activations);
    float total = 0.0f;
    const size_t blocks = n / qk_k;
    for (size_t b0 = 0; b0 < blocks; b0 += k_blocks_per_pass) {
        float main = 0.0f, mins = 0.0f;
        for (size_t b = b0; b < std::min(blocks, b0 + k_blocks_per_pass); ++b) {
            int32_t isum, imin;
            float d, dmin;
            k_block_sums<Type>(weights, b, a[b], isum, imin, d, dmin);
            main = std::fma(static_cast<float>(isum), d * a[b].d, main);
            mins = std::fma(static_cast<float>(imin), (k_has_min(Type) ? dmin : d) * -a[b].d, mins);
        }
        total += main + mins;
    }
    return total;
}

}  // namespace
}  // namespace nibble::kernels
