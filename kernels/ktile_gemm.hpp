// Matrix x matrix for the K types (q2_K .. q6_K) against q8_K activations, written once
// over the vector-ops struct V of packed_gemm.hpp (R rows in int32 lanes, T tokens).
// The file layout stays as it is; each call decodes R rows' super-blocks (a few at a
// time) into a panel that the micro-kernel reads for every token of the prompt, so the
// decoding is paid once per row and call, not once per token:
//   quants: 64 groups of 4R bytes, group k holding elements 4k..4k+3 of every row;
//   per 16 weights, R int32 lanes of the scale in both 16-bit halves (so one
//   multiply-add of 16-bit pairs applies it), and the same for the minimum (types with
//   an offset store offset * scale there instead); per row d and dmin as floats.
// 16-bit pair sums of span weights (as many as stay below 32768) are scaled in one
// multiply-add; the super-block's integer sums then take two float steps, the same as
// the tables' single-row dots take, so a row's result does not depend on its batch.
#pragma once

#include <algorithm>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/kernels.hpp"
#include "kernels/kquant_decode.hpp"

namespace nibble::kernels {
namespace {

template <class V, TensorType Type, DotRow RowDot = nullptr>
struct KTileGemm {
    static constexpr size_t R = V::rows;
    static constexpr int offset = k_offset(Type);
    static constexpr bool has_min = k_has_min(Type);
    static constexpr bool min_lanes = has_min || offset != 0;
    // Weights summed in 16 bits before the scale is applied: span/2 products of at most
    // k_max_quant * 127 each must stay below 32768, and a span never crosses a scale.
    static constexpr int span = Type == TensorType::q4_K ? 32 : Type == TensorType::q6_K ? 8 : 16;
    static_assert(span / 2 * k_max_quant(Type) * 127 < 32768);
    static constexpr size_t blocks_per_pass = 4;

    struct Panel {
        alignas(64) uint8_t q[qk_k * R];
        int32_t scale[16 * R];
        int32_t min[16 * R];
        float d[R];
        float dmin[R];
    };

    static int32_t pair16(int v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(v)) * 0x10001u); }

    static void decode(const std::byte* w, size_t w_stride, size_t rows, size_t block, Panel& p) {
        DecodedSuperBlock s;
        for (size_t r = 0; r < R; ++r) {
            if (r < rows) {
                decode_k_block(Type, w + r * w_stride, block, s);
            } else {
                s = DecodedSuperBlock{};  // rows past the end of the matrix: zero weights
                std::memset(s.u, 0, sizeof s.u);
                std::memset(s.scale, 0, sizeof s.scale);
                std::memset(s.min, 0, sizeof s.min);
            }
            for (size_t j = 0; j < qk_k; ++j) p.q[(j / 4) * 4 * R + 4 * r + j % 4] = s.u[j];
            for (size_t g = 0; g < 16; ++g) {
                p.scale[g * R + r] = pair16(s.scale[g]);
                p.min[g * R + r] = pair16(has_min ? s.min[g] : offset * s.scale[g]);
            }
            p.d[r] = s.d;
            p.dmin[r] = s.dmin;
        }
    }

