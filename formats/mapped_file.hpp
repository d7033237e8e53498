// Read-only bytes of a model file: a memory mapping, a read copy, or caller memory.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace nibble::formats {

class MappedFile {
public:
    /// Maps `path` read-only (or reads it into memory when use_mmap is false).
    /// Throws nibble::Error(io) naming the path and the system's reason.
    static std::shared_ptr<const MappedFile> open(const std::string& path, bool use_mmap = true);

    /// Wraps memory the caller keeps alive for the lifetime of every user of it.
    static std::shared_ptr<const MappedFile> borrow(std::span<const std::byte> bytes, std::string name);

    /// Owns a copy of `bytes` (for tests and generated files).
    static std::shared_ptr<const MappedFile> copy(std::span<const std::byte> bytes, std::string name);

    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::byte> bytes() const noexcept { return bytes_; }
    size_t size() const noexcept { return bytes_.size(); }
    /// The path or name used in error messages.
    const std::string& name() const noexcept { return name_; }
    bool is_mapped() const noexcept { return mapping_ != nullptr; }
    /// Whether the bytes are this object's own copy (read without mmap, or copied).
    bool holds_copy() const noexcept { return !owned_.empty(); }

private:
    MappedFile() = default;
    std::string name_;
    std::span<const std::byte> bytes_;
    void* mapping_ = nullptr;
    size_t mapping_size_ = 0;
    std::vector<std::byte> owned_;
};

}  // namespace nibble::formats
