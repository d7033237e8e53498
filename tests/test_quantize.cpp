#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"

using namespace nibble;
using namespace nibble::kernels;

namespace {
std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}
}  // namespace

TEST_CASE("q4_0 round trip stays within half a step of the block scale", "[quant]") {
    const auto x = random_floats(32 * 64, 1);
    std::vector<BlockQ4_0> q(64);
    quantize_row_reference(TensorType::q4_0, x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_row(TensorType::q4_0, q.data(), y.data(), y.size());
    for (size_t b = 0; b < q.size(); ++b) {
        const float d = std::fabs(fp16_to_fp32(q[b].d));
        for (size_t j = 0; j < 32; ++j) {
            // q = trunc(x/d + 8.5) is nearest, except the clamp at 15 which costs a full step
            REQUIRE(std::fabs(x[b * 32 + j] - y[b * 32 + j]) <= d * 1.0f + 1e-6f);
        }
    }
}

TEST_CASE("q4_0 keeps the extreme value exactly representable", "[quant]") {
    std::vector<float> x(32, 0.25f);
    x[5] = -3.0f;  // the signed max: d = -3/-8 = 0.375, and -3 maps to q = 0
    BlockQ4_0 block;
    quantize_row_reference(TensorType::q4_0, x.data(), &block, 32);
    CHECK(fp16_to_fp32(block.d) == 0.375f);
    CHECK((block.qs[5] & 0x0f) == 0);
    std::vector<float> y(32);
    dequantize_row(TensorType::q4_0, &block, y.data(), 32);
    CHECK(y[5] == -3.0f);
}

TEST_CASE("q8_0 round trip error is half a step plus the fp16 rounding of the scale", "[quant]") {
    const auto x = random_floats(32 * 50, 2, 3.0f);
    std::vector<BlockQ8_0> q(50);
    quantize_row_reference(TensorType::q8_0, x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_row(TensorType::q8_0, q.data(), y.data(), y.size());
    for (size_t b = 0; b < q.size(); ++b) {
        const float d = fp16_to_fp32(q[b].d);
        for (size_t j = 0; j < 32; ++j) REQUIRE(std::fabs(x[b * 32 + j] - y[b * 32 + j]) <= 0.57f * d + 1e-6f);
    }
}

TEST_CASE("q4_1 and q4_2 round trips stay within one step of their scale", "[quant]") {
    const auto x = random_floats(32 * 40, 4);
    std::vector<BlockQ4_1> q1(40);
    quantize_row_reference(TensorType::q4_1, x.data(), q1.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_row(TensorType::q4_1, q1.data(), y.data(), y.size());
    for (size_t b = 0; b < q1.size(); ++b) {
        const float d = fp16_to_fp32(q1[b].d);
        for (size_t j = 0; j < 32; ++j) REQUIRE(std::fabs(x[b * 32 + j] - y[b * 32 + j]) <= 0.55f * d + 1e-3f);
    }
    std::vector<BlockQ4_2> q2(80);
    quantize_row_reference(TensorType::q4_2, x.data(), q2.data(), x.size());
    dequantize_row(TensorType::q4_2, q2.data(), y.data(), y.size());
    for (size_t b = 0; b < q2.size(); ++b) {
        const float d = std::fabs(fp16_to_fp32(q2[b].d));
        for (size_t j = 0; j < 16; ++j) REQUIRE(std::fabs(x[b * 16 + j] - y[b * 16 + j]) <= d * 1.01f + 1e-6f);
    }
}

TEST_CASE("all-zero blocks quantize to zero scale and decode to zeros", "[quant]") {
    std::vector<float> zeros(64, 0.0f), out(64, 1.0f);
    for (TensorType t : {TensorType::q4_0, TensorType::q4_1, TensorType::q4_2, TensorType::q8_0, TensorType::f16}) {
        std::vector<std::byte> buf(row_bytes(t, 64));
        quantize_row_reference(t, zeros.data(), buf.data(), 64);
        dequantize_row(t, buf.data(), out.data(), 64);
        for (float v : out) REQUIRE(v == 0.0f);
    }
}

TEST_CASE("row sizes follow the block layouts", "[quant]") {
    CHECK(row_bytes(TensorType::q4_0, 64) == 36);
    CHECK(row_bytes(TensorType::q8_0, 64) == 68);
    CHECK(row_bytes(TensorType::q4_1, 64) == 40);
    CHECK(row_bytes(TensorType::q4_2, 64) == 40);
    CHECK(row_bytes(TensorType::f16, 10) == 20);
    CHECK(row_bytes(TensorType::f32, 10) == 40);
}