    // out[t] (R lanes) += the panel's super-blocks times token t's q8_K blocks.
    template <int T>
    static void tile(const Panel* panels, size_t count, const BlockQ8_K* const* acts, typename V::F* out) {
        for (size_t b = 0; b < count; ++b) {
            const Panel& p = panels[b];
            typename V::I isum[T], imin[T];
            for (int t = 0; t < T; ++t) isum[t] = imin[t] = V::zero();
            for (int first = 0; first < static_cast<int>(qk_k); first += span) {
                typename V::I sum16[T];
                for (int t = 0; t < T; ++t) sum16[t] = V::zero();
                for (int k = first; k < first + span; k += 4) {
                    const typename V::I w = V::load(reinterpret_cast<const std::byte*>(p.q + static_cast<size_t>(k) * R));
                    for (int t = 0; t < T; ++t) {
                        sum16[t] = V::add16(sum16[t], V::pair_products(w, V::broadcast4(acts[t][b].qs + k)));
                        V::keep_in_register(sum16[t]);
                    }
                }
                const typename V::I scale = V::load(reinterpret_cast<const std::byte*>(p.scale + static_cast<size_t>(first / 16) * R));
                for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::madd16(sum16[t], scale));
            }
            if constexpr (min_lanes) {
                for (int g = 0; g < 16; ++g) {
                    const typename V::I m = V::load(reinterpret_cast<const std::byte*>(p.min + static_cast<size_t>(g) * R));
                    for (int t = 0; t < T; ++t) {
                        const int32_t bsum = static_cast<uint16_t>(acts[t][b].bsums[g]);
                        imin[t] = V::add(imin[t], V::madd16(m, V::broadcast_i32(&bsum)));
                    }
                }
            }
            const typename V::F d = V::load_f(p.d);
            for (int t = 0; t < T; ++t) {
                const float da = acts[t][b].d;
                if constexpr (has_min) {
                    out[t] = V::fmadd(V::to_float(isum[t]), V::mul(d, V::set1_f(da)), out[t]);
                    out[t] = V::fmadd(V::to_float(imin[t]), V::mul(V::load_f(p.dmin), V::set1_f(-da)), out[t]);
                } else {
                    const typename V::I total = offset != 0 ? V::sub(isum[t], imin[t]) : isum[t];
                    out[t] = V::fmadd(V::to_float(total), V::mul(d, V::set1_f(da)), out[t]);
                }
            }
        }
    }

    template <int T>
    static void tokens_of_pass(const Panel* panels, size_t count, bool first_pass, const std::byte* a, size_t a_stride,
                               size_t block0, float* y, size_t y_stride, size_t valid_rows) {
        typename V::F out[T];
        const BlockQ8_K* acts[T];
        alignas(64) float lanes[R];
        for (int t = 0; t < T; ++t) {
            acts[t] = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(t) * a_stride) + block0;
            if (first_pass) {
                out[t] = V::zero_f();
            } else {
                std::fill(lanes, lanes + R, 0.0f);
                std::copy(y + static_cast<size_t>(t) * y_stride, y + static_cast<size_t>(t) * y_stride + valid_rows, lanes);
                out[t] = V::load_f(lanes);
            }
        }
        tile<T>(panels, count, acts, out);
        for (int t = 0; t < T; ++t) {
            V::store_f(lanes, out[t]);
            std::copy(lanes, lanes + valid_rows, y + static_cast<size_t>(t) * y_stride);
        }
    }

    template <int T>
    static void tail(size_t n, const Panel* panels, size_t count, bool first_pass, const std::byte* a, size_t a_stride,
                     size_t block0, float* y, size_t y_stride, size_t valid_rows) {
        if constexpr (T > 0) {
            if (n == T) return tokens_of_pass<T>(panels, count, first_pass, a, a_stride, block0, y, y_stride, valid_rows);
            tail<T - 1>(n, panels, count, first_pass, a, a_stride, block0, y, y_stride, valid_rows);
        }
    }

    /// MulRows over the file layout (rows w_stride bytes apart, any row count).
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        if constexpr (RowDot != nullptr) {
            if (tokens <= 2) {  // too few tokens to pay for the decoding: the table's row dot, same sums
                for (size_t r = 0; r < rows; ++r) {
                    for (size_t t = 0; t < tokens; ++t) y[t * y_stride + r] = RowDot(w + r * w_stride, a + t * a_stride, cols);
                }
                return;
            }
        }
        const size_t blocks = cols / qk_k;
        Panel panels[blocks_per_pass];
        for (size_t r0 = 0; r0 < rows; r0 += R) {
            const size_t valid = std::min(R, rows - r0);
            for (size_t b0 = 0; b0 < blocks; b0 += blocks_per_pass) {
                const size_t count = std::min(blocks_per_pass, blocks - b0);
                for (size_t i = 0; i < count; ++i) decode(w + r0 * w_stride, w_stride, valid, b0 + i, panels[i]);
                size_t t0 = 0;
                for (; t0 + V::tokens <= tokens; t0 += V::tokens) {
                    tokens_of_pass<V::tokens>(panels, count, b0 == 0, a + t0 * a_stride, a_stride, b0, y + t0 * y_stride + r0,
                                              y_stride, valid);
                }
                tail<V::tokens - 1>(tokens - t0, panels, count, b0 == 0, a + t0 * a_stride, a_stride, b0, y + t0 * y_stride + r0,
                                    y_stride, valid);
            }
        }
    }
};

}  // namespace
}  // namespace nibble::kernels
