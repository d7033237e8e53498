// How the panel kernels read their panels (software prefetch, vectors loaded once, read
// streams). Prefetch serves the few-token tiles, whose work per byte is too little for
// the out-of-order window to keep enough cache misses in flight on some CPUs.
// Whether it pays depends on the CPU's prefetchers, so the distances are chosen once at
// run time (dispatch.cpp). Two kinds: into every level (prefetcht0) a little ahead, and
// into L2 only (prefetcht2) further ahead, whose misses tie up no L1 fill buffer for
// the whole trip to memory. Intel: on one Xeon VM (family 6 model 207) prefetching
// nearly doubled matrix x vector from memory (6.6 -> 11.6 GB/s at 2 KiB ahead, 12.9 at
// 4 KiB); on another (model 167, 480 MiB L3) 2 KiB gave 1.1B q4_0 generation 25.5 ->
// 26.7 t/s where 4 KiB lost (22.0), and L2 prefetches 6 KiB ahead on top took Q4_K_M
// 21.2 -> 24.4 t/s at 1 thread and 39.4 -> 45.0 at 2 (q4_0 +5-8 %, Q6_K +2-4 %).
// On Zen 3 prefetching cost 6-23 % of generation, as the hardware prefetcher already
// follows each stream there. On Zen 4 (an EPYC VM, family 25 model 17) L2-only
// prefetches 32 KiB ahead won in noisy hours and lost in a quiet one (1 thread q4_0
// 39.2 -> 34.2 t/s, Q6_K 29.2 -> 26.6; 2 threads level), and into L1 they cost a third,
// so AMD stays without.
#pragma once

#include <cstddef>

namespace nibble::kernels {

/// Bytes ahead of the read position that few-token panel tiles prefetch; 0: not that kind.
struct PrefetchDistances {
    size_t l1 = 0;  ///< into every cache level
    size_t l2 = 0;  ///< into L2 only
};

/// The CPU's default, or NIBBLE_PREFETCH=L1[,L2] (checked by check_read_settings).
PrefetchDistances prefetch_distances() noexcept;

/// How many panel streams one token's matrix x vector reads at once per thread (1, 2 or 4):
/// the CPU's default, or NIBBLE_STREAMS. On one Xeon VM (family 6 model 167, 105 MiB L3)
/// a core read one sequential stream at 9.2-9.8 GB/s with or without software prefetch,
/// four at 14-17.
size_t generation_streams() noexcept;

/// Throws Error if NIBBLE_PREFETCH is set to anything but one or two byte counts up to 1 MiB, or NIBBLE_STREAMS
/// to anything but 1, 2 or 4.
void check_read_settings();

namespace {

// Every 64-byte line of the block of Bytes bytes that lies each distance past `block`.
template <class V, size_t Bytes>
inline void prefetch_ahead(const std::byte* block, PrefetchDistances ahead) {
    if (ahead.l1 != 0) {
        for (size_t line = 0; line < Bytes; line += 64) V::prefetch(block + ahead.l1 + line);
    }
    if (ahead.l2 != 0) {
        for (size_t line = 0; line < Bytes; line += 64) V::prefetch_l2(block + ahead.l2 + line);
    }
}

// A panel vector loaded into a register once. Where a kernel both masks and shifts it
// (nibbles, 2- and 6-bit quants), GCC otherwise folds the load into each of them: two
// loads of every line (one token from L2 on avx512vnni: q4_0 47.5 -> 52 GB/s, q6_K
// 34.5 -> 38-41.5).
template <class V>
[[gnu::always_inline]] inline typename V::I load_once(const std::byte* p) {
    typename V::I v = V::load(p);
    V::keep_in_register(v);
    return v;
}

// One token over the panels [0, panels) of `rows_per_panel` rows: S equal stretches
// walked in lockstep, each a long sequential stream; step(starts, outs) meets one panel
// of each (outs: where its rows' results go). Returns the rows done: the rest go one
// panel at a time.
template <size_t S, class Step>
size_t over_stretches(const std::byte* w, size_t w_stride, size_t panels, size_t rows_per_panel, float* y, Step step) {
    const size_t stretch = panels / S;
    for (size_t k = 0; k < stretch; ++k) {
        const std::byte* starts[S];
        float* outs[S];
        for (size_t s = 0; s < S; ++s) {
            starts[s] = w + (s * stretch + k) * w_stride;
            outs[s] = y + (s * stretch + k) * rows_per_panel;
        }
        step(starts, outs);
    }
    return stretch * S * rows_per_panel;
}

}  // namespace
}  // namespace nibble::kernels
