#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "src/ops.hpp"

using namespace nibble::detail;
namespace kernels = nibble::kernels;

TEST_CASE("ALiBi slopes follow the geometric series, also for head counts that are not powers of two", "[ops]") {
    // Power of two: slope_h = 2^(-max_bias (h+1) / H)
    for (uint32_t h = 0; h < 8; ++h) CHECK(alibi_slope(h, 8, 8.0f) == Approx(std::pow(2.0, -1.0 * (h + 1))));
    // H = 6: the 4-head series, then every other slope of the 8-head series
    const std::vector<double> six{1.0 / 4, 1.0 / 16, 1.0 / 64, 1.0 / 256, 1.0 / 2, 1.0 / 8};
    for (uint32_t h = 0; h < 6; ++h) CHECK(alibi_slope(h, 6, 8.0f) == Approx(six[h]));
    // H = 12: 8-head series, then 1/sqrt(2) * every other 16-head slope
    CHECK(alibi_slope(8, 12, 8.0f) == Approx(std::pow(2.0, -0.5)));
    CHECK(alibi_slope(11, 12, 8.0f) == Approx(std::pow(2.0, -3.5)));
}

TEST_CASE("GELU matches the tanh form to fp16 precision and passes large values through", "[ops]") {
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.173f) x.push_back(v);
    std::vector<float> y = x;
    kernels::reference_float_ops().gelu(y.data(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        const double exact = 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
        if (v >= 10.0) CHECK(y[i] == x[i]);
        else if (v <= -10.0) CHECK(y[i] == 0.0f);
        else CHECK(std::fabs(y[i] - exact) <= 2e-3 * std::max(1.0, std::fabs(exact)));
    }
}

TEST_CASE("norms and softmax of every table", "[ops]") {
    for (const auto* table : kernels::available_kernels()) {
        INFO(table->isa);
        const kernels::FloatOps& ops = *table->ops;
        std::vector<float> x{1.0f, -2.0f, 3.0f, -4.0f}, w{1.0f, 1.0f, 2.0f, 0.5f}, y(4);
        ops.rms_norm(x.data(), w.data(), y.data(), 4, 0.0f);
        const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0);
        CHECK(y[2] == Approx(3.0 / rms * 2.0));
        const std::vector<float> b{0.5f, 0.5f, 0.5f, 0.5f};
        ops.layer_norm(x.data(), w.data(), b.data(), y.data(), 4, 0.0f);
        const double mean = -0.5, var = ((1.5 * 1.5) + (1.5 * 1.5) + (3.5 * 3.5) + (3.5 * 3.5)) / 4.0;
        CHECK(y[0] == Approx((1.0 - mean) / std::sqrt(var) + 0.5));
        std::vector<float> s{1.0f, 2.0f, 3.0f};
        ops.softmax(s.data(), 3);
        CHECK(s[0] + s[1] + s[2] == Approx(1.0f));
        CHECK(s[2] / s[1] == Approx(std::exp(1.0f)));
    }
}

