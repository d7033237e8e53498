// What the machine gives: read bandwidth (a STREAM-like probe) and process memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nibble::bench {

/// Best read bandwidth in bytes/s over `passes` passes of `bytes` of memory, read by
/// `threads` threads each summing its own slice, as the weights are read in generation.
double probe_read_bandwidth(size_t bytes, int threads, int passes);

/// Resets the kernel's peak-RSS mark (Linux /proc/self/clear_refs); false if unsupported.
bool reset_peak_rss();
/// Peak resident set (VmHWM) in bytes since start or the last reset; 0 if unknown.
uint64_t peak_rss_bytes();

/// "AMD EPYC ..." from /proc/cpuinfo, or "" if unknown.
std::string cpu_name();

}  // namespace nibble::bench
