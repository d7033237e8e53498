// Reference dot products of q5_0, q5_1, iq4_nl (against q8_0 activations), the K types
// and iq4_xs (against q8_K) and bf16: integer sums per block, exact, then float.
#include <cmath>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kquant_decode.hpp"
#include "kernels/reference/reference_kernels.hpp"

namespace nibble::kernels {

void quantize_q8_K_blocks(const float* x, BlockQ8_K* blocks, size_t n) {
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float* xb = x + b * qk_k;
        float amax = 0.0f;
        for (size_t j = 0; j < qk_k; ++j) amax = std::max(amax, std::fabs(xb[j]));
        BlockQ8_K& out = blocks[b];
        if (amax == 0.0f) {
            out = BlockQ8_K{};
            continue;
        }
        // The reference divides -127 by the signed maximum; the magnitudes are the same.
        const float iscale = 127.0f / amax;
        for (size_t j = 0; j < qk_k; ++j) {
            out.qs[j] = static_cast<int8_t>(std::min(127.0f, std::nearbyint(iscale * xb[j])));
        }
        for (size_t g = 0; g < qk_k / 16; ++g) {
            int sum = 0;
            for (size_t j = 0; j < 16; ++j) sum += out.qs[16 * g + j];
            out.bsums[g] = static_cast<int16_t>(sum);
        }
        out.d = 1.0f / iscale;
    }
}

namespace reference {
namespace {

// The fifth bits of a q5 block as bit 4 of each element.
inline int fifth_bit(const uint8_t* qh, size_t j) {
    uint32_t bits;
    std::memcpy(&bits, qh, 4);
    return static_cast<int>((bits >> j) & 1u) << 4;
}

template <class Block>
float dot_q5(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const Block*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    constexpr bool has_min = sizeof(Block) == sizeof(BlockQ5_1);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk5_0; ++b) {
        int32_t dot = 0, act_sum = 0;
        for (size_t j = 0; j < 16; ++j) {
            const int lo = (w[b].qs[j] & 0x0f) | fifth_bit(w[b].qh, j);
            const int hi = (w[b].qs[j] >> 4) | fifth_bit(w[b].qh, j + 16);
            dot += (has_min ? lo : lo - 16) * a[b].qs[j] + (has_min ? hi : hi - 16) * a[b].qs[j + 16];
            act_sum += a[b].qs[j] + a[b].qs[j + 16];
        }
        const float da = fp16_to_fp32(a[b].d);
        sum += static_cast<float>(dot) * (fp16_to_fp32(w[b].d) * da);
        if constexpr (has_min) sum += static_cast<float>(act_sum) * (fp16_to_fp32(w[b].m) * da);
    }
    return sum;
}

template <TensorType Type>
float dot_k(const void* weights, const void* activations, size_t n) {
    const auto* a = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    DecodedSuperBlock w;
    for (size_t b = 0; b < n / qk_k; ++b) {
        decode_k_block(Type, weights, b, w);
        int32_t isum, imin;
        k_block_integer_dot(w, k_offset(Type), a[b], isum, imin);
        sum += static_cast<float>(isum) * (w.d * a[b].d);
        if constexpr (k_has_min(Type)) sum -= static_cast<float>(imin) * (w.dmin * a[b].d);
    }
    return sum;
}

}  // namespace

float dot_q5_0(const void* w, const void* a, size_t n) { return dot_q5<BlockQ5_0>(w, a, n); }
float dot_q5_1(const void* w, const void* a, size_t n) { return dot_q5<BlockQ5_1>(w, a, n); }
float dot_q2_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q2_K>(w, a, n); }
float dot_q3_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q3_K>(w, a, n); }
float dot_q4_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q4_K>(w, a, n); }
float dot_q5_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q5_K>(w, a, n); }
float dot_q6_K(const void* w, const void* a, size_t n) { return dot_k<TensorType::q6_K>(w, a, n); }

float dot_iq4_nl(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockIQ4_NL*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / 32; ++b) {
        int32_t dot = 0;
        for (size_t j = 0; j < 16; ++j) {
            dot += iq4_values[w[b].qs[j] & 0x0f] * a[b].qs[j] + iq4_values[w[b].qs[j] >> 4] * a[b].qs[j + 16];
        }
        sum += static_cast<float>(dot) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d));
    }
    return sum;
}

float dot_iq4_xs(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockIQ4_XS*>(weights);
    const auto* a = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk_k; ++b) {
        int32_t isum = 0;
        for (int s = 0; s < 8; ++s) {
            const uint8_t* qs = w[b].qs + 16 * s;
            const int8_t* q8 = a[b].qs + 32 * s;
            int32_t dot = 0;
            for (int j = 0; j < 16; ++j) dot += iq4_values[qs[j] & 0x0f] * q8[j] + iq4_values[qs[j] >> 4] * q8[j + 16];
            isum += (iq4_xs_scale(w[b], s) - 32) * dot;
        }
        sum += static_cast<float>(isum) * (fp16_to_fp32(w[b].d) * a[b].d);
    }
    return sum;
}

float dot_bf16(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const uint16_t*>(weights);
    const auto* a = static_cast<const uint16_t*>(activations);
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) sum += static_cast<double>(bf16_to_fp32(w[j]) * bf16_to_fp32(a[j]));
    return static_cast<float>(sum);
}

void quantize_activations_q8_K(const float* x, void* out, size_t n) { quantize_q8_K_blocks(x, static_cast<BlockQ8_K*>(out), n); }

void convert_activations_bf16(const float* x, void* out, size_t n) {
    auto* h = static_cast<uint16_t*>(out);
    for (size_t j = 0; j < n; ++j) h[j] = fp32_to_bf16(x[j]);
}

}  // namespace reference
}  // namespace nibble::kernels
