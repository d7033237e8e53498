// Little-endian byte writing and bounds-checked reading, for saved session states.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "nibble/error.hpp"

namespace nibble::detail {

class ByteWriter {
public:
    template <class T>
    void put(const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        put_bytes(&value, sizeof(T));
    }
    template <class T>
    void put_array(std::span<const T> values) {
        put_bytes(values.data(), values.size_bytes());
    }
    // resize + memcpy, not vector::insert: GCC 12 -O3 reports a false -Warray-bounds
    // for a range insert into the vector when it inlines save_state.
    void put_bytes(const void* data, size_t size) {
        if (size == 0) return;
        const size_t at = bytes.size();
        bytes.resize(at + size);
        std::memcpy(bytes.data() + at, data, size);
    }
    std::vector<std::byte> bytes;
};

/// Reads what ByteWriter wrote; running past the end throws bad_format naming `what`
/// and the offset.
class ByteReader {
public:
    ByteReader(std::span<const std::byte> bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
    template <class T>
    T get() {
        T value;
        std::memcpy(&value, take(sizeof(T)).data(), sizeof(T));
        return value;
    }
    template <class T>
    void get_array(std::span<T> out) {
        std::memcpy(out.data(), take(out.size_bytes()).data(), out.size_bytes());
    }
    std::span<const std::byte> take(uint64_t size) {
        if (size > bytes_.size() - at_) {
            throw Error(ErrorCode::bad_format, fmt::format("{}: {} bytes needed at offset {}, only {} left (truncated?)",
                                                           what_, size, at_, bytes_.size() - at_));
        }
        const auto view = bytes_.subspan(at_, size);
        at_ += size;
        return view;
    }
    size_t offset() const noexcept { return at_; }
    size_t left() const noexcept { return bytes_.size() - at_; }
    const std::string& what() const noexcept { return what_; }

private:
    std::span<const std::byte> bytes_;
    std::string what_;
    size_t at_ = 0;
};

/// FNV-1a, 64 bits: identities and checksums (not for security).
inline uint64_t fnv1a(const void* data, size_t size, uint64_t hash = 0xcbf29ce484222325ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
    return hash;
}

}  // namespace nibble::detail
