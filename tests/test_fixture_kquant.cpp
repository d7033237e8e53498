// Every file of ../shared/fixtures/kquant against llama.cpp's logits: the K-quant presets,
// q5_0, q5_1, iq4_nl, iq4_xs, F16 and BF16, batch and one token at a time.
#include <catch2/catch.hpp>

#include "fixture_eval.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {

struct KquantFile {
    std::string stem;
    Tolerance tolerance;
};

// Classes as ../shared/fixtures/README.md gives them: F32 exact, F16 approximate, files
// whose matrices use a K type or iq4_xs kquant, the rest quantized.
const std::vector<KquantFile> kquant_files{
    {"tiny-kq.F32", Tolerance::exact},          {"tiny-kq.F16", Tolerance::approximate_nonlinear},
    {"tiny-kq.BF16", Tolerance::quantized},     {"tiny-kq.Q8_0", Tolerance::quantized},
    {"tiny-kq.Q4_0", Tolerance::kquant},        {"tiny-kq.Q4_1", Tolerance::kquant},
    {"tiny-kq.Q5_0", Tolerance::kquant},        {"tiny-kq.Q5_1", Tolerance::kquant},
    {"tiny-kq.Q2_K", Tolerance::kquant},        {"tiny-kq.Q3_K_S", Tolerance::kquant},
    {"tiny-kq.Q3_K_M", Tolerance::kquant},      {"tiny-kq.Q3_K_L", Tolerance::kquant},
    {"tiny-kq.Q4_K_S", Tolerance::kquant},      {"tiny-kq.Q4_K_M", Tolerance::kquant},
    {"tiny-kq.Q5_K_S", Tolerance::kquant},      {"tiny-kq.Q5_K_M", Tolerance::kquant},
    {"tiny-kq.Q6_K", Tolerance::kquant},        {"tiny-kq.IQ4_NL", Tolerance::kquant},
    {"tiny-kq.IQ4_XS", Tolerance::kquant},      {"stories260K.F32", Tolerance::exact},
    {"stories260K.Q4_K_M", Tolerance::quantized}, {"stories260K.Q5_K_M", Tolerance::quantized},
};

}  // namespace

TEST_CASE("every kquant fixture loads and matches llama.cpp's logits within its class", "[fixtures][kquant]") {
    for (const auto& f : kquant_files) {
        INFO(f.stem);
        const Model model = Model::load(fixture("kquant/" + f.stem + ".gguf"));
        check_logits(model, read_ids(fixture("kquant/" + f.stem + ".tokens.txt")), fixture("kquant/" + f.stem + ".logits.f32"),
                     f.tolerance);
    }
}

TEST_CASE("files llama.cpp repacks match its other CPU path too", "[fixtures][kquant]") {
    for (const std::string stem : {"tiny-kq.Q4_0", "tiny-kq.Q4_K_M", "tiny-kq.IQ4_NL"}) {
        INFO(stem);
        const Model model = Model::load(fixture("kquant/" + stem + ".gguf"));
        check_logits(model, read_ids(fixture("kquant/" + stem + ".tokens.txt")), fixture("kquant/" + stem + ".norepack.logits.f32"),
                     Tolerance::kquant);
    }
}

TEST_CASE("every kquant file gives bit-identical logits however a sequence is batched", "[fixtures][kquant]") {
    for (const auto& f : kquant_files) {
        INFO(f.stem);
        const Model model = Model::load(fixture("kquant/" + f.stem + ".gguf"));
        const auto tokens = read_ids(fixture("kquant/" + f.stem + ".tokens.txt"));
        REQUIRE(tokens.size() > 4);
        Session whole(model, {.threads = 2, .batch_size = 64});
        const auto all = whole.eval(tokens, true);
        const std::vector<float> reference(all.begin(), all.end());
        Session split(model, {.threads = 1, .batch_size = 3});
        split.eval(std::span(tokens).first(4));
        const size_t n_vocab = model.tokenizer().vocab_size();
        bool identical = true;
        for (size_t i = 4; i < tokens.size(); ++i) {
            const auto logits = split.eval(std::span(tokens).subspan(i, 1));
            identical = identical && std::equal(logits.begin(), logits.end(), reference.begin() + i * n_vocab);
        }
        CHECK(identical);
    }
}
