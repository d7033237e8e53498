// Matrix x matrix (and x vector) over the K types' weights packed in panels
// (packed.hpp), written once over the vector-ops struct V of packed_gemm.hpp: R rows in
// int32 lanes, T tokens. Each super-block's 6-bit scales and minimums are unpacked for all
// R rows at once with 32-bit lane operations on the three packed words; nibbles are split
// in registers and meet each token's broadcast activation bytes; 16-bit pair sums of a
// sub-block (16 products of at most 15 * 127 each; 8 of 31 * 127 for q5_K) are scaled in
// one multiply-add. The integer sums of
// a super-block then take the float steps of ktile_gemm.hpp (scales' part and minimums'
// part apart per pass), so results equal the file-layout kernels' bit for bit.
#pragma once

#include <type_traits>
#include <utility>

#include "kernels/blocks.hpp"
#include "kernels/prefetch.hpp"
#include "kernels/ktile_gemm.hpp"

namespace nibble::kernels {
namespace {

// A byte-shuffle control that builds every 32-bit lane from bytes B0..B3 of the same lane
// (-1: a zero byte); the same 16 bytes serve every 128-bit lane of a shuffle (lookup16).
template <int B0, int B1, int B2, int B3>
struct LaneBytes {
    static constexpr int8_t at(int i, int b) { return static_cast<int8_t>(b < 0 ? -128 : 4 * i + b); }
    alignas(16) static constexpr int8_t pattern[16] = {at(0, B0), at(0, B1), at(0, B2), at(0, B3), at(1, B0), at(1, B1),
                                                       at(1, B2), at(1, B3), at(2, B0), at(2, B1), at(2, B2), at(2, B3),
                                                       at(3, B0), at(3, B1), at(3, B2), at(3, B3)};
};

// Packed K-type panels unpacked, a pass of super-blocks at a time, into the tiled
// kernel's decoded panels, which then meet every token (Unpack: one packed super-block
// of R rows -> one Tiled::Panel).
template <class Tiled, size_t BlockBytes, class Unpack>
void through_tiled_panels(Unpack unpack, const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride,
                          size_t tokens, size_t blocks, float* y, size_t y_stride) {
    typename Tiled::Panel panels[k_blocks_per_pass];
    for (size_t t = 0; t < tokens; ++t) std::fill(y + t * y_stride, y + t * y_stride + rows, 0.0f);
    for (size_t r0 = 0; r0 < rows; r0 += Tiled::R) {
        const std::byte* panel = w + (r0 / Tiled::R) * w_stride;
        for (size_t b0 = 0; b0 < blocks; b0 += k_blocks_per_pass) {
            const size_t count = std::min(k_blocks_per_pass, blocks - b0);
            for (size_t i = 0; i < count; ++i) unpack(panel + (b0 + i) * BlockBytes, panels[i]);
            Tiled::run_pass(panels, count, a, a_stride, b0, tokens, y + r0, y_stride, Tiled::R);
        }
    }
}

// One tile of the n (< T + 1) tokens left over: Kernel::tile<n>.
template <class Kernel, int T>
void last_tile(size_t n, const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, float* y, size_t y_stride) {
    if constexpr (T > 0) {
        if (n == T) return Kernel::template tile<T>(panel, blocks, a, a_stride, y, y_stride);
        last_tile<Kernel, T - 1>(n, panel, blocks, a, a_stride, y, y_stride);
    }
}

// Super-blocks [0, blocks) into N float sums the way ktile_gemm.hpp takes them:
// step(b, main_sum, min_sum) adds block b's scales' and minimums' parts to N sums each,
// and every k_blocks_per_pass blocks those join the totals.
template <class V, size_t N, class Step>
[[gnu::always_inline]] inline void over_passes(size_t blocks, typename V::F* total, Step step) {
    for (size_t n = 0; n < N; ++n) total[n] = V::zero_f();
    for (size_t b0 = 0; b0 < blocks; b0 += k_blocks_per_pass) {
        typename V::F main_sum[N], min_sum[N];
        for (size_t n = 0; n < N; ++n) main_sum[n] = min_sum[n] = V::zero_f();
        for (size_t b = b0; b < std::min(blocks, b0 + k_blocks_per_pass); ++b) step(b, main_sum, min_sum);
        for (size_t n = 0; n < N; ++n) total[n] = V::add_f(total[n], V::add_f(main_sum[n], min_sum[n]));
    }
}

// One token against S panels at once, a super-block of each in turn: S read streams where
// tile<1> has one (prefetch.hpp, generation_streams). Kernel::block_step<1> adds a
// super-block into the sums tile<1> keeps (split_sums: over_passes; else the total
// itself), in the same order: the same bits.
template <class Kernel, size_t S>
void k_stream_tile(const std::byte* const* panels, size_t blocks, const BlockQ8_K* act, float* const* y) {
    using V = typename Kernel::Ops;
    using F = typename V::F;
    const PrefetchDistances ahead = prefetch_distances();
    const BlockQ8_K* const acts[1] = {act};
    F total[S];
    if constexpr (Kernel::split_sums) {
        over_passes<V, S>(blocks, total, [&](size_t b, F* main_sum, F* min_sum) {
            for (size_t s = 0; s < S; ++s) {
                const std::byte* block = panels[s] + b * Kernel::block_bytes;
                prefetch_ahead<V, Kernel::block_bytes>(block, ahead);
                Kernel::template block_step<1>(block, acts, b, &main_sum[s], &min_sum[s]);
            }
        });
    } else {
        for (size_t s = 0; s < S; ++s) total[s] = V::zero_f();
        for (size_t b = 0; b < blocks; ++b) {
            for (size_t s = 0; s < S; ++s) {
                const std::byte* block = panels[s] + b * Kernel::block_bytes;
                prefetch_ahead<V, Kernel::block_bytes>(block, ahead);
                Kernel::template block_step<1>(block, acts, b, &total[s], nullptr);
            }
        }
    }
    for (size_t s = 0; s < S; ++s) V::store_f(y[s], total[s]);
}

// Packed panels of Kernel::R rows times tokens in tiles of MaxT, then one tile for the
// rest: Kernel::tile<T>(panel, blocks, a, a_stride, y, y_stride) for each. One token
// walks generation_streams() stretches of panels at once first, at most 2: a super-block
// step reads 2.3-3.4 KiB of each stream (a q4_0 step 288 bytes), and on the model-167 Xeon
// VM with 480 MiB L3 four such streams cost Q4_K_M and Q6_K generation 5-7 % where two
// were even with one (docs/benchmarks.md, session 12).
template <class Kernel, int MaxT>
void over_token_tiles(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                      size_t blocks, float* y, size_t y_stride) {
    constexpr size_t R = Kernel::R;
    size_t done = 0;
    if (tokens == 1 && generation_streams() >= 2) {
        const BlockQ8_K* act = reinterpret_cast<const BlockQ8_K*>(a);
        done = over_stretches<2>(w, w_stride, rows / R, R, y, [&](const std::byte* const* starts, float* const* outs) {
            k_stream_tile<Kernel, 2>(starts, blocks, act, outs);
        });
    }
    for (size_t r0 = done; r0 < rows; r0 += R) {
        const std::byte* panel = w + (r0 / R) * w_stride;
        size_t t0 = 0;
        for (; t0 + MaxT <= tokens; t0 += MaxT) {
            Kernel::template tile<MaxT>(panel, blocks, a + t0 * a_stride, a_stride, y + t0 * y_stride + r0, y_stride);
        }
        last_tile<Kernel, MaxT - 1>(tokens - t0, panel, blocks, a + t0 * a_stride, a_stride, y + t0 * y_stride + r0, y_stride);
    }
}

// The tile of a kernel whose block_step<T> adds a super-block into scales' and minimums'
// sums (split_sums, over_passes); prefetching where few tokens leave the loads waiting
// (T <= PrefetchUpTo).
template <class Kernel, int T, int PrefetchUpTo>
void k_split_tile(const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, float* y, size_t y_stride) {
    using V = typename Kernel::Ops;
    using F = typename V::F;
    const PrefetchDistances ahead = prefetch_distances();
    const BlockQ8_K* acts[T];
    for (int t = 0; t < T; ++t) acts[t] = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(t) * a_stride);
    F total[T];
    over_passes<V, T>(blocks, total, [&](size_t b, F* main_sum, F* min_sum) {
        const std::byte* block = panel + b * Kernel::block_bytes;
        if (T <= PrefetchUpTo) prefetch_ahead<V, Kernel::block_bytes>(block, ahead);
        Kernel::template block_step<T>(block, acts, b, main_sum, min_sum);
    });
    for (int t = 0; t < T; ++t) V::store_f(y + static_cast<size_t>(t) * y_stride, total[t]);
}

// q4_K and q5_K panels (packed.hpp); q5_K's fifth bits, one group of 4R bytes per 4 k,
// are shifted to bit 4 and OR-ed into the nibbles of every chunk.
template <class V, TensorType Type>
    requires(Type == TensorType::q4_K || Type == TensorType::q5_K)
struct PackedQ45KGemm {
    using Ops = V;
    using Tiled = KTileGemm<V, Type>;
    static constexpr bool split_sums = true;
    static constexpr size_t R = V::rows;
    static constexpr bool fifth = Type == TensorType::q5_K;
    static constexpr size_t block_bytes = (fifth ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K)) * R;
    static constexpr size_t quants_offset = (fifth ? 48 : 16) * R;  // after d, dmin, scales (and q5_K's fifth bits)
    // 3 x T accumulators plus the weights: three tokens fill AVX2's 16 registers (two
    // with q5_K's fifth bits).
    static constexpr int max_tokens = R == 8 ? (fifth ? 2 : 3) : V::tokens;

