// Matrix x matrix for f32, f16 and bf16 weights in the file layout (nothing to repack): a tile
// of V::row_tile rows x V::token_tile tokens keeps one vector accumulator per (row, token)
// across k, so each weight vector loaded meets every token of the tile and each
// activation vector every row of it. Every (row, token) is summed in the same order
// whatever tile it falls in, so a token's result does not depend on its batch.
//
// V supplies lanes, the tile shape, F, zero, load (float, fp16 and bf16), fmadd and sum.
// Included by one file per ISA; internal linkage throughout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/fp16.hpp"

namespace nibble::kernels {
namespace {

template <class V, class Element>
struct FloatGemm {
    static float scalar(float v) { return v; }
    static float scalar(uint16_t h) { return fp16_to_fp32(h); }
    static float scalar(Bf16Bits h) { return bf16_to_fp32(h.bits); }

    template <int Rows, int Tokens>
    static void tile(const std::byte* w, size_t w_stride, const std::byte* a, size_t a_stride, size_t cols, float* y,
                     size_t y_stride) {
        const Element* row[Rows];
        const Element* token[Tokens];
        typename V::F acc[Rows][Tokens];
        for (int r = 0; r < Rows; ++r) {
            row[r] = reinterpret_cast<const Element*>(w + static_cast<size_t>(r) * w_stride);
            for (int t = 0; t < Tokens; ++t) acc[r][t] = V::zero();
        }
        for (int t = 0; t < Tokens; ++t) token[t] = reinterpret_cast<const Element*>(a + static_cast<size_t>(t) * a_stride);
        size_t k = 0;
        for (; k + V::lanes <= cols; k += V::lanes) {
            typename V::F x[Tokens];
            for (int t = 0; t < Tokens; ++t) x[t] = V::load(token[t] + k);
            for (int r = 0; r < Rows; ++r) {
                const typename V::F weights = V::load(row[r] + k);
                for (int t = 0; t < Tokens; ++t) acc[r][t] = V::fmadd(weights, x[t], acc[r][t]);
            }
        }
        for (int r = 0; r < Rows; ++r) {
            for (int t = 0; t < Tokens; ++t) {
                float sum = V::sum(acc[r][t]);
                for (size_t i = k; i < cols; ++i) sum += scalar(row[r][i]) * scalar(token[t][i]);
                y[static_cast<size_t>(t) * y_stride + static_cast<size_t>(r)] = sum;
            }
        }
    }

    // A tile cut short by the edge of the matrix or of the batch: the same code, fewer
    // accumulators.
    template <int Rows, int Tokens = V::token_tile>
    static void tokens_left(size_t tokens, const std::byte* w, size_t w_stride, const std::byte* a, size_t a_stride, size_t cols,
                            float* y, size_t y_stride) {
        if constexpr (Tokens > 0) {
            if (tokens == Tokens) return tile<Rows, Tokens>(w, w_stride, a, a_stride, cols, y, y_stride);
            tokens_left<Rows, Tokens - 1>(tokens, w, w_stride, a, a_stride, cols, y, y_stride);
        }
    }

    template <int Rows = V::row_tile>
    static void rows_left(size_t rows, size_t tokens, const std::byte* w, size_t w_stride, const std::byte* a, size_t a_stride,
                          size_t cols, float* y, size_t y_stride) {
        if constexpr (Rows > 0) {
            if (rows == Rows) return tokens_left<Rows>(tokens, w, w_stride, a, a_stride, cols, y, y_stride);
            rows_left<Rows - 1>(rows, tokens, w, w_stride, a, a_stride, cols, y, y_stride);
        }
    }

    /// MulRows over rows `w_stride` bytes apart in the file layout.
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        const size_t row_tile = V::row_tile, token_tile = V::token_tile;
        for (size_t r0 = 0; r0 < rows; r0 += row_tile) {
            const size_t tile_rows = std::min(row_tile, rows - r0);
            for (size_t t0 = 0; t0 < tokens; t0 += token_tile) {
                rows_left(tile_rows, std::min(token_tile, tokens - t0), w + r0 * w_stride, w_stride, a + t0 * a_stride, a_stride,
                          cols, y + t0 * y_stride + r0, y_stride);
            }
        }
    }
};

}  // namespace
}  // namespace nibble::kernels
