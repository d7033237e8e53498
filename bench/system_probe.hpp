// What the machine gives: read bandwidth (a STREAM-like probe) and process memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nibble::bench {

struct ProbeResult {
    double bytes_per_second = 0;
    const char* kernel = "";  ///< the read kernel that was fastest
    bool huge_pages = false;  ///< whether its buffer asked for 2 MiB pages
};

/// Read bandwidth of `bytes` of memory, read by `threads` threads each over its own
/// slice, as the weights are read in generation: the best of `passes` passes of each of
/// several read kernels (one to eight streams per thread, wide loads, with and without
/// software prefetch), over memory in 4 KiB pages and in huge pages as the packed weights
/// ask for, so that real code should not beat it.
ProbeResult probe_read_bandwidth(size_t bytes, int threads, int passes);

/// Resets the kernel's peak-RSS mark (Linux /proc/self/clear_refs); false if unsupported.
bool reset_peak_rss();
/// Peak resident set (VmHWM) in bytes since start or the last reset; 0 if unknown.
uint64_t peak_rss_bytes();

/// "AMD EPYC ..." from /proc/cpuinfo, or "" if unknown.
std::string cpu_name();

}  // namespace nibble::bench