    // Byte k of every lane as a 16-bit value in both halves of the lane (for madd16): one
    // byte shuffle, where shifts and masks took four operations.
    template <int K>
    static typename V::I byte_pairs(typename V::I v) {
        return V::lookup16(v, V::grid16(LaneBytes<K, -1, K, -1>::pattern));
    }

    // The scales (first) and minimums of sub-blocks 4h .. 4h+3, byte j of each lane.
    static void scales_and_mins(const std::byte* block, typename V::I& sc_lo, typename V::I& sc_hi, typename V::I& mn_lo,
                                typename V::I& mn_hi) {
        const typename V::I a = V::load(block + 4 * R), b = V::load(block + 8 * R), c = V::load(block + 12 * R);
        const typename V::I low6 = V::set1(0x3f3f3f3f), low4 = V::set1(0x0f0f0f0f), top2 = V::set1(0x03030303);
        sc_lo = V::and_(a, low6);
        mn_lo = V::and_(b, low6);
        sc_hi = V::or_(V::and_(c, low4), V::template shift_left<4>(V::and_(V::template shift_right32<6>(a), top2)));
        mn_hi = V::or_(V::and_(V::template shift_right32<4>(c), low4), V::template shift_left<4>(V::and_(V::template shift_right32<6>(b), top2)));
    }

