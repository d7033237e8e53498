// How many of the int8 dot instructions the kernel tables are built on this core issues
// per cycle, and its clock: the inputs of the int8 peak in docs/benchmarks.md. Each probe
// is a loop of independent instructions in inline assembly (so the compiler can neither
// drop nor reorder them), timed against a chain of dependent adds, one per cycle. The
// adds take a register, not an immediate: Golden Cove and later Intel cores fold chains
// of immediate adds at rename, several a cycle (a Xeon VM's clock read 17 GHz that way).
#include "bench/instruction_rates.hpp"

#include <chrono>
#include <cstdint>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace nibble::bench {
namespace {

constexpr int64_t probe_iterations = 20'000'000;

template <class Loop>
double seconds_of(Loop loop) {
    loop(probe_iterations / 10);  // warm up the clock and the caches
    const auto start = std::chrono::steady_clock::now();
    loop(probe_iterations);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

#if defined(__x86_64__)
// 8 dependent adds per iteration: 8 cycles, the loop's own instructions run beside them.
void add_chain(int64_t n) {
    int64_t x = 0, step = n | 1;  // a value the compiler cannot see as a constant either
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                     "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                     : "+r"(x)
                     : "r"(step));
    }
}

// 8 independent vpmaddubsw per iteration (u8 x i8 pairs summed into 16 bits: 32 products).
__attribute__((target("avx2"))) void maddubs_loop(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("vpmaddubsw %%ymm0, %%ymm1, %%ymm8\n\tvpmaddubsw %%ymm0, %%ymm1, %%ymm9\n\t"
                     "vpmaddubsw %%ymm0, %%ymm1, %%ymm10\n\tvpmaddubsw %%ymm0, %%ymm1, %%ymm11\n\t"
                     "vpmaddubsw %%ymm0, %%ymm1, %%ymm12\n\tvpmaddubsw %%ymm0, %%ymm1, %%ymm13\n\t"
                     "vpmaddubsw %%ymm0, %%ymm1, %%ymm14\n\tvpmaddubsw %%ymm0, %%ymm1, %%ymm15"
                     ::: "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    }
}

// The same products accumulated as the kernels do: maddubs then a 16-bit add, 4 chains.
__attribute__((target("avx2"))) void maddubs_add_loop(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("vpmaddubsw %%ymm0, %%ymm1, %%ymm4\n\tvpaddw %%ymm4, %%ymm8, %%ymm8\n\t"
                     "vpmaddubsw %%ymm0, %%ymm1, %%ymm5\n\tvpaddw %%ymm5, %%ymm9, %%ymm9\n\t"
                     "vpmaddubsw %%ymm0, %%ymm1, %%ymm6\n\tvpaddw %%ymm6, %%ymm10, %%ymm10\n\t"
                     "vpmaddubsw %%ymm0, %%ymm1, %%ymm7\n\tvpaddw %%ymm7, %%ymm11, %%ymm11"
                     ::: "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
    }
}

// 8 independent vpdpbusd on 512 bits (u8 x i8, 4 products into each int32: 64 products),
// each accumulator its own chain with 8 instructions between its steps.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_loop(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("vpdpbusd %%zmm0, %%zmm1, %%zmm8\n\tvpdpbusd %%zmm0, %%zmm1, %%zmm9\n\t"
                     "vpdpbusd %%zmm0, %%zmm1, %%zmm10\n\tvpdpbusd %%zmm0, %%zmm1, %%zmm11\n\t"
                     "vpdpbusd %%zmm0, %%zmm1, %%zmm12\n\tvpdpbusd %%zmm0, %%zmm1, %%zmm13\n\t"
                     "vpdpbusd %%zmm0, %%zmm1, %%zmm14\n\tvpdpbusd %%zmm0, %%zmm1, %%zmm15"
                     ::: "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    }
}

