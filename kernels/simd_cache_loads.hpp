// The loads that xsimd 8 does not have and the KV cache's attention kernels need:
// one vector of floats from IEEE halves (f16 cache rows) and from signed bytes (q8_0
// quants), and one half to a float (a q8_0 scale), with the conversion instructions of
// each ISA (F16C, AVX-512F, AArch64 fcvtl) so that no row is copied to floats first.
// Every conversion is exact, so these give the values of fp16_to_fp32 and of int8 casts.
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace nibble::kernels {
namespace {

/// CacheLoads<Arch>::halves(p) and ::bytes(p) read B::size elements; ::half(h) converts one.
template <class Arch>
struct CacheLoads;

#if defined(__AVX2__) && defined(__F16C__)
template <>
struct CacheLoads<xsimd::fma3<xsimd::avx2>> {
    using B = xsimd::batch<float, xsimd::fma3<xsimd::avx2>>;
    static B halves(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static B bytes(const int8_t* p) {
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    }
    static float half(uint16_t h) { return _cvtsh_ss(h); }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__)
template <>
struct CacheLoads<xsimd::avx512bw> {
    using B = xsimd::batch<float, xsimd::avx512bw>;
    static B halves(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static B bytes(const int8_t* p) {
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    static float half(uint16_t h) { return _cvtsh_ss(h); }
};
#endif

#if defined(__aarch64__)
template <>
struct CacheLoads<xsimd::neon64> {
    using B = xsimd::batch<float, xsimd::neon64>;
    static B halves(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
    static B bytes(const int8_t* p) {
        int32_t word;  // four bytes: one 32-bit lane, then widened twice
        std::memcpy(&word, p, sizeof word);
        const int16x8_t wide = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(word)));
        return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
    }
    static float half(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
};
#endif

}  // namespace
}  // namespace nibble::kernels