    template <int K>
    static typename V::I pick(typename V::I lo, typename V::I hi) {
        if constexpr (K < 4) return byte_pairs<K>(lo); else return byte_pairs<K - 4>(hi);
    }

    // Bit B of every byte of v moved to bit 4, the rest cleared.
    template <int B>
    static typename V::I bit_to_4(typename V::I v) {
        if constexpr (B < 4) return V::and_(V::template shift_left<4 - B>(v), V::set1(0x10101010));
        else return V::and_(V::template shift_right32<B - 4>(v), V::set1(0x10101010));
    }

    // Group g of chunk C as its low-nibble and high-nibble elements, q5_K's fifth bits in.
    template <int C>
    static void group_weights(const std::byte* block, size_t g, typename V::I& low, typename V::I& high) {
        const typename V::I w = load_once<V>(block + quants_offset + (8 * C + g) * 4 * R);
        low = V::low_nibbles(w);
        high = V::high_nibbles(w);
        if constexpr (fifth) {
            const typename V::I bits = load_once<V>(block + 16 * R + g * 4 * R);
            low = V::or_(low, bit_to_4<2 * C>(bits));
            high = V::or_(high, bit_to_4<2 * C + 1>(bits));
        }
    }

    // 16-bit pair sums of 8 groups fit for nibbles (8 * 2 * 15 * 127), of 4 for q5_K.
    static constexpr size_t groups_per_widen = fifth ? 4 : 8;

    // With VNNI and a 32-bit multiply (KTileGemm::int32_sums): one dot per group and token
    // into an int32 sum of a whole sub-block, then one multiply by its scale, where the
    // 16-bit path takes a pair product and an add per group. Same integer sums, same bits.
    static constexpr bool int32_sums = Tiled::int32_sums;

    // Byte K of every lane zero-extended to 32 bits (K < 4: of lo, else of hi).
    template <int K>
    static typename V::I lane_byte(typename V::I lo, typename V::I hi) {
        return V::lookup16(K < 4 ? lo : hi, V::grid16(LaneBytes<K % 4, -1, -1, -1>::pattern));
    }

