// The scalar reference kernels: plain loops, the definition every ISA must match.
#include <algorithm>
#include <cmath>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference/reference_kernels.hpp"
#include "kernels/rows_by_dot.hpp"

namespace nibble::kernels {
namespace {

// Activations become q8_0 blocks with round-half-to-even, as the SIMD quantizers
// round, so that every ISA produces the same bytes.
void quantize_activations_q8_0(const float* x, void* out, size_t n) {
    quantize_q8_0_blocks(x, static_cast<BlockQ8_0*>(out), n, true);
}

void convert_activations_f16(const float* x, void* out, size_t n) {
    auto* h = static_cast<uint16_t*>(out);
    for (size_t j = 0; j < n; ++j) h[j] = fp32_to_fp16(x[j]);
}

float dot_f32(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const float*>(weights);
    const auto* a = static_cast<const float*>(activations);
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) sum += static_cast<double>(w[j] * a[j]);
    return static_cast<float>(sum);
}

float dot_f16(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const uint16_t*>(weights);
    const auto* a = static_cast<const uint16_t*>(activations);
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) sum += static_cast<double>(fp16_to_fp32(w[j]) * fp16_to_fp32(a[j]));
    return static_cast<float>(sum);
}

float dot_q4_0(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ4_0*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk4_0; ++b) {
        int32_t block_sum = 0;
        for (size_t j = 0; j < qk4_0 / 2; ++j) {
            block_sum += ((w[b].qs[j] & 0x0f) - 8) * a[b].qs[j];
            block_sum += ((w[b].qs[j] >> 4) - 8) * a[b].qs[j + qk4_0 / 2];
        }
        sum += static_cast<float>(block_sum) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d));
    }
    return sum;
}

// q4_1 against q8_0 activations: sum((q*d + m) * a) = d*da*sum(q*qa) + m*da*sum(qa).
float dot_q4_1(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ4_1*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk4_1; ++b) {
        int32_t dot = 0, act_sum = 0;
        for (size_t j = 0; j < qk4_1 / 2; ++j) {
            dot += (w[b].qs[j] & 0x0f) * a[b].qs[j] + (w[b].qs[j] >> 4) * a[b].qs[j + qk4_1 / 2];
            act_sum += a[b].qs[j] + a[b].qs[j + qk4_1 / 2];
        }
        const float da = fp16_to_fp32(a[b].d);
        sum += static_cast<float>(dot) * (fp16_to_fp32(w[b].d) * da) + static_cast<float>(act_sum) * (fp16_to_fp32(w[b].m) * da);
    }
    return sum;
}

// q4_2 blocks hold 16 weights: two of them meet one 32-element q8_0 activation block.
float dot_q4_2(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ4_2*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk4_2; ++b) {
        const BlockQ8_0& act = a[b / 2];
        const int8_t* aq = act.qs + (b % 2) * qk4_2;
        int32_t dot = 0;
        for (size_t j = 0; j < qk4_2 / 2; ++j) {
            dot += ((w[b].qs[j] & 0x0f) - 8) * aq[2 * j] + ((w[b].qs[j] >> 4) - 8) * aq[2 * j + 1];
        }
        sum += static_cast<float>(dot) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(act.d));
    }
    return sum;
}

float dot_q8_0(const void* weights, const void* activations, size_t n) {
    const auto* w = static_cast<const BlockQ8_0*>(weights);
    const auto* a = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < n / qk8_0; ++b) {
        int32_t block_sum = 0;
        for (size_t j = 0; j < qk8_0; ++j) block_sum += w[b].qs[j] * a[b].qs[j];
        sum += static_cast<float>(block_sum) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d));
    }
    return sum;
}

using namespace reference;

KernelTable make_reference_table() {
    return {
        .isa = "scalar",
        .quantize_activations_q8_0 = quantize_activations_q8_0,
        .quantize_activations_q8_K = quantize_activations_q8_K,
        .convert_activations_f16 = convert_activations_f16,
        .convert_activations_bf16 = convert_activations_bf16,
        .f32 = {dot_f32, rows_by_dot<dot_f32>},
        .f16 = {dot_f16, rows_by_dot<dot_f16>},
        .bf16 = {dot_bf16, rows_by_dot<dot_bf16>},
        .q4_0 = {dot_q4_0, rows_by_dot<dot_q4_0>},
        .q4_1 = {dot_q4_1, rows_by_dot<dot_q4_1>},
        .q4_2 = {dot_q4_2, rows_by_dot<dot_q4_2>},
        .q5_0 = {dot_q5_0, rows_by_dot<dot_q5_0>},
        .q5_1 = {dot_q5_1, rows_by_dot<dot_q5_1>},
        .q8_0 = {dot_q8_0, rows_by_dot<dot_q8_0>},
        .q2_K = {dot_q2_K, rows_by_dot<dot_q2_K>},
        .q3_K = {dot_q3_K, rows_by_dot<dot_q3_K>},
        .q4_K = {dot_q4_K, rows_by_dot<dot_q4_K>},
        .q5_K = {dot_q5_K, rows_by_dot<dot_q5_K>},
        .q6_K = {dot_q6_K, rows_by_dot<dot_q6_K>},
        .iq4_nl = {dot_iq4_nl, rows_by_dot<dot_iq4_nl>},
        .iq4_xs = {dot_iq4_xs, rows_by_dot<dot_iq4_xs>},
        .panel_rows = 0,
        .ops = &reference_float_ops(),
    };
}

}  // namespace

const KernelTable& reference_kernels() noexcept {
    static const KernelTable table = make_reference_table();
    return table;
}

}  // namespace nibble::kernels
