// Software prefetch for the panel kernels' few-token tiles, whose work per byte is too
// little for the out-of-order window to keep enough cache misses in flight on some CPUs.
// Whether it pays depends on the CPU's prefetchers, so the distance is chosen once at
// run time (dispatch.cpp). Intel: on one Xeon VM (family 6 model 207) prefetching nearly
// doubled matrix x vector from memory (6.6 -> 11.6 GB/s at 2 KiB ahead, 12.9 at 4 KiB);
// on another (model 167, 480 MiB L3) 2 KiB gave 1.1B q4_0 generation 25.5 -> 26.7 t/s
// and Q6_K 13.2 -> 15.1 where 4 KiB lost (22.0, 14.1): 2 KiB is near the best on both.
// On Zen 3 it cost 6-23 % of generation, as the hardware prefetcher already follows
// each stream there.
#pragma once

#include <cstddef>

namespace nibble::kernels {

/// Bytes ahead of the read position that few-token panel tiles prefetch; 0: none.
/// NIBBLE_PREFETCH=BYTES overrides the CPU's default (checked by check_prefetch_setting).
size_t prefetch_ahead_bytes() noexcept;

/// Throws Error if NIBBLE_PREFETCH is set to anything but a byte count up to 1 MiB.
void check_prefetch_setting();

namespace {

// Every 64-byte line of one block of Bytes bytes at p (p is past the block being read).
template <class V, size_t Bytes>
inline void prefetch_block(const std::byte* p) {
    for (size_t line = 0; line < Bytes; line += 64) V::prefetch(p + line);
}

}  // namespace
}  // namespace nibble::kernels
