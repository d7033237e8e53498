#include "bench/system_probe.hpp"

#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <vector>

namespace nibble::bench {
namespace {

// Several independent accumulators so the loads, not an add chain, set the pace; the
// compiler vectorizes it (AVX2 where the CPU has it).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
uint64_t sum_words(const uint64_t* p, size_t n) {
    uint64_t a[8] = {};
    for (size_t i = 0; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; ++j) a[j] += p[i + j];
    }
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

uint64_t status_field(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) == 0) return std::stoull(line.substr(key.size())) * 1024;  // kB
    }
    return 0;
}

}  // namespace

double probe_read_bandwidth(size_t bytes, int threads, int passes) {
    threads = std::max(threads, 1);
    const size_t words = bytes / sizeof(uint64_t) / 64 * 64;
    std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
    const size_t per_thread = words / static_cast<size_t>(threads) / 8 * 8;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {  // first touch by the thread that will read it
        uint64_t* p = buffer.get() + static_cast<size_t>(t) * per_thread;
        for (size_t i = 0; i < per_thread; ++i) p[i] = i;
    }
    double best = 0;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < passes; ++pass) {
        uint64_t total = 0;
        const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
        for (int t = 0; t < threads; ++t) total += sum_words(buffer.get() + static_cast<size_t>(t) * per_thread, per_thread);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        sink = sink + total;
        best = std::max(best, static_cast<double>(per_thread * static_cast<size_t>(threads) * sizeof(uint64_t)) / seconds);
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
