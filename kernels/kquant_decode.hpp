// The K types (q2_K .. q6_K) decoded into one common form, the definition every K-type
// kernel is checked against: 256 unsigned quants and, per group of 16 weights, an
// integer scale and minimum, so that
//     y[j] = (d * scale[j / 16]) * (u[j] - offset) - (dmin * min[j / 16]).
// Sub-blocks of 32 (q4_K, q5_K) repeat their scale and minimum in both halves. The
// float operations match the reference engine's dequantizers, so dequantizing the
// decoded form gives its values bit for bit; a dot product against q8_K activations is
// exact integer arithmetic per super-block, then two float steps.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble::kernels {

struct DecodedSuperBlock {
    uint8_t u[qk_k];    ///< 0..63
    int16_t scale[16];  ///< per 16 weights
    int16_t min[16];    ///< per 16 weights; 0 for the types without minimums
    float d = 0, dmin = 0;
};

/// What a K type subtracts from its unsigned quants (q3_K: 4, q6_K: 32).
constexpr int k_offset(TensorType type) { return type == TensorType::q3_K ? 4 : type == TensorType::q6_K ? 32 : 0; }
/// Whether the type has per-group minimums (q2_K, q4_K, q5_K).
constexpr bool k_has_min(TensorType type) {
    return type == TensorType::q2_K || type == TensorType::q4_K || type == TensorType::q5_K;
}
/// The largest unsigned quant of a K type.
constexpr int k_max_quant(TensorType type) {
    switch (type) {
        case TensorType::q2_K: return 3;
        case TensorType::q3_K: return 7;
        case TensorType::q4_K: return 15;
        case TensorType::q5_K: return 31;
        default: return 63;
    }
}
constexpr bool is_k_type(TensorType type) {
    return type == TensorType::q2_K || type == TensorType::q3_K || type == TensorType::q4_K || type == TensorType::q5_K ||
           type == TensorType::q6_K;
}

inline void decode_q2_K(const BlockQ2_K& b, DecodedSuperBlock& out, bool quants) {
    for (int n = 0; quants && n < 2; ++n) {
        for (int j = 0; j < 4; ++j) {
            for (int l = 0; l < 32; ++l) out.u[128 * n + 32 * j + l] = (b.qs[32 * n + l] >> (2 * j)) & 3;
        }
    }
    for (int g = 0; g < 16; ++g) {
        out.scale[g] = b.scales[g] & 15;
        out.min[g] = b.scales[g] >> 4;
    }
    out.d = fp16_to_fp32(b.d);
    out.dmin = fp16_to_fp32(b.dmin);
}

inline void decode_q3_K(const BlockQ3_K& b, DecodedSuperBlock& out, bool quants) {
    for (int n = 0; quants && n < 2; ++n) {
        for (int j = 0; j < 4; ++j) {
            const uint8_t mask = static_cast<uint8_t>(1u << (4 * n + j));
            for (int l = 0; l < 32; ++l) {
                const int low = (b.qs[32 * n + l] >> (2 * j)) & 3;
                out.u[128 * n + 32 * j + l] = static_cast<uint8_t>(low + ((b.hmask[l] & mask) ? 4 : 0));
            }
        }
    }
    int8_t s[16];
    q3_k_scales(b.scales, s);
    for (int g = 0; g < 16; ++g) {
        out.scale[g] = s[g];
        out.min[g] = 0;
    }
    out.d = fp16_to_fp32(b.d);
    out.dmin = 0;
}

