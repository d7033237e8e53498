#include "bench/system_probe.hpp"

#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "src/huge_pages.hpp"

namespace nibble::bench {
namespace {

// The read kernels of the probe. Generation reads weights as wide loads from one or a
// few streams per thread; which pattern the memory system serves fastest differs by CPU
// (prefetchers, channels), so the probe tries several and reports the best: a ceiling,
// not one loop's figure.
using ReadKernel = uint64_t (*)(const uint64_t* p, size_t n);

// Several independent accumulators so the loads, not an add chain, set the pace; the
// compiler vectorizes it.
uint64_t sum_words(const uint64_t* p, size_t n) {
    uint64_t a[8] = {};
    for (size_t i = 0; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; ++j) a[j] += p[i + j];
    }
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

// `Streams` parts of the slice read in lockstep, a 64-byte line of each per step into two
// vector accumulators; with `Prefetch`, a software prefetch 2 KiB ahead in each stream.
// GCC's vector extension: 256-bit AVX2 loads in the avx2 clones below, 128-bit pairs on NEON.
using Words4 = uint64_t __attribute__((vector_size(32), aligned(32)));

template <int Streams, bool Prefetch>
inline __attribute__((always_inline)) uint64_t read_lines(const uint64_t* p, size_t n) {
    const size_t part = n / Streams / 8 * 8;
    Words4 acc[2 * Streams] = {};
    for (size_t i = 0; i < part; i += 8) {
        for (int s = 0; s < Streams; ++s) {
            const uint64_t* line = p + static_cast<size_t>(s) * part + i;
            if constexpr (Prefetch) __builtin_prefetch(line + 256);
            Words4 a, b;
            __builtin_memcpy(&a, line, sizeof a);
            __builtin_memcpy(&b, line + 4, sizeof b);
            acc[2 * s] += a;
            acc[2 * s + 1] += b;
        }
    }
    Words4 total = {};
    for (const Words4& a : acc) total += a;
    return total[0] + total[1] + total[2] + total[3];
}

#if defined(__x86_64__) && defined(__GNUC__)
#define NIBBLE_PROBE_TARGET __attribute__((target("avx2")))
bool probe_kernels_usable() { return __builtin_cpu_supports("avx2"); }
#else
#define NIBBLE_PROBE_TARGET
bool probe_kernels_usable() { return true; }
#endif

NIBBLE_PROBE_TARGET uint64_t lines_1(const uint64_t* p, size_t n) { return read_lines<1, false>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_2(const uint64_t* p, size_t n) { return read_lines<2, false>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_4(const uint64_t* p, size_t n) { return read_lines<4, false>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_8(const uint64_t* p, size_t n) { return read_lines<8, false>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_1_prefetch(const uint64_t* p, size_t n) { return read_lines<1, true>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_2_prefetch(const uint64_t* p, size_t n) { return read_lines<2, true>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_4_prefetch(const uint64_t* p, size_t n) { return read_lines<4, true>(p, n); }
NIBBLE_PROBE_TARGET uint64_t lines_8_prefetch(const uint64_t* p, size_t n) { return read_lines<8, true>(p, n); }

struct NamedKernel {
    const char* name;
    ReadKernel read;
    bool wide;  ///< needs probe_kernels_usable()
};

constexpr NamedKernel read_kernels[] = {
    {"words", sum_words, false},
    {"lines-1", lines_1, true},
    {"lines-2", lines_2, true},
    {"lines-4", lines_4, true},
    {"lines-8", lines_8, true},
    {"lines-1-prefetch", lines_1_prefetch, true},
    {"lines-2-prefetch", lines_2_prefetch, true},
    {"lines-4-prefetch", lines_4_prefetch, true},
    {"lines-8-prefetch", lines_8_prefetch, true},
};

uint64_t status_field(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) == 0) return std::stoull(line.substr(key.size())) * 1024;  // kB
    }
    return 0;
}

}  // namespace

ProbeResult probe_read_bandwidth(size_t bytes, int threads, int passes) {
    threads = std::max(threads, 1);
    const size_t words = bytes / sizeof(uint64_t) / 64 * 64;
    const size_t per_thread = words / static_cast<size_t>(threads) / 64 * 64;  // whole lines for 8 streams
    ProbeResult best;
    volatile uint64_t sink = 0;
    // 4 KiB pages, then huge pages as the packed weights have (detail::allocate_huge_pages):
    // one thread read 1 GiB at 21-28 GB/s in the former and at 27-34 in the latter on a VM
    // here, so a probe without them is no ceiling. One buffer at a time: `bytes`, not twice.
    for (const bool huge : {false, true}) {
        size_t buffer_bytes = words * sizeof(uint64_t);
        const detail::HugePageBuffer buffer = detail::allocate_huge_pages(buffer_bytes, huge);
        auto* const base = reinterpret_cast<uint64_t*>(buffer.get());
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; ++t) {  // first touch by the thread that will read it
            uint64_t* p = base + static_cast<size_t>(t) * per_thread;
            for (size_t i = 0; i < per_thread; ++i) p[i] = i;
        }
        for (const NamedKernel& kernel : read_kernels) {
            if (kernel.wide && !probe_kernels_usable()) continue;
            for (int pass = 0; pass < passes; ++pass) {
                uint64_t total = 0;
                const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
                for (int t = 0; t < threads; ++t) {
                    total += kernel.read(base + static_cast<size_t>(t) * per_thread, per_thread);
                }
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                sink = sink + total;
                const double bps = static_cast<double>(per_thread * static_cast<size_t>(threads) * sizeof(uint64_t)) / seconds;
                if (bps > best.bytes_per_second) best = {bps, kernel.name, huge};
            }
        }
    }
    return best;
}

bool reset_peak_rss() {
#if defined(__GLIBC__)
    malloc_trim(0);  // hand back what earlier tests freed, so the peak is this test's own
#endif
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

uint64_t peak_rss_bytes() { return status_field("VmHWM:"); }

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    }
    return "";
}

}  // namespace nibble::bench
