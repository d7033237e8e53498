// A file whose hyperparameters contradict its tensors must fail to load with an
// error naming the tensor and both shapes.
#include <catch2/catch.hpp>

#include <functional>

#include "formats/gguf.hpp"
#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::formats;
using namespace nibble::test;

namespace {

// The shipped model rewritten with `edit` applied to its metadata and tensor list.
std::string load_error(const std::function<void(Metadata&, std::vector<TensorEntry>&)>& edit) {
    const auto source = read_gguf(MappedFile::open(default_model_path()));
    Metadata metadata = source->metadata;
    std::vector<TensorEntry> tensors = source->tensors();
    edit(metadata, tensors);
    GgufWriter w;
    for (const auto& [k, v] : metadata.entries()) w.metadata().set(k, v);
    for (const auto& t : tensors) w.add_tensor(t.name, t.type_id, std::span(t.ne.data(), t.n_dims), t.data);
    const auto bytes = w.bytes();
    try {
        Model::load_from_memory(bytes, "edited.gguf");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("the unedited model loads", "[validation]") {
    CHECK(load_error([](Metadata&, std::vector<TensorEntry>&) {}).empty());
}

TEST_CASE("a wrong head count names the tensor and both shapes", "[validation]") {
    const auto message = load_error([](Metadata& m, std::vector<TensorEntry>&) {
        m.set("llama.attention.head_count_kv", MetaValue::make_u32(8));
    });
    CHECK_THAT(message, Catch::Contains("blk.0.attn_k.weight"));
    CHECK_THAT(message, Catch::Contains("[64, 32]"));
    CHECK_THAT(message, Catch::Contains("[64, 64]"));
}

TEST_CASE("a missing tensor is named", "[validation]") {
    const auto message = load_error([](Metadata&, std::vector<TensorEntry>& t) {
        std::erase_if(t, [](const TensorEntry& e) { return e.name == "blk.3.ffn_up.weight"; });
    });
    CHECK_THAT(message, Catch::Contains("missing tensor 'blk.3.ffn_up.weight'"));
}

TEST_CASE("a tensor of the wrong shape is named", "[validation]") {
    const auto message = load_error([](Metadata&, std::vector<TensorEntry>& t) {
        for (auto& e : t) {
            if (e.name == "blk.2.ffn_down.weight") {  // [172, 64] stored as [64, 172]
                std::swap(e.ne[0], e.ne[1]);
            }
        }
    });
    CHECK_THAT(message, Catch::Contains("blk.2.ffn_down.weight"));
    CHECK_THAT(message, Catch::Contains("[64, 172]"));
    CHECK_THAT(message, Catch::Contains("[172, 64]"));
}

TEST_CASE("missing hyperparameters and unexpected tensors are named", "[validation]") {
    CHECK_THAT(load_error([](Metadata& m, std::vector<TensorEntry>&) {
                   Metadata copy;
                   for (const auto& [k, v] : m.entries())
                       if (k != "llama.block_count") copy.set(k, v);
                   m = copy;
               }),
               Catch::Contains("llama.block_count"));
    CHECK_THAT(load_error([](Metadata&, std::vector<TensorEntry>& t) {
                   TensorEntry extra = t.back();
                   extra.name = "blk.0.mystery.weight";
                   t.push_back(extra);
               }),
               Catch::Contains("unexpected tensor 'blk.0.mystery.weight'"));
    CHECK_THAT(load_error([](Metadata& m, std::vector<TensorEntry>&) {
                   m.set("general.architecture", MetaValue::make_string("rwkv"));
               }),
               Catch::Contains("architecture 'rwkv'"));
}
