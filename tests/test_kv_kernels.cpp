// Attention's loops over f16 and q8_0 cache rows, every table: bit for bit the table's
// f32 loops over the same rows converted to floats (the conversions are exact), and
// within the float-order bound of the scalar reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"

using namespace nibble::kernels;

namespace {

struct Shape {
    size_t queries, count, n;
};

// The shapes attention uses and the edges of every vector width: odd lengths, lengths
// below one vector, one and several rows, strides that are no multiple of anything.
std::vector<Shape> shapes() {
    std::vector<Shape> out;
    for (size_t n : {1u, 3u, 4u, 7u, 8u, 16u, 24u, 32u, 40u, 64u, 100u, 128u}) {
        for (size_t queries : {1u, 2u, 3u, 5u}) {
            for (size_t count : {1u, 7u, 13u}) out.push_back({queries, count, n});
        }
    }
    return out;
}

// |a - b| within 1e-5 of the sum of the absolute terms (float sums in another order).
bool within_order_bound(float got, float want, double terms) { return std::fabs(double{got} - want) <= 1e-5 * terms + 1e-30; }

struct Inputs {
    std::vector<float> q, weights;
    size_t q_stride, w_stride, out_stride;
};

Inputs make_inputs(const Shape& s, std::mt19937& rng) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    Inputs in{{}, {}, s.n + 1, s.count + 2, s.n + 5};
    in.q.resize(s.queries * in.q_stride);
    for (auto& v : in.q) v = dist(rng);
    in.weights.resize(s.queries * in.w_stride);
    for (auto& v : in.weights) v = std::fabs(dist(rng)) / static_cast<float>(s.count);
    return in;
}

// Runs dots and weighted_sum over `rows_f32` (the converted rows, `stride` apart) with the
// table's f32 loops and the reference's, and over the typed rows with `typed_dots` /
// `typed_sum`; checks the typed results equal the f32 ones bit for bit and lie within
// the order bound of the reference's.
template <class TypedDots, class TypedSum>
void check_against_f32(const FloatOps& ops, const Shape& s, const Inputs& in, const float* rows_f32, size_t stride,
                       TypedDots typed_dots, TypedSum typed_sum) {
    const FloatOps& ref = reference_float_ops();
    std::vector<float> s_f32(s.queries * in.w_stride), s_typed(s_f32.size()), s_ref(s_f32.size());
    ops.dots(in.q.data(), s.queries, in.q_stride, rows_f32, stride, s.count, s.n, s_f32.data(), in.w_stride);
    typed_dots(in.q.data(), s.queries, in.q_stride, s.count, s.n, s_typed.data(), in.w_stride);
    ref.dots(in.q.data(), s.queries, in.q_stride, rows_f32, stride, s.count, s.n, s_ref.data(), in.w_stride);
    bool same = true, close = true;
    for (size_t j = 0; j < s.queries; ++j) {
        for (size_t p = 0; p < s.count; ++p) {
            const size_t at = j * in.w_stride + p;
            same = same && std::bit_cast<uint32_t>(s_typed[at]) == std::bit_cast<uint32_t>(s_f32[at]);
            double terms = 0;
            for (size_t i = 0; i < s.n; ++i) terms += std::fabs(double{in.q[j * in.q_stride + i]} * rows_f32[p * stride + i]);
            close = close && within_order_bound(s_typed[at], s_ref[at], terms);
        }
    }
    CHECK(same);
    CHECK(close);

    std::vector<float> v_f32(s.queries * in.out_stride), v_typed(v_f32.size()), v_ref(v_f32.size());
    ops.weighted_sum(in.weights.data(), s.queries, in.w_stride, rows_f32, stride, s.count, s.n, v_f32.data(), in.out_stride);
    typed_sum(in.weights.data(), s.queries, in.w_stride, s.count, s.n, v_typed.data(), in.out_stride);
    ref.weighted_sum(in.weights.data(), s.queries, in.w_stride, rows_f32, stride, s.count, s.n, v_ref.data(), in.out_stride);
    same = close = true;
    for (size_t j = 0; j < s.queries; ++j) {
        for (size_t i = 0; i < s.n; ++i) {
            const size_t at = j * in.out_stride + i;
            same = same && std::bit_cast<uint32_t>(v_typed[at]) == std::bit_cast<uint32_t>(v_f32[at]);
            double terms = 0;
            for (size_t p = 0; p < s.count; ++p) terms += std::fabs(double{in.weights[j * in.w_stride + p]} * rows_f32[p * stride + i]);
            close = close && within_order_bound(v_typed[at], v_ref[at], terms);
        }
    }
    CHECK(same);
    CHECK(close);
}

}  // namespace

