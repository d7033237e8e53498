#include "formats/legacy_records.hpp"

#include <fmt/format.h>

#include "formats/metadata.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble::formats {

std::vector<int32_t> read_positive_ints(ByteCursor& cur, std::initializer_list<const char*> names) {
    std::vector<int32_t> values;
    for (const char* name : names) {
        const size_t at = cur.offset();
        const auto v = cur.read<int32_t>(name);
        if (v <= 0) cur.fail_at(at, fmt::format("hyperparameter {} is {} (expected > 0)", name, v));
        values.push_back(v);
    }
    return values;
}

void check_ftype(const ByteCursor& cur, int32_t ftype, const std::vector<LegacyTensor>& tensors) {
    int32_t weight_type = -1;
    switch (ftype % 1000) {
        case 0: case 1: weight_type = -1; break;  // f32 / f16 files
        case 2: weight_type = 2; break;
        case 3: case 4: weight_type = 3; break;   // 4 = q4_1 with some f16
        case 5: weight_type = 4; break;
        case 7: weight_type = 8; break;
        default:
            throw Error(ErrorCode::unsupported, fmt::format("{}: ftype {} ({}) is not a format nibble reads", cur.file(),
                                                            ftype, ftype % 1000 == 6 ? "q4_3" : "q5 or k-quants"));
    }
    for (const auto& t : tensors) {
        const auto type = static_cast<int32_t>(t.type_id);
        if (type == 0 || type == 1 || type == weight_type) continue;
        throw Error(ErrorCode::bad_format,
                    fmt::format("{}: offset {}: tensor '{}' is {} but the header's ftype {} says {}", cur.file(), t.offset,
                                t.name, tensor_type_name(t.type_id), ftype,
                                weight_type < 0 ? std::string("f32/f16") : tensor_type_name(static_cast<uint32_t>(weight_type))));
    }
}

std::vector<LegacyTensor> read_legacy_records(ByteCursor& cur, const RecordOptions& options) {
    constexpr int32_t max_name = 255;
    std::vector<LegacyTensor> tensors;
    while (!cur.at_end()) {
        LegacyTensor t;
        const size_t record_at = cur.offset();
        if (tensors.size() == max_tensors) cur.fail(fmt::format("more than {} tensors", max_tensors));
        const auto n_dims = cur.read<int32_t>("tensor dimension count");
        const auto name_len = cur.read<int32_t>("tensor name length");
        const auto type = cur.read<int32_t>("tensor type");
        if (n_dims < 1 || n_dims > 4) cur.fail_at(record_at, fmt::format("tensor with {} dimensions (expected 1 to 4)", n_dims));
        if (name_len < 1 || name_len > max_name) {
            cur.fail_at(record_at + 4, fmt::format("tensor name length {} (expected 1 to {})", name_len, max_name));
        }
        t.n_dims = static_cast<uint32_t>(n_dims);
        for (int32_t d = 0; d < n_dims; ++d) {
            const size_t at = cur.offset();
            const auto ne = cur.read<int32_t>("tensor dimension");
            if (ne < 1) cur.fail_at(at, fmt::format("tensor dimension {} is {} (expected > 0)", d, ne));
            t.ne[static_cast<size_t>(d)] = static_cast<uint64_t>(ne);
        }
        t.name = std::string(cur.read_chars(static_cast<size_t>(name_len), "tensor name"));
        t.type_id = static_cast<uint32_t>(type);
        if (type == 6 && options.type6_is_q8_0) t.type_id = 8;
        const auto block_bytes = type >= 0 ? legacy_block_bytes(t.type_id, options.era) : std::nullopt;
        if (!block_bytes) {
            cur.fail_at(record_at + 8, fmt::format("tensor '{}' has type {} ({}), which nibble cannot read in a {} file",
                                                   t.name, type, tensor_type_name(static_cast<uint32_t>(type)),
                                                   era_name(options.era)));
        }
        const size_t block = legacy_block_elements(t.type_id);
        if (t.ne[0] % block != 0) {
            cur.fail_at(record_at, fmt::format("tensor '{}': row length {} is not a multiple of {}", t.name, t.ne[0], block));
        }
        // Dimensions are at most 2^31 each: the product of four fits in 128 bits.
        const unsigned __int128 bytes = static_cast<unsigned __int128>(t.ne[0] / block) * *block_bytes * t.ne[1] * t.ne[2] * t.ne[3];
        if (options.aligned) cur.skip((32 - cur.offset() % 32) % 32, "alignment padding");
        if (bytes > cur.remaining()) {
            cur.fail(fmt::format("tensor '{}' {}: {} bytes of data run past the end of the file ({} bytes left)", t.name,
                                 tensor_type_name(t.type_id), static_cast<uint64_t>(bytes), cur.remaining()));
        }
        t.offset = cur.offset();
        t.data = cur.read_bytes(static_cast<size_t>(bytes), "tensor data");
        tensors.push_back(std::move(t));
    }
    return tensors;
}

}  // namespace nibble::formats
