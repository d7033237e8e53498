// Repacks the quantized matrices into the panel layout of the active kernel table, once
// at load. The packed copy replaces the file's bytes in memory: the mapped pages it came
// from are handed back to the kernel, or memory the model alone holds is packed where it
// lies, so a packed model costs its file size, not twice.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "kernels/packed.hpp"
#include "src/huge_pages.hpp"
#include "src/model_impl.hpp"

namespace nibble::detail {
namespace {

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

void pack_weights(ModelImpl& model, formats::TensorDirectory& directory, const kernels::KernelTable& table) {
    if (table.panel_rows == 0) return;
    std::vector<kernels::MatrixView*> from_mapping;
    std::vector<std::pair<kernels::MatrixView*, std::byte*>> in_place;
    auto consider = [&](Linear& l) {
        kernels::MatrixView& m = l.matrix;
        if (m.data == nullptr || m.data == model.weights.token_embd.data) return;  // tied output: read as the embedding
        if (kernels::packed_mul(table, m.type) == nullptr) return;
        if (!kernels::packable(m.type, m.rows, m.cols, table.panel_rows)) return;
        const size_t bytes = m.row_stride * m.rows;
        // A file mapping's pages go back once packed; memory this model alone holds (a
        // converted 2023 encoding, a file read without mmap) is packed where it lies.
        // Caller memory (load_from_memory) is neither: it keeps the file layout.
        if (in_file_mapping(*directory.file, m.data, bytes)) {
            from_mapping.push_back(&m);
        } else if (m.row_stride == kernels::row_bytes(m.type, m.cols)) {
            const auto mine = directory.exclusive_bytes({static_cast<const std::byte*>(m.data), bytes});
            if (!mine.empty()) in_place.emplace_back(&m, mine.data());
        }
    };
    for (auto& L : model.weights.layers) {
        for (Linear* l : L.linears()) consider(*l);
    }
    consider(model.weights.output);

    auto now_packed = [&](kernels::MatrixView& m, std::byte* data) {
        m.data = data;
        m.row_stride = kernels::row_bytes(m.type, m.cols);
        m.panel_rows = table.panel_rows;
    };
    const auto in_place_count = static_cast<ptrdiff_t>(in_place.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (ptrdiff_t i = 0; i < in_place_count; ++i) {
        auto [m, data] = in_place[static_cast<size_t>(i)];
        kernels::pack_panels_in_place(m->type, table.panel_rows, data, m->rows, m->cols);
    }
    for (auto [m, data] : in_place) now_packed(*m, data);

    std::vector<size_t> offsets;
    size_t total = 0;
    for (const auto* m : from_mapping) {
        offsets.push_back(total);
        total += (kernels::row_bytes(m->type, m->cols) * m->rows + 63) / 64 * 64;
    }
    if (total == 0) return;
    model.packed_storage = allocate_huge_pages(total);
    const auto count = static_cast<ptrdiff_t>(from_mapping.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (ptrdiff_t i = 0; i < count; ++i) {
        const kernels::MatrixView& m = *from_mapping[static_cast<size_t>(i)];
        std::byte* dst = model.packed_storage.get() + offsets[static_cast<size_t>(i)];
        kernels::pack_panels(m.type, table.panel_rows, static_cast<const std::byte*>(m.data), m.row_stride, m.rows, m.cols, dst);
        release_mapped_pages(m.data, m.row_stride * m.rows);
    }
    for (size_t i = 0; i < from_mapping.size(); ++i) now_packed(*from_mapping[i], model.packed_storage.get() + offsets[i]);
}

}  // namespace nibble::detail
