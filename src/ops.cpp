#include "src/ops.hpp"

#include <cmath>

namespace nibble::detail {

void clamp(float* x, size_t n, float limit) {
    for (size_t i = 0; i < n; ++i) x[i] = std::fmin(std::fmax(x[i], -limit), limit);
}

float alibi_slope(uint32_t head, uint32_t n_head, float max_bias) {
    const auto n2 = static_cast<uint32_t>(1u << static_cast<uint32_t>(std::floor(std::log2(static_cast<float>(n_head)))));
    const float m0 = std::pow(2.0f, -max_bias / static_cast<float>(n2));
    const float m1 = std::pow(2.0f, -max_bias / 2.0f / static_cast<float>(n2));
    return head < n2 ? std::pow(m0, static_cast<float>(head + 1)) : std::pow(m1, static_cast<float>(2 * (head - n2) + 1));
}

void rope_angles(uint32_t position, uint32_t n_rot, float base, const float* divisors, float* cos_out, float* sin_out) {
    // The angle advances by a constant factor per pair, accumulated in float, as the
    // reference implementation computes it; a divisor scales each pair's angle alone.
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
    float theta = static_cast<float>(position);
    for (uint32_t i = 0; i < n_rot / 2; ++i) {
        const float angle = divisors != nullptr ? theta / divisors[i] : theta;
        cos_out[i] = std::cos(angle);
        sin_out[i] = std::sin(angle);
        theta *= theta_scale;
    }
}

}  // namespace nibble::detail