TEST_CASE("every table's attention over f16 rows is its f32 attention over the converted rows", "[ops][isa][kv]") {
    std::mt19937 rng(16);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    for (const KernelTable* table : available_kernels()) {
        const FloatOps& ops = *table->ops;
        for (const Shape& s : shapes()) {
            INFO(table->isa << " queries " << s.queries << " rows " << s.count << " n " << s.n);
            const size_t stride = s.n + 3;
            std::vector<uint16_t> halves(s.count * stride);
            std::vector<float> floats(halves.size());
            for (size_t i = 0; i < halves.size(); ++i) {
                halves[i] = fp32_to_fp16(dist(rng));
                floats[i] = fp16_to_fp32(halves[i]);
            }
            const Inputs in = make_inputs(s, rng);
            check_against_f32(
                ops, s, in, floats.data(), stride,
                [&](const float* q, size_t queries, size_t q_stride, size_t count, size_t n, float* out, size_t out_stride) {
                    ops.dots_f16(q, queries, q_stride, halves.data(), stride, count, n, out, out_stride);
                },
                [&](const float* w, size_t queries, size_t w_stride, size_t count, size_t n, float* out, size_t out_stride) {
                    ops.weighted_sum_f16(w, queries, w_stride, halves.data(), stride, count, n, out, out_stride);
                });
        }
    }
}

TEST_CASE("every table's attention over q8_0 rows is its f32 attention over the dequantized rows", "[ops][isa][kv]") {
    std::mt19937 rng(8);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    for (const KernelTable* table : available_kernels()) {
        const FloatOps& ops = *table->ops;
        for (const Shape& s : shapes()) {
            // The head read starts on a block, inside one (heads of 8 in a row of 32, as in
            // the shipped model), or off every vector width; rows are whole blocks.
            for (size_t first : {size_t{0}, size_t{8}, size_t{5}, size_t{32}}) {
                INFO(table->isa << " queries " << s.queries << " rows " << s.count << " n " << s.n << " first " << first);
                const size_t row_blocks = (first + s.n + qk8_0 - 1) / qk8_0 + 1, width = row_blocks * qk8_0;
                std::vector<float> values(s.count * width), dequantized(values.size());
                for (auto& v : values) v = dist(rng);
                std::vector<BlockQ8_0> blocks(s.count * row_blocks);
                for (size_t p = 0; p < s.count; ++p) {
                    table->quantize_activations_q8_0(values.data() + p * width, blocks.data() + p * row_blocks, width);
                    dequantize_row(nibble::TensorType::q8_0, blocks.data() + p * row_blocks, dequantized.data() + p * width, width);
                }
                const Inputs in = make_inputs(s, rng);
                check_against_f32(
                    ops, s, in, dequantized.data() + first, width,
                    [&](const float* q, size_t queries, size_t q_stride, size_t count, size_t n, float* out, size_t out_stride) {
                        ops.dots_q8_0(q, queries, q_stride, blocks.data(), row_blocks, first, count, n, out, out_stride);
                    },
                    [&](const float* w, size_t queries, size_t w_stride, size_t count, size_t n, float* out, size_t out_stride) {
                        ops.weighted_sum_q8_0(w, queries, w_stride, blocks.data(), row_blocks, first, count, n, out, out_stride);
                    });
            }
        }
    }
}

TEST_CASE("every table stores f16 cache rows as F16C rounds: to nearest, ties to even", "[kernels][isa][kv]") {
    // Every half, its neighbours' midpoints (ties) and the floats just beside them, the
    // subnormal range and overflow included; a length that no vector width divides.
    std::vector<float> x;
    for (uint32_t h = 0; h < 0x7c00; h += 3) {
        const float v = fp16_to_fp32(static_cast<uint16_t>(h)), next = fp16_to_fp32(static_cast<uint16_t>(h + 1));
        const float mid = v + (next - v) / 2;
        for (float e : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
            x.push_back(e);
            x.push_back(-e);
        }
    }
    x.push_back(65520.0f);
    x.push_back(1e-9f);
    for (const KernelTable* table : available_kernels()) {
        INFO(table->isa);
        std::vector<uint16_t> got(x.size());
        table->convert_activations_f16(x.data(), got.data(), x.size());
        size_t differ = 0;
        for (size_t i = 0; i < x.size(); ++i) differ += got[i] != fp32_to_fp16(x[i]);
        CHECK(differ == 0);
    }
}
