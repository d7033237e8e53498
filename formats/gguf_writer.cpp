// GGUF writer: the exact inverse of the reader, for tests, the converter and quantizer.
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "formats/atomic_file.hpp"
#include "formats/gguf.hpp"
#include "nibble/error.hpp"

namespace nibble::formats {
namespace {

size_t array_length(const MetaValue& v) {
    return std::visit(
        [](const auto& x) -> size_t {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::vector<uint64_t>> || std::is_same_v<T, std::vector<int64_t>> ||
                          std::is_same_v<T, std::vector<double>> || std::is_same_v<T, std::vector<std::string>>) {
                return x.size();
            } else {
                return 0;
            }
        },
        v.value);
}

class ByteSink {
public:
    explicit ByteSink(uint32_t version) : version_(version) {}

    template <class T>
    void put(T value) {
        const auto* p = reinterpret_cast<const std::byte*>(&value);
        out_.insert(out_.end(), p, p + sizeof(T));
    }
    void put_count(uint64_t n) {
        if (version_ == 1) {
            if (n > UINT32_MAX) throw Error(ErrorCode::invalid_argument, "GGUF v1 cannot store a count above 2^32");
            put(static_cast<uint32_t>(n));
        } else {
            put(n);
        }
    }
    void put_string(std::string_view s) {
        put_count(s.size());
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        out_.insert(out_.end(), p, p + s.size());
    }
    void pad_to(size_t alignment) {
        while (out_.size() % alignment != 0) out_.push_back(std::byte{0});
    }
    void put_bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    std::vector<std::byte>& bytes() { return out_; }

    void put_scalar(MetaType type, const MetaValue& v, size_t index) {
        auto u = [&]() -> uint64_t {
            if (v.type == MetaType::array) return std::get<std::vector<uint64_t>>(v.value)[index];
            return std::get<uint64_t>(v.value);
        };
        auto s = [&]() -> int64_t {
            if (v.type == MetaType::array) return std::get<std::vector<int64_t>>(v.value)[index];
            return std::get<int64_t>(v.value);
        };
        auto f = [&]() -> double {
            if (v.type == MetaType::array) return std::get<std::vector<double>>(v.value)[index];
            return std::get<double>(v.value);
        };
        switch (type) {
            case MetaType::u8: put(static_cast<uint8_t>(u())); break;
            case MetaType::boolean: put(static_cast<uint8_t>(u() != 0)); break;
            case MetaType::u16: put(static_cast<uint16_t>(u())); break;
            case MetaType::u32: put(static_cast<uint32_t>(u())); break;
            case MetaType::u64: put(u()); break;
            case MetaType::i8: put(static_cast<int8_t>(s())); break;
            case MetaType::i16: put(static_cast<int16_t>(s())); break;
            case MetaType::i32: put(static_cast<int32_t>(s())); break;
            case MetaType::i64: put(s()); break;
            case MetaType::f32: put(static_cast<float>(f())); break;
            case MetaType::f64: put(f()); break;
            case MetaType::string:
                put_string(v.type == MetaType::array ? std::get<std::vector<std::string>>(v.value)[index]
                                                     : std::get<std::string>(v.value));
                break;
            case MetaType::array: throw Error(ErrorCode::invalid_argument, "GGUF arrays cannot nest");
        }
    }

    void put_value(const MetaValue& v) {
        put(static_cast<uint32_t>(v.type));
        if (v.type != MetaType::array) return put_scalar(v.type, v, 0);
        put(static_cast<uint32_t>(v.element_type));
        const size_t n = array_length(v);
        put_count(n);
        for (size_t i = 0; i < n; ++i) put_scalar(v.element_type, v, i);
    }

private:
    uint32_t version_;
    std::vector<std::byte> out_;
};

}  // namespace

GgufWriter::GgufWriter(uint32_t version, uint32_t alignment) : version_(version), alignment_(alignment) {
    if (version < 1 || version > 3) throw Error(ErrorCode::invalid_argument, fmt::format("GGUF version {} cannot be written", version));
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        throw Error(ErrorCode::invalid_argument, "GGUF alignment must be a power of two");
    }
    if (alignment != gguf_default_alignment) metadata_.set("general.alignment", MetaValue::make_u32(alignment));
}

void GgufWriter::add_tensor(const std::string& name, uint32_t type_id, std::span<const uint64_t> ne,
                            std::span<const std::byte> data) {
    if (ne.empty() || ne.size() > 4) throw Error(ErrorCode::invalid_argument, "tensor '" + name + "': 1 to 4 dimensions");
    std::array<uint64_t, 4> shape{1, 1, 1, 1};
    std::copy(ne.begin(), ne.end(), shape.begin());
    const uint64_t expected = tensor_bytes(type_id, shape, name);
    if (expected != data.size()) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("tensor '{}': {} bytes given, {} expected for its type and shape", name, data.size(), expected));
    }
    tensors_.push_back({name, type_id, std::vector<uint64_t>(ne.begin(), ne.end()), data});
}

void GgufWriter::add_all(const TensorDirectory& directory) {
    if (directory.file) sources_.push_back(directory.file);
    for (const auto& [key, value] : directory.metadata.entries()) {
        if (key == "general.alignment") continue;  // the writer decides the layout
        metadata_.set(key, value);
    }
    for (const auto& t : directory.tensors()) {
        add_tensor(t.name, t.type_id, std::span<const uint64_t>(t.ne.data(), t.n_dims), t.data);
    }
}

std::vector<std::byte> GgufWriter::header() const {
    ByteSink sink(version_);
    sink.put_bytes(std::as_bytes(std::span<const char>("GGUF", 4)));
    sink.put(version_);
    sink.put_count(tensors_.size());
    sink.put_count(metadata_.size());
    for (const auto& [key, value] : metadata_.entries()) {
        sink.put_string(key);
        sink.put_value(value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        sink.put_string(t.name);
        sink.put(static_cast<uint32_t>(t.ne.size()));
        for (uint64_t d : t.ne) sink.put_count(d);
        sink.put(t.type_id);
        sink.put(offset);
        offset += t.data.size();
        offset += (alignment_ - offset % alignment_) % alignment_;
    }
    sink.pad_to(alignment_);
    return std::move(sink.bytes());
}

std::vector<std::byte> GgufWriter::bytes() const {
    std::vector<std::byte> out = header();
    for (const auto& t : tensors_) {
        out.insert(out.end(), t.data.begin(), t.data.end());
        out.resize(out.size() + (alignment_ - out.size() % alignment_) % alignment_);
    }
    return out;
}

void GgufWriter::write(const std::string& path) const {
    // Streamed: the tensor data goes from the caller's buffers to the file, never copied,
    // into a temporary file that replaces `path` only once complete.
    for (const auto& source : sources_) refuse_same_file(path, *source);
    AtomicFile out(path);
    uint64_t written = 0;
    auto put = [&](const void* data, size_t size) {
        out.write(data, size);
        written += size;
    };
    const auto head = header();
    put(head.data(), head.size());
    static constexpr std::byte zeros[64]{};
    for (const auto& t : tensors_) {
        put(t.data.data(), t.data.size());
        for (size_t pad = (alignment_ - written % alignment_) % alignment_; pad > 0;) {
            const size_t step = std::min(pad, sizeof(zeros));
            put(zeros, step);
            pad -= step;
        }
    }
    // A source that shrank while it was copied gave zeros: keep the old output.
    for (const auto& source : sources_) source->check_intact();
    out.commit();
}

}  // namespace nibble::formats
