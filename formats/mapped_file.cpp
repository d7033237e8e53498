#include "formats/mapped_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <new>

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

// ---- SIGBUS guard ----
// A mapped file that shrinks makes every access past its new end raise SIGBUS. The
// handler looks the address up among the mappings nibble made; for one of them it
// maps a page of zeros over the faulting page, records that the file shrank and
// returns, so the read completes (with zeros) and the owner can report an Error.
// Faults elsewhere go to the handler that was installed before (or the default
// action). The table is lock-free: the handler only loads atomics.
struct GuardSlot {
    std::atomic<bool> used{false};
    std::atomic<uintptr_t> begin{0}, end{0};
    std::atomic<std::atomic<bool>*> flag{nullptr};
};
constexpr size_t guard_slots = 256;
std::array<GuardSlot, guard_slots> slots;
struct sigaction previous_bus_action {};
uintptr_t page_size = 4096;
std::once_flag install_once;

void on_sigbus(int sig, siginfo_t* info, void* context) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    for (auto& slot : slots) {
        const uintptr_t begin = slot.begin.load(std::memory_order_acquire);
        if (begin == 0 || addr < begin || addr >= slot.end.load(std::memory_order_acquire)) continue;
        void* page = reinterpret_cast<void*>(addr & ~(page_size - 1));
        if (::mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            if (auto* flag = slot.flag.load(std::memory_order_acquire)) flag->store(true, std::memory_order_relaxed);
            return;
        }
        break;
    }
    if (previous_bus_action.sa_flags & SA_SIGINFO) {
        if (previous_bus_action.sa_sigaction != nullptr) previous_bus_action.sa_sigaction(sig, info, context);
        return;
    }
    if (previous_bus_action.sa_handler != SIG_DFL && previous_bus_action.sa_handler != SIG_IGN) {
        previous_bus_action.sa_handler(sig);
        return;
    }
    // Default action: restore it; the faulting access repeats and ends the process.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGBUS, &dfl, nullptr);
}

void install_guard() {
    std::call_once(install_once, [] {
        page_size = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
        struct sigaction action {};
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        ::sigemptyset(&action.sa_mask);
        ::sigaction(SIGBUS, &action, &previous_bus_action);
    });
}

int guard(const void* mapping, size_t size, std::atomic<bool>* flag) {
    install_guard();
    for (size_t i = 0; i < slots.size(); ++i) {
        bool expected = false;
        if (!slots[i].used.compare_exchange_strong(expected, true)) continue;
        const auto begin = reinterpret_cast<uintptr_t>(mapping);
        slots[i].flag.store(flag, std::memory_order_release);
        slots[i].end.store(begin + size, std::memory_order_release);
        slots[i].begin.store(begin, std::memory_order_release);
        return static_cast<int>(i);
    }
    return -1;  // more than 256 live mappings: the rest are unguarded
}

void unguard(int index) {
    if (index < 0) return;
    GuardSlot& slot = slots[static_cast<size_t>(index)];
    slot.begin.store(0, std::memory_order_release);
    slot.end.store(0, std::memory_order_release);
    slot.flag.store(nullptr, std::memory_order_release);
    slot.used.store(false, std::memory_order_release);
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, bool use_mmap) {
    if (path.empty()) throw Error(ErrorCode::io, "cannot open a file with an empty path");
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
    if (file.fd < 0) throw_io(path, "cannot open");
    struct stat info {};
    if (::fstat(file.fd, &info) != 0) throw_io(path, "cannot stat");
    if (S_ISDIR(info.st_mode)) throw Error(ErrorCode::io, fmt::format("{}: is a directory, not a model file", path));
    if (!S_ISREG(info.st_mode)) throw Error(ErrorCode::io, fmt::format("{}: not a regular file", path));
    const auto size = static_cast<size_t>(info.st_size);

    std::shared_ptr<MappedFile> result(new MappedFile());
    result->name_ = path;
    result->device_ = static_cast<uint64_t>(info.st_dev);
    result->inode_ = static_cast<uint64_t>(info.st_ino);
    if (size == 0) return result;
    if (use_mmap) {
        void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd, 0);
        if (mapping == MAP_FAILED) throw_io(path, "cannot map");
        result->mapping_ = mapping;
        result->mapping_size_ = size;
        result->bytes_ = {static_cast<const std::byte*>(mapping), size};
        result->guard_slot_ = guard(mapping, size, &result->shrank_);
        return result;
    }
    try {
        result->owned_.resize(size);
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::io, fmt::format("{}: cannot read {} bytes into memory: out of memory", path, size));
    }
    size_t done = 0;
    while (done < size) {
        const ssize_t got = ::pread(file.fd, result->owned_.data() + done, size - done, static_cast<off_t>(done));
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got < 0) throw_io(path, "cannot read");
        if (got == 0) {
            throw Error(ErrorCode::io, fmt::format("{}: the file shrank while being read ({} of {} bytes)", path, done, size));
        }
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

void MappedFile::check_intact() const {
    if (shrank()) {
        throw Error(ErrorCode::io, fmt::format("{}: the file shrank (or a page of it could not be read) while mapped; "
                                               "those bytes read as zeros, so what was read from it is void",
                                               name_));
    }
}

MappedFile::~MappedFile() {
    unguard(guard_slot_);
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

}  // namespace nibble::formats
