#include "formats/metadata.hpp"

#include <fmt/format.h>

#include "nibble/error.hpp"

namespace nibble::formats {

std::string_view meta_type_name(MetaType type) noexcept {
    switch (type) {
        case MetaType::u8: return "u8";
        case MetaType::i8: return "i8";
        case MetaType::u16: return "u16";
        case MetaType::i16: return "i16";
        case MetaType::u32: return "u32";
        case MetaType::i32: return "i32";
        case MetaType::f32: return "f32";
        case MetaType::boolean: return "bool";
        case MetaType::string: return "string";
        case MetaType::array: return "array";
        case MetaType::u64: return "u64";
        case MetaType::i64: return "i64";
        case MetaType::f64: return "f64";
    }
    return "?";
}

bool meta_type_is_valid(uint32_t id) noexcept { return id <= 12; }

size_t meta_scalar_size(MetaType type) noexcept {
    switch (type) {
        case MetaType::u8: case MetaType::i8: case MetaType::boolean: return 1;
        case MetaType::u16: case MetaType::i16: return 2;
        case MetaType::u32: case MetaType::i32: case MetaType::f32: return 4;
        case MetaType::u64: case MetaType::i64: case MetaType::f64: return 8;
        default: return 0;
    }
}

bool MetaValue::is_integer() const noexcept {
    switch (type) {
        case MetaType::u8: case MetaType::i8: case MetaType::u16: case MetaType::i16:
        case MetaType::u32: case MetaType::i32: case MetaType::u64: case MetaType::i64: return true;
        default: return false;
    }
}

std::string MetaValue::describe() const {
    return std::visit(
        [&](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, uint64_t>) {
                return type == MetaType::boolean ? (v ? "true" : "false") : std::to_string(v);
            } else if constexpr (std::is_same_v<T, int64_t>) {
                return std::to_string(v);
            } else if constexpr (std::is_same_v<T, double>) {
                return fmt::format("{}", type == MetaType::f32 ? static_cast<float>(v) : v);
            } else if constexpr (std::is_same_v<T, std::string>) {
                return v.size() > 60 ? fmt::format("\"{}...\" ({} bytes)", v.substr(0, 57), v.size())
                                     : fmt::format("\"{}\"", v);
            } else {
                std::string out = fmt::format("[{} x {}]", v.size(), meta_type_name(element_type));
                return out;
            }
        },
        value);
}

bool operator==(const MetaValue& a, const MetaValue& b) {
    if (a.type != b.type) return false;
    if (a.type == MetaType::array && a.element_type != b.element_type) return false;
    return a.value == b.value;
}

void Metadata::set(const std::string& key, MetaValue value) {
    if (auto it = index_.find(key); it != index_.end()) {
        entries_[it->second].second = std::move(value);
        return;
    }
    index_.emplace(key, entries_.size());
    entries_.emplace_back(key, std::move(value));
}

const MetaValue* Metadata::find(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
}

namespace {
[[noreturn]] void wrong_type(std::string_view key, const MetaValue& v, std::string_view wanted) {
    throw Error(ErrorCode::bad_format,
                fmt::format("metadata key '{}' has type {} (expected {})", key, meta_type_name(v.type), wanted));
}
}  // namespace

std::optional<uint64_t> Metadata::get_uint(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_integer()) {
        if (const auto* u = std::get_if<uint64_t>(&v->value)) return *u;
        const int64_t s = std::get<int64_t>(v->value);
        if (s < 0) throw Error(ErrorCode::bad_model, fmt::format("metadata key '{}' is negative ({})", key, s));
        return static_cast<uint64_t>(s);
    }
    wrong_type(key, *v, "an integer");
}

std::optional<double> Metadata::get_float(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_float()) return std::get<double>(v->value);
    if (v->is_integer()) {
        if (const auto* u = std::get_if<uint64_t>(&v->value)) return static_cast<double>(*u);
        return static_cast<double>(std::get<int64_t>(v->value));
    }
    wrong_type(key, *v, "a number");
}

std::optional<bool> Metadata::get_bool(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type == MetaType::boolean) return std::get<uint64_t>(v->value) != 0;
    wrong_type(key, *v, "bool");
}

std::optional<std::string> Metadata::get_string(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type == MetaType::string) return std::get<std::string>(v->value);
    wrong_type(key, *v, "string");
}

const std::vector<std::string>* Metadata::get_strings(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return nullptr;
    if (v->type == MetaType::array && v->element_type == MetaType::string) {
        return &std::get<std::vector<std::string>>(v->value);
    }
    wrong_type(key, *v, "array of strings");
}

std::optional<std::vector<float>> Metadata::get_floats(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type == MetaType::array && (v->element_type == MetaType::f32 || v->element_type == MetaType::f64)) {
        const auto& d = std::get<std::vector<double>>(v->value);
        return std::vector<float>(d.begin(), d.end());
    }
    wrong_type(key, *v, "array of floats");
}

std::optional<std::vector<int64_t>> Metadata::get_ints(std::string_view key) const {
    const MetaValue* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type == MetaType::array) {
        if (const auto* s = std::get_if<std::vector<int64_t>>(&v->value)) return *s;
        if (const auto* u = std::get_if<std::vector<uint64_t>>(&v->value)) {
            std::vector<int64_t> out;
            out.reserve(u->size());
            for (uint64_t x : *u) out.push_back(static_cast<int64_t>(x));
            return out;
        }
    }
    wrong_type(key, *v, "array of integers");
}

}  // namespace nibble::formats
