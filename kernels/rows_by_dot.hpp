// The simplest MulRows: one dot product per (row, token). Included by each ISA's file so
// that the dot inlines with that file's flags; everything here has internal linkage.
#pragma once

#include <cstddef>

namespace nibble::kernels {
namespace {

template <float (*Dot)(const void*, const void*, size_t)>
void rows_by_dot(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride, size_t tokens,
                 size_t cols, float* y, size_t y_stride) {
    for (size_t r = 0; r < rows; ++r) {
        for (size_t t = 0; t < tokens; ++t) y[t * y_stride + r] = Dot(w + r * w_stride, a + t * a_stride, cols);
    }
}

}  // namespace
}  // namespace nibble::kernels
