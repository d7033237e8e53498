// What every reader produces: the file's metadata and named views of its tensors.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "formats/mapped_file.hpp"
#include "formats/metadata.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble::formats {

/// One tensor: its ggml type id, shape in ggml `ne` order (ne[0] contiguous) and a
/// view of its bytes (inside the file mapping, or in a buffer the directory owns).
struct TensorEntry {
    std::string name;
    uint32_t type_id = 0;
    uint32_t n_dims = 1;
    std::array<uint64_t, 4> ne{1, 1, 1, 1};
    std::span<const std::byte> data;
    uint64_t file_offset = 0;  ///< absolute offset of the data in the file

    TensorType type() const noexcept { return static_cast<TensorType>(type_id); }
    uint64_t elements() const noexcept { return ne[0] * ne[1] * ne[2] * ne[3]; }
    std::string shape_string() const;
};

class TensorDirectory {
public:
    std::string container;  ///< "GGUF", "llama2.c", ...
    uint32_t version = 0;
    Metadata metadata;

    /// Source of the bytes; keeps the mapping alive as long as the directory lives.
    std::shared_ptr<const MappedFile> file;

    const std::string& file_name() const;
    const std::vector<TensorEntry>& tensors() const noexcept { return tensors_; }
    const TensorEntry* find(std::string_view name) const;

    /// Adds a tensor; throws bad_format for a duplicate name.
    void add(TensorEntry entry);

    /// Keeps `buffer` alive with the directory and returns a view of it (for tensors
    /// whose bytes had to be converted).
    std::span<const std::byte> own(std::vector<std::byte> buffer);

    /// `view` made writable, where its bytes are this directory's alone: a converted
    /// tensor, or a file read into memory that no one else holds. Empty otherwise.
    std::span<std::byte> exclusive_bytes(std::span<const std::byte> view);

    /// Bytes held outside the file mapping (converted tensors).
    size_t owned_bytes() const noexcept { return owned_bytes_; }

private:
    std::vector<TensorEntry> tensors_;
    std::map<std::string, size_t, std::less<>> index_;
    std::vector<std::shared_ptr<std::vector<std::byte>>> owned_;
    size_t owned_bytes_ = 0;
};

/// Number of bytes `elements` of type `type_id` occupy; throws for unknown types or
/// a row length that is not a multiple of the block. Overflow-checked.
uint64_t tensor_bytes(uint32_t type_id, const std::array<uint64_t, 4>& ne, std::string_view tensor_name);

}  // namespace nibble::formats
