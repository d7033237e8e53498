// Legacy containers built by hand, then broken in every way a 2023 file can be wrong.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "formats/gguf.hpp"
#include "formats/legacy.hpp"
#include "formats/legacy_blocks.hpp"
#include "formats/legacy_records.hpp"
#include "test_support.hpp"
#include "nibble/nibble.hpp"

using namespace nibble;
using namespace nibble::formats;

namespace {

// A tiny LLaMA in ggml/ggmf/ggjt form: 1 layer, n_embd 32, 2 heads, n_mult 32 (n_ff 96), vocab 8.
struct LlamaFile {
    uint32_t magic = magic_ggjt;
    uint32_t version = 3;
    int32_t ftype = 2;            // mostly q4_0
    uint32_t weight_type = 2;     // type id written for the 2-D tensors
    size_t name_length_override = 0;
    int32_t first_dim_override = 0;
    bool truncate_data = false;

    std::vector<std::byte> bytes() const {
        std::vector<std::byte> out;
        auto put_raw = [&](const void* p, size_t n) {
            const size_t at = out.size();
            out.resize(at + n);
            if (n != 0) std::memcpy(out.data() + at, p, n);
        };
        auto put = [&](auto v) { put_raw(&v, sizeof v); };
        auto put_text = [&](std::string_view s) { put_raw(s.data(), s.size()); };
        put(magic);
        if (magic != magic_ggml) put(version);
        for (int32_t v : {8, 32, 32, 2, 1, 16}) put(v);
        put(ftype);
        for (int i = 0; i < 8; ++i) {
            // as the 2023 converters wrote them: unknown " ⁇ ", control tokens empty
            const std::string token = i == 0 ? " \xE2\x81\x87 " : i < 3 ? "" : std::string(1, static_cast<char>('a' + i));
            put(static_cast<uint32_t>(token.size()));
            put_text(token);
            if (magic != magic_ggml) put(0.5f * static_cast<float>(i));
        }
        const QuantEra era = llama_container_era(magic, version);
        std::mt19937 rng(1);
        std::normal_distribution<float> dist(0.0f, 0.3f);
        auto tensor = [&](const std::string& name, uint32_t type, std::vector<int32_t> ne) {
            put(static_cast<int32_t>(ne.size()));
            put(static_cast<int32_t>(name_length_override ? name_length_override : name.size()));
            put(static_cast<int32_t>(type));
            for (size_t d = 0; d < ne.size(); ++d) {
                put(d == 0 && first_dim_override && name == "tok_embeddings.weight" ? first_dim_override : ne[d]);
            }
            put_text(name);
            if (magic == magic_ggjt) {
                while (out.size() % 32 != 0) out.push_back(std::byte{0});
            }
            size_t n = 1;
            for (int32_t d : ne) n *= static_cast<size_t>(d);
            std::vector<float> values(n);
            for (auto& v : values) v = dist(rng);
            std::vector<std::byte> data(n / legacy_block_elements(type) * *legacy_block_bytes(type, era));
            quantize_legacy(type, era, values.data(), data.data(), n);
            put_raw(data.data(), data.size());
        };
        tensor("tok_embeddings.weight", weight_type, {32, 8});
        tensor("norm.weight", 0, {32});
        tensor("output.weight", weight_type, {32, 8});
        tensor("layers.0.attention_norm.weight", 0, {32});
        for (const char* w : {"wq", "wk", "wv", "wo"}) tensor(std::string("layers.0.attention.") + w + ".weight", weight_type, {32, 32});
        tensor("layers.0.ffn_norm.weight", 0, {32});
        tensor("layers.0.feed_forward.w1.weight", weight_type, {32, 96});
        tensor("layers.0.feed_forward.w2.weight", weight_type, {96, 32});
        tensor("layers.0.feed_forward.w3.weight", weight_type, {32, 96});
        if (truncate_data) out.resize(out.size() - 7);
        return out;
    }
};

std::string error_of(const std::vector<std::byte>& bytes) {
    try {
        Model::load_from_memory(bytes, "legacy.bin");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("hand-made legacy LLaMA files of every container load", "[legacy]") {
    for (auto [magic, version, type] : {std::tuple{magic_ggml, 0u, 3u}, {magic_ggmf, 1u, 2u}, {magic_ggjt, 1u, 2u},
                                         {magic_ggjt, 1u, 4u}, {magic_ggjt, 2u, 3u}, {magic_ggjt, 3u, 8u}}) {
        LlamaFile f;
        f.magic = magic;
        f.version = version;
        f.weight_type = type;
        f.ftype = type == 8 ? 7 : type == 4 ? 5 : static_cast<int32_t>(type);
        const auto bytes = f.bytes();
        INFO("magic " << magic << " version " << version << " type " << type);
        REQUIRE(error_of(bytes).empty());
        const Model model = Model::load_from_memory(bytes, "legacy.bin");
        CHECK(model.info().n_ff == 96);
        Session s(model);
        const std::vector<Token> ids{1, 4, 5};
        CHECK(s.eval(ids).size() == 8);
    }
}

TEST_CASE("the ggjt writer round-trips blocks in each era's layout", "[legacy]") {
    for (uint32_t version : {1u, 2u, 3u}) {
        LlamaFile f;
        f.version = version;
        f.weight_type = version == 1 ? 4 : 3;
        f.ftype = version == 1 ? 5 : 3;
        const auto bytes = f.bytes();
        const auto dir = read_legacy(MappedFile::copy(bytes, "legacy.bin"));
        // The reader holds current-layout blocks; the writer re-encodes them for the version.
        const auto rewritten = write_ggjt(*dir, version);
        const auto again = read_legacy(MappedFile::copy(rewritten, "rewritten.bin"));
        REQUIRE(again->tensors().size() == dir->tensors().size());
        for (const auto& t : dir->tensors()) {
            const auto* back = again->find(t.name);
            REQUIRE(back != nullptr);
            CHECK(std::equal(t.data.begin(), t.data.end(), back->data.begin(), back->data.end()));
        }
        if (version == 3) CHECK(rewritten == bytes);  // older eras had f32 scales: rounded to fp16 on reading
    }
}

TEST_CASE("broken legacy files are refused with a reason", "[legacy][hostile]") {
    SECTION("unknown ggjt version") {
        LlamaFile f;
        f.version = 4;
        CHECK_THAT(error_of(f.bytes()), Catch::Contains("ggjt version 4"));
    }
    SECTION("unknown ggmf version") {
        LlamaFile f;
        f.magic = magic_ggmf;
        f.version = 2;
        CHECK_THAT(error_of(f.bytes()), Catch::Contains("ggmf version 2"));
    }
    SECTION("bad magic") {
        LlamaFile f;
        f.magic = 0x12345678;
        CHECK_FALSE(error_of(f.bytes()).empty());
    }
    SECTION("ftype contradicts a tensor type") {
        LlamaFile f;
        f.ftype = 3;  // says q4_1, tensors are q4_0
        CHECK_THAT(error_of(f.bytes()), Catch::Contains("ftype 3 says q4_1"));
    }
    SECTION("q4_2 does not exist after ggjt v1") {
        LlamaFile f;
        f.version = 1;
        f.weight_type = 4;
        f.ftype = 5;
        auto bytes = f.bytes();
        const uint32_t v2 = 2;
        std::memcpy(bytes.data() + 4, &v2, 4);
        CHECK_THAT(error_of(bytes), Catch::Contains("q4_2"));
    }
    SECTION("tensor name too long") {
        LlamaFile f;
        f.name_length_override = 100000;
        CHECK_THAT(error_of(f.bytes()), Catch::Contains("tensor name length"));
    }
    SECTION("dimensions that overflow or do not fit") {
        LlamaFile f;
        f.first_dim_override = 0x7fffffe0;
        CHECK_THAT(error_of(f.bytes()), Catch::Contains("past the end"));
    }
    SECTION("data past the end of the file") {
        LlamaFile f;
        f.truncate_data = true;
        CHECK_THAT(error_of(f.bytes()), Catch::Contains("past the end"));
    }
    SECTION("truncated vocabulary") {
        LlamaFile f;
        auto bytes = f.bytes();
        bytes.resize(8 + 28 + 20);
        CHECK_THAT(error_of(bytes), Catch::Contains("vocabulary"));
    }
    SECTION("every truncation is an error") {
        LlamaFile f;
        const auto bytes = f.bytes();
        for (size_t n = 0; n + 1 < bytes.size(); n += 7) {
            INFO("cut to " << n);
            REQUIRE_FALSE(error_of(std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n))).empty());
        }
    }
}

TEST_CASE("example-style files whose quantization era cannot be known are refused", "[legacy][hostile]") {
    // A GPT-J header (ggml magic, n_vocab repeated) with ftype 3002: quantization version 3 never existed.
    std::vector<std::byte> bytes;
    auto put = [&](auto v) {
        const size_t at = bytes.size();
        bytes.resize(at + sizeof v);
        std::memcpy(bytes.data() + at, &v, sizeof v);
    };
    put(magic_ggml);
    for (int32_t v : {4, 16, 32, 2, 1, 8, 3002, 4}) put(v);
    for (int i = 0; i < 4; ++i) {
        put(uint32_t{1});
        bytes.push_back(static_cast<std::byte>('a' + i));
    }
    CHECK_THAT(error_of(bytes), Catch::Contains("cannot be known"));
}

TEST_CASE("randomly corrupted legacy files load or throw nibble::Error", "[legacy][fuzz]") {
    LlamaFile f;
    f.magic = magic_ggmf;
    f.version = 1;
    const auto bytes = f.bytes();
    std::mt19937 rng(99);
    for (int round = 0; round < 1500; ++round) {
        auto mutated = bytes;
        for (int i = 0; i < 3; ++i) mutated[rng() % 200] = static_cast<std::byte>(rng());
        try {
            Model::load_from_memory(mutated, "fuzz.bin");
        } catch (const Error&) {
        }
    }
    SUCCEED("no crash, hang or out-of-bounds read");
}

TEST_CASE("quantizing f32 to each type and container reads back the same blocks", "[legacy][quantize]") {
    LlamaFile f;
    f.weight_type = 0;  // an all-f32 model
    f.ftype = 0;
    nibble::test::TempDir tmp;
    const auto source_path = tmp.path / "f32.bin";
    {
        const auto bytes = f.bytes();
        std::FILE* out = std::fopen(source_path.c_str(), "wb");
        REQUIRE(out != nullptr);
        std::fwrite(bytes.data(), 1, bytes.size(), out);
        std::fclose(out);
    }
    const auto source = read_legacy(MappedFile::open(source_path.string()));
    for (TensorType type : {TensorType::q4_0, TensorType::q4_1, TensorType::q4_2, TensorType::q8_0}) {
        for (uint32_t ggjt : {0u, 1u, 2u, 3u}) {
            if (type == TensorType::q4_2 && ggjt >= 2) continue;  // q4_2 was gone by ggjt v2
            INFO(tensor_type_name(static_cast<uint32_t>(type)) << " ggjt " << ggjt);
            const auto out_path = (tmp.path / "out.bin").string();
            quantize(source_path.string(), out_path, {.type = type, .ggjt_version = ggjt});
            const auto file = MappedFile::open(out_path);
            const QuantEra era = ggjt ? llama_container_era(magic_ggjt, ggjt) : QuantEra::qnt2;
            // What the reader sees, in the era's own layout, against a direct quantization.
            std::vector<std::pair<std::string, std::vector<std::byte>>> written;
            if (ggjt) {
                ByteCursor cur(file->bytes(), out_path);
                cur.skip(8 + 28, "header");
                for (int i = 0; i < 8; ++i) {
                    cur.skip(cur.read<uint32_t>("len"), "text");
                    cur.skip(4, "score");
                }
                for (const auto& r : read_legacy_records(cur, {era, true, false})) written.emplace_back(r.name, std::vector<std::byte>(r.data.begin(), r.data.end()));
            } else {
                const auto dir = read_gguf(file);
                for (const auto& t : dir->tensors()) written.emplace_back(t.name, std::vector<std::byte>(t.data.begin(), t.data.end()));
            }
            REQUIRE(written.size() == source->tensors().size());
            for (const auto& t : source->tensors()) {
                if (t.n_dims < 2) continue;
                std::vector<float> values(t.elements());
                std::memcpy(values.data(), t.data.data(), t.data.size());
                std::vector<std::byte> expected(t.elements() / legacy_block_elements(static_cast<uint32_t>(type)) *
                                                *legacy_block_bytes(static_cast<uint32_t>(type), era));
                quantize_legacy(static_cast<uint32_t>(type), era, values.data(), expected.data(), values.size());
                bool found = false;
                for (const auto& [name, bytes] : written) {
                    if (bytes == expected) found = true;
                }
                CHECK(found);
            }
        }
    }
}