    template <int C, int T>
    static void chunk(const std::byte* block, const int8_t* const* q8, typename V::I sc_lo, typename V::I sc_hi,
                      typename V::I* isum) {
        if constexpr (int32_sums) {
            typename V::I first[T], second[T];
            for (int t = 0; t < T; ++t) first[t] = second[t] = V::zero();
            for (size_t g = 0; g < 8; ++g) {
                typename V::I low, high;
                group_weights<C>(block, g, low, high);
                for (int t = 0; t < T; ++t) {
                    first[t] = V::dot(first[t], low, V::broadcast4(q8[t] + 64 * C + 4 * g));
                    second[t] = V::dot(second[t], high, V::broadcast4(q8[t] + 64 * C + 32 + 4 * g));
                }
            }
            const typename V::I s0 = lane_byte<2 * C>(sc_lo, sc_hi), s1 = lane_byte<2 * C + 1>(sc_lo, sc_hi);
            for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::add(V::mul32(first[t], s0), V::mul32(second[t], s1)));
            return;
        }
        const typename V::I s0 = pick<2 * C>(sc_lo, sc_hi), s1 = pick<2 * C + 1>(sc_lo, sc_hi);
        for (size_t g0 = 0; g0 < 8; g0 += groups_per_widen) {
            typename V::I first[T], second[T];
            for (int t = 0; t < T; ++t) first[t] = second[t] = V::zero();
            for (size_t g = g0; g < g0 + groups_per_widen; ++g) {
                typename V::I low, high;
                group_weights<C>(block, g, low, high);
                for (int t = 0; t < T; ++t) {
                    first[t] = V::add16(first[t], V::pair_products(low, V::broadcast4(q8[t] + 64 * C + 4 * g)));
                    second[t] = V::add16(second[t], V::pair_products(high, V::broadcast4(q8[t] + 64 * C + 32 + 4 * g)));
                    V::keep_in_register(first[t]);
                    V::keep_in_register(second[t]);
                }
            }
            for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::add(V::madd16(first[t], s0), V::madd16(second[t], s1)));
        }
    }

    template <int J, int T>
    static void min_part(typename V::I mn_lo, typename V::I mn_hi, const BlockQ8_K* const* acts, size_t b, typename V::I* imin) {
        if constexpr (J < 8) {
            const typename V::I m = pick<J>(mn_lo, mn_hi);
            for (int t = 0; t < T; ++t) {
                imin[t] = V::add(imin[t], V::madd16(m, V::broadcast_i32(reinterpret_cast<const int32_t*>(acts[t][b].bsums) + J)));
            }
            min_part<J + 1, T>(mn_lo, mn_hi, acts, b, imin);
        }
    }

    // Super-block b of one panel (at `block`) met by T tokens, into their sums.
    template <int T>
    [[gnu::always_inline]] static inline void block_step(const std::byte* block, const BlockQ8_K* const* acts, size_t b,
                                                         typename V::F* main_sum, typename V::F* min_sum) {
        const int8_t* q8[T];
        for (int t = 0; t < T; ++t) q8[t] = acts[t][b].qs;
        typename V::I sc_lo, sc_hi, mn_lo, mn_hi, isum[T], imin[T];
        scales_and_mins(block, sc_lo, sc_hi, mn_lo, mn_hi);
        for (int t = 0; t < T; ++t) isum[t] = imin[t] = V::zero();
        chunk<0, T>(block, q8, sc_lo, sc_hi, isum);
        chunk<1, T>(block, q8, sc_lo, sc_hi, isum);
        chunk<2, T>(block, q8, sc_lo, sc_hi, isum);
        chunk<3, T>(block, q8, sc_lo, sc_hi, isum);
        min_part<0, T>(mn_lo, mn_hi, acts, b, imin);
        const typename V::F d = V::load_half(block), dmin = V::load_half(block + 2 * R);
        for (int t = 0; t < T; ++t) {
            main_sum[t] = V::fmadd(V::to_float(isum[t]), V::mul(d, V::set1_f(acts[t][b].d)), main_sum[t]);
            min_sum[t] = V::fmadd(V::to_float(imin[t]), V::mul(dmin, V::set1_f(-acts[t][b].d)), min_sum[t]);
        }
    }

    template <int T>
    static void tile(const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, float* y, size_t y_stride) {
        k_split_tile<PackedQ45KGemm, T, 2>(panel, blocks, a, a_stride, y, y_stride);
    }

    template <int C>
    static void unpack_chunk(const std::byte* block, typename Tiled::Panel& p) {
        for (size_t g = 0; g < 8; ++g) {
            typename V::I low, high;
            group_weights<C>(block, g, low, high);
            V::store(p.q + (16 * C + g) * 4 * R, low);
            V::store(p.q + (16 * C + 8 + g) * 4 * R, high);
        }
    }

    // One packed super-block as the tiled kernel's decoded panel: quants split into bytes,
    // scales and minimums widened to their 16-bit pairs.
    static void unpack(const std::byte* block, typename Tiled::Panel& p) {
        unpack_chunk<0>(block, p);
        unpack_chunk<1>(block, p);
        unpack_chunk<2>(block, p);
        unpack_chunk<3>(block, p);
        typename V::I sc_lo, sc_hi, mn_lo, mn_hi;
        scales_and_mins(block, sc_lo, sc_hi, mn_lo, mn_hi);
        const typename V::I sc[8] = {pick<0>(sc_lo, sc_hi), pick<1>(sc_lo, sc_hi), pick<2>(sc_lo, sc_hi), pick<3>(sc_lo, sc_hi),
                                     pick<4>(sc_lo, sc_hi), pick<5>(sc_lo, sc_hi), pick<6>(sc_lo, sc_hi), pick<7>(sc_lo, sc_hi)};
        const typename V::I mn[8] = {pick<0>(mn_lo, mn_hi), pick<1>(mn_lo, mn_hi), pick<2>(mn_lo, mn_hi), pick<3>(mn_lo, mn_hi),
                                     pick<4>(mn_lo, mn_hi), pick<5>(mn_lo, mn_hi), pick<6>(mn_lo, mn_hi), pick<7>(mn_lo, mn_hi)};
        for (size_t j = 0; j < 8; ++j) {
            V::store(reinterpret_cast<uint8_t*>(p.scale + 2 * j * R), sc[j]);
            V::store(reinterpret_cast<uint8_t*>(p.scale + (2 * j + 1) * R), sc[j]);
            V::store(reinterpret_cast<uint8_t*>(p.min + j * R), mn[j]);
        }
        V::store_f(p.d, V::load_half(block));
        V::store_f(p.dmin, V::load_half(block + 2 * R));
    }

    /// MulRows over packed q4_K / q5_K: w is the first panel, panels w_stride bytes apart, rows a multiple of R.
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        const size_t blocks = cols / qk_k;
        if (tokens > static_cast<size_t>(max_tokens)) {
            // Many tokens: unpacking once into the tiled kernel's panels pays (same sums, same bits).
            return through_tiled_panels<Tiled, block_bytes>(unpack, w, w_stride, rows, a, a_stride, tokens, blocks, y, y_stride);
        }
        over_token_tiles<PackedQ45KGemm, max_tokens>(w, w_stride, rows, a, a_stride, tokens, blocks, y, y_stride);
    }
};

