// KV cache rows in their element type; see kv_cache.hpp.
#include "src/kv_cache.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/blocks.hpp"

namespace nibble::detail {

size_t kv_row_bytes(KvType type, size_t width) noexcept {
    switch (type) {
        case KvType::f32: return width * sizeof(float);
        case KvType::f16: return width * sizeof(uint16_t);
        case KvType::q8_0: return width / kernels::qk8_0 * sizeof(kernels::BlockQ8_0);
    }
    return width * sizeof(float);
}

KvRows::KvRows(KvType t, uint32_t n_layer, uint32_t context, size_t w)
    : type(t), n_ctx(context), width(w), row_bytes(kv_row_bytes(t, w)), bytes(size_t{n_layer} * context * row_bytes) {}

void KvRows::store(const kernels::KernelTable& table, const float* x, uint32_t layer, uint32_t pos) noexcept {
    std::byte* row = bytes.data() + (size_t{layer} * n_ctx + pos) * row_bytes;
    switch (type) {
        case KvType::f32: std::memcpy(row, x, row_bytes); return;
        // The tables' activation converters: F16C / fcvt rounding to nearest even, and
        // q8_0 blocks of amax / 127 with quants rounded half to even.
        case KvType::f16: table.convert_activations_f16(x, row, width); return;
        case KvType::q8_0: table.quantize_activations_q8_0(x, row, width); return;
    }
}

void KvRows::dots(const kernels::FloatOps& ops, uint32_t layer, size_t first, const float* q, size_t queries, size_t q_stride,
                  size_t count, size_t n, float* out, size_t out_stride) const noexcept {
    const std::byte* base = layer_base(layer);
    switch (type) {
        case KvType::f32:
            return ops.dots(q, queries, q_stride, reinterpret_cast<const float*>(base) + first, width, count, n, out, out_stride);
        case KvType::f16:
            return ops.dots_f16(q, queries, q_stride, reinterpret_cast<const uint16_t*>(base) + first, width, count, n, out,
                                out_stride);
        case KvType::q8_0:
            return ops.dots_q8_0(q, queries, q_stride, reinterpret_cast<const kernels::BlockQ8_0*>(base),
                                 width / kernels::qk8_0, first, count, n, out, out_stride);
    }
}

void KvRows::weighted_sum(const kernels::FloatOps& ops, uint32_t layer, size_t first, const float* weights, size_t queries,
                          size_t w_stride, size_t count, size_t n, float* out, size_t out_stride) const noexcept {
    const std::byte* base = layer_base(layer);
    switch (type) {
        case KvType::f32:
            return ops.weighted_sum(weights, queries, w_stride, reinterpret_cast<const float*>(base) + first, width, count, n,
                                    out, out_stride);
        case KvType::f16:
            return ops.weighted_sum_f16(weights, queries, w_stride, reinterpret_cast<const uint16_t*>(base) + first, width,
                                        count, n, out, out_stride);
        case KvType::q8_0:
            return ops.weighted_sum_q8_0(weights, queries, w_stride, reinterpret_cast<const kernels::BlockQ8_0*>(base),
                                         width / kernels::qk8_0, first, count, n, out, out_stride);
    }
}

}  // namespace nibble::detail
