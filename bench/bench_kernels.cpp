// nibble-bench-kernels: every kernel of every ISA table this CPU can run, one thread.
// Counters: GB/s of weights (or of f32 for the conversions) and GOP/s (2 per multiply-add).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/instruction_rates.hpp"
#include "bench/system_probe.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"
#include "nibble/tensor_type.hpp"
#include "nibble_build_info.hpp"
#include "src/huge_pages.hpp"

namespace {

using namespace nibble;
using namespace nibble::kernels;

constexpr TensorType weight_types[] = {TensorType::f32, TensorType::f16, TensorType::bf16, TensorType::q4_0, TensorType::q5_0, TensorType::q5_1, TensorType::iq4_nl,
                                       TensorType::q2_K, TensorType::q3_K, TensorType::q4_K, TensorType::q5_K, TensorType::q6_K, TensorType::iq4_xs,
                                       TensorType::q4_1, TensorType::q4_2, TensorType::q8_0};

std::string type_name(TensorType t) { return tensor_type_name(static_cast<uint32_t>(t)); }

std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// A quantized random matrix, made once per (type, shape) and shared by every benchmark.
struct Matrix {
    std::vector<std::byte> plain;
    std::map<size_t, std::vector<std::byte>> packed;  // by panel rows, made on first use
    size_t rows, cols;
};

Matrix& matrix(TensorType t, size_t rows, size_t cols) {
    static std::map<std::tuple<TensorType, size_t, size_t>, std::unique_ptr<Matrix>> cache;
    auto& slot = cache[{t, rows, cols}];
    if (!slot) {
        slot = std::make_unique<Matrix>();
        slot->rows = rows;
        slot->cols = cols;
        const auto row = random_floats(cols, 7);
        const size_t stride = row_bytes(t, cols);
        slot->plain.resize(stride * rows);
        for (size_t r = 0; r < rows; ++r) {  // rows differ by a rotation of one random row
            std::vector<float> shifted(cols);
            for (size_t i = 0; i < cols; ++i) shifted[i] = row[(i + r * 7) % cols];
            quantize_row_reference(t, shifted.data(), slot->plain.data() + r * stride, cols);
        }
    }
    return *slot;
}

// The layout the table multiplies: its packed panels where it has them, else the file's.
MatrixView view_for(const KernelTable& table, TensorType t, size_t rows, size_t cols) {
    Matrix& m = matrix(t, rows, cols);
    const size_t stride = row_bytes(t, cols);
    if (packed_mul(table, t) == nullptr || !packable(t, rows, cols, table.panel_rows)) {
        return {t, m.plain.data(), rows, cols, stride, 0};
    }
    auto& packed = m.packed[table.panel_rows];
    if (packed.empty()) {
        packed.resize(m.plain.size());
        pack_panels(t, table.panel_rows, m.plain.data(), stride, rows, cols, packed.data());
    }
    return {t, packed.data(), rows, cols, stride, table.panel_rows};
}

void matmul_benchmark(benchmark::State& state, const KernelTable* table, TensorType t, size_t rows, size_t cols, size_t tokens) {
    const MatrixView w = view_for(*table, t, rows, cols);
    const auto x = random_floats(cols * tokens, 3);
    std::vector<float> y(rows * tokens);
    std::vector<std::byte> scratch(matmul_scratch_bytes(t, cols, tokens));
    for (auto _ : state) {
        matmul(*table, w, x.data(), tokens, y.data(), scratch, 1);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    const double iterations = static_cast<double>(state.iterations());
    const double weight_bytes = static_cast<double>(row_bytes(t, cols) * rows);
    state.counters["GB/s"] = benchmark::Counter(weight_bytes * iterations / 1e9, benchmark::Counter::kIsRate);
    state.counters["GOP/s"] = benchmark::Counter(2.0 * rows * cols * tokens * iterations / 1e9, benchmark::Counter::kIsRate);
    state.SetLabel(w.panel_rows > 0 ? "packed" : "file layout");
}

void dot_benchmark(benchmark::State& state, const KernelTable* table, TensorType t, size_t n) {
    const Matrix& m = matrix(t, 1, n);
    const auto x = random_floats(n, 3);
    std::vector<std::byte> act(activation_row_bytes(activation_format(t), n));
    std::vector<float> y(1);
    const MatrixView w{t, m.plain.data(), 1, n, row_bytes(t, n), 0};
    // The dot alone: activations converted once, outside the loop.
    matmul(*table, w, x.data(), 1, y.data(), act, 1);
    const DotRow dot = type_kernels(*table, t)->dot;
    for (auto _ : state) benchmark::DoNotOptimize(dot(m.plain.data(), act.data(), n));
    const double iterations = static_cast<double>(state.iterations());
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(m.plain.size()) * iterations / 1e9, benchmark::Counter::kIsRate);
    state.counters["GOP/s"] = benchmark::Counter(2.0 * n * iterations / 1e9, benchmark::Counter::kIsRate);
}

void conversion_benchmark(benchmark::State& state, TensorType t, bool quantize, size_t n) {
    const auto x = random_floats(n, 9);
    std::vector<std::byte> q(row_bytes(t, n));
    quantize_row_reference(t, x.data(), q.data(), n);
    std::vector<float> back(n);
    for (auto _ : state) {
        if (quantize) {
            quantize_row_reference(t, x.data(), q.data(), n);
            benchmark::DoNotOptimize(q.data());
        } else {
            dequantize_row(t, q.data(), back.data(), n);
            benchmark::DoNotOptimize(back.data());
        }
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n * sizeof(float)) * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}

void activation_benchmark(benchmark::State& state, const KernelTable* table, size_t n) {
    const auto x = random_floats(n, 11);
    std::vector<std::byte> out(activation_row_bytes(ActivationFormat::q8_0, n));
    for (auto _ : state) {
        table->quantize_activations_q8_0(x.data(), out.data(), n);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n * sizeof(float)) * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}

// One token's matrix x vector from memory: copies of one packed 5632 x 2048 matrix (the
// 1.1B shape's gate) filling `mib` MiB, past any L3, read one after another as generation
// reads its matrices, then the probe over as many bytes. Against the in-cache matvec above
// it shows how much of computing and waiting for memory overlap; against the probe, how
// near one core doing this type's work comes to the read ceiling.
void from_memory_benchmark(benchmark::State& state, const KernelTable* table, TensorType t, size_t mib) {
    constexpr size_t rows = 5632, cols = 2048;
    const MatrixView one = view_for(*table, t, rows, cols);
    const size_t bytes = one.row_stride * rows;
    const size_t copies = std::max<size_t>(2, (mib << 20) / bytes);
    size_t buffer_bytes = copies * bytes;
    const detail::HugePageBuffer buffer = detail::allocate_huge_pages(buffer_bytes);
    for (size_t c = 0; c < copies; ++c) std::memcpy(buffer.get() + c * bytes, one.data, bytes);
    const auto x = random_floats(cols, 3);
    std::vector<float> y(rows);
    std::vector<std::byte> scratch(matmul_scratch_bytes(t, cols, 1));
    double best = 0;  // bytes per second of the fastest pass: the probe is a best too
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        for (size_t c = 0; c < copies; ++c) {
            MatrixView w = one;
            w.data = buffer.get() + c * bytes;
            matmul(*table, w, x.data(), 1, y.data(), scratch, 1);
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best = std::max(best, static_cast<double>(copies * bytes) / seconds);
    }
    const double probe = bench::probe_read_bandwidth(copies * bytes, 1, 3).bytes_per_second;
    state.counters["GB/s"] = best / 1e9;
    state.counters["probe GB/s"] = probe / 1e9;
    state.counters["of probe"] = best / probe;
    state.SetLabel(std::to_string(copies) + " copies, " + std::to_string(copies * bytes >> 20) + " MiB");
}

// The memory read bandwidth the matrix x vector figures are to be compared with.
void probe_benchmark(benchmark::State& state) {
    double best = 0;
    for (auto _ : state) best = std::max(best, bench::probe_read_bandwidth(size_t{512} << 20, 1, 3).bytes_per_second);
    state.counters["GB/s"] = best / 1e9;
}

// The int8 peak's inputs: the clock, and the issue rate of each dot instruction.
void instruction_rates_benchmark(benchmark::State& state) {
    std::vector<bench::InstructionRate> rates;
    for (auto _ : state) rates = bench::int8_instruction_rates();
    state.counters["GHz"] = bench::cycles_per_second() / 1e9;
    for (const auto& r : rates) {
        state.counters[std::string(r.instruction) + " per cycle"] = r.per_cycle;
        state.counters[std::string(r.instruction) + " GOP/s"] = r.gops;
    }
}

void register_all(size_t from_memory_mib) {
    constexpr size_t conversion_n = 1 << 20;
    if (from_memory_mib > 0) {  // the CPU's own table only: each reads the whole buffer
        const KernelTable* table = &active_kernels();
        for (TensorType t : weight_types) {
            benchmark::RegisterBenchmark(("matvec_from_memory/" + type_name(t) + "/" + table->isa + "/5632x2048").c_str(),
                                         from_memory_benchmark, table, t, from_memory_mib)
                ->Iterations(5)
                ->Unit(benchmark::kMillisecond);
        }
    }
    benchmark::RegisterBenchmark("probe/read_bandwidth/1thread", probe_benchmark)->Iterations(1)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("probe/int8_instructions/1thread", instruction_rates_benchmark)->Iterations(1)->Unit(benchmark::kMillisecond);
    for (TensorType t : weight_types) {
        benchmark::RegisterBenchmark(("quantize/" + type_name(t)).c_str(), conversion_benchmark, t, true, conversion_n);
        benchmark::RegisterBenchmark(("dequantize/" + type_name(t)).c_str(), conversion_benchmark, t, false, conversion_n);
    }
    struct Shape {
        size_t rows, cols;
    };
    // 256x2048 stays in L2: the kernel's compute rate apart from the memory's.
    const Shape matvec_shapes[] = {{256, 2048}, {4096, 4096}, {11008, 4096}, {4096, 11008}};
    for (const KernelTable* table : available_kernels()) {
        const std::string isa = table->isa;
        benchmark::RegisterBenchmark(("quantize_activations/" + isa).c_str(), activation_benchmark, table, conversion_n);
        for (TensorType t : weight_types) {
            const std::string prefix = type_name(t) + "/" + isa;
            benchmark::RegisterBenchmark(("dot/" + prefix + "/4096").c_str(), dot_benchmark, table, t, size_t{4096});
            for (const Shape& s : matvec_shapes) {
                benchmark::RegisterBenchmark(("matvec/" + prefix + "/" + std::to_string(s.rows) + "x" + std::to_string(s.cols)).c_str(),
                                             matmul_benchmark, table, t, s.rows, s.cols, size_t{1})
                    ->Unit(benchmark::kMicrosecond);
            }
            for (size_t batch : {32u, 512u}) {
                benchmark::RegisterBenchmark(("matmul/" + prefix + "/4096x4096/batch" + std::to_string(batch)).c_str(),
                                             matmul_benchmark, table, t, size_t{4096}, size_t{4096}, batch)
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Google Benchmark's own flags (--benchmark_filter=..., --help); --version is nibble's.
    size_t from_memory_mib = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a.starts_with("--from-memory-mib=")) {
            const std::string value(a.substr(18));
            char* end = nullptr;
            const unsigned long long mib = std::strtoull(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || mib == 0 || mib > (size_t{1} << 20)) {
                std::fprintf(stderr, "nibble-bench-kernels: --from-memory-mib wants MiB from 1 to 1048576, got '%s'\n", value.c_str());
                return 2;
            }
            from_memory_mib = mib;
            for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];  // not a Google Benchmark flag
            --argc;
            --i;
            continue;
        }
        if (a == "--version") {
            std::printf("nibble-bench-kernels %s (commit %s)\n", NIBBLE_VERSION, NIBBLE_BUILD_COMMIT);
            return 0;
        }
        if (a == "-h" || a == "--help") {
            std::printf("nibble-bench-kernels: every kernel of every ISA table this CPU can run, one thread.\n"
                        "--from-memory-mib=N adds one token's matrix x vector for every type of the CPU's own\n"
                        "table over N MiB of copies (past the L3) beside the read probe over as many bytes.\n"
                        "Google Benchmark's flags follow; --version prints nibble's version and commit.\n\n");
            std::fflush(stdout);
            argv[i] = const_cast<char*>("--help");
        }
    }
    register_all(from_memory_mib);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;  // bad usage, as in every nibble program
    try {
        benchmark::RunSpecifiedBenchmarks();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nibble-bench-kernels: %s\n", e.what());
        return 1;
    }
    benchmark::Shutdown();
    return 0;
}
