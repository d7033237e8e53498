// Matrix x matrix (and matrix x vector) over weights packed in panels (packed.hpp),
// written once for every x86 vector width V. A tile is R rows (one per int32 lane) by
// T tokens; the unpacked weights of a block stay in registers while every token of the
// tile meets them, so unpacking is paid once per tile, not once per token.
//
// Weights are unsigned in the panels (nibbles 0..15; q8_0 offset by 128), so offset x
// (sum of the activation quants met) comes off each int32 sum, taken from the activation
// row's ActivationBlockSums; the result is exact integer arithmetic. With a 4-way dot
// instruction (VNNI, SDOT), elements 0..15 and 16..31 of a block use separate
// accumulators: two short dependency chains, and q4_2's two scales fall out for free.
// Without one, 16-bit pair sums (maddubs, widening multiplies) collect a whole block, or
// one q4_2 half, before they are widened once.
//
// Included by one file per ISA; internal linkage throughout.
#pragma once

#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/prefetch.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble::kernels {
namespace {

template <class V, TensorType Type>
struct PackedGemm {
    static constexpr size_t R = V::rows;
    static constexpr bool nibbles = Type != TensorType::q8_0;
    // q5_0 / q5_1: nibbles plus a word of fifth bits per row (packed.hpp), OR-ed in as bit 4.
    static constexpr bool fifth = Type == TensorType::q5_0 || Type == TensorType::q5_1;
    static constexpr bool has_min = Type == TensorType::q4_1 || Type == TensorType::q5_1;
    // q8_0's bytes are stored offset by 128; without a u8 x i8 instruction that takes
    // 255 (VNNI), they are turned back into signed bytes and multiplied with signs moved.
    static constexpr bool signed_q8 = Type == TensorType::q8_0 && !V::unsigned_bytes;
    // iq4_nl: the nibbles index a grid of signed values (a byte shuffle), multiplied as
    // signed; with a u8 x i8 instruction, the grid plus 128 multiplied as unsigned instead
    // (no sign moves per product), 128 x the block's sum taken off as q8_0's is.
    static constexpr bool grid = Type == TensorType::iq4_nl;
    static constexpr bool unsigned_grid = grid && V::unsigned_bytes;
    static constexpr int32_t offset = has_min || signed_q8 || (grid && !unsigned_grid) ? 0
                                      : Type == TensorType::q8_0 || unsigned_grid ? 128
                                      : Type == TensorType::q5_0 ? 16
                                                                 : 8;
    static constexpr size_t quant_bytes = (nibbles ? 16 : 32) * R + (fifth ? 4 * R : 0);
    static constexpr size_t block_bytes =
        quant_bytes + R * 2 * (Type == TensorType::q4_0 || Type == TensorType::q8_0 || Type == TensorType::q5_0 || grid ? 1 : 2);
    // Chunks whose 16-bit pair sums fit before widening: 8 products of 31 * 127 for q5.
    static constexpr size_t chunks_per_widen = fifth ? 2 : 4;

    // -offset x the activations' sum of a block, where its int32 sum starts: one broadcast load.
    static typename V::I offset_start(const ActivationBlockSums& s) {
        if constexpr (offset == 0) return V::zero();
        else if constexpr (offset == 8) return V::broadcast_i32(&s.minus_8_sum);
        else if constexpr (offset == 16) return V::broadcast_i32(&s.minus_16_sum);
        else {
            static_assert(offset == 128, "an offset without its sum in ActivationBlockSums");
            return V::broadcast_i32(&s.minus_128_sum);
        }
    }

    // iq4_nl's grid values times activations: unsigned (plus 128) or signed.
    static typename V::I grid_dot(typename V::I acc, typename V::I w, typename V::I s) {
        if constexpr (unsigned_grid) return V::dot(acc, w, s);
        else return V::dot_signed(acc, w, s);
    }

