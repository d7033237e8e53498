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
#include <type_traits>

#include "kernels/blocks.hpp"
#include "kernels/kernels.hpp"
#include "kernels/kquant_decode.hpp"

namespace nibble::kernels {
namespace {

/// Super-blocks summed apart before they join a row's total, in every K-type kernel
/// (tiled and single-row alike, so a row's result does not depend on its batch): within a
/// pass the scales' part and the minimums' part are two float sums, added at its end.
inline constexpr size_t k_blocks_per_pass = 16;

// RowDot: the table's single-row dot for one or two tokens, or nullptr (always tile).
// Tested by type, not value: GCC under the sanitizers does not fold "address != null".
template <class V, TensorType Type, auto RowDot = nullptr>
struct KTileGemm {
    static constexpr size_t R = V::rows;
    static constexpr int offset = k_offset(Type);
    static constexpr bool has_min = k_has_min(Type);
    // Weights summed in 16 bits before the scale is applied: span/2 products of at most
    // k_max_quant * 127 each must stay below 32768, and a span never crosses a scale.
    static constexpr int span = Type == TensorType::q4_K ? 32 : Type == TensorType::q6_K ? 8 : 16;
    static_assert(span / 2 * k_max_quant(Type) * 127 < 32768);

    struct Panel {
        alignas(64) uint8_t q[qk_k * R];
        int32_t scale[16 * R];  ///< per 16 weights: the scale in both 16-bit halves
        int32_t min[8 * R];     ///< per 32 weights: the minimums (or offset * scale) of its two halves
        float d[R];
        float dmin[R];          ///< types with an offset: d again
    };

    static int32_t pair16(int lo, int hi) {
        return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) | static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
    }

    // With a 4-way dot that accumulates int32 (VNNI) and a 32-bit multiply, sums need no
    // 16-bit stage: a span is a whole scale's weights (32 for q4_K / q5_K, else 16), one
    // dot per vector and token, then one multiply by the scale per span and token. The
    // integer sums are the same, so the results are too, bit for bit.
    static constexpr bool int32_sums = !V::pair_sums && requires(typename V::I a) { V::mul32(a, a); };
    static constexpr int span32 = Type == TensorType::q4_K || Type == TensorType::q5_K ? 32 : 16;
    // Where 16 weights' int32 sum fits 16 bits (|sum| <= 16 * max quant * 128: q2_K, q3_K,
    // q4_K), V::madd16_add (one vpdpwssd with VNNI) applies the scale per 16 weights,
    // reading each sum as a signed low half times the scale with a zero high half, where a
    // 32-bit multiply takes two operations and an add. The minimums' part uses it too.
    static constexpr bool fused_scale = int32_sums && 16 * k_max_quant(Type) * 128 < 32768;

    // A table may unpack a panel's quants with its own vector code (AVX2 does).
    static constexpr bool vector_quants = requires(const std::byte* w, uint8_t* q) { V::template panel_quants<Type>(w, 0, 0, 0, q); };

    static void decode(const std::byte* w, size_t w_stride, size_t rows, size_t block, Panel& p) {
        if constexpr (vector_quants) V::template panel_quants<Type>(w, w_stride, rows, block, p.q);
        DecodedSuperBlock s;
        for (size_t r = 0; r < R; ++r) {
            if (r < rows) {
                decode_k_block(Type, w + r * w_stride, block, s, !vector_quants);
            } else {
                s = DecodedSuperBlock{};  // rows past the end of the matrix: zero weights
            }
            if constexpr (!vector_quants) {
                for (size_t j = 0; j < qk_k; ++j) p.q[(j / 4) * 4 * R + 4 * r + j % 4] = s.u[j];
            }
            for (size_t g = 0; g < 16; ++g) p.scale[g * R + r] = pair16(s.scale[g], s.scale[g]);
            for (size_t j = 0; j < 8; ++j) {
                const int lo = has_min ? s.min[2 * j] : offset * s.scale[2 * j];
                const int hi = has_min ? s.min[2 * j + 1] : offset * s.scale[2 * j + 1];
                p.min[j * R + r] = pair16(lo, hi);
            }
            p.d[r] = s.d;
            p.dmin[r] = has_min ? s.dmin : s.d;
        }
    }