// q2_K, q3_K and q6_K panels (packed.hpp): 16 scales a super-block, one per 16 weights.
// Per group g of half n (4 bytes of every row: elements 128n + 32k + 4g + i for k < 4)
// the quants' bit planes give four vectors of unsigned quants in registers; 16-bit pair
// sums of 8 weights (4 products of at most 63 * 127) are scaled by the scales, widened
// into 16-bit pairs by a byte shuffle. The minimums' part (q2_K: 4-bit minimums times
// dmin) or the offset's (offset * scale * bsum, with d) is one multiply-add per 32 weights.
template <class V, TensorType Type>
    requires(Type == TensorType::q2_K || Type == TensorType::q3_K || Type == TensorType::q6_K)
struct PackedQ236KGemm {
    using Ops = V;
    static constexpr bool split_sums = true;
    static constexpr size_t R = V::rows;
    using Block = std::conditional_t<Type == TensorType::q2_K, BlockQ2_K, std::conditional_t<Type == TensorType::q3_K, BlockQ3_K, BlockQ6_K>>;
    static constexpr size_t block_bytes = sizeof(Block) * R;
    static constexpr int max_tokens = 2;
    using Tiled = KTileGemm<V, Type>;
    using I = typename V::I;
    // Where the parts of a panel's super-block start (packed.hpp).
    static constexpr size_t scales_offset = (Type == TensorType::q2_K ? 4 : 2) * R;
    static constexpr size_t groups_offset = Type == TensorType::q2_K ? 20 * R : Type == TensorType::q3_K ? 46 * R : 18 * R;
    static constexpr size_t group_bytes = (Type == TensorType::q6_K ? 12 : 4) * R;
    static constexpr size_t hmask_offset = 14 * R;  // q3_K
    // log2 of the offset the quants carry (q3_K: 4, q6_K: 32); q2_K has minimums instead.
    static constexpr int offset_bits = Type == TensorType::q3_K ? 2 : Type == TensorType::q6_K ? 5 : 0;

