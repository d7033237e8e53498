// Output files written whole or not at all: the bytes go to a temporary file in the
// same folder, which replaces the target by rename() once complete. A reader of the
// target (the input itself, when a user names it twice) never sees a partial file.
#pragma once

#include <cstddef>
#include <string>

#include "formats/mapped_file.hpp"

namespace nibble::formats {

class AtomicFile {
public:
    /// Creates the temporary file beside `path`. Throws Error(io).
    explicit AtomicFile(std::string path);
    /// Removes the temporary file unless commit() succeeded.
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    /// Appends bytes. Throws Error(io) naming the path and the system's reason.
    void write(const void* data, size_t size);
    /// Flushes, closes and renames the temporary file over the target.
    void commit();
    const std::string& temporary_path() const noexcept { return temp_; }

private:
    std::string path_, temp_;
    int fd_ = -1;
    bool committed_ = false;
};

/// Throws Error(invalid_argument) when `output` is the file `input` was opened from
/// (the same device and inode, whatever the names): writing it would destroy the
/// input while it is read.
void refuse_same_file(const std::string& output, const MappedFile& input);

}  // namespace nibble::formats
