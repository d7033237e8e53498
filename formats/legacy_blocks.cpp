#include "formats/legacy_blocks.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "nibble/error.hpp"

namespace nibble::formats {
namespace {

using kernels::fp16_to_fp32;
using kernels::fp32_to_fp16;
constexpr uint32_t f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q4_2 = 4, q8_0 = 8;

// A block of 32 (or 16) 4-bit values with their scale and minimum, era-independent.
struct Nibbles {
    uint8_t q[32];
};

void unpack(const uint8_t* qs, size_t count, bool adjacent, Nibbles& out) {
    for (size_t j = 0; j < count / 2; ++j) {
        if (adjacent) {
            out.q[2 * j] = qs[j] & 0x0f;
            out.q[2 * j + 1] = qs[j] >> 4;
        } else {
            out.q[j] = qs[j] & 0x0f;
            out.q[j + count / 2] = qs[j] >> 4;
        }
    }
}

void pack(const Nibbles& in, size_t count, bool adjacent, uint8_t* qs) {
    for (size_t j = 0; j < count / 2; ++j) {
        qs[j] = adjacent ? static_cast<uint8_t>(in.q[2 * j] | (in.q[2 * j + 1] << 4))
                         : static_cast<uint8_t>(in.q[j] | (in.q[j + count / 2] << 4));
    }
}

float read_f32(const std::byte* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
void write_f32(std::byte* p, float v) { std::memcpy(p, &v, 4); }
void write_u16(std::byte* p, uint16_t v) { std::memcpy(p, &v, 2); }

float signed_absmax(const float* x, size_t n) {
    float amax = 0.0f, max = 0.0f;
    for (size_t j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

[[noreturn]] void no_such(uint32_t type_id, QuantEra era) {
    throw Error(ErrorCode::unsupported, fmt::format("type {} has no {} encoding in nibble",
                                                    tensor_type_name(type_id), era_name(era)));
}

// One pre-fp16 block (qnt0/qnt1) of q4_0/q4_1/q8_0: scale (and min) stored as f32.
struct F32ScaleLayout {
    size_t scale_bytes;  // 4 (d) or 8 (d, m)
    size_t block_bytes;
};

F32ScaleLayout f32_layout(uint32_t type_id) {
    switch (type_id) {
        case q4_0: return {4, 20};
        case q4_1: return {8, 24};
        case q8_0: return {4, 36};
        default: return {0, 0};
    }
}

}  // namespace

std::string era_name(QuantEra era) {
    switch (era) {
        case QuantEra::qnt0: return "QNT0 (f32 scales, adjacent-pair nibbles)";
        case QuantEra::qnt1: return "QNT1 (f32 scales, split nibbles)";
        case QuantEra::qnt2: return "QNT2 (fp16 scales, split nibbles)";
    }
    return "?";
}

size_t legacy_block_elements(uint32_t type_id) {
    switch (type_id) {
        case q4_0: case q4_1: case q8_0: return 32;
        case q4_2: return 16;
        default: {
            const auto info = tensor_type_info(type_id);  // the types that came after 2023
            return info ? info->block_elements : 1;
        }
    }
}

std::optional<size_t> legacy_block_bytes(uint32_t type_id, QuantEra era) {
    switch (type_id) {
        case f32: return 4;
        case f16: return 2;
        case q4_0: return era == QuantEra::qnt2 ? 18 : 20;
        case q4_1: return era == QuantEra::qnt2 ? 20 : 24;
        case q8_0: return era == QuantEra::qnt2 ? 34 : 36;
        // q4_2 existed in QNT0 files only; nibble also writes it into GGUF (QNT2, same block)
        case q4_2: return era == QuantEra::qnt1 ? std::nullopt : std::optional<size_t>(10);
        default: {
            // GGUF holds every type nibble computes with, in the current layout.
            const auto info = tensor_type_info(type_id);
            if (era == QuantEra::qnt2 && info && info->computable) return info->block_bytes;
            return std::nullopt;
        }
    }
}

void dequantize_legacy(uint32_t type_id, QuantEra era, const std::byte* src, float* dst, size_t n) {
    if (era == QuantEra::qnt2 || type_id == q4_2 || type_id == f32 || type_id == f16) {
        if (!legacy_block_bytes(type_id, era)) no_such(type_id, era);
        return kernels::dequantize_row(static_cast<TensorType>(type_id), src, dst, n);
    }
    const F32ScaleLayout layout = f32_layout(type_id);
    if (layout.block_bytes == 0) no_such(type_id, era);
    const bool adjacent = era == QuantEra::qnt0;
    for (size_t b = 0; b < n / 32; ++b) {
        const std::byte* block = src + b * layout.block_bytes;
        const float d = read_f32(block);
        float* y = dst + b * 32;
        if (type_id == q8_0) {
            for (size_t j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(block[4 + j])) * d;
            continue;
        }
        Nibbles nib;
        unpack(reinterpret_cast<const uint8_t*>(block + layout.scale_bytes), 32, adjacent, nib);
        if (type_id == q4_0) {
            for (size_t j = 0; j < 32; ++j) y[j] = static_cast<float>(nib.q[j] - 8) * d;
        } else {
            const float m = read_f32(block + 4);
            for (size_t j = 0; j < 32; ++j) y[j] = static_cast<float>(nib.q[j]) * d + m;
        }
    }
}

void quantize_legacy(uint32_t type_id, QuantEra era, const float* src, std::byte* dst, size_t n) {
    if (era == QuantEra::qnt2 || type_id == q4_2 || type_id == f32 || type_id == f16) {
        if (!legacy_block_bytes(type_id, era)) no_such(type_id, era);
        return kernels::quantize_row_reference(static_cast<TensorType>(type_id), src, dst, n);
    }
    const F32ScaleLayout layout = f32_layout(type_id);
    if (layout.block_bytes == 0) no_such(type_id, era);
    const bool adjacent = era == QuantEra::qnt0;
    for (size_t b = 0; b < n / 32; ++b) {
        const float* x = src + b * 32;
        std::byte* block = dst + b * layout.block_bytes;
        if (type_id == q8_0) {
            float amax = 0.0f;
            for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            write_f32(block, d);
            for (size_t j = 0; j < 32; ++j) block[4 + j] = static_cast<std::byte>(static_cast<int8_t>(std::roundf(x[j] * id)));
            continue;
        }
        Nibbles nib;
        if (type_id == q4_0) {
            const float d = signed_absmax(x, 32) / -8.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            write_f32(block, d);
            for (size_t j = 0; j < 32; ++j) {
                // qnt0 rounds half away from zero before the offset; qnt1 truncates after +8.5
                const int q = era == QuantEra::qnt0 ? static_cast<int8_t>(std::roundf(x[j] * id)) + 8
                                                    : static_cast<int8_t>(x[j] * id + 8.5f);
                nib.q[j] = static_cast<uint8_t>(std::min(15, q));
            }
        } else {
            float min = FLT_MAX, max = -FLT_MAX;
            for (size_t j = 0; j < 32; ++j) {
                min = std::min(min, x[j]);
                max = std::max(max, x[j]);
            }
            const float d = (max - min) / 15.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            write_f32(block, d);
            write_f32(block + 4, min);
            for (size_t j = 0; j < 32; ++j) {
                // qnt0 has no clamp at 15 (the value cannot exceed it but for rounding)
                nib.q[j] = era == QuantEra::qnt0 ? static_cast<uint8_t>(std::roundf((x[j] - min) * id))
                                                 : static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f))));
            }
        }
        pack(nib, 32, adjacent, reinterpret_cast<uint8_t*>(block + layout.scale_bytes));
    }
}

