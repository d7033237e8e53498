// GGUF v1-v3: reader (zero-copy, every length checked) and writer.
#pragma once

#include <memory>
#include <string>

#include "formats/tensor_directory.hpp"

namespace nibble::formats {

inline constexpr uint32_t gguf_default_alignment = 32;

/// True when the bytes start with the GGUF magic.
bool looks_like_gguf(std::span<const std::byte> bytes) noexcept;

/// Parses a GGUF file of version 1, 2 or 3. Throws nibble::Error naming the file,
/// the offset and, where there is one, the key or tensor at fault.
std::unique_ptr<TensorDirectory> read_gguf(std::shared_ptr<const MappedFile> file);

/// Builds a GGUF file in memory: metadata in insertion order, tensors in order,
/// each aligned to the file's alignment.
class GgufWriter {
public:
    explicit GgufWriter(uint32_t version = 3, uint32_t alignment = gguf_default_alignment);

    Metadata& metadata() noexcept { return metadata_; }
    const Metadata& metadata() const noexcept { return metadata_; }
    /// Adds a tensor; `data` must hold exactly tensor_bytes(type, ne) bytes.
    void add_tensor(const std::string& name, uint32_t type_id, std::span<const uint64_t> ne,
                    std::span<const std::byte> data);
    /// Copies every metadata entry and tensor of `directory`.
    void add_all(const TensorDirectory& directory);

    std::vector<std::byte> bytes() const;
    /// Everything before the tensor data (padded to the alignment).
    std::vector<std::byte> header() const;
    /// Writes `path` atomically (a temporary file in the same folder, renamed when
    /// complete); refuses (invalid_argument) a path that is the file of a directory
    /// given to add_all, and (io) a source that shrank while it was copied.
    void write(const std::string& path) const;

private:
    struct PendingTensor {
        std::string name;
        uint32_t type_id;
        std::vector<uint64_t> ne;
        std::span<const std::byte> data;
    };
    uint32_t version_;
    uint32_t alignment_;
    Metadata metadata_;
    std::vector<PendingTensor> tensors_;
    std::vector<std::shared_ptr<const MappedFile>> sources_;  ///< files whose bytes the tensors view
};

}  // namespace nibble::formats
