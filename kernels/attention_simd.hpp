// Attention's two loops over the KV cache (FloatOps::dots and ::weighted_sum), written
// once over xsimd for every table and every cache type. A row accessor says how a
// cache type's rows are read: f32 as they are, f16 and q8_0 converted in registers as
// they are loaded (no float copy of the cache). Every conversion is exact and the loops
// are the same for all of them, so a table's result over f16 or q8_0 rows is, bit for
// bit, its result over those rows converted to floats. Internal linkage throughout.
#pragma once

#include <xsimd/xsimd.hpp>

#include <array>
#include <cstdint>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/simd_cache_loads.hpp"

namespace nibble::kernels {
namespace {

template <class Arch>
struct SimdAttentionOps {
    using B = xsimd::batch<float, Arch>;
    static constexpr size_t W = B::size;
    using Loads = CacheLoads<Arch>;

    // Row accessors: load(p, i) is the vector of row p's elements [i, i + W), at(p, i)
    // its element i.
    struct F32Rows {
        const float* rows;
        size_t stride;
        B load(size_t p, size_t i) const { return B::load_unaligned(rows + p * stride + i); }
        float at(size_t p, size_t i) const { return rows[p * stride + i]; }
    };
    struct F16Rows {
        const uint16_t* rows;
        size_t stride;
        B load(size_t p, size_t i) const { return Loads::halves(rows + p * stride + i); }
        float at(size_t p, size_t i) const { return fp16_to_fp32(rows[p * stride + i]); }
    };
    // q8_0 with the head starting on a multiple of W: W divides the block, so every
    // vector read stays inside one block.
    struct Q8Rows {
        const BlockQ8_0* rows;
        size_t row_blocks, first;
        B load(size_t p, size_t i) const {
            const size_t e = first + i;
            const BlockQ8_0& block = rows[p * row_blocks + e / qk8_0];
            return B(Loads::half(block.d)) * Loads::bytes(block.qs + e % qk8_0);
        }
        float at(size_t p, size_t i) const {
            const size_t e = first + i;
            const BlockQ8_0& block = rows[p * row_blocks + e / qk8_0];
            return Loads::half(block.d) * static_cast<float>(block.qs[e % qk8_0]);
        }
    };
    static_assert(qk8_0 % W == 0);
    // q8_0 with the head starting elsewhere (heads narrower than a block, as in the
    // shipped model): a vector may span two blocks, so its lanes are read one by one.
    struct Q8RowsAnyStart : Q8Rows {
        B load(size_t p, size_t i) const {
            alignas(64) float lanes[W];
            for (size_t l = 0; l < W; ++l) lanes[l] = this->at(p, i + l);
            return B::load_aligned(lanes);
        }
    };

    static B load(const float* p) { return B::load_unaligned(p); }

    // One query against row p: the same steps as SimdFloatOps::dot.
    template <class Rows>
    static float row_dot(const float* q, const Rows& rows, size_t p, size_t n) {
        B acc0(0.0f), acc1(0.0f);
        size_t i = 0;
        for (; i + 2 * W <= n; i += 2 * W) {
            acc0 = xsimd::fma(load(q + i), rows.load(p, i), acc0);
            acc1 = xsimd::fma(load(q + i + W), rows.load(p, i + W), acc1);
        }
        for (; i + W <= n; i += W) acc0 = xsimd::fma(load(q + i), rows.load(p, i), acc0);
        float sum = xsimd::hadd(acc0 + acc1);
        for (; i < n; ++i) sum += q[i] * rows.at(p, i);
        return sum;
    }

    // Where haddp puts the sum of accumulator a: xsimd 8.1 (Debian 12) returns the AVX-512
    // sums permuted (lanes 2-3 and 4-5 of every 8 swapped), so the order is read once,
    // from haddp itself over unit vectors, rather than assumed.
    static const std::array<uint8_t, W>& haddp_order() {
        static const std::array<uint8_t, W> order = [] {
            B unit[W];
            for (size_t a = 0; a < W; ++a) {
                alignas(64) float lanes[W] = {};
                lanes[0] = static_cast<float>(a + 1);
                unit[a] = B::load_aligned(lanes);
            }
            float sums[W];
            xsimd::haddp(unit).store_unaligned(sums);
            std::array<uint8_t, W> where{};
            for (size_t lane = 0; lane < W; ++lane) where[static_cast<size_t>(sums[lane]) - 1] = static_cast<uint8_t>(lane);
            return where;
        }();
        return order;
    }

