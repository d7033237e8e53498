// The scalar float operations: the definitions the SIMD versions are tested against.
#include <cmath>

#include "kernels/blocks.hpp"
#include "kernels/float_ops.hpp"
#include "kernels/fp16.hpp"
#include "kernels/gelu_table.hpp"

namespace nibble::kernels {
namespace {

float dot(const float* a, const float* b, size_t n) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

void axpy(float a, const float* x, float* y, size_t n) {
    for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void rms_norm(const float* x, const float* weight, float* y, size_t n, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    for (size_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, float* y, size_t n, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += x[i];
    const auto mean = static_cast<float>(sum / static_cast<double>(n));
    double var = 0.0;
    for (size_t i = 0; i < n; ++i) var += static_cast<double>((x[i] - mean) * (x[i] - mean));
    const float scale = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(n)) + eps);
    for (size_t i = 0; i < n; ++i) {
        const float v = (x[i] - mean) * scale * weight[i];
        y[i] = bias != nullptr ? v + bias[i] : v;
    }
}

void softmax(float* x, size_t n) {
    float max = -INFINITY;
    for (size_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += x[i];
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, float* x, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float g = gate[i];
        x[i] *= g / (1.0f + std::exp(-g));
    }
}

void add(float* x, const float* a, const float* b, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] += b != nullptr ? a[i] + b[i] : a[i];
}

void dots(const float* q, size_t queries, size_t q_stride, const float* rows, size_t row_stride, size_t count, size_t n,
          float* out, size_t out_stride) {
    for (size_t j = 0; j < queries; ++j) {
        for (size_t p = 0; p < count; ++p) out[j * out_stride + p] = dot(q + j * q_stride, rows + p * row_stride, n);
    }
}

void weighted_sum(const float* weights, size_t queries, size_t w_stride, const float* rows, size_t row_stride, size_t count,
                  size_t n, float* out, size_t out_stride) {
    for (size_t j = 0; j < queries; ++j) {
        float* o = out + j * out_stride;
        for (size_t i = 0; i < n; ++i) o[i] = 0.0f;
        for (size_t p = 0; p < count; ++p) axpy(weights[j * w_stride + p], rows + p * row_stride, o, n);
    }
}

// The KV cache's f16 and q8_0 rows: the loops above over each row's values as floats
// (every value converts exactly), one accessor per cache type.
struct F16Rows {
    const uint16_t* rows;
    size_t stride;
    float at(size_t p, size_t i) const { return fp16_to_fp32(rows[p * stride + i]); }
};
struct Q8Rows {
    const BlockQ8_0* rows;
    size_t row_blocks, first;
    float at(size_t p, size_t i) const {
        const BlockQ8_0& block = rows[p * row_blocks + (first + i) / qk8_0];
        return fp16_to_fp32(block.d) * static_cast<float>(block.qs[(first + i) % qk8_0]);
    }
};

template <class Rows>
void dots_of(const float* q, size_t queries, size_t q_stride, const Rows& rows, size_t count, size_t n, float* out,
             size_t out_stride) {
    for (size_t j = 0; j < queries; ++j) {
        for (size_t p = 0; p < count; ++p) {
            float sum = 0.0f;
            for (size_t i = 0; i < n; ++i) sum += q[j * q_stride + i] * rows.at(p, i);
            out[j * out_stride + p] = sum;
        }
    }
}

template <class Rows>
void weighted_sum_of(const float* weights, size_t queries, size_t w_stride, const Rows& rows, size_t count, size_t n, float* out,
                     size_t out_stride) {
    for (size_t j = 0; j < queries; ++j) {
        float* o = out + j * out_stride;
        for (size_t i = 0; i < n; ++i) o[i] = 0.0f;
        for (size_t p = 0; p < count; ++p) {
            const float w = weights[j * w_stride + p];
            for (size_t i = 0; i < n; ++i) o[i] += w * rows.at(p, i);
        }
    }
}

void dots_f16(const float* q, size_t queries, size_t q_stride, const uint16_t* rows, size_t row_stride, size_t count, size_t n,
              float* out, size_t out_stride) {
    dots_of(q, queries, q_stride, F16Rows{rows, row_stride}, count, n, out, out_stride);
}

void weighted_sum_f16(const float* weights, size_t queries, size_t w_stride, const uint16_t* rows, size_t row_stride,
                      size_t count, size_t n, float* out, size_t out_stride) {
    weighted_sum_of(weights, queries, w_stride, F16Rows{rows, row_stride}, count, n, out, out_stride);
}

void dots_q8_0(const float* q, size_t queries, size_t q_stride, const BlockQ8_0* rows, size_t row_blocks, size_t first,
               size_t count, size_t n, float* out, size_t out_stride) {
    dots_of(q, queries, q_stride, Q8Rows{rows, row_blocks, first}, count, n, out, out_stride);
}

void weighted_sum_q8_0(const float* weights, size_t queries, size_t w_stride, const BlockQ8_0* rows, size_t row_blocks,
                       size_t first, size_t count, size_t n, float* out, size_t out_stride) {
    weighted_sum_of(weights, queries, w_stride, Q8Rows{rows, row_blocks, first}, count, n, out, out_stride);
}

void gelu(float* x, size_t n) {
    const float* table = gelu_fp16_table();
    for (size_t i = 0; i < n; ++i) {
        if (x[i] <= gelu_table_low) {
            x[i] = 0.0f;
        } else if (x[i] < gelu_table_high) {
            x[i] = table[fp32_to_fp16(x[i])];
        }
    }
}

void rope_adjacent(float* x, const float* cos, const float* sin, size_t n_rot) {
    for (size_t i = 0; i < n_rot / 2; ++i) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * cos[i] - x1 * sin[i];
        x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
    }
}

void rope_half_split(float* x, const float* cos, const float* sin, size_t n_rot) {
    const size_t half = n_rot / 2;
    for (size_t i = 0; i < half; ++i) {
        const float x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cos[i] - x1 * sin[i];
        x[i + half] = x0 * sin[i] + x1 * cos[i];
    }
}

constexpr FloatOps reference_ops{dot,
                                 axpy,
                                 rms_norm,
                                 layer_norm,
                                 softmax,
                                 swiglu,
                                 add,
                                 dots,
                                 weighted_sum,
                                 dots_f16,
                                 weighted_sum_f16,
                                 dots_q8_0,
                                 weighted_sum_q8_0,
                                 gelu,
                                 rope_adjacent,
                                 rope_half_split};

}  // namespace

const FloatOps& reference_float_ops() noexcept { return reference_ops; }

}  // namespace nibble::kernels