    // Bytes Lo and Hi of every lane (of 0..127, or signed) sign-extended into its low and
    // high 16-bit halves: each shuffled into the top byte of its half, then shifted down.
    template <int Lo, int Hi>
    static I signed_pair(I word) {
        return V::template shift_right_arith16<8>(V::lookup16(word, V::grid16(LaneBytes<-1, Lo, -1, Hi>::pattern)));
    }
    // Scale S (0..15) of every row in both halves; bytes 2j and 2j + 1 as one pair.
    template <int S>
    static I scale_pair(const I* words) { return signed_pair<S % 4, S % 4>(words[S / 4]); }
    template <int J>
    static I two_pair(const I* words) { return signed_pair<(2 * J) % 4, (2 * J) % 4 + 1>(words[J / 2]); }
    template <int... S>
    static void scale_pairs(const I* words, I* scales, std::integer_sequence<int, S...>) { ((scales[S] = scale_pair<S>(words)), ...); }
    // Scale S as a sign-extended int32 in every lane (the int32-sum path's multiplier).
    template <int S>
    static I scale32(const I* words) {
        return V::template shift_right_arith32<24>(V::lookup16(words[S / 4], V::grid16(LaneBytes<-1, -1, -1, S % 4>::pattern)));
    }
    template <int... S>
    static void scales32(const I* words, I* scales, std::integer_sequence<int, S...>) { ((scales[S] = scale32<S>(words)), ...); }
    template <int... J>
    static void two_pairs(const I* words, I* pairs, std::integer_sequence<int, J...>) { ((pairs[J] = two_pair<J>(words)), ...); }

    // With VNNI and a 32-bit multiply (KTileGemm::int32_sums): the quants of a scale's 16
    // weights meet each token in int32 sums, one dot per vector, then one multiply by the
    // scale, where the 16-bit path takes a pair product and an add per vector. Same
    // integer sums, same bits.
    static constexpr bool int32_sums = Tiled::int32_sums;

    // The 16 scales as 16-bit pairs (Int32: as int32), and per 32 weights the pair of
    // minimums (q2_K) or of scales (the offset's part, multiplied by 2^offset_bits after summing).
    template <bool Int32>
    static void scales_and_pairs(const std::byte* block, I* scales, I* pairs) {
        const I low4 = V::set1(0x0f0f0f0f);
        I words[4];
        if constexpr (Type == TensorType::q2_K) {  // scale in the low nibble, minimum in the high
            I mins[4];
            for (size_t w = 0; w < 4; ++w) {
                const I packed = V::load(block + scales_offset + w * 4 * R);
                words[w] = V::and_(packed, low4);
                mins[w] = V::and_(V::template shift_right32<4>(packed), low4);
            }
            two_pairs(mins, pairs, std::make_integer_sequence<int, 8>{});
        } else if constexpr (Type == TensorType::q3_K) {  // q3_k_scales four bytes at a time, 0..63
            const I a = V::load(block + scales_offset), b = V::load(block + scales_offset + 4 * R),
                    c = V::load(block + scales_offset + 8 * R), two = V::set1(0x03030303);
            words[0] = V::or_(V::and_(a, low4), V::template shift_left<4>(V::and_(c, two)));
            words[1] = V::or_(V::and_(b, low4), V::template shift_left<4>(V::and_(V::template shift_right32<2>(c), two)));
            words[2] = V::or_(V::and_(V::template shift_right32<4>(a), low4), V::template shift_left<4>(V::and_(V::template shift_right32<4>(c), two)));
            words[3] = V::or_(V::and_(V::template shift_right32<4>(b), low4), V::template shift_left<4>(V::and_(V::template shift_right32<6>(c), two)));
        } else {
            for (size_t w = 0; w < 4; ++w) words[w] = V::load(block + scales_offset + w * 4 * R);
        }
        if constexpr (Int32) {
            scales32(words, scales, std::make_integer_sequence<int, 16>{});
        } else {
            scale_pairs(words, scales, std::make_integer_sequence<int, 16>{});
        }
        if constexpr (Type != TensorType::q2_K) two_pairs(words, pairs, std::make_integer_sequence<int, 8>{});
        if constexpr (Type == TensorType::q3_K) {  // stored with 32 added
            const I bias = V::set1(0x00200020);
            for (size_t k = 0; k < 16; ++k) scales[k] = Int32 ? V::sub(scales[k], V::set1(32)) : V::sub16(scales[k], bias);
            for (size_t j = 0; j < 8; ++j) pairs[j] = V::sub16(pairs[j], bias);
        }
    }

