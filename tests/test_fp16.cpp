#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <random>

#include "kernels/fp16.hpp"

using namespace nibble::kernels;

namespace {
// Round-to-nearest-even through double, the definition the fast path must match.
uint16_t fp16_by_definition(float f) {
    if (std::isnan(f)) return 0x7e00 | (std::signbit(f) ? 0x8000 : 0);
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    double a = std::fabs(static_cast<double>(f));
    if (a >= 65520.0) return sign | 0x7c00;
    // scale so that one unit = one ulp of the half result
    int exp = a == 0 ? -25 : std::ilogb(a);
    if (exp < -14) exp = -14;
    const double ulp = std::ldexp(1.0, exp - 10);
    const double q = std::nearbyint(a / ulp);  // ties to even in the default rounding mode
    const double value = q * ulp;
    if (value == 0) return sign;
    int e = std::ilogb(value);
    if (e < -14) return sign | static_cast<uint16_t>(value / std::ldexp(1.0, -24));
    const auto mant = static_cast<uint16_t>(std::ldexp(value, -e) * 1024.0 - 1024.0);
    return sign | static_cast<uint16_t>((e + 15) << 10) | mant;
}
}  // namespace

TEST_CASE("every half converts to float and back unchanged", "[fp16]") {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = fp16_to_fp32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            CHECK(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
            continue;
        }
        REQUIRE(fp32_to_fp16(f) == h);
    }
}

TEST_CASE("float to half rounds to nearest even", "[fp16]") {
    CHECK(fp32_to_fp16(1.0f) == 0x3c00);
    CHECK(fp32_to_fp16(-2.0f) == 0xc000);
    CHECK(fp32_to_fp16(65504.0f) == 0x7bff);
    CHECK(fp32_to_fp16(65520.0f) == 0x7c00);          // halfway to 65536 rounds to even = inf
    CHECK(fp32_to_fp16(65519.99f) == 0x7bff);
    CHECK(fp32_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
    CHECK(fp32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);  // exactly half of it: ties to even (0)
    CHECK(fp32_to_fp16(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie, even stays
    CHECK(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie, odd rounds up
    std::mt19937 rng(7);
    for (int i = 0; i < 200000; ++i) {
        const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
        if (std::isnan(f)) continue;
        REQUIRE(fp32_to_fp16(f) == fp16_by_definition(f));
    }
}
