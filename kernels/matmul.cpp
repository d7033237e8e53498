// The matrix product driver: convert activations once, then hand rows to threads.
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/kernels.hpp"
#include "nibble/error.hpp"

namespace nibble::kernels {

ActivationFormat activation_format(TensorType type) {
    switch (type) {
        case TensorType::f32: return ActivationFormat::f32;
        case TensorType::f16: return ActivationFormat::f16;
        case TensorType::q4_0:
        case TensorType::q4_1:
        case TensorType::q4_2:
        case TensorType::q8_0: return ActivationFormat::q8_0;
        default: break;
    }
    throw Error(ErrorCode::unsupported, "no matrix kernel for weight type " + tensor_type_name(static_cast<uint32_t>(type)));
}

size_t activation_row_bytes(ActivationFormat format, size_t n) {
    switch (format) {
        case ActivationFormat::f32: return n * sizeof(float);
        case ActivationFormat::f16: return n * sizeof(uint16_t);
        case ActivationFormat::q8_0: return n / qk8_0 * sizeof(BlockQ8_0);
    }
    return 0;
}

size_t matmul_scratch_bytes(TensorType type, size_t cols, size_t n_tokens) {
    return activation_row_bytes(activation_format(type), cols) * n_tokens;
}

void matmul(const KernelTable& kernels, const MatrixView& w, const float* x, size_t n_tokens, float* y,
            std::span<std::byte> scratch, int threads) {
    const ActivationFormat format = activation_format(w.type);
    const size_t act_bytes = activation_row_bytes(format, w.cols);
    if (scratch.size() < act_bytes * n_tokens) {
        throw Error(ErrorCode::out_of_range, "matmul: scratch buffer too small");
    }
    float (*dot)(const void*, const void*, size_t) = nullptr;
    switch (w.type) {
        case TensorType::f32: dot = kernels.dot_f32; break;
        case TensorType::f16: dot = kernels.dot_f16; break;
        case TensorType::q4_0: dot = kernels.dot_q4_0; break;
        case TensorType::q4_1: dot = kernels.dot_q4_1; break;
        case TensorType::q4_2: dot = kernels.dot_q4_2; break;
        case TensorType::q8_0: dot = kernels.dot_q8_0; break;
        default: break;
    }
    std::byte* act = scratch.data();
    for (size_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * w.cols;
        std::byte* at = act + t * act_bytes;
        switch (format) {
            case ActivationFormat::f32: std::memcpy(at, xt, act_bytes); break;
            case ActivationFormat::f16: kernels.convert_activations_f16(xt, at, w.cols); break;
            case ActivationFormat::q8_0: kernels.quantize_activations_q8_0(xt, at, w.cols); break;
        }
    }
    const auto* base = static_cast<const std::byte*>(w.data);
    const auto rows = static_cast<ptrdiff_t>(w.rows);
    // Each row is read once and multiplied with every token while it is in cache.
    // Small products are not worth waking threads for.
    const bool parallel = threads > 1 && w.rows * w.cols * n_tokens >= (size_t{1} << 18);
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const std::byte* row = base + static_cast<size_t>(r) * w.row_stride;
        for (size_t t = 0; t < n_tokens; ++t) {
            y[t * w.rows + static_cast<size_t>(r)] = dot(row, act + t * act_bytes, w.cols);
        }
    }
}

}  // namespace nibble::kernels
