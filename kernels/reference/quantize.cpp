// Format-level row conversions: the quantization formulas of FORMATS.md section 2.2.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference/kquant_rows.hpp"
#include "nibble/error.hpp"

namespace nibble::kernels {
namespace {

void dequantize_q4_0(const BlockQ4_0* blocks, float* y, size_t n) {
    for (size_t b = 0; b < n / qk4_0; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (size_t j = 0; j < qk4_0 / 2; ++j) {
            y[b * qk4_0 + j] = static_cast<float>((blocks[b].qs[j] & 0x0f) - 8) * d;
            y[b * qk4_0 + j + qk4_0 / 2] = static_cast<float>((blocks[b].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const BlockQ4_1* blocks, float* y, size_t n) {
    for (size_t b = 0; b < n / qk4_1; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        const float m = fp16_to_fp32(blocks[b].m);
        for (size_t j = 0; j < qk4_1 / 2; ++j) {
            y[b * qk4_1 + j] = static_cast<float>(blocks[b].qs[j] & 0x0f) * d + m;
            y[b * qk4_1 + j + qk4_1 / 2] = static_cast<float>(blocks[b].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_q4_2(const BlockQ4_2* blocks, float* y, size_t n) {
    for (size_t b = 0; b < n / qk4_2; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (size_t j = 0; j < qk4_2 / 2; ++j) {
            y[b * qk4_2 + 2 * j] = static_cast<float>((blocks[b].qs[j] & 0x0f) - 8) * d;
            y[b * qk4_2 + 2 * j + 1] = static_cast<float>((blocks[b].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q8_0(const BlockQ8_0* blocks, float* y, size_t n) {
    for (size_t b = 0; b < n / qk8_0; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (size_t j = 0; j < qk8_0; ++j) y[b * qk8_0 + j] = static_cast<float>(blocks[b].qs[j]) * d;
    }
}

// The signed value with the largest magnitude; the first one wins ties (strict <).
float signed_absmax(const float* x, size_t n) {
    float amax = 0.0f;
    float max = 0.0f;
    for (size_t j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

void quantize_q4_0(const float* x, BlockQ4_0* blocks, size_t n) {
    for (size_t b = 0; b < n / qk4_0; ++b) {
        const float* xb = x + b * qk4_0;
        const float d = signed_absmax(xb, qk4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        blocks[b].d = fp32_to_fp16(d);
        for (size_t j = 0; j < qk4_0 / 2; ++j) {
            const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j] * id + 8.5f)));
            const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j + qk4_0 / 2] * id + 8.5f)));
            blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

void quantize_q4_1(const float* x, BlockQ4_1* blocks, size_t n) {
    for (size_t b = 0; b < n / qk4_1; ++b) {
        const float* xb = x + b * qk4_1;
        float min = FLT_MAX, max = -FLT_MAX;
        for (size_t j = 0; j < qk4_1; ++j) {
            min = std::min(min, xb[j]);
            max = std::max(max, xb[j]);
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        blocks[b].d = fp32_to_fp16(d);
        blocks[b].m = fp32_to_fp16(min);
        for (size_t j = 0; j < qk4_1 / 2; ++j) {
            const int lo = std::min(15, static_cast<int>(static_cast<int8_t>((xb[j] - min) * id + 0.5f)));
            const int hi = std::min(15, static_cast<int>(static_cast<int8_t>((xb[j + qk4_1 / 2] - min) * id + 0.5f)));
            blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

void quantize_q4_2(const float* x, BlockQ4_2* blocks, size_t n) {
    for (size_t b = 0; b < n / qk4_2; ++b) {
        const float* xb = x + b * qk4_2;
        const float d = signed_absmax(xb, qk4_2) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        blocks[b].d = fp32_to_fp16(d);
        for (size_t j = 0; j < qk4_2 / 2; ++j) {
            const int lo = std::min(15, static_cast<int>(static_cast<uint8_t>(xb[2 * j] * id + 8.5f)));
            const int hi = std::min(15, static_cast<int>(static_cast<uint8_t>(xb[2 * j + 1] * id + 8.5f)));
            blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

}  // namespace

void quantize_q8_0_blocks(const float* x, BlockQ8_0* blocks, size_t n, bool ties_to_even) {
    for (size_t b = 0; b < n / qk8_0; ++b) {
        const float* xb = x + b * qk8_0;
        float amax = 0.0f;
        for (size_t j = 0; j < qk8_0; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        blocks[b].d = fp32_to_fp16(d);
        for (size_t j = 0; j < qk8_0; ++j) {
            const float v = xb[j] * id;
            blocks[b].qs[j] = static_cast<int8_t>(ties_to_even ? std::nearbyint(v) : std::roundf(v));
        }
    }
}

void write_activation_sums(void* row, size_t n) {
    const auto* blocks = static_cast<const BlockQ8_0*>(row);
    auto* sums = reinterpret_cast<ActivationBlockSums*>(static_cast<std::byte*>(row) + q8_activation_sums_offset(n));
    for (size_t b = 0; b < n / qk8_0; ++b) {
        int32_t lo = 0, hi = 0;
        for (size_t j = 0; j < qk8_0 / 2; ++j) {
            lo += blocks[b].qs[j];
            hi += blocks[b].qs[j + qk8_0 / 2];
        }
        const int32_t sum = lo + hi;
        sums[b] = {fp16_to_fp32(blocks[b].d), sum, lo, hi, -8 * sum, -16 * sum, -128 * sum};
    }
}

void dequantize_row(TensorType type, const void* src, float* dst, size_t n) {
    switch (type) {
        case TensorType::f32:
            std::memcpy(dst, src, n * sizeof(float));
            return;
        case TensorType::f16: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (size_t j = 0; j < n; ++j) dst[j] = fp16_to_fp32(h[j]);
            return;
        }
        case TensorType::q4_0:
            return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
        case TensorType::q4_1:
            return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
        case TensorType::q4_2:
            return dequantize_q4_2(static_cast<const BlockQ4_2*>(src), dst, n);
        case TensorType::q8_0:
            return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
        case TensorType::bf16: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (size_t j = 0; j < n; ++j) dst[j] = bf16_to_fp32(h[j]);
            return;
        }
        case TensorType::q5_0:
        case TensorType::q5_1:
        case TensorType::iq4_nl:
        case TensorType::q2_K:
        case TensorType::q3_K:
        case TensorType::q4_K:
        case TensorType::q5_K:
        case TensorType::q6_K:
        case TensorType::iq4_xs:
            return dequantize_row_k(type, src, dst, n);
    }
    throw Error(ErrorCode::unsupported, "dequantize: no kernel for type " + tensor_type_name(static_cast<uint32_t>(type)));
}

void quantize_row_reference(TensorType type, const float* src, void* dst, size_t n) {
    switch (type) {
        case TensorType::f32:
            std::memcpy(dst, src, n * sizeof(float));
            return;
        case TensorType::f16: {
            auto* h = static_cast<uint16_t*>(dst);
            for (size_t j = 0; j < n; ++j) h[j] = fp32_to_fp16(src[j]);
            return;
        }
        case TensorType::q4_0:
            return quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
        case TensorType::q4_1:
            return quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
        case TensorType::q4_2:
            return quantize_q4_2(src, static_cast<BlockQ4_2*>(dst), n);
        case TensorType::q8_0:
            return quantize_q8_0_blocks(src, static_cast<BlockQ8_0*>(dst), n, false);
        case TensorType::bf16: {
            auto* h = static_cast<uint16_t*>(dst);
            for (size_t j = 0; j < n; ++j) h[j] = fp32_to_bf16(src[j]);
            return;
        }
        case TensorType::q5_0:
        case TensorType::q5_1:
        case TensorType::iq4_nl:
        case TensorType::q2_K:
        case TensorType::q3_K:
        case TensorType::q4_K:
        case TensorType::q5_K:
        case TensorType::q6_K:
        case TensorType::iq4_xs:
            return quantize_row_k(type, src, dst, n);
    }
    throw Error(ErrorCode::unsupported, "quantize: no quantizer for type " + tensor_type_name(static_cast<uint32_t>(type)));
}

size_t row_bytes(TensorType type, size_t n) {
    const auto info = tensor_type_info(static_cast<uint32_t>(type));
    if (!info) throw Error(ErrorCode::unsupported, "unknown tensor type " + tensor_type_name(static_cast<uint32_t>(type)));
    return n / info->block_elements * info->block_bytes;
}

}  // namespace nibble::kernels