    // Chunk c's nibbles (elements 4c.. and 16 + 4c..) with q5's fifth bits in place.
    static void chunk_weights(const std::byte* block, size_t c, typename V::I& low, typename V::I& high) {
        const typename V::I packed = load_once<V>(block + c * 4 * R);
        low = V::low_nibbles(packed);
        high = V::high_nibbles(packed);
        if constexpr (fifth) {
            const typename V::I bits = V::load(block + 16 * R), bit4 = V::set1(0x10101010);
            typename V::I lo5, hi5;
            switch (c) {
                case 0: lo5 = V::template shift_left<4>(bits); hi5 = bits; break;
                case 1: lo5 = V::template shift_left<3>(bits); hi5 = V::template shift_right32<1>(bits); break;
                case 2: lo5 = V::template shift_left<2>(bits); hi5 = V::template shift_right32<2>(bits); break;
                default: lo5 = V::template shift_left<1>(bits); hi5 = V::template shift_right32<3>(bits); break;
            }
            low = V::or_(low, V::and_(lo5, bit4));
            high = V::or_(high, V::and_(hi5, bit4));
        }
    }

    // Block b of one panel (at `block`) met by T tokens, added to out[0..T).
    template <int T>
    [[gnu::always_inline]] static inline void block_step(const std::byte* block, size_t b, const int8_t* const* quants,
                                                         const ActivationBlockSums* const* sums, typename V::F* out) {
        constexpr bool pair_path = nibbles && V::pair_sums && !grid;
        const size_t q = b * sizeof(BlockQ8_0);
        const std::byte* scales = block + quant_bytes;
        if constexpr (pair_path && Type == TensorType::q4_2) {
            // A scale per half block: one half at a time, each finished in float before
            // the next, so only T 16-bit sums are live (both at once would spill).
            for (int half = 0; half < 2; ++half) {
                typename V::I sum16[T];
                for (int t = 0; t < T; ++t) sum16[t] = V::zero();
                for (size_t c = 0; c < 4; ++c) {
                    const typename V::I packed = V::load(block + c * 4 * R);
                    const typename V::I weights = half == 0 ? V::low_nibbles(packed) : V::high_nibbles(packed);
                    for (int t = 0; t < T; ++t) {
                        const int8_t* s = quants[t] + q + 16 * static_cast<size_t>(half) + 4 * c;
                        sum16[t] = V::add16(sum16[t], V::pair_products(weights, V::broadcast4(s)));
                        V::keep_in_register(sum16[t]);
                    }
                }
                const typename V::F d = V::load_half(scales + static_cast<size_t>(half) * 2 * R);
                for (int t = 0; t < T; ++t) {
                    const int32_t* half_sum = half == 0 ? &sums[t][b].sum_lo : &sums[t][b].sum_hi;
                    const typename V::I total =
                        V::sub(V::widen_pairs(sum16[t]), V::template shift_left<3>(V::broadcast_i32(half_sum)));
                    out[t] = V::fmadd(V::to_float(total), V::mul(d, V::set1_f(sums[t][b].d)), out[t]);
                }
            }
            return;
        }
        // Elements 0..15 in lo and 16..31 in hi where q4_2 scales them apart, else the
        // whole block in lo: one chain per token, started at -offset x sum.
        typename V::I lo[T], hi[T];
        typename V::I* const upper = Type == TensorType::q4_2 ? hi : lo;
        if constexpr (!pair_path && Type == TensorType::q4_2) {  // each half scaled apart
            for (int t = 0; t < T; ++t) {
                lo[t] = V::set1(-offset * sums[t][b].sum_lo);
                hi[t] = V::set1(-offset * sums[t][b].sum_hi);
            }
        } else if constexpr (!pair_path) {
            for (int t = 0; t < T; ++t) {
                lo[t] = offset_start(sums[t][b]);
            }
        }
        if constexpr (pair_path) {
            // No 4-way dot instruction: 16-bit pair products (at most 2 * 15 * 127) of
            // all 8 groups still fit int16 summed, so widen once per block, not per group.
            // GCC would otherwise reassociate these sums into trees and hoist every
            // product ahead, spilling the accumulators.
            typename V::I sum16[T];
            for (int t = 0; t < T; ++t) sum16[t] = V::zero();
            if constexpr (chunks_per_widen < 4) {
                for (int t = 0; t < T; ++t) lo[t] = V::zero();
            }
            for (size_t c = 0; c < 4; ++c) {
                typename V::I low, high;
                chunk_weights(block, c, low, high);
                for (int t = 0; t < T; ++t) {
                    const typename V::I first = V::pair_products(low, V::broadcast4(quants[t] + q + 4 * c));
                    const typename V::I second = V::pair_products(high, V::broadcast4(quants[t] + q + 16 + 4 * c));
                    sum16[t] = V::add16(V::add16(sum16[t], first), second);
                    V::keep_in_register(sum16[t]);
                }
                if constexpr (chunks_per_widen < 4) {
                    if (c + 1 == chunks_per_widen) {  // q5: half the block, widened before the rest
                        for (int t = 0; t < T; ++t) {
                            lo[t] = V::add(lo[t], V::widen_pairs(sum16[t]));
                            sum16[t] = V::zero();
                        }
                    }
                }
            }
            // The offset comes off after widening: one broadcast load and an add.
            for (int t = 0; t < T; ++t) {
                if constexpr (chunks_per_widen < 4) {
                    lo[t] = V::add(lo[t], V::widen_pairs(sum16[t]));
                } else {
                    lo[t] = V::widen_pairs(sum16[t]);
                }
                if constexpr (offset != 0) lo[t] = V::add(lo[t], offset_start(sums[t][b]));
            }
        } else if constexpr (grid) {
            const typename V::I values = V::grid16(unsigned_grid ? iq4_values_plus_128.v : iq4_values);
            for (size_t c = 0; c < 4; ++c) {
                const typename V::I packed = V::load(block + c * 4 * R);
                const typename V::I low = V::lookup16(values, V::low_nibbles(packed));
                const typename V::I high = V::lookup16(values, V::high_nibbles(packed));
                for (int t = 0; t < T; ++t) {
                    lo[t] = grid_dot(lo[t], low, V::broadcast4(quants[t] + q + 4 * c));
                    lo[t] = grid_dot(lo[t], high, V::broadcast4(quants[t] + q + 16 + 4 * c));
                    V::keep_in_register(lo[t]);
                }
            }
        } else if constexpr (nibbles) {
            for (size_t c = 0; c < 4; ++c) {
                typename V::I low, high;
                chunk_weights(block, c, low, high);
                for (int t = 0; t < T; ++t) {
                    lo[t] = V::dot(lo[t], low, V::broadcast4(quants[t] + q + 4 * c));
                    upper[t] = V::dot(upper[t], high, V::broadcast4(quants[t] + q + 16 + 4 * c));
                    V::keep_in_register(lo[t]);
                    V::keep_in_register(upper[t]);
                }
            }
        } else if constexpr (signed_q8) {
            for (size_t g = 0; g < 4; ++g) {
                const typename V::I first = V::flip_sign_bits(V::load(block + g * 4 * R));
                const typename V::I second = V::flip_sign_bits(V::load(block + (g + 4) * 4 * R));
                for (int t = 0; t < T; ++t) {
                    lo[t] = V::dot_signed(lo[t], first, V::broadcast4(quants[t] + q + 4 * g));
                    upper[t] = V::dot_signed(upper[t], second, V::broadcast4(quants[t] + q + 16 + 4 * g));
                    V::keep_in_register(lo[t]);
                    V::keep_in_register(upper[t]);
                }
            }
        } else {
            for (size_t g = 0; g < 4; ++g) {
                const typename V::I first = V::load(block + g * 4 * R), second = V::load(block + (g + 4) * 4 * R);
                for (int t = 0; t < T; ++t) {
                    lo[t] = V::dot(lo[t], first, V::broadcast4(quants[t] + q + 4 * g));
                    upper[t] = V::dot(upper[t], second, V::broadcast4(quants[t] + q + 16 + 4 * g));
                    V::keep_in_register(lo[t]);
                    V::keep_in_register(upper[t]);
                }
            }
        }
        const typename V::F d = V::load_half(scales);
        if constexpr (Type == TensorType::q4_2) {
            const typename V::F d_hi = V::load_half(scales + 2 * R);
            for (int t = 0; t < T; ++t) {
                const typename V::F halves = V::fmadd(V::to_float(hi[t]), d_hi, V::mul(V::to_float(lo[t]), d));
                out[t] = V::fmadd(halves, V::set1_f(sums[t][b].d), out[t]);
            }
        } else {
            for (int t = 0; t < T; ++t) {
                const typename V::I total = lo[t];
                out[t] = V::fmadd(V::to_float(total), V::mul(d, V::set1_f(sums[t][b].d)), out[t]);
            }
        }
        if constexpr (has_min) {
            const typename V::F m = V::load_half(scales + 2 * R);
            for (int t = 0; t < T; ++t) {
                out[t] = V::fmadd(m, V::set1_f(sums[t][b].d * static_cast<float>(sums[t][b].sum)), out[t]);
            }
        }
    }

