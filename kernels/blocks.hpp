// Quantization blocks in the layout the kernels read (the current GGUF layout).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::kernels {

inline constexpr size_t qk4_0 = 32;
inline constexpr size_t qk4_1 = 32;
inline constexpr size_t qk4_2 = 16;
inline constexpr size_t qk8_0 = 32;

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

/// What a q8_0 activation row keeps after its blocks: the scale as a float and the sums
/// of the quants (whole block and each half), so that kernels multiplying unsigned
/// weights by signed activations can take the weights' offset out without re-summing.
struct ActivationBlockSums {
    float d;
    int32_t sum, sum_lo, sum_hi;
};

/// Byte offset of the ActivationBlockSums of a q8_0 activation row of n elements.
inline constexpr size_t q8_activation_sums_offset(size_t n) { return (n / qk8_0 * sizeof(BlockQ8_0) + 15) / 16 * 16; }

/// Fills the sums after the blocks of a quantized activation row of n elements.
void write_activation_sums(void* row, size_t n);

/// q8_0 blocks from floats: amax / 127 scale, fp16-stored, quants rounded half away from
/// zero (the file format's reference quantizer) or half to even (activations, as SIMD rounds).
void quantize_q8_0_blocks(const float* x, BlockQ8_0* blocks, size_t n, bool ties_to_even);

}  // namespace nibble::kernels
