// The tensor record stream shared by every 2023 container: n_dims, name length, type,
// dimensions, name, (ggjt: padding to 32 bytes), data. Repeated until end of file.
#pragma once

#include <string>
#include <vector>

#include "formats/byte_cursor.hpp"
#include "formats/legacy_blocks.hpp"

namespace nibble::formats {

struct LegacyTensor {
    std::string name;
    uint32_t type_id = 0;  ///< after the q8_0-as-6 fix-up
    uint32_t n_dims = 0;
    std::array<uint64_t, 4> ne{1, 1, 1, 1};
    std::span<const std::byte> data;  ///< in the era's layout
    uint64_t offset = 0;
};

struct RecordOptions {
    QuantEra era = QuantEra::qnt0;
    bool aligned = false;         ///< ggjt: data padded to a 32-byte file offset
    bool type6_is_q8_0 = false;   ///< ggjt v1 files of 2023-04-25 (ftype 7) used id 6 for q8_0
};

/// Checks each tensor's type against the header's ftype ("mostly q4_0" allows f32, f16
/// and q4_0 tensors); throws bad_format naming the first tensor that contradicts it.
void check_ftype(const ByteCursor& cursor, int32_t ftype, const std::vector<LegacyTensor>& tensors);

/// Reads records from the cursor to the end of the file, checking every field.
std::vector<LegacyTensor> read_legacy_records(ByteCursor& cursor, const RecordOptions& options);

/// Reads `count` 4-byte signed integers that must be positive, naming each on failure.
std::vector<int32_t> read_positive_ints(ByteCursor& cursor, std::initializer_list<const char*> names);

}  // namespace nibble::formats