template <class Block>
inline void decode_q45_K(const Block& b, DecodedSuperBlock& out, bool quants) {
    for (int c = 0; quants && c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            int lo = b.qs[32 * c + l] & 15, hi = b.qs[32 * c + l] >> 4;
            if constexpr (std::is_same_v<Block, BlockQ5_K>) {
                lo += ((b.qh[l] >> (2 * c)) & 1) << 4;
                hi += ((b.qh[l] >> (2 * c + 1)) & 1) << 4;
            }
            out.u[64 * c + l] = static_cast<uint8_t>(lo);
            out.u[64 * c + 32 + l] = static_cast<uint8_t>(hi);
        }
    }
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, mn;
        k_scale_min(b.scales, j, sc, mn);
        out.scale[2 * j] = out.scale[2 * j + 1] = sc;
        out.min[2 * j] = out.min[2 * j + 1] = mn;
    }
    out.d = fp16_to_fp32(b.d);
    out.dmin = fp16_to_fp32(b.dmin);
}

/// The 256 unsigned 6-bit quants u (0..63) into q6_K's ql and qh: decode_q6_K's inverse.
inline void encode_q6_K_quants(const uint8_t* u, BlockQ6_K& b) {
    for (int n = 0; n < 2; ++n) {
        const uint8_t* un = u + 128 * n;
        for (int l = 0; l < 32; ++l) {
            b.ql[64 * n + l] = static_cast<uint8_t>((un[l] & 15) | (un[l + 64] & 15) << 4);
            b.ql[64 * n + l + 32] = static_cast<uint8_t>((un[l + 32] & 15) | (un[l + 96] & 15) << 4);
            b.qh[32 * n + l] = static_cast<uint8_t>((un[l] >> 4) | (un[l + 32] >> 4) << 2 | (un[l + 64] >> 4) << 4 | (un[l + 96] >> 4) << 6);
        }
    }
}

inline void decode_q6_K(const BlockQ6_K& b, DecodedSuperBlock& out, bool quants) {
    for (int n = 0; quants && n < 2; ++n) {
        const uint8_t* ql = b.ql + 64 * n;
        const uint8_t* qh = b.qh + 32 * n;
        uint8_t* u = out.u + 128 * n;
        for (int l = 0; l < 32; ++l) {
            u[l] = static_cast<uint8_t>((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4);
            u[l + 32] = static_cast<uint8_t>((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4);
            u[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4);
            u[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4);
        }
    }
    for (int g = 0; g < 16; ++g) {
        out.scale[g] = b.scales[g];
        out.min[g] = 0;
    }
    out.d = fp16_to_fp32(b.d);
    out.dmin = 0;
}

/// Decodes super-block `index` of a row of K-type `type` blocks (without `quants`: only
/// the scales, minimums, d and dmin).
inline void decode_k_block(TensorType type, const void* row, size_t index, DecodedSuperBlock& out, bool quants = true) {
    const auto* bytes = static_cast<const std::byte*>(row);
    switch (type) {
        case TensorType::q2_K: return decode_q2_K(reinterpret_cast<const BlockQ2_K*>(bytes)[index], out, quants);
        case TensorType::q3_K: return decode_q3_K(reinterpret_cast<const BlockQ3_K*>(bytes)[index], out, quants);
        case TensorType::q4_K: return decode_q45_K(reinterpret_cast<const BlockQ4_K*>(bytes)[index], out, quants);
        case TensorType::q5_K: return decode_q45_K(reinterpret_cast<const BlockQ5_K*>(bytes)[index], out, quants);
        default: return decode_q6_K(reinterpret_cast<const BlockQ6_K*>(bytes)[index], out, quants);
    }
}

/// The integer parts of one super-block's dot with a q8_K block: isum multiplies d * da,
/// imin multiplies dmin * da (and is subtracted).
inline void k_block_integer_dot(const DecodedSuperBlock& w, int offset, const BlockQ8_K& a, int32_t& isum, int32_t& imin) {
    isum = 0;
    imin = 0;
    for (int g = 0; g < 16; ++g) {
        int32_t dot = 0;
        for (int j = 0; j < 16; ++j) dot += w.u[16 * g + j] * a.qs[16 * g + j];
        isum += w.scale[g] * (dot - offset * a.bsums[g]);
        imin += w.min[g] * a.bsums[g];
    }
}

}  // namespace nibble::kernels
