// GGUF reader. Hostile files are expected: every count is checked against the bytes
// that remain before anything is allocated, and every tensor against the file end.
#include <algorithm>
#include <fmt/format.h>

#include "formats/byte_cursor.hpp"
#include "formats/gguf.hpp"

namespace nibble::formats {
namespace {

constexpr size_t max_tensor_name = 64;  // GGML_MAX_NAME; the spec says at most 64 bytes

class GgufParser {
public:
    GgufParser(const MappedFile& file, uint32_t version)
        : cur_(file.bytes(), file.name()), version_(version), limit_(metadata_memory_limit(file.size())) {}

    /// Counts `bytes` of memory the parsed metadata will hold; refuses a file whose
    /// values would take more than metadata_memory_limit of its size (a count can be
    /// honest about the bytes that remain, yet each element grows in memory).
    void charge(uint64_t bytes, size_t at, std::string_view key) {
        if (bytes > limit_ - kept_) {
            cur_.fail_at(at, fmt::format("key '{}': the metadata would take more than {} bytes of memory (the file's size "
                                         "plus 64 MiB)",
                                         key, limit_));
        }
        kept_ += bytes;
    }

    ByteCursor& cursor() { return cur_; }

    uint64_t read_count(std::string_view what) {
        return version_ == 1 ? cur_.read<uint32_t>(what) : cur_.read<uint64_t>(what);
    }

    std::string read_string(std::string_view what) {
        const size_t at = cur_.offset();
        const uint64_t length = read_count(what);
        if (length > cur_.remaining()) {
            cur_.fail_at(at, fmt::format("{} claims {} bytes but only {} remain", what, length, cur_.remaining()));
        }
        // Strings longer than the small-string buffer take a heap block of their own.
        if (length >= sizeof(std::string)) charge(length + 1, at, what);
        return std::string(cur_.read_chars(static_cast<size_t>(length), what));
    }

    MetaType read_type(std::string_view key) {
        const size_t at = cur_.offset();
        const auto id = cur_.read<uint32_t>("value type");
        if (!meta_type_is_valid(id)) cur_.fail_at(at, fmt::format("key '{}': unknown value type {}", key, id));
        return static_cast<MetaType>(id);
    }

    MetaValue read_scalar(MetaType type, std::string_view key) {
        MetaValue v;
        v.type = type;
        switch (type) {
            case MetaType::u8: v.value = uint64_t{cur_.read<uint8_t>(key)}; break;
            case MetaType::i8: v.value = int64_t{cur_.read<int8_t>(key)}; break;
            case MetaType::u16: v.value = uint64_t{cur_.read<uint16_t>(key)}; break;
            case MetaType::i16: v.value = int64_t{cur_.read<int16_t>(key)}; break;
            case MetaType::u32: v.value = uint64_t{cur_.read<uint32_t>(key)}; break;
            case MetaType::i32: v.value = int64_t{cur_.read<int32_t>(key)}; break;
            case MetaType::u64: v.value = cur_.read<uint64_t>(key); break;
            case MetaType::i64: v.value = cur_.read<int64_t>(key); break;
            case MetaType::f32: v.value = double{cur_.read<float>(key)}; break;
            case MetaType::f64: v.value = cur_.read<double>(key); break;
            case MetaType::boolean: {
                const size_t at = cur_.offset();
                const auto b = cur_.read<uint8_t>(key);
                if (b > 1) cur_.fail_at(at, fmt::format("key '{}': bool value {} is neither 0 nor 1", key, b));
                v.value = uint64_t{b};
                break;
            }
            case MetaType::string: v.value = read_string(fmt::format("string value of '{}'", key)); break;
            case MetaType::array: cur_.fail(fmt::format("key '{}': nested arrays are not allowed", key));
        }
        return v;
    }

    template <class T>
    std::vector<T> read_elements(MetaType element, uint64_t count, std::string_view key) {
        std::vector<T> out;
        out.reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) out.push_back(std::get<T>(read_scalar(element, key).value));
        return out;
    }

