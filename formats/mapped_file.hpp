// Read-only bytes of a model file: a memory mapping, a read copy, or caller memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace nibble::formats {

class MappedFile {
public:
    /// Maps `path` read-only (or reads it into memory when use_mmap is false).
    /// Throws nibble::Error(io) naming the path and the system's reason. The open
    /// never blocks (O_NONBLOCK): a FIFO, device or directory is refused before any
    /// read. A mapping is guarded: should the file shrink while mapped, pages past
    /// its new end read as zeros instead of raising SIGBUS, and shrank() turns true.
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
    /// Device and inode of an opened file (0, 0 for borrowed or copied bytes).
    uint64_t device() const noexcept { return device_; }
    uint64_t inode() const noexcept { return inode_; }
    /// True once a read of the mapping found the file shorter than when it was mapped
    /// (the bytes read there were zeros, not the file's).
    bool shrank() const noexcept { return shrank_.load(std::memory_order_relaxed); }
    /// Throws Error(io) when shrank(): results computed from the bytes are void.
    void check_intact() const;

private:
    MappedFile() = default;
    std::string name_;
    std::span<const std::byte> bytes_;
    void* mapping_ = nullptr;
    size_t mapping_size_ = 0;
    std::vector<std::byte> owned_;
    uint64_t device_ = 0, inode_ = 0;
    int guard_slot_ = -1;
    mutable std::atomic<bool> shrank_{false};
};

}  // namespace nibble::formats
