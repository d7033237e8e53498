// The tiny random-weight models of ../shared/fixtures/arch against their references.
#include <catch2/catch.hpp>

#include "fixture_eval.hpp"
#include "formats/gguf.hpp"

using namespace nibble;
using namespace nibble::test;

TEST_CASE("tiny LLaMA (GQA) matches llama.cpp in f32 and q8_0 and q4_0", "[fixtures][arch]") {
    const std::vector<std::pair<std::string, Tolerance>> files{
        {"f32", Tolerance::exact}, {"q8_0", Tolerance::quantized}, {"q4_0", Tolerance::quantized}};
    for (const auto& [type, tolerance] : files) {
        const std::string stem = "arch/tiny-llama." + type;
        INFO(stem);
        const Model model = Model::load(fixture(stem + ".gguf"));
        CHECK(model.info().n_head_kv == 2);
        check_logits(model, read_ids(fixture(stem + ".tokens.txt")), fixture(stem + ".logits.f32"), tolerance);
        if (type == "q4_0") {
            check_logits(model, read_ids(fixture(stem + ".tokens.txt")), fixture(stem + ".norepack.logits.f32"), tolerance);
        }
    }
}

namespace {

void check_family(const std::string& family, Tolerance f32_tolerance) {
    const std::vector<std::pair<std::string, Tolerance>> files{
        {"f32", f32_tolerance}, {"q8_0", Tolerance::quantized}, {"q4_0", Tolerance::quantized}};
    for (const auto& [type, tolerance] : files) {
        const std::string stem = "arch/tiny-" + family + "." + type;
        INFO(stem);
        const Model model = Model::load(fixture(stem + ".gguf"));
        check_logits(model, read_ids(fixture(stem + ".tokens.txt")), fixture(stem + ".logits.f32"), tolerance);
    }
}

}  // namespace

TEST_CASE("tiny GPT-J matches its reference in f32 and q8_0 and q4_0", "[fixtures][arch]") {
    check_family("gptj", Tolerance::approximate_nonlinear);
}

TEST_CASE("tiny Falcon-7B (multi-query) matches llama.cpp in f32 and q8_0 and q4_0", "[fixtures][arch]") {
    check_family("falcon7b", Tolerance::approximate_nonlinear);
    CHECK(Model::load(fixture("arch/tiny-falcon7b.f32.gguf")).info().n_head_kv == 1);
}

TEST_CASE("tiny Falcon-40B (grouped KV and attn_norm_2) matches llama.cpp in f32 and q8_0 and q4_0", "[fixtures][arch]") {
    check_family("falcon40b", Tolerance::approximate_nonlinear);
}

TEST_CASE("tiny MPT (ALiBi and clamp_kqv) matches llama.cpp in f32 and q8_0 and q4_0", "[fixtures][arch]") {
    check_family("mpt", Tolerance::approximate_nonlinear);
}

TEST_CASE("a Falcon file whose KV head count contradicts its fused QKV is refused with both shapes", "[fixtures][arch]") {
    const auto source = formats::read_gguf(formats::MappedFile::open(fixture("arch/tiny-falcon7b.f32.gguf")));
    formats::GgufWriter w;
    w.add_all(*source);
    w.metadata().set("falcon.attention.head_count_kv", formats::MetaValue::make_u32(2));
    const auto bytes = w.bytes();
    try {
        Model::load_from_memory(bytes, "edited-falcon.gguf");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::bad_model);
        CHECK_THAT(e.what(), Catch::Contains("blk.0.attn_qkv.weight"));
        CHECK_THAT(e.what(), Catch::Contains("[128, 192]"));  // E + 2 * 1 * 32 in the file
        CHECK_THAT(e.what(), Catch::Contains("[128, 256]"));  // E + 2 * 2 * 32 expected
    }
}