    // y[t] (R lanes) += the pass's super-blocks times token t's q8_K blocks: per super-block
    // the scales' integer sum times d * da into one float sum, the minimums' times
    // dmin * -da into another, the two added at the end.
    // Not inlined: inside a larger caller GCC spilled the 16-bit sums.
    template <int T>
    [[gnu::noinline]] static void tile(const Panel* panels, size_t count, const BlockQ8_K* const* acts, float* y, size_t y_stride,
                                       size_t valid_rows) {
        alignas(64) float main_sum[T][R] = {}, min_sum[T][R] = {};
        for (size_t b = 0; b < count; ++b) {
            const Panel& p = panels[b];
            typename V::I isum[T];
            for (int t = 0; t < T; ++t) isum[t] = V::zero();
            if constexpr (fused_scale) {
                const typename V::I low_half = V::set1(0x0000ffff);
                for (int first = 0; first < static_cast<int>(qk_k); first += 16) {
                    typename V::I sum32[T];
                    for (int t = 0; t < T; ++t) sum32[t] = V::zero();
                    for (int k = first; k < first + 16; k += 4) {
                        const typename V::I w = V::load(reinterpret_cast<const std::byte*>(p.q + static_cast<size_t>(k) * R));
                        for (int t = 0; t < T; ++t) sum32[t] = V::dot(sum32[t], w, V::broadcast4(acts[t][b].qs + k));
                    }
                    const typename V::I scale =
                        V::and_(V::load(reinterpret_cast<const std::byte*>(p.scale + static_cast<size_t>(first / 16) * R)), low_half);
                    for (int t = 0; t < T; ++t) isum[t] = V::madd16_add(isum[t], sum32[t], scale);
                }
            } else if constexpr (int32_sums) {
                for (int first = 0; first < static_cast<int>(qk_k); first += span32) {
                    typename V::I sum32[T];
                    for (int t = 0; t < T; ++t) sum32[t] = V::zero();
                    for (int k = first; k < first + span32; k += 4) {
                        const typename V::I w = V::load(reinterpret_cast<const std::byte*>(p.q + static_cast<size_t>(k) * R));
                        for (int t = 0; t < T; ++t) sum32[t] = V::dot(sum32[t], w, V::broadcast4(acts[t][b].qs + k));
                    }
                    // The scale is in both 16-bit halves: the high one, sign-extended.
                    const typename V::I scale = V::template shift_right_arith32<16>(
                        V::load(reinterpret_cast<const std::byte*>(p.scale + static_cast<size_t>(first / 16) * R)));
                    for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::mul32(sum32[t], scale));
                }
            } else {
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
            }
            const typename V::F d = V::load_f(p.d);
            for (int t = 0; t < T; ++t) {
                V::store_f(main_sum[t], V::fmadd(V::to_float(isum[t]), V::mul(d, V::set1_f(acts[t][b].d)), V::load_f(main_sum[t])));
            }
            // The minimums' part: bsums of 16 weights in pairs, as int32 words of q8_K's bsums.
            for (int t = 0; t < T; ++t) {
                typename V::I imin = V::zero();
                const auto* pairs = reinterpret_cast<const int32_t*>(acts[t][b].bsums);
                for (size_t j = 0; j < 8; ++j) {
                    imin = V::madd16_add(imin, V::load(reinterpret_cast<const std::byte*>(p.min + j * R)), V::broadcast_i32(pairs + j));
                }
                const typename V::F factor = V::mul(V::load_f(p.dmin), V::set1_f(-acts[t][b].d));
                V::store_f(min_sum[t], V::fmadd(V::to_float(imin), factor, V::load_f(min_sum[t])));
            }
        }
        alignas(64) float lanes[R];
        for (int t = 0; t < T; ++t) {
            V::store_f(lanes, V::add_f(V::load_f(main_sum[t]), V::load_f(min_sum[t])));
            float* out = y + static_cast<size_t>(t) * y_stride;
            for (size_t r = 0; r < valid_rows; ++r) out[r] += lanes[r];
        }
    }

    template <int T>
    static void tail(size_t n, const Panel* panels, size_t count, const BlockQ8_K* const* acts, float* y, size_t y_stride,
                     size_t valid_rows) {
        if constexpr (T > 0) {
            if (n == T) return tile<T>(panels, count, acts, y, y_stride, valid_rows);
            tail<T - 1>(n, panels, count, acts, y, y_stride, valid_rows);
        }
    }

    /// Every token against one pass of decoded panels (super-blocks b0 .. b0 + count of
    /// rows r0 .. r0 + valid): y += their share. y must start at zero.
    static void run_pass(const Panel* panels, size_t count, const std::byte* a, size_t a_stride, size_t b0, size_t tokens,
                         float* y, size_t y_stride, size_t valid) {
        const BlockQ8_K* acts[V::tokens];
        for (size_t t0 = 0; t0 < tokens; t0 += V::tokens) {
            const size_t n = std::min<size_t>(V::tokens, tokens - t0);
            for (size_t t = 0; t < n; ++t) acts[t] = reinterpret_cast<const BlockQ8_K*>(a + (t0 + t) * a_stride) + b0;
            float* out = y + t0 * y_stride;
            if (n == V::tokens) {
                tile<V::tokens>(panels, count, acts, out, y_stride, valid);
            } else {
                tail<V::tokens - 1>(n, panels, count, acts, out, y_stride, valid);
            }
        }
    }

    /// MulRows over the file layout (rows w_stride bytes apart, any row count).
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        if constexpr (!std::is_same_v<decltype(RowDot), std::nullptr_t>) {
            if (tokens <= 2) {  // too few tokens to pay for the decoding: the table's row dot, same sums
                for (size_t r = 0; r < rows; ++r) {
                    for (size_t t = 0; t < tokens; ++t) y[t * y_stride + r] = RowDot(w + r * w_stride, a + t * a_stride, cols);
                }
                return;
            }
        }
        const size_t blocks = cols / qk_k;
        Panel panels[k_blocks_per_pass];
        for (size_t t = 0; t < tokens; ++t) std::fill(y + t * y_stride, y + t * y_stride + rows, 0.0f);
        for (size_t r0 = 0; r0 < rows; r0 += R) {
            const size_t valid = std::min(R, rows - r0);
            for (size_t b0 = 0; b0 < blocks; b0 += k_blocks_per_pass) {
                const size_t count = std::min(k_blocks_per_pass, blocks - b0);
                for (size_t i = 0; i < count; ++i) decode(w + r0 * w_stride, w_stride, valid, b0 + i, panels[i]);
                run_pass(panels, count, a, a_stride, b0, tokens, y + r0, y_stride, valid);
            }
        }
    }
};

}  // namespace
}  // namespace nibble::kernels
