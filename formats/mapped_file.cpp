#include "formats/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "nibble/error.hpp"

namespace nibble::formats {
namespace {

struct FileDescriptor {
    int fd = -1;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

[[noreturn]] void throw_io(const std::string& path, const char* what) {
    throw Error(ErrorCode::io, fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, bool use_mmap) {
    FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) throw_io(path, "cannot open");
    struct stat info {};
    if (::fstat(file.fd, &info) != 0) throw_io(path, "cannot stat");
    if (!S_ISREG(info.st_mode)) throw Error(ErrorCode::io, fmt::format("{}: not a regular file", path));
    const auto size = static_cast<size_t>(info.st_size);

    std::shared_ptr<MappedFile> result(new MappedFile());
    result->name_ = path;
    if (size == 0) return result;
    if (use_mmap) {
        void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd, 0);
        if (mapping == MAP_FAILED) throw_io(path, "cannot map");
        result->mapping_ = mapping;
        result->mapping_size_ = size;
        result->bytes_ = {static_cast<const std::byte*>(mapping), size};
        return result;
    }
    result->owned_.resize(size);
    size_t done = 0;
    while (done < size) {
        const ssize_t got = ::read(file.fd, result->owned_.data() + done, size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) throw_io(path, "cannot read");
        done += static_cast<size_t>(got);
    }
    result->bytes_ = result->owned_;
    return result;
}

std::shared_ptr<const MappedFile> MappedFile::borrow(std::span<const std::byte> bytes, std::string name) {
    std::shared_ptr<MappedFile> result(new MappedFile());
    result->name_ = std::move(name);
    result->bytes_ = bytes;
    return result;
}

std::shared_ptr<const MappedFile> MappedFile::copy(std::span<const std::byte> bytes, std::string name) {
    std::shared_ptr<MappedFile> result(new MappedFile());
    result->name_ = std::move(name);
    result->owned_.assign(bytes.begin(), bytes.end());
    result->bytes_ = result->owned_;
    return result;
}

MappedFile::~MappedFile() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

}  // namespace nibble::formats