    template <int T>
    static void tile(const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, size_t sums_offset, float* y,
                     size_t y_stride) {
        const PrefetchDistances ahead = prefetch_distances();
        typename V::F out[T];
        const int8_t* quants[T];
        const ActivationBlockSums* sums[T];
        for (int t = 0; t < T; ++t) {
            out[t] = V::zero_f();
            quants[t] = reinterpret_cast<const BlockQ8_0*>(a + static_cast<size_t>(t) * a_stride)->qs;
            sums[t] = reinterpret_cast<const ActivationBlockSums*>(a + static_cast<size_t>(t) * a_stride + sums_offset);
        }
        for (size_t b = 0; b < blocks; ++b) {
            const std::byte* block = panel + b * block_bytes;
            if (T <= 2) prefetch_ahead<V, block_bytes>(block, ahead);
            block_step<T>(block, b, quants, sums, out);
        }
        for (int t = 0; t < T; ++t) V::store_f(y + static_cast<size_t>(t) * y_stride, out[t]);
    }

    // One token against S panels at once, a block of each in turn: S read streams where
    // tile<1> has one (prefetch.hpp, generation_streams).
    template <size_t S>
    static void stream_tile(const std::byte* const* panels, size_t blocks, const std::byte* a, size_t sums_offset,
                            float* const* y) {
        const PrefetchDistances ahead = prefetch_distances();
        const int8_t* const quants[1] = {reinterpret_cast<const BlockQ8_0*>(a)->qs};
        const ActivationBlockSums* const sums[1] = {reinterpret_cast<const ActivationBlockSums*>(a + sums_offset)};
        typename V::F out[S];
        for (size_t s = 0; s < S; ++s) out[s] = V::zero_f();
        for (size_t b = 0; b < blocks; ++b) {
            for (size_t s = 0; s < S; ++s) {
                const std::byte* block = panels[s] + b * block_bytes;
                prefetch_ahead<V, block_bytes>(block, ahead);
                block_step<1>(block, b, quants, sums, &out[s]);
            }
        }
        for (size_t s = 0; s < S; ++s) V::store_f(y[s], out[s]);
    }

