#include "formats/tensor_directory.hpp"

#include <fmt/format.h>

#include <cstdint>

#include "nibble/error.hpp"

namespace nibble::formats {

std::string TensorEntry::shape_string() const {
    std::string out = "[";
    for (uint32_t i = 0; i < n_dims; ++i) out += (i ? ", " : "") + std::to_string(ne[i]);
    return out + "]";
}

const std::string& TensorDirectory::file_name() const {
    static const std::string unnamed = "<memory>";
    return file ? file->name() : unnamed;
}

const TensorEntry* TensorDirectory::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

void TensorDirectory::add(TensorEntry entry) {
    if (index_.count(entry.name) != 0) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: duplicate tensor name '{}'", file_name(), entry.name));
    }
    index_.emplace(entry.name, tensors_.size());
    tensors_.push_back(std::move(entry));
}

std::span<const std::byte> TensorDirectory::own(std::vector<std::byte> buffer) {
    owned_bytes_ += buffer.size();
    owned_.push_back(std::make_shared<std::vector<std::byte>>(std::move(buffer)));
    return *owned_.back();
}

std::span<std::byte> TensorDirectory::exclusive_bytes(std::span<const std::byte> view) {
    const auto begin = reinterpret_cast<uintptr_t>(view.data()), end = begin + view.size();
    auto inside = [&](std::span<const std::byte> whole) {
        const auto first = reinterpret_cast<uintptr_t>(whole.data());
        return !view.empty() && begin >= first && end <= first + whole.size();
    };
    // Both kinds of buffer were allocated writable; only the pointers to them are const.
    const std::span<std::byte> writable{const_cast<std::byte*>(view.data()), view.size()};
    for (const auto& buffer : owned_) {
        if (buffer.use_count() == 1 && inside(*buffer)) return writable;
    }
    if (file && file.use_count() == 1 && file->holds_copy() && inside(file->bytes())) return writable;
    return {};
}

uint64_t tensor_bytes(uint32_t type_id, const std::array<uint64_t, 4>& ne, std::string_view tensor_name) {
    const auto info = tensor_type_info(type_id);
    if (!info) {
        throw Error(ErrorCode::unsupported, fmt::format("tensor '{}': unknown type id {}", tensor_name, type_id));
    }
    if (ne[0] % info->block_elements != 0) {
        throw Error(ErrorCode::bad_format, fmt::format("tensor '{}': row length {} is not a multiple of the {} block size {}",
                                                       tensor_name, ne[0], info->name, info->block_elements));
    }
    constexpr uint64_t limit = uint64_t{1} << 62;
    if (ne[0] > limit) throw Error(ErrorCode::bad_format, fmt::format("tensor '{}': row length overflows", tensor_name));
    uint64_t rows = 1;
    for (size_t i = 1; i < 4; ++i) {
        if (ne[i] != 0 && rows > limit / ne[i]) {
            throw Error(ErrorCode::bad_format, fmt::format("tensor '{}': element count overflows", tensor_name));
        }
        rows *= ne[i];
    }
    const uint64_t row_bytes = ne[0] / info->block_elements * info->block_bytes;
    if (row_bytes != 0 && rows > limit / row_bytes) {
        throw Error(ErrorCode::bad_format, fmt::format("tensor '{}': byte size overflows", tensor_name));
    }
    return rows * row_bytes;
}

}  // namespace nibble::formats
