#include "formats/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <vector>

#include "nibble/error.hpp"

namespace nibble::formats {
namespace {

// The process umask, read without changing it (umask() would, for every thread).
mode_t current_umask() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("Umask:")) return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
    }
    return 022;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    if (path_.empty()) throw Error(ErrorCode::io, "cannot write a file with an empty path");
    const std::filesystem::path target(path_);
    std::filesystem::path folder = target.parent_path();
    if (folder.empty()) folder = ".";
    std::string leaf(".");  // appended piece by piece: GCC 12 misreports `"." + s + "..."` (-Wrestrict)
    leaf.append(target.filename().string());
    leaf.append(".nibble-XXXXXX");
    const std::string pattern = (folder / leaf).string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ < 0) throw Error(ErrorCode::io, fmt::format("{}: cannot create a file in {}: {}", path_, folder.string(), std::strerror(errno)));
    temp_ = name.data();
    // mkstemp makes the file 0600; give it the mode the target has, or a new file's.
    struct stat existing {};
    const mode_t mode = ::stat(path_.c_str(), &existing) == 0 ? (existing.st_mode & 07777) : (0666 & ~current_umask());
    (void)::fchmod(fd_, mode);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t put = ::write(fd_, p, size);
        if (put < 0 && errno == EINTR) continue;
        if (put < 0 && errno == EFAULT) {
            // The kernel reads the source itself: a mapped source that shrank gives EFAULT, not SIGBUS.
            throw Error(ErrorCode::io, fmt::format("{}: write failed: the bytes to write are unreadable (their source file "
                                                   "shrank while mapped)",
                                                   path_));
        }
        if (put <= 0) throw Error(ErrorCode::io, fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
        p += put;
        size -= static_cast<size_t>(put);
    }
}

void AtomicFile::commit() {
    if (::fsync(fd_) != 0 && errno != EINVAL) {
        throw Error(ErrorCode::io, fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(ErrorCode::io, fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
        throw Error(ErrorCode::io, fmt::format("{}: cannot replace it with {}: {}", path_, temp_, std::strerror(errno)));
    }
    committed_ = true;
}

void refuse_same_file(const std::string& output, const MappedFile& input) {
    struct stat out {};
    if (input.inode() == 0 || ::stat(output.c_str(), &out) != 0) return;  // no such output yet
    if (static_cast<uint64_t>(out.st_dev) == input.device() && static_cast<uint64_t>(out.st_ino) == input.inode()) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("{}: the output is the input file {}; writing it would destroy the input (choose another "
                                "output path)",
                                output, input.name()));
    }
}

}  // namespace nibble::formats