    // One token over the panels [0, panels), S stretches in lockstep (over_stretches).
    template <size_t S>
    static size_t mul_streams(const std::byte* w, size_t w_stride, size_t panels, const std::byte* a, size_t blocks,
                              size_t sums_offset, float* y) {
        return over_stretches<S>(w, w_stride, panels, R, y, [&](const std::byte* const* starts, float* const* outs) {
            stream_tile<S>(starts, blocks, a, sums_offset, outs);
        });
    }

    template <int T>
    static void tail(size_t n, const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, size_t sums_offset,
                     float* y, size_t y_stride) {
        if constexpr (T > 0) {
            if (n == T) return tile<T>(panel, blocks, a, a_stride, sums_offset, y, y_stride);
            tail<T - 1>(n, panel, blocks, a, a_stride, sums_offset, y, y_stride);
        }
    }

    /// MulRows over packed weights: w is the first panel, panels are w_stride bytes apart,
    /// rows is a multiple of R.
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        const size_t blocks = cols / qk8_0, sums_offset = q8_activation_sums_offset(cols);
        size_t r0 = 0;
        if (tokens == 1) {
            const size_t streams = generation_streams();
            if (streams == 4) r0 = mul_streams<4>(w, w_stride, rows / R, a, blocks, sums_offset, y);
            else if (streams == 2) r0 = mul_streams<2>(w, w_stride, rows / R, a, blocks, sums_offset, y);
        }
        for (; r0 < rows; r0 += R) {
            const std::byte* panel = w + (r0 / R) * w_stride;
            size_t t0 = 0;
            for (; t0 + V::tokens <= tokens; t0 += V::tokens) {
                tile<V::tokens>(panel, blocks, a + t0 * a_stride, a_stride, sums_offset, y + t0 * y_stride + r0, y_stride);
            }
            tail<V::tokens - 1>(tokens - t0, panel, blocks, a + t0 * a_stride, a_stride, sums_offset, y + t0 * y_stride + r0,
                                y_stride);
        }
    }
};

}  // namespace
}  // namespace nibble::kernels
