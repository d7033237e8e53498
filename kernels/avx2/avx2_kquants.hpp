// AVX2 single-row dots of q5_0, q5_1, iq4_nl, bf16, the K types and iq4_xs, and the q8_K
// and bf16 activation conversions. Included by avx2.cpp after its helpers (hsum, half,
// split_nibbles, dot_i8, dot_u8_i8); internal linkage.
#pragma once

#include <cmath>

#include "kernels/kquant_decode.hpp"

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

// 16-bit pairs scaled by two 16-bit scales: the first 8 pairs (elements 0..15) by s0, the rest by s1.
inline __m256i scale_pairs(__m256i pairs, int s0, int s1) {
    return _mm256_madd_epi16(pairs, _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(s1)), _mm_set1_epi16(static_cast<int16_t>(s0))));
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
        __m256i acc = _mm256_setzero_si256();
        for (int s = 0; s < 8; ++s) {
            const __m256i q = iq4_lookup(split_nibbles(w[b].qs + 16 * s));
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 32 * s));
            const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
            const int scale = iq4_xs_scale(w[b], s) - 32;
            acc = _mm256_add_epi32(acc, scale_pairs(pairs, scale, scale));
        }
        sum = std::fma(static_cast<float>(hsum_i32(acc)), half(w[b].d) * a[b].d, sum);
    }
    return sum;
}

// The K types: the integer sums of one super-block (isum multiplies d * da; imin, the
// minimums' or the offset's part, multiplies dmin * da or is taken off isum).
template <TensorType Type>
void k_block_sums(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d, float& dmin);

template <>
void k_block_sums<TensorType::q4_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d,
                                    float& dmin) {
    const BlockQ4_K& w = static_cast<const BlockQ4_K*>(row)[b];
    uint8_t sc[8], mn[8];
    imin = 0;
    for (int j = 0; j < 8; ++j) {
        k_scale_min(w.scales, j, sc[j], mn[j]);
        imin += mn[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
    }
    __m256i acc = _mm256_setzero_si256();
    const __m256i mask = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; ++c) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * c));
        const __m256i lo = _mm256_and_si256(q, mask), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
        const __m256i p_lo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * c)));
        const __m256i p_hi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * c + 32)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_lo, _mm256_set1_epi16(sc[2 * c])));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_hi, _mm256_set1_epi16(sc[2 * c + 1])));
    }
    isum = hsum_i32(acc);
    d = half(w.d);
    dmin = half(w.dmin);
}

template <>
void k_block_sums<TensorType::q5_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d,
                                    float& dmin) {
    const BlockQ5_K& w = static_cast<const BlockQ5_K*>(row)[b];
    uint8_t sc[8], mn[8];
    imin = 0;
    for (int j = 0; j < 8; ++j) {
        k_scale_min(w.scales, j, sc[j], mn[j]);
        imin += mn[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
    }
    __m256i acc = _mm256_setzero_si256();
    const __m256i mask = _mm256_set1_epi8(0x0f), sixteen = _mm256_set1_epi8(16);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh));
    for (int c = 0; c < 4; ++c) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * c));
        const __m256i bit_lo = _mm256_set1_epi8(static_cast<char>(1 << (2 * c))), bit_hi = _mm256_set1_epi8(static_cast<char>(2 << (2 * c)));
        const __m256i h_lo = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_lo), bit_lo), sixteen);
        const __m256i h_hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_hi), bit_hi), sixteen);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, mask), h_lo);
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), mask), h_hi);
        const __m256i p_lo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * c)));
        const __m256i p_hi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * c + 32)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_lo, _mm256_set1_epi16(sc[2 * c])));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_hi, _mm256_set1_epi16(sc[2 * c + 1])));
    }
    isum = hsum_i32(acc);
    d = half(w.d);
    dmin = half(w.dmin);
}

template <>
void k_block_sums<TensorType::q6_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d,
                                    float& dmin) {
    const BlockQ6_K& w = static_cast<const BlockQ6_K*>(row)[b];
    imin = 0;
    for (int g = 0; g < 16; ++g) imin += 32 * w.scales[g] * a.bsums[g];
    __m256i acc = _mm256_setzero_si256();
    const __m256i mask = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    for (int n = 0; n < 2; ++n) {
        const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 64 * n));
        const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 64 * n + 32));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh + 32 * n));
        const __m256i u[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, mask), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)),
            _mm256_or_si256(_mm256_and_si256(ql1, mask), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), mask), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), mask), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4)),
        };
        for (int k = 0; k < 4; ++k) {
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 128 * n + 32 * k));
            const int g = 8 * n + 2 * k;
            acc = _mm256_add_epi32(acc, scale_pairs(_mm256_maddubs_epi16(u[k], y), w.scales[g], w.scales[g + 1]));
        }
    }
    isum = hsum_i32(acc);
    d = half(w.d);
    dmin = 0;
}

// q2_K and q3_K: 2-bit planes of qs (element 128h + 32j + l at bits 2j of qs[32h + l]).
template <>
void k_block_sums<TensorType::q2_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d,
                                    float& dmin) {
    const BlockQ2_K& w = static_cast<const BlockQ2_K*>(row)[b];
    imin = 0;
    for (int g = 0; g < 16; ++g) imin += (w.scales[g] >> 4) * a.bsums[g];
    __m256i acc = _mm256_setzero_si256();
    const __m256i three = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * h));
        for (int j = 0; j < 4; ++j) {
            const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 128 * h + 32 * j));
            const int g = 8 * h + 2 * j;
            acc = _mm256_add_epi32(acc, scale_pairs(_mm256_maddubs_epi16(u, y), w.scales[g] & 15, w.scales[g + 1] & 15));
        }
    }
    isum = hsum_i32(acc);
    d = half(w.d);
    dmin = half(w.dmin);
}

template <>
void k_block_sums<TensorType::q3_K>(const void* row, size_t b, const BlockQ8_K& a, int32_t& isum, int32_t& imin, float& d,
                                    float& dmin) {
    const BlockQ3_K& w = static_cast<const BlockQ3_K*>(row)[b];
    int8_t sc[16];
    q3_k_scales(w.scales, sc);
    imin = 0;
    for (int g = 0; g < 16; ++g) imin += 4 * sc[g] * a.bsums[g];
    __m256i acc = _mm256_setzero_si256();
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    const __m256i hmask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.hmask));
    for (int h = 0; h < 2; ++h) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * h));
        for (int j = 0; j < 4; ++j) {
            const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << (4 * h + j)));
            const __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hmask, bit), bit), four);
            const __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three), high);
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 128 * h + 32 * j));
            const int g = 8 * h + 2 * j;
            acc = _mm256_add_epi32(acc, scale_pairs(_mm256_maddubs_epi16(u, y), sc[g], sc[g + 1]));
        }
    }
    isum = hsum_i32(acc);
    d = half(w.d);
    dmin = 0;
}

// Two float steps per super-block, the same ones the tiled matrix kernel takes.
template <TensorType Type>
float dot_k(const void* weights, const void* activations, size_t n) {
    const auto* a = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk_k; ++b) {
        int32_t isum, imin;
        float d, dmin;
        k_block_sums<Type>(weights, b, a[b], isum, imin, d, dmin);
        if constexpr (k_has_min(Type)) {
            sum = std::fma(static_cast<float>(isum), d * a[b].d, sum);
            sum = std::fma(static_cast<float>(imin), dmin * -a[b].d, sum);
        } else {
            sum = std::fma(static_cast<float>(isum - imin), d * a[b].d, sum);
        }
    }
    return sum;
}

}  // namespace
}  // namespace nibble::kernels