    // Bit B of every byte moved to bit 2 (q3_K's hmask bit: +4), the rest cleared.
    template <int B>
    static I high_bit(I v) {
        const I four = V::set1(0x04040404);
        if constexpr (B < 2) return V::and_(V::template shift_left<2 - B>(v), four);
        else return V::and_(V::template shift_right32<B - 2>(v), four);
    }

    // The four quant vectors of group g of half n: elements 128n + 32k + 4g + i in u[k].
    template <int N>
    static void quants(const std::byte* block, size_t g, I* u) {
        const std::byte* group = block + groups_offset + (8 * N + g) * group_bytes;
        if constexpr (Type == TensorType::q6_K) {  // three 6-bit quants, the fourth in their top bit pairs
            const I a = load_once<V>(group), b = load_once<V>(group + 4 * R), c = load_once<V>(group + 8 * R);
            const I low6 = V::set1(0x3f3f3f3f);
            u[0] = V::and_(a, low6);
            u[1] = V::and_(b, low6);
            u[2] = V::and_(c, low6);
            u[3] = V::or_(V::or_(V::and_(V::template shift_right32<6>(a), V::set1(0x03030303)),
                                 V::and_(V::template shift_right32<4>(b), V::set1(0x0c0c0c0c))),
                          V::and_(V::template shift_right32<2>(c), V::set1(0x30303030)));
        } else {
            const I q = load_once<V>(group), three = V::set1(0x03030303);
            u[0] = V::and_(q, three);
            u[1] = V::and_(V::template shift_right32<2>(q), three);
            u[2] = V::and_(V::template shift_right32<4>(q), three);
            u[3] = V::and_(V::template shift_right32<6>(q), three);
            if constexpr (Type == TensorType::q3_K) {
                const I h = V::load(block + hmask_offset + g * 4 * R);  // bit 4n + k: element 128n + 32k + l
                u[0] = V::or_(u[0], high_bit<4 * N>(h));
                u[1] = V::or_(u[1], high_bit<4 * N + 1>(h));
                u[2] = V::or_(u[2], high_bit<4 * N + 2>(h));
                u[3] = V::or_(u[3], high_bit<4 * N + 3>(h));
            }
        }
    }