TEST_CASE("every table's float operations match the scalar reference", "[ops][isa]") {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    const kernels::FloatOps& ref = kernels::reference_float_ops();
    auto close = [](const std::vector<float>& a, const std::vector<float>& b, double tol) {
        for (size_t i = 0; i < a.size(); ++i) {
            if (std::fabs(static_cast<double>(a[i]) - b[i]) > tol * std::max(1.0, std::fabs(static_cast<double>(b[i])))) return false;
        }
        return true;
    };
    for (const auto* table : kernels::available_kernels()) {
        const kernels::FloatOps& ops = *table->ops;
        for (size_t n : {1u, 7u, 16u, 64u, 100u, 128u, 2048u, 5632u}) {
            INFO(table->isa << " n " << n);
            std::vector<float> x(n), w(n), b(n), g(n);
            for (size_t i = 0; i < n; ++i) {
                x[i] = dist(rng);
                w[i] = dist(rng);
                b[i] = dist(rng);
                g[i] = dist(rng) * 4.0f;
            }
            double magnitude = 0;
            for (size_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(x[i]) * w[i]);
            CHECK(std::fabs(ops.dot(x.data(), w.data(), n) - ref.dot(x.data(), w.data(), n)) <= 1e-5 * magnitude);
            std::vector<float> want(n), got(n);
            ref.rms_norm(x.data(), w.data(), want.data(), n, 1e-5f);
            ops.rms_norm(x.data(), w.data(), got.data(), n, 1e-5f);
            CHECK(close(got, want, 1e-5));
            ref.layer_norm(x.data(), w.data(), b.data(), want.data(), n, 1e-5f);
            ops.layer_norm(x.data(), w.data(), b.data(), got.data(), n, 1e-5f);
            CHECK(close(got, want, 1e-4));
            want = x;
            got = x;
            ref.softmax(want.data(), n);
            ops.softmax(got.data(), n);
            CHECK(close(got, want, 1e-5));
            want = x;
            got = x;
            ref.swiglu(g.data(), want.data(), n);
            ops.swiglu(g.data(), got.data(), n);
            CHECK(close(got, want, 1e-5));
            want = x;
            got = x;
            ref.axpy(0.37f, w.data(), want.data(), n);
            ops.axpy(0.37f, w.data(), got.data(), n);
            CHECK(close(got, want, 1e-6));
            // attention: scores of 1 to 5 queries (sharing a key head) against 13 rows, and
            // each query's weighted sum of those rows
            const size_t count = 13, stride = n + 3;
            std::vector<float> rows(count * stride);
            for (auto& r : rows) r = dist(rng);
            for (size_t queries = 1; queries <= 5; ++queries) {
                INFO(queries << " queries");
                const size_t q_stride = n + 1, out_stride = count + 2;
                std::vector<float> q(queries * q_stride);
                for (auto& e : q) e = dist(rng);
                std::vector<float> s_want(queries * out_stride), s_got(s_want.size());
                ref.dots(q.data(), queries, q_stride, rows.data(), stride, count, n, s_want.data(), out_stride);
                ops.dots(q.data(), queries, q_stride, rows.data(), stride, count, n, s_got.data(), out_stride);
                for (size_t j = 0; j < queries; ++j) {
                    for (size_t p = 0; p < count; ++p) {  // float sums differ by order: bound by the sum of |terms|
                        double terms = 0;
                        for (size_t i = 0; i < n; ++i) terms += std::fabs(static_cast<double>(q[j * q_stride + i]) * rows[p * stride + i]);
                        CHECK(std::fabs(static_cast<double>(s_got[j * out_stride + p]) - s_want[j * out_stride + p]) <=
                              1e-5 * terms + 1e-30);
                    }
                }
                const size_t o_stride = n + 5;
                std::vector<float> v_want(queries * o_stride), v_got(v_want.size());
                ref.weighted_sum(s_want.data(), queries, out_stride, rows.data(), stride, count, n, v_want.data(), o_stride);
                ops.weighted_sum(s_want.data(), queries, out_stride, rows.data(), stride, count, n, v_got.data(), o_stride);
                for (size_t j = 0; j < queries; ++j) {
                    for (size_t i = 0; i < n; ++i) {
                        double terms = 0;
                        for (size_t p = 0; p < count; ++p) {
                            terms += std::fabs(static_cast<double>(s_want[j * out_stride + p]) * rows[p * stride + i]);
                        }
                        CHECK(std::fabs(static_cast<double>(v_got[j * o_stride + i]) - v_want[j * o_stride + i]) <= 1e-5 * terms + 1e-30);
                    }
                }
                // A query's sums do not depend on the queries beside it.
                std::vector<float> alone(n);
                ops.weighted_sum(s_want.data() + (queries - 1) * out_stride, 1, out_stride, rows.data(), stride, count, n,
                                 alone.data(), n);
                CHECK(std::equal(alone.begin(), alone.end(), v_got.begin() + static_cast<ptrdiff_t>((queries - 1) * o_stride)));
            }
            want = x;
            got = x;
            ref.add(want.data(), w.data(), b.data(), n);
            ops.add(got.data(), w.data(), b.data(), n);
            CHECK(close(got, want, 1e-6));
        }
    }
}

