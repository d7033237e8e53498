// A bounds-checked little-endian reader over a file's bytes. Every read checks the
// remaining length first and throws a nibble::Error naming the file and offset.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "nibble/error.hpp"

namespace nibble::formats {

class ByteCursor {
public:
    ByteCursor(std::span<const std::byte> bytes, std::string_view file_name, size_t offset = 0)
        : bytes_(bytes), file_(file_name), pos_(offset) {}

    size_t offset() const noexcept { return pos_; }
    size_t size() const noexcept { return bytes_.size(); }
    size_t remaining() const noexcept { return pos_ <= bytes_.size() ? bytes_.size() - pos_ : 0; }
    bool at_end() const noexcept { return pos_ >= bytes_.size(); }
    std::string_view file() const noexcept { return file_; }

    template <class T>
    T read(std::string_view what) {
        static_assert(std::is_trivially_copyable_v<T>);
        need(sizeof(T), what);
        T value;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    std::span<const std::byte> read_bytes(size_t n, std::string_view what) {
        need(n, what);
        auto out = bytes_.subspan(pos_, n);
        pos_ += n;
        return out;
    }

    std::string_view read_chars(size_t n, std::string_view what) {
        auto raw = read_bytes(n, what);
        return {reinterpret_cast<const char*>(raw.data()), raw.size()};
    }

    void skip(size_t n, std::string_view what) { read_bytes(n, what); }
    void seek(size_t offset) { pos_ = offset; }

    /// Throws bad_format "FILE: offset N: WHAT" with the given detail.
    [[noreturn]] void fail(std::string_view what) const { fail_at(pos_, what); }
    [[noreturn]] void fail_at(size_t offset, std::string_view what) const {
        throw Error(ErrorCode::bad_format, fmt::format("{}: offset {}: {}", file_, offset, what));
    }

private:
    void need(size_t n, std::string_view what) const {
        if (n > remaining()) {
            fail(fmt::format("unexpected end of file reading {} ({} bytes needed, {} left)", what, n, remaining()));
        }
    }

    std::span<const std::byte> bytes_;
    std::string file_;
    size_t pos_;
};

}  // namespace nibble::formats
