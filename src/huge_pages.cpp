#include "src/huge_pages.hpp"

#include <sys/mman.h>

#include <new>

namespace nibble::detail {

void HugePageDelete::operator()(std::byte* p) const noexcept { ::operator delete(p, std::align_val_t{huge_page_bytes}); }

HugePageBuffer allocate_huge_pages(size_t& bytes, bool ask_huge) {
    bytes = (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
    HugePageBuffer buffer(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{huge_page_bytes})));
#if defined(MADV_HUGEPAGE)
    if (ask_huge && bytes > 0) madvise(buffer.get(), bytes, MADV_HUGEPAGE);
#else
    (void)ask_huge;
#endif
    return buffer;
}

}  // namespace nibble::detail