std::vector<std::byte> convert_to_current(uint32_t type_id, QuantEra era, std::span<const std::byte> src, size_t n) {
    if (era == QuantEra::qnt2 || type_id == q4_2 || type_id == f32 || type_id == f16) {
        if (!legacy_block_bytes(type_id, era)) no_such(type_id, era);
        return {src.begin(), src.end()};
    }
    const F32ScaleLayout layout = f32_layout(type_id);
    if (layout.block_bytes == 0) no_such(type_id, era);
    const size_t new_bytes = *legacy_block_bytes(type_id, QuantEra::qnt2);
    std::vector<std::byte> out(n / 32 * new_bytes);
    const bool adjacent = era == QuantEra::qnt0;
    for (size_t b = 0; b < n / 32; ++b) {
        const std::byte* from = src.data() + b * layout.block_bytes;
        std::byte* to = out.data() + b * new_bytes;
        write_u16(to, fp32_to_fp16(read_f32(from)));
        if (type_id == q8_0) {
            std::memcpy(to + 2, from + 4, 32);
            continue;
        }
        size_t header = 2;
        if (type_id == q4_1) {
            write_u16(to + 2, fp32_to_fp16(read_f32(from + 4)));
            header = 4;
        }
        Nibbles nib;
        unpack(reinterpret_cast<const uint8_t*>(from + layout.scale_bytes), 32, adjacent, nib);
        pack(nib, 32, false, reinterpret_cast<uint8_t*>(to + header));
    }
    return out;
}

std::vector<std::byte> convert_from_current(uint32_t type_id, QuantEra era, std::span<const std::byte> src, size_t n) {
    if (!legacy_block_bytes(type_id, era)) no_such(type_id, era);
    if (era == QuantEra::qnt2 || type_id == q4_2 || type_id == f32 || type_id == f16) return {src.begin(), src.end()};
    const F32ScaleLayout layout = f32_layout(type_id);
    const size_t old_bytes = *legacy_block_bytes(type_id, QuantEra::qnt2);
    std::vector<std::byte> out(n / 32 * layout.block_bytes);
    const bool adjacent = era == QuantEra::qnt0;
    for (size_t b = 0; b < n / 32; ++b) {
        const std::byte* from = src.data() + b * old_bytes;
        std::byte* to = out.data() + b * layout.block_bytes;
        uint16_t h;
        std::memcpy(&h, from, 2);
        write_f32(to, fp16_to_fp32(h));
        if (type_id == q8_0) {
            std::memcpy(to + 4, from + 2, 32);
            continue;
        }
        size_t header = 2;
        if (type_id == q4_1) {
            std::memcpy(&h, from + 2, 2);
            write_f32(to + 4, fp16_to_fp32(h));
            header = 4;
        }
        Nibbles nib;
        unpack(reinterpret_cast<const uint8_t*>(from + header), 32, false, nib);
        pack(nib, 32, adjacent, reinterpret_cast<uint8_t*>(to + layout.scale_bytes));
    }
    return out;
}

}  // namespace nibble::formats
