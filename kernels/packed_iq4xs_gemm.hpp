// Matrix x matrix (and x vector) over iq4_xs weights packed in panels (packed.hpp),
// written once over the vector-ops struct V of packed_gemm.hpp: R rows in int32 lanes,
// T tokens. A group of 4R bytes holds 4 k of every row in its low nibbles and the 4 k
// 16 elements later in its high nibbles; both are looked up in the grid with a byte
// shuffle. With a u8 x i8 dot instruction (VNNI) the grid is looked up plus 128, summed
// per sub-block from -128 x its activations' sum and scaled in int32; without, grid values
// are multiplied as signed bytes (grid values and q8_K activations stay within +-127, so
// a 16-bit pair sum cannot overflow: it is scaled at once, by the sub-block's 6-bit scale
// less 32 in a 16-bit multiply-add). Either way each super-block's integer sum is the
// same and takes one float step, as the row dot's does: the same bits for any batch.
#pragma once

#include <algorithm>

#include "kernels/blocks.hpp"
#include "kernels/ktile_gemm.hpp"
#include "kernels/packed_k_gemm.hpp"

namespace nibble::kernels {
namespace {

template <class V>
struct PackedIQ4XSGemm {
    using Ops = V;
    static constexpr bool split_sums = false;  // one float step per super-block, as the row dot
    static constexpr size_t R = V::rows;
    static constexpr size_t block_bytes = sizeof(BlockIQ4_XS) * R;
    static constexpr size_t groups_offset = 8 * R;  // after d, scales_h and scales_l
    using I = typename V::I;

    // Sub-block J's scale less 32 in both 16-bit halves of every lane: its low 4 bits are
    // nibble J % 2 of byte J / 2 of the scales_l word, its top 2 bits bits 2J of scales_h
    // (held in both halves of `high`, so one shift and mask place them in both).
    template <int J>
    static I scale_pair(I low_nibbles, I high_nibbles, I high) {
        const I low = V::lookup16(J % 2 == 0 ? low_nibbles : high_nibbles, V::grid16(LaneBytes<J / 2, -1, J / 2, -1>::pattern));
        I top;
        if constexpr (2 * J <= 4) top = V::and_(V::template shift_left<4 - 2 * J>(high), V::set1(0x00300030));
        else top = V::and_(V::template shift_right32<2 * J - 4>(high), V::set1(0x00300030));
        return V::sub16(V::or_(low, top), V::set1(0x00200020));
    }
    template <int... J>
    static void scale_pairs(const std::byte* block, I* scales, std::integer_sequence<int, J...>) {
        const I words = V::load(block + 4 * R), low4 = V::set1(0x0f0f0f0f);
        const I low_nibbles = V::and_(words, low4), high_nibbles = V::and_(V::template shift_right32<4>(words), low4);
        const I h = V::load_u16_lanes(block + 2 * R);
        const I high = V::or_(h, V::template shift_left<16>(h));
        ((scales[J] = scale_pair<J>(low_nibbles, high_nibbles, high)), ...);
    }

    // Super-block b of one panel (at `block`) met by T tokens, added to total[0..T).
    template <int T>
    [[gnu::always_inline]] static inline void block_step(const std::byte* block, const BlockQ8_K* const* acts, size_t b,
                                                         typename V::F* total, typename V::F*) {
        I scales[8];
        scale_pairs(block, scales, std::make_integer_sequence<int, 8>{});
        I isum[T];
        for (int t = 0; t < T; ++t) isum[t] = V::zero();
        if constexpr (V::unsigned_bytes) {
            // A u8 x i8 dot instruction: the grid plus 128 as unsigned bytes, a sub-block's
            // sum started at -128 x its activations' sum (two of q8_K's 16-element sums),
            // then times its scale in int32: the same integer as below, fewer operations.
            const I grid = V::grid16(iq4_values_plus_128.v);
            for (size_t j = 0; j < 8; ++j) {
                I sub[T];
                for (int t = 0; t < T; ++t) sub[t] = V::set1(-128 * (acts[t][b].bsums[2 * j] + acts[t][b].bsums[2 * j + 1]));
                for (size_t c = 0; c < 4; ++c) {
                    const I packed = load_once<V>(block + groups_offset + (4 * j + c) * 4 * R);
                    const I low = V::lookup16(grid, V::low_nibbles(packed)), high = V::lookup16(grid, V::high_nibbles(packed));
                    for (int t = 0; t < T; ++t) {
                        const int8_t* q8 = acts[t][b].qs + 32 * j + 4 * c;
                        sub[t] = V::dot(V::dot(sub[t], low, V::broadcast4(q8)), high, V::broadcast4(q8 + 16));
                        V::keep_in_register(sub[t]);
                    }
                }
                const I scale = V::template shift_right_arith32<16>(scales[j]);  // the pair's upper half, sign-extended
                for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::mul32(sub[t], scale));
            }
        } else {
            signed_sums<T>(block, acts, b, scales, isum);
        }
        const typename V::F d = V::load_half(block);
        for (int t = 0; t < T; ++t) total[t] = V::fmadd(V::to_float(isum[t]), V::mul(d, V::set1_f(acts[t][b].d)), total[t]);
    }

    // Without one: grid values and activations multiplied as signed bytes in 16-bit pair sums.
    template <int T>
    [[gnu::always_inline]] static inline void signed_sums(const std::byte* block, const BlockQ8_K* const* acts, size_t b,
                                                          const I* scales, I* isum) {
        const I grid = V::grid16(iq4_values);
        for (size_t j = 0; j < 8; ++j) {
            for (size_t c = 0; c < 4; ++c) {
                const I packed = V::load(block + groups_offset + (4 * j + c) * 4 * R);
                const I low = V::lookup16(grid, V::low_nibbles(packed)), high = V::lookup16(grid, V::high_nibbles(packed));
                const I low_magnitude = V::magnitude(low), high_magnitude = V::magnitude(high);
                for (int t = 0; t < T; ++t) {
                    const int8_t* q8 = acts[t][b].qs + 32 * j + 4 * c;
                    const I first = V::pair_products(low_magnitude, V::sign_of(V::broadcast4(q8), low));
                    const I second = V::pair_products(high_magnitude, V::sign_of(V::broadcast4(q8 + 16), high));
                    isum[t] = V::add(isum[t], V::add(V::madd16(first, scales[j]), V::madd16(second, scales[j])));
                    V::keep_in_register(isum[t]);
                }
            }
        }
    }

    template <int T>
    static void tile(const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, float* y, size_t y_stride) {
        const PrefetchDistances ahead = prefetch_distances();
        const BlockQ8_K* acts[T];
        for (int t = 0; t < T; ++t) acts[t] = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(t) * a_stride);
        typename V::F total[T];
        for (int t = 0; t < T; ++t) total[t] = V::zero_f();
        for (size_t b = 0; b < blocks; ++b) {
            const std::byte* block = panel + b * block_bytes;
            if (T <= 2) prefetch_ahead<V, block_bytes>(block, ahead);
            block_step<T>(block, acts, b, total, nullptr);
        }
        for (int t = 0; t < T; ++t) V::store_f(y + static_cast<size_t>(t) * y_stride, total[t]);
    }

    /// MulRows over packed iq4_xs: w is the first panel, panels w_stride bytes apart, rows a multiple of R.
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        over_token_tiles<PackedIQ4XSGemm, V::tokens>(w, w_stride, rows, a, a_stride, tokens, cols / qk_k, y, y_stride);
    }
};

}  // namespace
}  // namespace nibble::kernels