// 8 independent vpmaddubsw on 512 bits (64 products).
__attribute__((target("avx512f,avx512bw"))) void maddubs512_loop(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("vpmaddubsw %%zmm0, %%zmm1, %%zmm8\n\tvpmaddubsw %%zmm0, %%zmm1, %%zmm9\n\t"
                     "vpmaddubsw %%zmm0, %%zmm1, %%zmm10\n\tvpmaddubsw %%zmm0, %%zmm1, %%zmm11\n\t"
                     "vpmaddubsw %%zmm0, %%zmm1, %%zmm12\n\tvpmaddubsw %%zmm0, %%zmm1, %%zmm13\n\t"
                     "vpmaddubsw %%zmm0, %%zmm1, %%zmm14\n\tvpmaddubsw %%zmm0, %%zmm1, %%zmm15"
                     ::: "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    }
}
#elif defined(__aarch64__)
void add_chain(int64_t n) {
    int64_t x = 0, step = n | 1;
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("add %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\t"
                     "add %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1"
                     : "+r"(x)
                     : "r"(step));
    }
}

// 8 independent SDOT (16 products into 4 int32).
__attribute__((target("arch=armv8.2-a+dotprod"))) void sdot_loop(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("sdot v8.4s, v0.16b, v1.16b\n\tsdot v9.4s, v0.16b, v1.16b\n\t"
                     "sdot v10.4s, v0.16b, v1.16b\n\tsdot v11.4s, v0.16b, v1.16b\n\t"
                     "sdot v12.4s, v0.16b, v1.16b\n\tsdot v13.4s, v0.16b, v1.16b\n\t"
                     "sdot v14.4s, v0.16b, v1.16b\n\tsdot v15.4s, v0.16b, v1.16b"
                     ::: "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15");
    }
}

// 8 independent SMULL (8 products into 16 bits; the plain NEON table's widening multiply).
void smull_loop(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        asm volatile("smull v8.8h, v0.8b, v1.8b\n\tsmull v9.8h, v0.8b, v1.8b\n\t"
                     "smull v10.8h, v0.8b, v1.8b\n\tsmull v11.8h, v0.8b, v1.8b\n\t"
                     "smull v12.8h, v0.8b, v1.8b\n\tsmull v13.8h, v0.8b, v1.8b\n\t"
                     "smull v14.8h, v0.8b, v1.8b\n\tsmull v15.8h, v0.8b, v1.8b"
                     ::: "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15");
    }
}
#endif

InstructionRate rate_of(const char* instruction, int products, void (*loop)(int64_t), double cycles_per_second) {
    const double instructions_per_second = 8.0 * static_cast<double>(probe_iterations) / seconds_of(loop);
    return {instruction, products, instructions_per_second / cycles_per_second,
            2.0 * products * instructions_per_second / 1e9};
}

}  // namespace

double cycles_per_second() { return 8.0 * static_cast<double>(probe_iterations) / seconds_of(add_chain); }

std::vector<InstructionRate> int8_instruction_rates() {
    const double hz = cycles_per_second();
    std::vector<InstructionRate> rates;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) {
        rates.push_back(rate_of("vpmaddubsw ymm", 32, maddubs_loop, hz));
        InstructionRate pair = rate_of("vpmaddubsw + vpaddw ymm", 32, maddubs_add_loop, hz);
        pair.per_cycle /= 2;  // the loop counts both instructions; report pairs
        pair.gops /= 2;
        rates.push_back(pair);
    }
    if (__builtin_cpu_supports("avx512bw")) rates.push_back(rate_of("vpmaddubsw zmm", 64, maddubs512_loop, hz));
    if (__builtin_cpu_supports("avx512vnni")) rates.push_back(rate_of("vpdpbusd zmm", 64, vnni_loop, hz));
#elif defined(__aarch64__)
    rates.push_back(rate_of("smull 8b", 8, smull_loop, hz));
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) rates.push_back(rate_of("sdot 16b", 16, sdot_loop, hz));
#endif
    return rates;
}

}  // namespace nibble::bench
