#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>

#include "formats/gguf.hpp"
#include "kernels/kernels.hpp"
#include "nibble/error.hpp"

using namespace nibble;
using namespace nibble::formats;

namespace {

std::shared_ptr<const MappedFile> as_file(const std::vector<std::byte>& bytes) {
    return MappedFile::copy(bytes, "test.gguf");
}

std::vector<std::byte> float_bytes(const std::vector<float>& v) {
    std::vector<std::byte> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

GgufWriter rich_writer(uint32_t version, uint32_t alignment, std::vector<std::vector<std::byte>>& keep) {
    GgufWriter w(version, alignment);
    auto& m = w.metadata();
    m.set("general.architecture", MetaValue::make_string("llama"));
    m.set("test.u8", {MetaType::u8, MetaType::u32, uint64_t{200}});
    m.set("test.i8", {MetaType::i8, MetaType::u32, int64_t{-100}});
    m.set("test.u16", {MetaType::u16, MetaType::u32, uint64_t{60000}});
    m.set("test.i16", {MetaType::i16, MetaType::u32, int64_t{-30000}});
    m.set("test.u32", MetaValue::make_u32(4000000000u));
    m.set("test.i32", MetaValue::make_i32(-2000000000));
    m.set("test.u64", MetaValue::make_u64(uint64_t{1} << 60));
    m.set("test.i64", {MetaType::i64, MetaType::u32, int64_t{-(int64_t{1} << 60)}});
    m.set("test.f32", MetaValue::make_f32(0.1f));
    m.set("test.f64", {MetaType::f64, MetaType::u32, 0.1});
    m.set("test.bool", MetaValue::make_bool(true));
    m.set("test.empty_string", MetaValue::make_string(""));
    m.set("test.strings", MetaValue::make_strings({"a", "", "\xE2\x96\x81x"}));
    m.set("test.floats", MetaValue::make_f32s({1.5f, -2.0f}));
    m.set("test.ints", MetaValue::make_i32s({1, -1, 7}));
    m.set("test.bools", {MetaType::array, MetaType::boolean, std::vector<uint64_t>{1, 0, 1}});
    m.set("test.u8s", {MetaType::array, MetaType::u8, std::vector<uint64_t>{}});
    m.set("test.f64s", {MetaType::array, MetaType::f64, std::vector<double>{1e300}});

    std::mt19937 rng(3);
    std::normal_distribution<float> dist;
    std::vector<float> a(64 * 3), b(32 * 2), c(5);
    for (auto* v : {&a, &b, &c})
        for (auto& x : *v) x = dist(rng);
    keep.push_back(float_bytes(c));
    const uint64_t c_ne[] = {5};
    w.add_tensor("vector", 0, c_ne, keep.back());
    keep.emplace_back(kernels::row_bytes(TensorType::q4_0, a.size()));
    kernels::quantize_row_reference(TensorType::q4_0, a.data(), keep.back().data(), a.size());
    const uint64_t a_ne[] = {64, 3};
    w.add_tensor("blk.0.q4", 2, a_ne, keep.back());
    keep.emplace_back(kernels::row_bytes(TensorType::q8_0, b.size()));
    kernels::quantize_row_reference(TensorType::q8_0, b.data(), keep.back().data(), b.size());
    const uint64_t b_ne[] = {32, 1, 2};
    w.add_tensor("blk.0.q8", 8, b_ne, keep.back());
    keep.emplace_back(kernels::row_bytes(TensorType::f16, 7));
    const uint64_t d_ne[] = {7};
    w.add_tensor("half", 1, d_ne, keep.back());
    return w;
}

// A file with no metadata and one f32 tensor "t" of 8 elements:
// header 0..23, name length @24, name @32, n_dims @33, ne0 @37, type @45, offset @49, data @64.
std::vector<std::byte> one_tensor_file() {
    static std::vector<std::byte> data = float_bytes(std::vector<float>(8, 1.0f));
    GgufWriter w(3);
    const uint64_t ne[] = {8};
    w.add_tensor("t", 0, ne, data);
    return w.bytes();
}

// A file with one key "k" and no tensors: key length @24, key @32, type @33, value @37.
std::vector<std::byte> one_key_file(const MetaValue& v) {
    GgufWriter w(3);
    w.metadata().set("k", v);
    return w.bytes();
}

template <class T>
void poke(std::vector<std::byte>& bytes, size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

std::string error_of(const std::vector<std::byte>& bytes) {
    try {
        read_gguf(as_file(bytes));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("GGUF files of versions 1 to 3 written by the writer read back identically", "[gguf]") {
    for (uint32_t version : {1u, 2u, 3u}) {
        for (uint32_t alignment : {32u, 64u}) {
            std::vector<std::vector<std::byte>> keep;
            const GgufWriter writer = rich_writer(version, alignment, keep);
            const auto bytes = writer.bytes();
            const auto dir = read_gguf(as_file(bytes));
            INFO("version " << version << " alignment " << alignment);
            CHECK(dir->version == version);
            REQUIRE(dir->tensors().size() == 4);
            for (const auto& [key, value] : writer.metadata().entries()) {
                const MetaValue* got = dir->metadata.find(key);
                REQUIRE(got != nullptr);
                CHECK(*got == value);
            }
            const TensorEntry* q4 = dir->find("blk.0.q4");
            REQUIRE(q4 != nullptr);
            CHECK(q4->type_id == 2);
            CHECK(q4->n_dims == 2);
            CHECK(q4->ne[0] == 64);
            CHECK(q4->ne[1] == 3);
            CHECK(q4->file_offset % alignment == 0);
            CHECK(std::equal(q4->data.begin(), q4->data.end(), keep[1].begin(), keep[1].end()));
            const TensorEntry* q8 = dir->find("blk.0.q8");
            CHECK(q8->n_dims == 3);
            CHECK(std::equal(q8->data.begin(), q8->data.end(), keep[2].begin(), keep[2].end()));
            // Rewriting what was read gives the same bytes.
            GgufWriter again(version, alignment);
            again.add_all(*dir);
            CHECK(again.bytes() == bytes);
        }
    }
}

TEST_CASE("every truncation of a GGUF file is an error and never a crash", "[gguf][hostile]") {
    std::vector<std::vector<std::byte>> keep;
    const auto bytes = rich_writer(3, 32, keep).bytes();
    size_t data_end = 0;  // cutting only the padding after the last tensor leaves a valid file
    const auto parsed = read_gguf(as_file(bytes));
    for (const auto& t : parsed->tensors()) data_end = std::max<size_t>(data_end, t.file_offset + t.data.size());
    REQUIRE(data_end < bytes.size());
    for (size_t n = 0; n < data_end; ++n) {
        std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
        INFO("truncated to " << n << " bytes");
        const std::string message = error_of(cut);
        REQUIRE_FALSE(message.empty());
        REQUIRE(message.find("test.gguf") != std::string::npos);
    }
}

TEST_CASE("hostile GGUF headers are refused with a message", "[gguf][hostile]") {
    auto file = one_tensor_file();
    REQUIRE(error_of(file).empty());

    SECTION("bad magic") {
        file[0] = std::byte{'X'};
        CHECK_THAT(error_of(file), Catch::Contains("not a GGUF file"));
    }
    SECTION("version from the future") {
        poke<uint32_t>(file, 4, 4);
        CHECK_THAT(error_of(file), Catch::Contains("version 4"));
    }
    SECTION("byte-swapped version") {
        poke<uint32_t>(file, 4, 0x03000000);
        CHECK_THAT(error_of(file), Catch::Contains("big-endian"));
    }
    SECTION("absurd tensor count") {
        poke<uint64_t>(file, 8, uint64_t{1} << 60);
        CHECK_THAT(error_of(file), Catch::Contains("tensor count"));
    }
    SECTION("absurd metadata count") {
        poke<uint64_t>(file, 16, uint64_t{1} << 58);
        CHECK_THAT(error_of(file), Catch::Contains("metadata count"));
    }
    SECTION("tensor name length inflated") {
        poke<uint64_t>(file, 24, uint64_t{1} << 40);
        CHECK_THAT(error_of(file), Catch::Contains("tensor name claims"));
    }
    SECTION("too many dimensions") {
        poke<uint32_t>(file, 33, 5);
        CHECK_THAT(error_of(file), Catch::Contains("5 dimensions"));
    }
    SECTION("zero dimension") {
        poke<uint64_t>(file, 37, 0);
        CHECK_THAT(error_of(file), Catch::Contains("dimension 0 is 0"));
    }
    SECTION("dimension inflated so the data runs past the end") {
        poke<uint64_t>(file, 37, 1024);
        CHECK_THAT(error_of(file), Catch::Contains("past the end"));
    }
    SECTION("unknown tensor type") {
        poke<uint32_t>(file, 45, 99);
        const auto message = error_of(file);
        CHECK_THAT(message, Catch::Contains("unknown type id 99"));
        CHECK_THAT(message, Catch::Contains("'t'"));
    }
    SECTION("row length not a multiple of the block") {
        poke<uint32_t>(file, 45, 2);  // q4_0 needs rows of 32
        CHECK_THAT(error_of(file), Catch::Contains("not a multiple"));
    }
    SECTION("misaligned tensor offset") {
        poke<uint64_t>(file, 49, 4);
        CHECK_THAT(error_of(file), Catch::Contains("alignment"));
    }
    SECTION("tensor offset past the end") {
        poke<uint64_t>(file, 49, uint64_t{1} << 62);
        CHECK_THAT(error_of(file), Catch::Contains("past the end"));
    }
    SECTION("data start past the end") {
        file.resize(60);
        CHECK_THAT(error_of(file), Catch::Contains("past the end"));
    }
}

TEST_CASE("hostile GGUF metadata is refused with a message", "[gguf][hostile]") {
    SECTION("string length inflated") {
        auto file = one_key_file(MetaValue::make_string("abc"));
        poke<uint64_t>(file, 37, uint64_t{1} << 50);
        CHECK_THAT(error_of(file), Catch::Contains("claims"));
    }
    SECTION("array count inflated") {
        auto file = one_key_file(MetaValue::make_i32s({1, 2, 3}));
        poke<uint64_t>(file, 41, uint64_t{1} << 40);
        CHECK_THAT(error_of(file), Catch::Contains("does not fit"));
    }
    SECTION("array of strings with an inflated count") {
        auto file = one_key_file(MetaValue::make_strings({"x"}));
        poke<uint64_t>(file, 41, uint64_t{1} << 61);
        CHECK_THAT(error_of(file), Catch::Contains("does not fit"));
    }
    SECTION("unknown value type") {
        auto file = one_key_file(MetaValue::make_u32(1));
        poke<uint32_t>(file, 33, 13);
        CHECK_THAT(error_of(file), Catch::Contains("unknown value type 13"));
    }
    SECTION("nested array") {
        auto file = one_key_file(MetaValue::make_i32s({1}));
        poke<uint32_t>(file, 37, 9);
        CHECK_THAT(error_of(file), Catch::Contains("nested"));
    }
    SECTION("bool that is neither 0 nor 1") {
        auto file = one_key_file(MetaValue::make_bool(true));
        poke<uint8_t>(file, 37, 2);
        CHECK_THAT(error_of(file), Catch::Contains("bool"));
    }
    SECTION("alignment not a power of two") {
        GgufWriter w(3);
        w.metadata().set("general.alignment", MetaValue::make_u32(24));
        CHECK_THAT(error_of(w.bytes()), Catch::Contains("power of two"));
    }
    SECTION("alignment of the wrong type") {
        GgufWriter w(3);
        w.metadata().set("general.alignment", MetaValue::make_string("32"));
        CHECK_THAT(error_of(w.bytes()), Catch::Contains("general.alignment"));
    }
    SECTION("duplicate key") {
        GgufWriter w(3);
        w.metadata().set("aa", MetaValue::make_u32(1));
        w.metadata().set("ab", MetaValue::make_u32(2));
        auto file = w.bytes();
        // "aa" = length @24, text @32, type @34, value @38; "ab" = length @42, text @50.
        poke<char>(file, 51, 'a');
        CHECK_THAT(error_of(file), Catch::Contains("duplicate metadata key 'aa'"));
    }
}

TEST_CASE("tensors that overlap or repeat a name are refused", "[gguf][hostile]") {
    const auto data = float_bytes(std::vector<float>(8, 1.0f));
    GgufWriter w(3);
    const uint64_t ne[] = {8};
    w.add_tensor("a", 0, ne, data);
    w.add_tensor("b", 0, ne, data);
    auto file = w.bytes();
    // Tensor infos: "a" @24 (8+1+4+8+4+8 = 33 bytes), "b" @57; b's offset field is its last 8 bytes.
    const size_t b_offset_field = 57 + 33 - 8;
    REQUIRE(error_of(file).empty());
    SECTION("overlap") {
        poke<uint64_t>(file, b_offset_field, 0);
        CHECK_THAT(error_of(file), Catch::Contains("overlap"));
    }
    SECTION("duplicate name") {
        poke<char>(file, 57 + 8, 'a');
        CHECK_THAT(error_of(file), Catch::Contains("duplicate tensor name 'a'"));
    }
}

TEST_CASE("randomly corrupted GGUF files parse or throw nibble::Error", "[gguf][fuzz]") {
    std::vector<std::vector<std::byte>> keep;
    const auto bytes = rich_writer(3, 32, keep).bytes();
    std::mt19937 rng(1234);
    int refused = 0;
    for (int round = 0; round < 3000; ++round) {
        auto mutated = bytes;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) {
            const size_t at = rng() % 700;  // the header region, where lengths and counts live
            mutated[at] = static_cast<std::byte>(rng());
        }
        try {
            read_gguf(as_file(mutated));
        } catch (const Error&) {
            ++refused;
        }
    }
    CHECK(refused > 0);
}
