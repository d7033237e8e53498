// The KV cache's rows in their element type (f32, f16 or q8_0), and attention's two
// reads of them, dispatched to the kernel table's loop for that type.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "kernels/kernels.hpp"
#include "nibble/nibble.hpp"

namespace nibble::detail {

/// Bytes of one cache row of `width` values (width a multiple of 32 for q8_0).
size_t kv_row_bytes(KvType type, size_t width) noexcept;

/// The keys (or the values) of every layer: [n_layer][n_ctx] rows of `width` values.
struct KvRows {
    KvRows(KvType type, uint32_t n_layer, uint32_t n_ctx, size_t width);

    KvType type;
    uint32_t n_ctx;
    size_t width, row_bytes;
    std::vector<std::byte> bytes;

    /// Rows [0, n) of a layer, contiguous: what a saved state holds.
    std::span<std::byte> layer_rows(uint32_t layer, uint32_t n) noexcept {
        return std::span<std::byte>(bytes).subspan(size_t{layer} * n_ctx * row_bytes, size_t{n} * row_bytes);
    }
    /// Converts `width` floats into row `pos` of a layer.
    void store(const kernels::KernelTable& table, const float* x, uint32_t layer, uint32_t pos) noexcept;

    /// out[j * out_stride + p] = dot(q + j * q_stride, values [first, first + n) of row p)
    /// for the first `count` rows of a layer (FloatOps::dots and its f16 / q8_0 forms).
    void dots(const kernels::FloatOps& ops, uint32_t layer, size_t first, const float* q, size_t queries, size_t q_stride,
              size_t count, size_t n, float* out, size_t out_stride) const noexcept;
    /// out[j * out_stride + i] = sum over p < count of weights[j * w_stride + p] * value
    /// first + i of row p (FloatOps::weighted_sum and its forms).
    void weighted_sum(const kernels::FloatOps& ops, uint32_t layer, size_t first, const float* weights, size_t queries,
                      size_t w_stride, size_t count, size_t n, float* out, size_t out_stride) const noexcept;

private:
    const std::byte* layer_base(uint32_t layer) const noexcept { return bytes.data() + size_t{layer} * n_ctx * row_bytes; }
};

}  // namespace nibble::detail