TEST_CASE("every table's GELU and rotary give the reference's bits", "[ops][isa]") {
    const kernels::FloatOps& ref = kernels::reference_float_ops();
    // GELU: one float in every 4099 bit patterns (every exponent, both signs, NaN and
    // infinity included), then the fp16 rounding boundaries and the table's edges.
    std::vector<float> x;
    for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 4099) {
        float v;
        const auto b = static_cast<uint32_t>(bits);
        std::memcpy(&v, &b, 4);
        x.push_back(v);
    }
    for (uint32_t h = 0; h < 0x10000; h += 7) {
        const float v = kernels::fp16_to_fp32(static_cast<uint16_t>(h));
        x.push_back(v);
        x.push_back(std::nextafter(v, 0.0f));
        x.push_back(std::nextafter(v, INFINITY));
    }
    for (float v : {-10.0f, 10.0f, std::nextafter(-10.0f, 0.0f), std::nextafter(10.0f, 0.0f), 0.0f, -0.0f, 65504.0f}) x.push_back(v);
    for (size_t i = 0; i + 1 < x.size(); i += 2) {  // midpoints between fp16 neighbours: ties
        const float h = kernels::fp16_to_fp32(kernels::fp32_to_fp16(x[i]));
        const auto up = static_cast<uint16_t>(kernels::fp32_to_fp16(h) + 1);
        const float next = kernels::fp16_to_fp32(up);
        if (std::isfinite(h) && std::isfinite(next)) x.push_back(h + (next - h) / 2);
    }
    x.push_back(7.0f);  // a length that is not a multiple of any vector width
    std::vector<float> want = x;
    ref.gelu(want.data(), want.size());
    std::mt19937 rng(9);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    for (const auto* table : kernels::available_kernels()) {
        INFO(table->isa);
        std::vector<float> got = x;
        table->ops->gelu(got.data(), got.size());
        size_t differ = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            differ += std::memcmp(&got[i], &want[i], 4) != 0 && !(std::isnan(got[i]) && std::isnan(want[i]));
        }
        CHECK(differ == 0);
        for (size_t n_rot : {2u, 6u, 16u, 24u, 64u, 128u}) {
            for (const size_t head_dim : {n_rot, n_rot + 10}) {
                INFO("n_rot " << n_rot << " head " << head_dim);
                std::vector<float> v(head_dim), c(n_rot / 2), s(n_rot / 2);
                for (auto& e : v) e = dist(rng);
                for (size_t i = 0; i < c.size(); ++i) {
                    c[i] = std::cos(0.37f * static_cast<float>(i + 1));
                    s[i] = std::sin(0.37f * static_cast<float>(i + 1));
                }
                for (auto rope : {&kernels::FloatOps::rope_adjacent, &kernels::FloatOps::rope_half_split}) {
                    std::vector<float> a = v, b = v;
                    (ref.*rope)(a.data(), c.data(), s.data(), n_rot);
                    (table->ops->*rope)(b.data(), c.data(), s.data(), n_rot);
                    CHECK((a == b));
                }
            }
        }
    }
}

TEST_CASE("rotary embeddings", "[ops]") {
    const kernels::FloatOps& ops = kernels::reference_float_ops();
    auto rope_adjacent = ops.rope_adjacent;
    auto rope_half_split = ops.rope_half_split;
    // position 0 leaves vectors unchanged; a quarter turn on the first pair at position 1
    std::vector<float> c(2), sn(2);
    rope_angles(0, 4, 10000.0f, nullptr, c.data(), sn.data());
    std::vector<float> v{1.0f, 2.0f, 3.0f, 4.0f};
    rope_adjacent(v.data(), c.data(), sn.data(), 4);
    CHECK(v == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
    rope_angles(1, 4, 10000.0f, nullptr, c.data(), sn.data());
    CHECK(c[0] == Approx(std::cos(1.0)));
    CHECK(sn[1] == Approx(std::sin(0.01)));
    // Llama 3.1's divisors turn each pair slower by its own factor.
    const float divisors[2] = {1.0f, 8.0f};
    std::vector<float> cd(2), sd(2);
    rope_angles(3, 4, 10000.0f, divisors, cd.data(), sd.data());
    CHECK(cd[0] == Approx(std::cos(3.0)));
    CHECK(sd[1] == Approx(std::sin(0.03 / 8)));
    std::vector<float> h{1.0f, 0.0f, 0.0f, 0.0f};
    rope_half_split(h.data(), c.data(), sn.data(), 4);  // pairs (0, 2) and (1, 3)
    CHECK(h[0] == Approx(std::cos(1.0)));
    CHECK(h[2] == Approx(std::sin(1.0)));
}