TEST_CASE("an MPT file missing a tensor names it", "[fixtures][arch]") {
    const auto source = formats::read_gguf(formats::MappedFile::open(fixture("arch/tiny-mpt.q8_0.gguf")));
    formats::GgufWriter w;
    for (const auto& [k, v] : source->metadata.entries()) w.metadata().set(k, v);
    for (const auto& t : source->tensors()) {
        if (t.name != "blk.1.ffn_down.weight") w.add_tensor(t.name, t.type_id, std::span(t.ne.data(), t.n_dims), t.data);
    }
    const auto bytes = w.bytes();
    CHECK_THROWS_WITH(Model::load_from_memory(bytes, "edited-mpt.gguf"), Catch::Contains("missing tensor 'blk.1.ffn_down.weight'"));
}

namespace {

// ../shared/fixtures/modern: the t24 and t96 token sets of each file, batch and one at a time.
void check_modern(const std::string& model, const std::vector<std::pair<std::string, Tolerance>>& files) {
    for (const auto& [type, tolerance] : files) {
        const std::string file = "modern/" + model + "." + type + ".gguf";
        INFO(file);
        const Model m = Model::load(fixture(file));
        for (const std::string set : {"t24", "t96"}) {
            check_logits(m, read_ids(fixture("modern/" + model + "." + set + ".tokens.txt")),
                         fixture("modern/" + model + "." + type + "." + set + ".logits.f32"), tolerance);
        }
    }
}

}  // namespace

TEST_CASE("tiny Llama 3.1 (rope_freqs divisors, theta 500000) matches llama.cpp", "[fixtures][arch][modern]") {
    check_modern("tiny-llama31", {{"F32", Tolerance::exact}, {"Q8_0", Tolerance::quantized}, {"Q4_0", Tolerance::quantized}});
    const Model q4 = Model::load(fixture("modern/tiny-llama31.Q4_0.gguf"));
    check_logits(q4, read_ids(fixture("modern/tiny-llama31.t96.tokens.txt")),
                 fixture("modern/tiny-llama31.Q4_0.t96.norepack.logits.f32"), Tolerance::quantized);
}

TEST_CASE("tiny Qwen2 (q/k/v biases, tied embeddings) matches llama.cpp", "[fixtures][arch][modern]") {
    check_modern("tiny-qwen2", {{"F32", Tolerance::exact}, {"Q8_0", Tolerance::quantized}});
    const Model m = Model::load(fixture("modern/tiny-qwen2.F32.gguf"));
    CHECK(m.info().architecture == "qwen2");
    CHECK(m.info().tied_output);
    CHECK(m.info().rope_mode == "half split");
}

TEST_CASE("tiny Phi-3 (fused qkv, fused gate and up) matches llama.cpp", "[fixtures][arch][modern]") {
    check_modern("tiny-phi3", {{"F32", Tolerance::exact}, {"Q8_0", Tolerance::quantized}});
    CHECK(Model::load(fixture("modern/tiny-phi3.F32.gguf")).info().architecture == "phi3");
}

TEST_CASE("a Llama 3.1 file whose rope_freqs has the wrong length is refused naming it", "[fixtures][arch][modern]") {
    const auto source = formats::read_gguf(formats::MappedFile::open(fixture("modern/tiny-llama31.F32.gguf")));
    formats::GgufWriter w;
    for (const auto& [k, v] : source->metadata.entries()) w.metadata().set(k, v);
    const std::vector<float> short_freqs(16, 1.0f);
    for (const auto& t : source->tensors()) {
        if (t.name == "rope_freqs.weight") {
            const uint64_t ne[1] = {16};
            w.add_tensor(t.name, t.type_id, std::span<const uint64_t>(ne, 1), std::as_bytes(std::span(short_freqs)));
        } else {
            w.add_tensor(t.name, t.type_id, std::span(t.ne.data(), t.n_dims), t.data);
        }
    }
    const auto bytes = w.bytes();
    try {
        Model::load_from_memory(bytes, "edited-llama31.gguf");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::bad_model);
        CHECK_THAT(e.what(), Catch::Contains("rope_freqs.weight"));
    }
}