    // Tiles of W / Q key rows x Q queries: each key vector loaded (and converted) meets
    // every query of the tile, and the W accumulators are reduced together by haddp (a
    // transpose-and-add) instead of W separate horizontal sums.
    template <size_t Q, class Rows>
    static void dots_tiles(const float* q0, size_t q_stride, const Rows& rows, size_t count, size_t n, float* out,
                           size_t out_stride) {
        constexpr size_t R = W / Q;
        const std::array<uint8_t, W>& order = haddp_order();
        size_t p = 0;
        for (; p + R <= count; p += R) {
            B acc[W];
            for (size_t a = 0; a < W; ++a) acc[a] = B(0.0f);
            for (size_t i = 0; i < n; i += W) {
                B query[Q];
                for (size_t k = 0; k < Q; ++k) query[k] = load(q0 + k * q_stride + i);
                for (size_t r = 0; r < R; ++r) {
                    const B key = rows.load(p + r, i);
                    for (size_t k = 0; k < Q; ++k) acc[k * R + r] = xsimd::fma(query[k], key, acc[k * R + r]);
                }
            }
            float sums[W];
            xsimd::haddp(acc).store_unaligned(sums);
            for (size_t k = 0; k < Q; ++k) {
                for (size_t r = 0; r < R; ++r) out[k * out_stride + p + r] = sums[order[k * R + r]];
            }
        }
        for (; p < count; ++p) {
            for (size_t k = 0; k < Q; ++k) out[k * out_stride + p] = row_dot(q0 + k * q_stride, rows, p, n);
        }
    }

    // Queries four at a time where the vector holds four rows' accumulators or more (a
    // grouped-query head's 8 queries convert each f16 key vector twice, not four times),
    // then in pairs, then alone: W rows a tile, never one horizontal sum per row.
    template <class Rows>
    static void dots_of(const float* q, size_t queries, size_t q_stride, const Rows& rows, size_t count, size_t n, float* out,
                        size_t out_stride) {
        size_t j = 0;
        if (n % W == 0) {
            if constexpr (W >= 16) {
                for (; j + 4 <= queries; j += 4) dots_tiles<4>(q + j * q_stride, q_stride, rows, count, n, out + j * out_stride, out_stride);
            }
            for (; j + 2 <= queries; j += 2) dots_tiles<2>(q + j * q_stride, q_stride, rows, count, n, out + j * out_stride, out_stride);
            for (; j < queries; ++j) dots_tiles<1>(q + j * q_stride, q_stride, rows, count, n, out + j * out_stride, out_stride);
        }
        for (; j < queries; ++j) {
            for (size_t p = 0; p < count; ++p) out[j * out_stride + p] = row_dot(q + j * q_stride, rows, p, n);
        }
    }

    // Columns [i, i + K W) in strips of K vectors for Q queries, every row added into the
    // strip before it is stored; each row vector loaded meets every query. Every output
    // sums its rows in order, so the strip shape does not change a bit of it.
    template <size_t Q, size_t K, class Rows>
    static void weighted_strip(const float* weights, size_t w_stride, const Rows& rows, size_t i, size_t count, float* out,
                               size_t out_stride) {
        B acc[Q][K];
        for (size_t j = 0; j < Q; ++j) {
            for (size_t k = 0; k < K; ++k) acc[j][k] = B(0.0f);
        }
        for (size_t p = 0; p < count; ++p) {
            B values[K];
            for (size_t k = 0; k < K; ++k) values[k] = rows.load(p, i + k * W);
            for (size_t j = 0; j < Q; ++j) {
                const B w(weights[j * w_stride + p]);
                for (size_t k = 0; k < K; ++k) acc[j][k] = xsimd::fma(w, values[k], acc[j][k]);
            }
        }
        for (size_t j = 0; j < Q; ++j) {
            for (size_t k = 0; k < K; ++k) acc[j][k].store_unaligned(out + j * out_stride + i + k * W);
        }
    }

    template <class Rows>
    static float column_sum(const float* weights, const Rows& rows, size_t i, size_t count) {
        float sum = 0.0f;
        for (size_t p = 0; p < count; ++p) sum += weights[p] * rows.at(p, i);
        return sum;
    }

