// The matrix product driver: convert activations once, then hand rows to threads.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/kernels.hpp"
#include "kernels/prefetch.hpp"
#include "kernels/type_traits.hpp"
#include "nibble/error.hpp"

namespace nibble::kernels {

ActivationFormat activation_format(TensorType type) {
    const TypeTraits* t = find_type_traits(type);
    if (t == nullptr || !t->activation) {
        throw Error(ErrorCode::unsupported, "no matrix kernel for weight type " + tensor_type_name(static_cast<uint32_t>(type)) +
                                                " (nibble computes with " + computable_type_names() + ")");
    }
    return *t->activation;
}

size_t activation_row_bytes(ActivationFormat format, size_t n) {
    switch (format) {
        case ActivationFormat::f32: return n * sizeof(float);
        case ActivationFormat::f16:
        case ActivationFormat::bf16: return n * sizeof(uint16_t);
        case ActivationFormat::q8_0: return q8_activation_sums_offset(n) + n / qk8_0 * sizeof(ActivationBlockSums);
        case ActivationFormat::q8_K: return n / qk_k * sizeof(BlockQ8_K);
    }
    return 0;
}

size_t matmul_scratch_bytes(TensorType type, size_t cols, size_t n_tokens) {
    return activation_row_bytes(activation_format(type), cols) * n_tokens;
}

const TypeKernels* type_kernels(const KernelTable& table, TensorType type) noexcept {
    const TypeTraits* t = find_type_traits(type);
    return t != nullptr && t->kernels != nullptr ? &(table.*(t->kernels)) : nullptr;
}

MulRows packed_mul(const KernelTable& table, TensorType type) noexcept {
    const TypeTraits* t = find_type_traits(type);
    if (table.panel_rows == 0 || t == nullptr || !t->packs) return nullptr;
    return type_kernels(table, type)->mul_packed;
}

void convert_activation_row(const KernelTable& kernels, ActivationFormat format, const float* x, void* out, size_t n) {
    switch (format) {
        case ActivationFormat::f32: std::memcpy(out, x, n * sizeof(float)); break;
        case ActivationFormat::f16: kernels.convert_activations_f16(x, out, n); break;
        case ActivationFormat::bf16: kernels.convert_activations_bf16(x, out, n); break;
        case ActivationFormat::q8_0:
            kernels.quantize_activations_q8_0(x, out, n);
            write_activation_sums(out, n);
            break;
        case ActivationFormat::q8_K: kernels.quantize_activations_q8_K(x, out, n); break;
    }
}

void convert_activations(const KernelTable& kernels, const MatrixView& w, const float* x, size_t first, size_t count,
                         std::byte* act) {
    const ActivationFormat format = activation_format(w.type);
    const size_t act_bytes = activation_row_bytes(format, w.cols);
    for (size_t t = first; t < first + count; ++t) convert_activation_row(kernels, format, x + t * w.cols, act + t * act_bytes, w.cols);
}

MatmulPlan plan_matmul(const KernelTable& kernels, const MatrixView& w, size_t n_tokens) {
    MatmulPlan plan;
    const TypeKernels* entry = type_kernels(kernels, w.type);
    plan.mul = entry != nullptr ? entry->mul : nullptr;
    if (plan.mul == nullptr) {
        throw Error(ErrorCode::unsupported, std::string("the ") + kernels.isa + " kernel table has no matrix kernel for weight type " +
                                                tensor_type_name(static_cast<uint32_t>(w.type)));
    }
    plan.act_bytes = activation_row_bytes(activation_format(w.type), w.cols);
    plan.unit = 1;
    if (w.panel_rows > 0) {
        plan.mul = packed_mul(kernels, w.type);
        if (plan.mul == nullptr || w.panel_rows != kernels.panel_rows) {
            throw Error(ErrorCode::invalid_argument, "matmul: weights packed for another kernel table");
        }
        plan.unit = w.panel_rows;
    }
    // Chunks of about 32 KiB of weights (a panel at least) per hand-out: small enough
    // to balance threads, large enough that handing out costs nothing.
    const size_t bytes_per_unit = row_bytes(w.type, w.cols) * plan.unit;
    plan.units_per_chunk = std::max<size_t>(1, (size_t{32} << 10) / std::max<size_t>(bytes_per_unit, 1));
    if (n_tokens > 1) plan.units_per_chunk = std::max<size_t>(1, plan.units_per_chunk / 2);
    // One token read as several streams (prefetch.hpp): each stretch of a chunk a few panels long.
    if (n_tokens == 1 && w.panel_rows > 0) plan.units_per_chunk = std::max(plan.units_per_chunk, 4 * generation_streams());
    // Long float rows would make that one row; the row-tiled float kernels need several.
    if (n_tokens > 1 && plan.unit == 1) plan.units_per_chunk = std::max<size_t>(plan.units_per_chunk, 16);
    plan.chunks = (w.rows / plan.unit + plan.units_per_chunk - 1) / plan.units_per_chunk;
    return plan;
}

void run_matmul_chunk(const MatmulPlan& plan, const MatrixView& w, const std::byte* act, size_t n_tokens, float* y, size_t chunk) {
    const size_t r0 = chunk * plan.units_per_chunk * plan.unit;
    const size_t rows = std::min(w.rows - r0, plan.units_per_chunk * plan.unit);
    const auto* base = static_cast<const std::byte*>(w.data) + r0 * w.row_stride;
    const size_t stride = w.row_stride * plan.unit;  // between rows, or between panels
    plan.mul(base, stride, rows, act, plan.act_bytes, n_tokens, w.cols, y + r0, w.rows);
}

void matmul(const KernelTable& kernels, const MatrixView& w, const float* x, size_t n_tokens, float* y,
            std::span<std::byte> scratch, int threads) {
    if (scratch.size() < matmul_scratch_bytes(w.type, w.cols, n_tokens)) {
        throw Error(ErrorCode::out_of_range, "matmul: scratch buffer too small");
    }
    // Small products are not worth waking threads for.
    const bool parallel = threads > 1 && w.rows * w.cols * n_tokens >= (size_t{1} << 18);
    const MatrixView* ws[] = {&w};
    float* ys[] = {y};
#pragma omp parallel num_threads(team_size(threads)) if (parallel)
    matmul_group_in_parallel(kernels, ws, ys, 1, x, n_tokens, scratch.data());
}

int team_size(int requested) {
    static const int cpus = omp_get_num_procs();
    return std::max(1, std::min(requested, cpus));
}

bool can_share_activations(const MatrixView& a, const MatrixView& b) {
    return a.cols == b.cols && activation_format(a.type) == activation_format(b.type);
}

void matmul_group_in_parallel(const KernelTable& kernels, const MatrixView* const* ws, float* const* ys, size_t count,
                              const float* x, size_t n_tokens, std::byte* scratch) {
    MatmulPlan plans[max_matmul_group];
    size_t first_chunk[max_matmul_group + 1] = {0};
    for (size_t i = 0; i < count; ++i) {
        plans[i] = plan_matmul(kernels, *ws[i], n_tokens);
        first_chunk[i + 1] = first_chunk[i] + plans[i].chunks;
    }
    // Orphaned work-sharing: binds to whatever parallel region the caller is in. The
    // activations are converted once for every matrix of the group.
    const auto tokens = static_cast<ptrdiff_t>(n_tokens);
#pragma omp for schedule(static)
    for (ptrdiff_t t = 0; t < tokens; ++t) convert_activations(kernels, *ws[0], x, static_cast<size_t>(t), 1, scratch);
    const auto chunks = static_cast<ptrdiff_t>(first_chunk[count]);
    auto run = [&](ptrdiff_t c) {
        size_t i = 0;
        while (static_cast<size_t>(c) >= first_chunk[i + 1]) ++i;
        run_matmul_chunk(plans[i], *ws[i], scratch, n_tokens, ys[i], static_cast<size_t>(c) - first_chunk[i]);
    };
    if (n_tokens <= 2) {
        // Bandwidth-bound: long contiguous ranges keep each thread on a prefetchable
        // stream; guided hands out halving ranges, so a core slowed by a neighbour (a VM's
        // lot) takes fewer of the last ones instead of holding the other at the barrier.
#pragma omp for schedule(guided)
        for (ptrdiff_t c = 0; c < chunks; ++c) run(c);
    } else {
        // Compute-bound: chunks handed out as threads free up, so a slow core cannot hold the rest back.
#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t c = 0; c < chunks; ++c) run(c);
    }
}

}  // namespace nibble::kernels