    // Half N of a super-block against T tokens, into isum.
    template <int N, int T>
    static void half(const std::byte* block, const I* scales, const BlockQ8_K* const* acts, size_t b, I* isum) {
        if constexpr (int32_sums) {
            for (size_t h2 = 0; h2 < 2; ++h2) {  // groups 4 h2 .. 4 h2 + 3: one scale per k
                I sum32[4][T];
                for (auto& k : sum32) {
                    for (int t = 0; t < T; ++t) k[t] = V::zero();
                }
                for (size_t g = 4 * h2; g < 4 * h2 + 4; ++g) {
                    I u[4];
                    quants<N>(block, g, u);
                    for (size_t k = 0; k < 4; ++k) {
                        for (int t = 0; t < T; ++t) {
                            sum32[k][t] = V::dot(sum32[k][t], u[k], V::broadcast4(acts[t][b].qs + 128 * N + 32 * k + 4 * g));
                        }
                    }
                }
                for (size_t k = 0; k < 4; ++k) {
                    const I scale = scales[8 * N + 2 * k + h2];
                    for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::mul32(sum32[k][t], scale));
                }
            }
            return;
        }
        for (size_t h = 0; h < 4; ++h) {
            I sum16[4][T];
            for (auto& k : sum16) {
                for (int t = 0; t < T; ++t) k[t] = V::zero();
            }
            for (size_t g = 2 * h; g < 2 * h + 2; ++g) {
                I u[4];
                quants<N>(block, g, u);
                for (size_t k = 0; k < 4; ++k) {
                    for (int t = 0; t < T; ++t) {
                        const int8_t* q8 = acts[t][b].qs + 128 * N + 32 * k + 4 * g;
                        sum16[k][t] = V::add16(sum16[k][t], V::pair_products(u[k], V::broadcast4(q8)));
                    }
                }
            }
            for (size_t k = 0; k < 4; ++k) {
                const I scale = scales[8 * N + 2 * k + h / 2];
                for (int t = 0; t < T; ++t) isum[t] = V::add(isum[t], V::madd16(sum16[k][t], scale));
            }
        }
    }

    // Super-block b of one panel (at `block`) met by T tokens, into their sums.
    template <int T>
    [[gnu::always_inline]] static inline void block_step(const std::byte* block, const BlockQ8_K* const* acts, size_t b,
                                                         typename V::F* main_sum, typename V::F* min_sum) {
        // Kept in memory: in registers they would push out the sums.
        I scales[16], pairs[8];
        scales_and_pairs<int32_sums>(block, scales, pairs);
        I isum[T], imin[T];
        for (int t = 0; t < T; ++t) isum[t] = imin[t] = V::zero();
        half<0, T>(block, scales, acts, b, isum);
        half<1, T>(block, scales, acts, b, isum);
        for (size_t j = 0; j < 8; ++j) {
            for (int t = 0; t < T; ++t) {
                imin[t] = V::add(imin[t], V::madd16(pairs[j], V::broadcast_i32(reinterpret_cast<const int32_t*>(acts[t][b].bsums) + j)));
            }
        }
        const typename V::F d = V::load_half(block);
        const typename V::F dmin = Type == TensorType::q2_K ? V::load_half(block + 2 * R) : d;
        for (int t = 0; t < T; ++t) {
            main_sum[t] = V::fmadd(V::to_float(isum[t]), V::mul(d, V::set1_f(acts[t][b].d)), main_sum[t]);
            min_sum[t] = V::fmadd(V::to_float(V::template shift_left<offset_bits>(imin[t])), V::mul(dmin, V::set1_f(-acts[t][b].d)), min_sum[t]);
        }
    }

    template <int T>
    static void tile(const std::byte* panel, size_t blocks, const std::byte* a, size_t a_stride, float* y, size_t y_stride) {
        k_split_tile<PackedQ236KGemm, T, max_tokens>(panel, blocks, a, a_stride, y, y_stride);
    }

    template <int N>
    static void unpack_half(const std::byte* block, typename Tiled::Panel& p) {
        for (size_t g = 0; g < 8; ++g) {
            I u[4];
            quants<N>(block, g, u);
            for (size_t k = 0; k < 4; ++k) V::store(p.q + (32 * N + 8 * k + g) * 4 * R, u[k]);
        }
    }

    // One packed super-block as the tiled kernel's decoded panel.
    static void unpack(const std::byte* block, typename Tiled::Panel& p) {
        unpack_half<0>(block, p);
        unpack_half<1>(block, p);
        I scales[16], pairs[8];
        scales_and_pairs<false>(block, scales, pairs);
        for (size_t s = 0; s < 16; ++s) V::store(reinterpret_cast<uint8_t*>(p.scale + s * R), scales[s]);
        // offset * scale in both halves: |32 * scale| <= 4096 stays within 16 bits
        for (size_t j = 0; j < 8; ++j) V::store(reinterpret_cast<uint8_t*>(p.min + j * R), V::template shift_left16<offset_bits>(pairs[j]));
        const typename V::F d = V::load_half(block);
        V::store_f(p.d, d);
        V::store_f(p.dmin, Type == TensorType::q2_K ? V::load_half(block + 2 * R) : d);
    }

    /// MulRows over packed q2_K / q3_K / q6_K: w is the first panel, panels w_stride bytes apart, rows a multiple of R.
    static void mul(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                    size_t cols, float* y, size_t y_stride) {
        const size_t blocks = cols / qk_k;
        if (tokens > static_cast<size_t>(max_tokens)) {
            // Many tokens: unpacking once into the tiled kernel's panels pays (same sums, same bits).
            return through_tiled_panels<Tiled, block_bytes>(unpack, w, w_stride, rows, a, a_stride, tokens, blocks, y, y_stride);
        }
        over_token_tiles<PackedQ236KGemm, max_tokens>(w, w_stride, rows, a, a_stride, tokens, blocks, y, y_stride);
    }
};

}  // namespace
}  // namespace nibble::kernels
