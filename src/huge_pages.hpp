// Memory for long streams of reads (packed weights, the bandwidth probe): whole 2 MiB
// pages, aligned to them, asking the kernel for huge pages. A stream then crosses far
// fewer page boundaries, where the hardware prefetcher stops and TLB misses start.
#pragma once

#include <cstddef>
#include <memory>

namespace nibble::detail {

constexpr size_t huge_page_bytes = size_t{2} << 20;

struct HugePageDelete {
    void operator()(std::byte* p) const noexcept;
};
using HugePageBuffer = std::unique_ptr<std::byte, HugePageDelete>;

/// `bytes` rounded up to whole huge pages (returned in `bytes`), aligned to them; with
/// `ask_huge`, MADV_HUGEPAGE where the kernel has it (a hint: where refused, 4 KiB pages).
HugePageBuffer allocate_huge_pages(size_t& bytes, bool ask_huge = true);

}  // namespace nibble::detail
