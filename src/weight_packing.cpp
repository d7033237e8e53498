// Repacks the quantized matrices into the panel layout of the active kernel table, once
// at load. The packed copy replaces the file's bytes in memory: the mapped pages it came
// from are handed back to the kernel, so a packed model costs its file size, not twice.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#include "kernels/packed.hpp"
#include "src/model_impl.hpp"

namespace nibble::detail {
namespace {

constexpr size_t huge_page = size_t{2} << 20;

// Whether [data, data + size) lies in a file mapping, whose pages can be handed back.
bool in_file_mapping(const formats::MappedFile& file, const void* data, size_t size) {
    const auto begin = reinterpret_cast<uintptr_t>(data), end = begin + size;
    const auto file_begin = reinterpret_cast<uintptr_t>(file.bytes().data());
    return file.is_mapped() && begin >= file_begin && end <= file_begin + file.size();
}

// Drops the whole pages of [data, data + size), inside the file mapping; they are
// re-read from the file if ever touched again.
void release_mapped_pages(const void* data, size_t size) {
    const auto begin = reinterpret_cast<uintptr_t>(data), end = begin + size;
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace

void pack_weights(ModelImpl& model, const kernels::KernelTable& table) {
    if (table.panel_rows == 0) return;
    std::vector<kernels::MatrixView*> matrices;
    auto consider = [&](Linear& l) {
        kernels::MatrixView& m = l.matrix;
        if (m.data == nullptr || m.data == model.weights.token_embd.data) return;  // tied output: read as the embedding
        if (kernels::packed_mul(table, m.type) == nullptr) return;
        if (!kernels::packable(m.type, m.rows, m.cols, table.panel_rows)) return;
        // Only what a file mapping holds: its pages go back once packed. A matrix in
        // memory we cannot give back (a converted 2023 encoding, a file read without
        // mmap, caller memory) would be held twice; it keeps the file layout instead.
        if (!in_file_mapping(*model.directory->file, m.data, m.row_stride * m.rows)) return;
        matrices.push_back(&m);
    };
    for (auto& L : model.weights.layers) {
        for (Linear* l : L.linears()) consider(*l);
    }
    consider(model.weights.output);

    std::vector<size_t> offsets;
    size_t total = 0;
    for (const auto* m : matrices) {
        offsets.push_back(total);
        total += (kernels::row_bytes(m->type, m->cols) * m->rows + 63) / 64 * 64;
    }
    if (total == 0) return;
    // Huge pages where the kernel allows them: a stream of weights then crosses far fewer
    // page boundaries, where the hardware prefetcher stops and TLB misses start.
    total = (total + huge_page - 1) / huge_page * huge_page;
    model.packed_storage.reset(static_cast<std::byte*>(::operator new(total, std::align_val_t{huge_page})));
#if defined(MADV_HUGEPAGE)
    madvise(model.packed_storage.get(), total, MADV_HUGEPAGE);
#endif
    const auto count = static_cast<ptrdiff_t>(matrices.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (ptrdiff_t i = 0; i < count; ++i) {
        kernels::MatrixView& m = *matrices[static_cast<size_t>(i)];
        std::byte* dst = model.packed_storage.get() + offsets[static_cast<size_t>(i)];
        kernels::pack_panels(m.type, table.panel_rows, static_cast<const std::byte*>(m.data), m.row_stride, m.rows, m.cols, dst);
        release_mapped_pages(m.data, m.row_stride * m.rows);
        m.data = dst;
        m.row_stride = kernels::row_bytes(m.type, m.cols);
        m.panel_rows = table.panel_rows;
    }
}

}  // namespace nibble::detail