    // Q queries' value sums over all n columns: strips of 4 vectors, then single vectors,
    // then single columns.
    template <size_t Q, class Rows>
    static void weighted_group(const float* w, size_t w_stride, const Rows& rows, size_t count, size_t n, float* o,
                               size_t out_stride) {
        size_t i = 0;
        for (; i + 4 * W <= n; i += 4 * W) weighted_strip<Q, 4>(w, w_stride, rows, i, count, o, out_stride);
        for (; i + W <= n; i += W) weighted_strip<Q, 1>(w, w_stride, rows, i, count, o, out_stride);
        for (; i < n; ++i) {
            for (size_t k = 0; k < Q; ++k) o[k * out_stride + i] = column_sum(w + k * w_stride, rows, i, count);
        }
    }

    // Queries four at a time with 32 registers (AVX-512: 16 accumulators, and a
    // grouped-query head's 8 queries convert each f16 value vector twice, not four times),
    // then in pairs (8 accumulators), then a lone query with strips of 8 (a head of 64 in
    // one pass on AVX2). The accumulators are independent of each other.
    template <class Rows>
    static void weighted_sum_of(const float* weights, size_t queries, size_t w_stride, const Rows& rows, size_t count, size_t n,
                                float* out, size_t out_stride) {
        size_t j = 0;
        if constexpr (W >= 16) {
            for (; j + 4 <= queries; j += 4) {
                weighted_group<4>(weights + j * w_stride, w_stride, rows, count, n, out + j * out_stride, out_stride);
            }
        }
        for (; j + 2 <= queries; j += 2) {
            weighted_group<2>(weights + j * w_stride, w_stride, rows, count, n, out + j * out_stride, out_stride);
        }
        for (; j < queries; ++j) {
            const float* w = weights + j * w_stride;
            float* o = out + j * out_stride;
            size_t i = 0;
            for (; i + 8 * W <= n; i += 8 * W) weighted_strip<1, 8>(w, w_stride, rows, i, count, o, out_stride);
            for (; i + 4 * W <= n; i += 4 * W) weighted_strip<1, 4>(w, w_stride, rows, i, count, o, out_stride);
            for (; i + W <= n; i += W) weighted_strip<1, 1>(w, w_stride, rows, i, count, o, out_stride);
            for (; i < n; ++i) o[i] = column_sum(w, rows, i, count);
        }
    }

    static void dots(const float* q, size_t queries, size_t q_stride, const float* rows, size_t row_stride, size_t count,
                     size_t n, float* out, size_t out_stride) {
        dots_of(q, queries, q_stride, F32Rows{rows, row_stride}, count, n, out, out_stride);
    }
    static void weighted_sum(const float* weights, size_t queries, size_t w_stride, const float* rows, size_t row_stride,
                             size_t count, size_t n, float* out, size_t out_stride) {
        weighted_sum_of(weights, queries, w_stride, F32Rows{rows, row_stride}, count, n, out, out_stride);
    }
    static void dots_f16(const float* q, size_t queries, size_t q_stride, const uint16_t* rows, size_t row_stride, size_t count,
                         size_t n, float* out, size_t out_stride) {
        dots_of(q, queries, q_stride, F16Rows{rows, row_stride}, count, n, out, out_stride);
    }
    static void weighted_sum_f16(const float* weights, size_t queries, size_t w_stride, const uint16_t* rows, size_t row_stride,
                                 size_t count, size_t n, float* out, size_t out_stride) {
        weighted_sum_of(weights, queries, w_stride, F16Rows{rows, row_stride}, count, n, out, out_stride);
    }
    static void dots_q8_0(const float* q, size_t queries, size_t q_stride, const BlockQ8_0* rows, size_t row_blocks,
                          size_t first, size_t count, size_t n, float* out, size_t out_stride) {
        const Q8Rows q8{rows, row_blocks, first};
        if (first % W == 0) {
            dots_of(q, queries, q_stride, q8, count, n, out, out_stride);
        } else {
            dots_of(q, queries, q_stride, Q8RowsAnyStart{q8}, count, n, out, out_stride);
        }
    }
    static void weighted_sum_q8_0(const float* weights, size_t queries, size_t w_stride, const BlockQ8_0* rows,
                                  size_t row_blocks, size_t first, size_t count, size_t n, float* out, size_t out_stride) {
        const Q8Rows q8{rows, row_blocks, first};
        if (first % W == 0) {
            weighted_sum_of(weights, queries, w_stride, q8, count, n, out, out_stride);
        } else {
            weighted_sum_of(weights, queries, w_stride, Q8RowsAnyStart{q8}, count, n, out, out_stride);
        }
    }
};

}  // namespace
}  // namespace nibble::kernels
