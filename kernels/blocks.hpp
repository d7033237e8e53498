// Quantization blocks in the layout the kernels read (the current GGUF layout).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::kernels {

inline constexpr size_t qk4_0 = 32;
inline constexpr size_t qk4_1 = 32;
inline constexpr size_t qk4_2 = 16;
inline constexpr size_t qk8_0 = 32;
inline constexpr size_t qk5_0 = 32;
inline constexpr size_t qk_k = 256;  ///< super-block of the K types, iq4_xs and q8_K

/// q4_0: fp16 scale, 32 nibbles; element j (<16) is the low nibble of qs[j], j+16 the high.
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[qk4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

/// q4_1: fp16 scale and minimum, nibbles as q4_0; y = q*d + m.
struct BlockQ4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[qk4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

/// q4_2 (April 2023): fp16 scale, 16 nibbles in adjacent pairs (byte b = q[2b] | q[2b+1] << 4).
struct BlockQ4_2 {
    uint16_t d;
    uint8_t qs[qk4_2 / 2];
};
static_assert(sizeof(BlockQ4_2) == 10);

/// q8_0: fp16 scale, 32 signed bytes; y = q*d.
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[qk8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

/// q5_0: fp16 scale, 4 bytes of fifth bits (a little-endian u32: bit j is bit 4 of
/// element j), nibbles as q4_0; y = (q - 16) * d.
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[qk5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

/// q5_1: fp16 scale and minimum, bits as q5_0; y = q * d + m.
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[qk5_0 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

/// iq4_nl: fp16 scale, nibbles as q4_0, each an index into iq4_values; y = d * iq4_values[q].
struct BlockIQ4_NL {
    uint16_t d;
    uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

/// The 16 signed values the iq4 nibbles index (a non-uniform grid).
inline constexpr int8_t iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// iq4_values + 128 (1..241) as the bytes of a lookup: unsigned weights for a u8 x s8 dot
/// instruction, whose 128 x the activations' sum is taken off after (exact in int32).
struct Iq4ValuesPlus128 {
    int8_t v[16];
};
inline constexpr Iq4ValuesPlus128 iq4_values_plus_128 = [] {
    Iq4ValuesPlus128 out{};
    for (int i = 0; i < 16; ++i) out.v[i] = static_cast<int8_t>(static_cast<uint8_t>(iq4_values[i] + 128));
    return out;
}();

/// q2_K: 16 sub-blocks of 16; scales[s] = scale (low nibble) | min (high nibble);
/// 2-bit quants; y = d * scale * q - dmin * min.
struct BlockQ2_K {
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d;
    uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

/// q3_K: 16 sub-blocks of 16; 2 low bits in qs, the third in hmask (set: +0, clear: -4),
/// 6-bit scales stored with an offset of 32; y = d * (scale - 32) * q.
struct BlockQ3_K {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

/// q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes;
/// y = d * scale * q - dmin * min.
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

/// q5_K: q4_K plus a fifth bit per weight in qh.
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

/// q6_K: 16 sub-blocks of 16 with int8 scales; 4 low bits in ql, 2 high in qh;
/// y = d * scale * (q - 32).
struct BlockQ6_K {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

/// iq4_xs: 8 sub-blocks of 32 with 6-bit scales (offset 32: low 4 bits in scales_l,
/// high 2 in scales_h), nibbles index iq4_values; y = d * (scale - 32) * iq4_values[q].
struct BlockIQ4_XS {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[4];
    uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

/// q8_K (activations only): f32 scale, 256 quants in [-127, 127], and the sums of each
/// 16 of them (which the K types' minimums and offsets multiply).
struct BlockQ8_K {
    float d;
    int8_t qs[qk_k];
    int16_t bsums[qk_k / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

/// q8_K super-blocks from floats as the reference engine makes them: scale 127 / amax,
/// quants rounded half to even, d = 1 / scale; an all-zero super-block gets d = 0.
void quantize_q8_K_blocks(const float* x, BlockQ8_K* blocks, size_t n);

/// The 6-bit scale and minimum of sub-block j (0..7) of a q4_K or q5_K super-block.
inline void k_scale_min(const uint8_t* scales, int j, uint8_t& scale, uint8_t& min) {
    if (j < 4) {
        scale = scales[j] & 63;
        min = scales[j + 4] & 63;
    } else {
        scale = static_cast<uint8_t>((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
        min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

/// The 16 signed scales (-32..31) of a q3_K super-block.
inline void q3_k_scales(const uint8_t* scales, int8_t* out) {
    for (int i = 0; i < 16; ++i) {
        const int low = i < 8 ? scales[i] & 15 : scales[i - 8] >> 4;
        const int high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
        out[i] = static_cast<int8_t>((low | high << 4) - 32);
    }
}

/// The 6-bit scale (0..63, offset 32 not removed) of sub-block j of an iq4_xs super-block.
inline int iq4_xs_scale(const BlockIQ4_XS& b, int j) {
    return ((b.scales_l[j / 2] >> (4 * (j % 2))) & 15) | (((b.scales_h >> (2 * j)) & 3) << 4);
}

/// What a q8_0 activation row keeps after its blocks: the scale as a float and the sums
/// of the quants (whole block and each half), so that kernels multiplying unsigned
/// weights by signed activations can take the weights' offset out without re-summing.
struct ActivationBlockSums {
    float d;
    int32_t sum, sum_lo, sum_hi;
    /// -offset x sum for the offsets of the unsigned panel weights (q4_0: 8, q5_0: 16, q8_0
    /// with VNNI: 128): a kernel starts a block's int32 sum from one broadcast load, where
    /// a multiply and a move from a general register would take a vector port per token.
    int32_t minus_8_sum, minus_16_sum, minus_128_sum;
};

/// Byte offset of the ActivationBlockSums of a q8_0 activation row of n elements.
inline constexpr size_t q8_activation_sums_offset(size_t n) { return (n / qk8_0 * sizeof(BlockQ8_0) + 15) / 16 * 16; }

/// Fills the sums after the blocks of a quantized activation row of n elements.
void write_activation_sums(void* row, size_t n);

/// q8_0 blocks from floats: amax / 127 scale, fp16-stored, quants rounded half away from
/// zero (the file format's reference quantizer) or half to even (activations, as SIMD rounds).
void quantize_q8_0_blocks(const float* x, BlockQ8_0* blocks, size_t n, bool ties_to_even);

}  // namespace nibble::kernels