    MetaValue read_value(std::string_view key) {
        const MetaType type = read_type(key);
        if (type != MetaType::array) return read_scalar(type, key);
        const MetaType element = read_type(key);
        const size_t at = cur_.offset();
        const uint64_t count = read_count("array length");
        // Every element takes at least one byte (a string at least its length field),
        // so a count larger than that bound is a lie we refuse before allocating.
        const size_t min_size = element == MetaType::string ? (version_ == 1 ? 4 : 8) : meta_scalar_size(element);
        if (element == MetaType::array) cur_.fail_at(at, fmt::format("key '{}': nested arrays are not allowed", key));
        if (count > cur_.remaining() / min_size) {
            cur_.fail_at(at, fmt::format("key '{}': array of {} {} elements does not fit in the {} bytes that remain",
                                         key, count, meta_type_name(element), cur_.remaining()));
        }
        charge(count * (element == MetaType::string ? sizeof(std::string) : sizeof(uint64_t)), at, key);
        MetaValue v;
        v.type = MetaType::array;
        v.element_type = element;
        switch (element) {
            case MetaType::u8: case MetaType::u16: case MetaType::u32: case MetaType::u64: case MetaType::boolean:
                v.value = read_elements<uint64_t>(element, count, key);
                break;
            case MetaType::i8: case MetaType::i16: case MetaType::i32: case MetaType::i64:
                v.value = read_elements<int64_t>(element, count, key);
                break;
            case MetaType::f32: case MetaType::f64:
                v.value = read_elements<double>(element, count, key);
                break;
            case MetaType::string:
                v.value = read_elements<std::string>(element, count, key);
                break;
            case MetaType::array: break;
        }
        return v;
    }

private:
    ByteCursor cur_;
    uint32_t version_;
    uint64_t limit_, kept_ = 0;
};

uint32_t read_alignment(const Metadata& metadata, const std::string& file) {
    const MetaValue* v = metadata.find("general.alignment");
    if (v == nullptr) return gguf_default_alignment;
    if (v->type != MetaType::u32) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: general.alignment has type {} (expected u32)", file,
                                                       meta_type_name(v->type)));
    }
    const uint64_t a = std::get<uint64_t>(v->value);
    if (a == 0 || (a & (a - 1)) != 0) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: general.alignment {} is not a power of two", file, a));
    }
    return static_cast<uint32_t>(a);
}

}  // namespace

bool looks_like_gguf(std::span<const std::byte> bytes) noexcept {
    return bytes.size() >= 4 && bytes[0] == std::byte{'G'} && bytes[1] == std::byte{'G'} &&
           bytes[2] == std::byte{'U'} && bytes[3] == std::byte{'F'};
}

