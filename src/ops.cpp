#include "src/ops.hpp"

#include <cmath>
#include <vector>

#include "kernels/fp16.hpp"

namespace nibble::detail {

namespace {

std::vector<uint16_t> make_gelu_table() {
    std::vector<uint16_t> table(1 << 16);
    for (uint32_t h = 0; h < table.size(); ++h) {
        const float x = kernels::fp16_to_fp32(static_cast<uint16_t>(h));
        const float y = 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * x * (1.0f + 0.044715f * x * x)));
        table[h] = kernels::fp32_to_fp16(y);
    }
    return table;
}

}  // namespace

void gelu(float* x, size_t n) {
    static const std::vector<uint16_t> table = make_gelu_table();
    for (size_t i = 0; i < n; ++i) {
        if (x[i] <= -10.0f) {
            x[i] = 0.0f;
        } else if (x[i] < 10.0f) {
            x[i] = kernels::fp16_to_fp32(table[kernels::fp32_to_fp16(x[i])]);
        }
    }
}

void clamp(float* x, size_t n, float limit) {
    for (size_t i = 0; i < n; ++i) x[i] = std::fmin(std::fmax(x[i], -limit), limit);
}

float alibi_slope(uint32_t head, uint32_t n_head, float max_bias) {
    const auto n2 = static_cast<uint32_t>(1u << static_cast<uint32_t>(std::floor(std::log2(static_cast<float>(n_head)))));
    const float m0 = std::pow(2.0f, -max_bias / static_cast<float>(n2));
    const float m1 = std::pow(2.0f, -max_bias / 2.0f / static_cast<float>(n2));
    return head < n2 ? std::pow(m0, static_cast<float>(head + 1)) : std::pow(m1, static_cast<float>(2 * (head - n2) + 1));
}

void rope_angles(uint32_t position, uint32_t n_rot, float base, float* cos_out, float* sin_out) {
    // The angle advances by a constant factor per pair, accumulated in float, as the
    // reference implementation computes it.
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
    float theta = static_cast<float>(position);
    for (uint32_t i = 0; i < n_rot / 2; ++i) {
        cos_out[i] = std::cos(theta);
        sin_out[i] = std::sin(theta);
        theta *= theta_scale;
    }
}

void rope_adjacent(float* x, const float* cos, const float* sin, uint32_t n_rot) {
    for (uint32_t i = 0; i < n_rot / 2; ++i) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * cos[i] - x1 * sin[i];
        x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
    }
}

void rope_half_split(float* x, const float* cos, const float* sin, uint32_t n_rot) {
    const uint32_t half = n_rot / 2;
    for (uint32_t i = 0; i < half; ++i) {
        const float x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cos[i] - x1 * sin[i];
        x[i + half] = x0 * sin[i] + x1 * cos[i];
    }
}

}  // namespace nibble::detail
