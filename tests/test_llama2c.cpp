#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <random>

#include "formats/gguf.hpp"
#include "formats/llama2c.hpp"
#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::formats;
using namespace nibble::test;

namespace {

struct Checkpoint {
    int32_t dim = 32, hidden = 48, layers = 2, heads = 4, kv_heads = 2, vocab = 300, seq_len = 16;
    bool shared = true;

    size_t floats() const {
        const size_t kv_dim = static_cast<size_t>(dim * kv_heads / heads), head = static_cast<size_t>(dim / heads);
        size_t n = static_cast<size_t>(vocab * dim) +
                   static_cast<size_t>(layers) * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden) +
                   static_cast<size_t>(dim) + static_cast<size_t>(seq_len) * head;
        return shared ? n : n + static_cast<size_t>(vocab * dim);
    }
    std::vector<std::byte> bytes(uint32_t seed = 1) const {
        const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, shared ? vocab : -vocab, seq_len};
        std::vector<float> weights(floats());
        std::mt19937 rng(seed);
        std::normal_distribution<float> dist(0.0f, 0.2f);
        for (auto& w : weights) w = dist(rng);
        std::vector<std::byte> out(sizeof header + weights.size() * 4);
        std::memcpy(out.data(), header, sizeof header);
        std::memcpy(out.data() + sizeof header, weights.data(), weights.size() * 4);
        return out;
    }
};

std::string error_of(const std::vector<std::byte>& bytes) {
    try {
        read_llama2c(MappedFile::copy(bytes, "ckpt.bin"));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

void write(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("llama2.c checkpoints map to GGUF names and shapes without copying", "[llama2c]") {
    for (bool shared : {true, false}) {
        Checkpoint c;
        c.shared = shared;
        const auto bytes = c.bytes();
        REQUIRE(looks_like_llama2c(bytes));
        const auto dir = read_llama2c(MappedFile::copy(bytes, "ckpt.bin"));
        CHECK(dir->container == "llama2.c");
        CHECK(dir->owned_bytes() == 0);
        const auto* k = dir->find("blk.1.attn_k.weight");
        REQUIRE(k != nullptr);
        CHECK(k->ne[0] == 32);
        CHECK(k->ne[1] == 16);
        CHECK((dir->find("output.weight") != nullptr) == !shared);
        CHECK(dir->metadata.get_uint("llama.attention.head_count_kv") == 2u);
        size_t total = 0;
        for (const auto& t : dir->tensors()) total += t.data.size();
        CHECK(total + 28 + static_cast<size_t>(c.seq_len * (c.dim / c.heads)) * 4 == bytes.size());
    }
}

TEST_CASE("a llama2.c checkpoint and its GGUF conversion give identical logits", "[llama2c]") {
    Checkpoint c;
    c.shared = false;
    TempDir tmp;
    write(tmp.path / "ckpt.bin", c.bytes(9));
    const auto dir = read_llama2c(MappedFile::open((tmp.path / "ckpt.bin").string()));
    GgufWriter w;
    w.add_all(*dir);
    w.write((tmp.path / "ckpt.gguf").string());

    const std::vector<Token> ids{1, 5, 299, 42, 7};
    Session a(Model::load((tmp.path / "ckpt.bin").string()));
    Session b(Model::load((tmp.path / "ckpt.gguf").string()));
    const auto la = a.eval(ids, true);
    const std::vector<float> first(la.begin(), la.end());
    const auto lb = b.eval(ids, true);
    CHECK(first == std::vector<float>(lb.begin(), lb.end()));
}

TEST_CASE("broken llama2.c checkpoints are refused", "[llama2c][hostile]") {
    Checkpoint c;
    auto bytes = c.bytes();
    SECTION("truncated") {
        bytes.pop_back();
        CHECK_THAT(error_of(bytes), Catch::Contains("implies"));
        CHECK_FALSE(looks_like_llama2c(bytes));
    }
    SECTION("header too short") {
        bytes.resize(20);
        CHECK_THAT(error_of(bytes), Catch::Contains("too short"));
    }
    SECTION("heads do not divide the dimension") {
        int32_t heads = 5;
        std::memcpy(bytes.data() + 12, &heads, 4);
        CHECK_THAT(error_of(bytes), Catch::Contains("implausible"));
    }
    SECTION("huge dimensions do not overflow") {
        const int32_t huge = INT32_MAX;
        std::memcpy(bytes.data(), &huge, 4);
        std::memcpy(bytes.data() + 4, &huge, 4);
        CHECK_FALSE(error_of(bytes).empty());
    }
}

TEST_CASE("a bad llama2.c tokenizer file is refused", "[llama2c][hostile]") {
    Metadata m;
    std::vector<std::byte> tok(4 + 3 * 8);
    const int32_t max_len = 4;
    std::memcpy(tok.data(), &max_len, 4);
    const int32_t bad_len = 100;
    std::memcpy(tok.data() + 8, &bad_len, 4);
    CHECK_THROWS_WITH(read_llama2c_tokenizer(*MappedFile::copy(tok, "tok.bin"), 3, m), Catch::Contains("length 100"));
    CHECK_THROWS_WITH(read_llama2c_tokenizer(*MappedFile::copy(std::vector<std::byte>(6), "tok.bin"), 3, m),
                      Catch::Contains("max_token_length"));
}