std::unique_ptr<TensorDirectory> read_gguf(std::shared_ptr<const MappedFile> file) {
    ByteCursor header(file->bytes(), file->name());
    const auto magic = header.read_chars(4, "magic");
    if (magic != "GGUF") header.fail_at(0, "not a GGUF file (magic is not \"GGUF\")");
    const uint32_t version = header.read<uint32_t>("version");
    if (version == 0 || (version & 0xffffu) == 0) {
        header.fail_at(4, fmt::format("version {:#x} looks byte-swapped: big-endian GGUF files are not supported", version));
    }
    if (version > 3) {
        throw Error(ErrorCode::unsupported, fmt::format("{}: offset 4: GGUF version {} is newer than 3", file->name(), version));
    }

    auto dir = std::make_unique<TensorDirectory>();
    dir->container = "GGUF";
    dir->version = version;
    dir->file = file;

    GgufParser parser(*file, version);
    ByteCursor& cur = parser.cursor();
    cur.seek(8);
    const size_t counts_at = cur.offset();
    const uint64_t tensor_count = parser.read_count("tensor count");
    const uint64_t kv_count = parser.read_count("metadata count");
    // A tensor info takes at least 4+4+4+4+8 bytes and a key/value at least 4+4+4+1.
    if (tensor_count > cur.remaining() / 24) {
        cur.fail_at(counts_at, fmt::format("tensor count {} cannot fit in a file of {} bytes", tensor_count, cur.size()));
    }
    if (kv_count > cur.remaining() / 13) {
        cur.fail_at(counts_at, fmt::format("metadata count {} cannot fit in a file of {} bytes", kv_count, cur.size()));
    }

    if (tensor_count > max_tensors) {
        cur.fail_at(counts_at, fmt::format("tensor count {} is more than nibble accepts ({})", tensor_count, max_tensors));
    }
    if (kv_count > max_metadata_keys) {
        cur.fail_at(counts_at, fmt::format("metadata count {} is more than nibble accepts ({})", kv_count, max_metadata_keys));
    }

    for (uint64_t i = 0; i < kv_count; ++i) {
        const size_t at = cur.offset();
        std::string key = parser.read_string("metadata key");
        parser.charge(sizeof(std::pair<std::string, MetaValue>) + 64, at, key);  // the entry and its index node
        if (key.empty()) cur.fail_at(at, "empty metadata key");
        if (dir->metadata.contains(key)) cur.fail_at(at, fmt::format("duplicate metadata key '{}'", key));
        MetaValue value = parser.read_value(key);
        dir->metadata.set(key, std::move(value));
    }
    const uint32_t alignment = read_alignment(dir->metadata, file->name());

    struct Pending {
        TensorEntry entry;
        uint64_t relative_offset;
        size_t info_at;
    };
    std::vector<Pending> pending;
    pending.reserve(static_cast<size_t>(tensor_count));
    for (uint64_t i = 0; i < tensor_count; ++i) {
        Pending p;
        p.info_at = cur.offset();
        p.entry.name = parser.read_string("tensor name");
        if (p.entry.name.size() > max_tensor_name) {
            cur.fail_at(p.info_at, fmt::format("tensor name of {} bytes is longer than {}", p.entry.name.size(), max_tensor_name));
        }
        const std::string& name = p.entry.name;
        p.entry.n_dims = cur.read<uint32_t>("tensor dimension count");
        if (p.entry.n_dims == 0 || p.entry.n_dims > 4) {
            cur.fail(fmt::format("tensor '{}': {} dimensions (expected 1 to 4)", name, p.entry.n_dims));
        }
        for (uint32_t d = 0; d < p.entry.n_dims; ++d) {
            p.entry.ne[d] = parser.read_count("tensor dimension");
            if (p.entry.ne[d] == 0 || p.entry.ne[d] > (uint64_t{1} << 40)) {
                cur.fail(fmt::format("tensor '{}': dimension {} is {} (expected 1 to 2^40)", name, d, p.entry.ne[d]));
            }
        }
        const size_t type_at = cur.offset();
        p.entry.type_id = cur.read<uint32_t>("tensor type");
        if (!tensor_type_info(p.entry.type_id)) {
            throw Error(ErrorCode::unsupported, fmt::format("{}: offset {}: tensor '{}' has unknown type id {}",
                                                            file->name(), type_at, name, p.entry.type_id));
        }
        p.relative_offset = cur.read<uint64_t>("tensor data offset");
        if (p.relative_offset % alignment != 0) {
            cur.fail(fmt::format("tensor '{}': data offset {} is not a multiple of the alignment {}", name,
                                 p.relative_offset, alignment));
        }
        pending.push_back(std::move(p));
    }

    const uint64_t info_end = cur.offset();
    const uint64_t data_start = info_end + (alignment - info_end % alignment) % alignment;
    if (!pending.empty() && data_start > file->size()) {
        cur.fail_at(info_end, fmt::format("tensor data would start at {}, past the end of the file ({} bytes)",
                                          data_start, file->size()));
    }
    for (auto& p : pending) {
        TensorEntry& e = p.entry;
        uint64_t nbytes = 0;
        try {
            nbytes = tensor_bytes(e.type_id, e.ne, e.name);
        } catch (const Error& error) {
            throw Error(error.code(), fmt::format("{}: offset {}: {}", file->name(), p.info_at, error.what()));
        }
        const uint64_t available = file->size() - data_start;
        if (p.relative_offset > available || nbytes > available - p.relative_offset) {
            throw Error(ErrorCode::bad_format,
                        fmt::format("{}: tensor '{}' {} {}: data [{}, +{}) runs past the end of the file ({} bytes)",
                                    file->name(), e.name, tensor_type_name(e.type_id), e.shape_string(),
                                    data_start + p.relative_offset, nbytes, file->size()));
        }
        e.file_offset = data_start + p.relative_offset;
        e.data = file->bytes().subspan(static_cast<size_t>(e.file_offset), static_cast<size_t>(nbytes));
    }
    std::vector<const TensorEntry*> by_offset;
    for (const auto& p : pending) by_offset.push_back(&p.entry);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorEntry* a, const TensorEntry* b) { return a->file_offset < b->file_offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const TensorEntry* a = by_offset[i - 1];
        const TensorEntry* b = by_offset[i];
        if (a->file_offset + a->data.size() > b->file_offset) {
            throw Error(ErrorCode::bad_format, fmt::format("{}: tensors '{}' and '{}' overlap (offsets {} +{} and {})",
                                                           file->name(), a->name, b->name, a->file_offset,
                                                           a->data.size(), b->file_offset));
        }
    }
    for (auto& p : pending) dir->add(std::move(p.entry));
    return dir;
}

}  // namespace nibble::formats
