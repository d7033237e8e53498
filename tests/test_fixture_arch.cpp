// The tiny random-weight models of ../shared/fixtures/arch against their references.
#include <catch2/catch.hpp>

#include "fixture_eval.hpp"

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
