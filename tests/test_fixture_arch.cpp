// The tiny random-weight LLaMA of ../shared/fixtures/arch against llama.cpp.
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
