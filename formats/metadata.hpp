// Typed metadata values as GGUF defines them, used by every reader.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nibble::formats {

// What a reader keeps for a file is bounded by the file (docs/reliability.md):
/// Most vocabulary entries any reader or tokenizer accepts (4x the largest in use).
inline constexpr size_t max_vocabulary = size_t{1} << 20;
/// Most tensors and most metadata keys in one file.
inline constexpr size_t max_tensors = size_t{1} << 16;
inline constexpr size_t max_metadata_keys = size_t{1} << 16;
/// Most bytes of memory the metadata values (strings, arrays) of a file of
/// `file_bytes` may take once parsed: the file's size plus 64 MiB.
constexpr uint64_t metadata_memory_limit(uint64_t file_bytes) noexcept { return file_bytes + (uint64_t{64} << 20); }

/// GGUF value type ids (FORMATS.md 1.3).
enum class MetaType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

std::string_view meta_type_name(MetaType type) noexcept;
bool meta_type_is_valid(uint32_t id) noexcept;
/// Encoded bytes of one scalar value (0 for string and array).
size_t meta_scalar_size(MetaType type) noexcept;

/// One metadata value. Scalars keep their exact file type so a file rewrites the
/// same; arrays store their elements widened (unsigned/bool -> u64, signed -> i64,
/// floats -> f64, which holds every f32 exactly).
struct MetaValue {
    MetaType type = MetaType::u32;
    MetaType element_type = MetaType::u32;  ///< for arrays
    std::variant<uint64_t, int64_t, double, std::string, std::vector<uint64_t>, std::vector<int64_t>,
                 std::vector<double>, std::vector<std::string>>
        value;

    static MetaValue make_u32(uint32_t v) { return {MetaType::u32, MetaType::u32, uint64_t{v}}; }
    static MetaValue make_i32(int32_t v) { return {MetaType::i32, MetaType::u32, int64_t{v}}; }
    static MetaValue make_u64(uint64_t v) { return {MetaType::u64, MetaType::u32, v}; }
    static MetaValue make_f32(float v) { return {MetaType::f32, MetaType::u32, double{v}}; }
    static MetaValue make_bool(bool v) { return {MetaType::boolean, MetaType::u32, uint64_t{v}}; }
    static MetaValue make_string(std::string v) { return {MetaType::string, MetaType::u32, std::move(v)}; }
    static MetaValue make_strings(std::vector<std::string> v) { return {MetaType::array, MetaType::string, std::move(v)}; }
    static MetaValue make_f32s(const std::vector<float>& v) {
        return {MetaType::array, MetaType::f32, std::vector<double>(v.begin(), v.end())};
    }
    static MetaValue make_i32s(const std::vector<int32_t>& v) {
        return {MetaType::array, MetaType::i32, std::vector<int64_t>(v.begin(), v.end())};
    }

    bool is_integer() const noexcept;
    bool is_float() const noexcept { return type == MetaType::f32 || type == MetaType::f64; }
    /// Short human-readable rendering (arrays show their length and first items).
    std::string describe() const;
};

bool operator==(const MetaValue& a, const MetaValue& b);

/// Ordered key -> value map (order = file order, so files round-trip).
class Metadata {
public:
    void set(const std::string& key, MetaValue value);
    const MetaValue* find(std::string_view key) const;
    bool contains(std::string_view key) const { return find(key) != nullptr; }
    const std::vector<std::pair<std::string, MetaValue>>& entries() const noexcept { return entries_; }
    size_t size() const noexcept { return entries_.size(); }

    // Typed getters: empty when absent; throw bad_format naming the key when the
    // value has a type that cannot represent the request (negative for unsigned...).
    std::optional<uint64_t> get_uint(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;  ///< any number
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;
    const std::vector<std::string>* get_strings(std::string_view key) const;
    std::optional<std::vector<float>> get_floats(std::string_view key) const;
    std::optional<std::vector<int64_t>> get_ints(std::string_view key) const;

private:
    std::vector<std::pair<std::string, MetaValue>> entries_;
    std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace nibble::formats
