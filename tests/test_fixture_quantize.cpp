// nibble's quantizer against llama-quantize: the files of ../shared/fixtures/kquant were
// made by llama-quantize from tiny-kq.F32 and stories260K.F32; nibble-quantize given the
// same preset must choose the same type for every tensor, lose no more than 3 % more RMS
// per tensor, and (Q4_K_M) move the logits no further from F32 than llama-quantize does.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "fixture_eval.hpp"
#include "formats/gguf.hpp"
#include "kernels/kernels.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {

double rms_error(const formats::TensorEntry& original, const formats::TensorEntry& quantized) {
    const uint64_t n = original.elements();
    std::vector<float> a(n), b(n);
    kernels::dequantize_row(original.type(), original.data.data(), a.data(), n);
    kernels::dequantize_row(quantized.type(), quantized.data.data(), b.data(), n);
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) sum += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    return std::sqrt(sum / static_cast<double>(n));
}

// Mean over positions of KL(softmax(p) || softmax(q)).
double mean_kl(const std::vector<float>& p, const std::vector<float>& q, size_t vocab) {
    double total = 0;
    const size_t positions = p.size() / vocab;
    for (size_t pos = 0; pos < positions; ++pos) {
        const float* x = p.data() + pos * vocab;
        const float* y = q.data() + pos * vocab;
        const double mx = *std::max_element(x, x + vocab), my = *std::max_element(y, y + vocab);
        double zx = 0, zy = 0;
        for (size_t i = 0; i < vocab; ++i) {
            zx += std::exp(x[i] - mx);
            zy += std::exp(y[i] - my);
        }
        double kl = 0;
        for (size_t i = 0; i < vocab; ++i) {
            const double lp = x[i] - mx - std::log(zx), lq = y[i] - my - std::log(zy);
            kl += std::exp(lp) * (lp - lq);
        }
        total += kl;
    }
    return total / static_cast<double>(positions);
}

}  // namespace

TEST_CASE("nibble's presets choose llama-quantize's type for every tensor, with no more error", "[fixtures][kquant][quantize]") {
    TempDir tmp;
    const std::vector<std::pair<std::string, std::vector<std::string>>> sources{
        {"tiny-kq", {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                     "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "BF16"}},
        {"stories260K", {"Q4_K_M", "Q5_K_M"}},
    };
    for (const auto& [model, presets] : sources) {
        const auto f32 = formats::read_gguf(formats::MappedFile::open(fixture("kquant/" + model + ".F32.gguf")));
        for (const auto& preset : presets) {
            INFO(model << " " << preset);
            const std::string ours_path = (tmp.path / (model + "." + preset + ".gguf")).string();
            const auto report = quantize(fixture("kquant/" + model + ".F32.gguf"), ours_path, {.preset = preset});
            const auto ours = formats::read_gguf(formats::MappedFile::open(ours_path));
            const auto theirs = formats::read_gguf(formats::MappedFile::open(fixture("kquant/" + model + "." + preset + ".gguf")));
            REQUIRE(ours->tensors().size() == theirs->tensors().size());
            CHECK(ours->metadata.get_uint("general.file_type") == theirs->metadata.get_uint("general.file_type"));
            for (const auto& t : theirs->tensors()) {
                const auto* mine = ours->find(t.name);
                REQUIRE(mine != nullptr);
                INFO(t.name);
                REQUIRE(tensor_type_name(mine->type_id) == tensor_type_name(t.type_id));
                const double e_ours = rms_error(*f32->find(t.name), *mine), e_theirs = rms_error(*f32->find(t.name), t);
                INFO("RMS error nibble " << e_ours << ", llama-quantize " << e_theirs);
                CHECK(e_ours <= 1.03 * e_theirs + 1e-12);
            }
        }
    }
}

TEST_CASE("nibble's Q4_K_M moves the logits from F32 no more than llama-quantize's", "[fixtures][kquant][quantize]") {
    TempDir tmp;
    const std::string ours_path = (tmp.path / "q4_k_m.gguf").string();
    quantize(fixture("kquant/tiny-kq.F32.gguf"), ours_path, {.preset = "q4_k_m"});
    // A longer sequence than the fixture's: its 24 ids, three times over.
    auto ids = read_ids(fixture("kquant/tiny-kq.F32.tokens.txt"));
    const auto base = ids;
    for (int i = 0; i < 2; ++i) ids.insert(ids.end(), base.begin(), base.end());
    const Model f32 = Model::load(fixture("kquant/tiny-kq.F32.gguf"));
    const auto reference = logits_in_one_batch(f32, ids);
    const size_t vocab = f32.info().n_vocab;
    const double kl_ours = mean_kl(reference, logits_in_one_batch(Model::load(ours_path), ids), vocab);
    const double kl_theirs = mean_kl(reference, logits_in_one_batch(Model::load(fixture("kquant/tiny-kq.Q4_K_M.gguf")), ids), vocab);
    INFO("KL nibble " << kl_ours << ", llama-quantize " << kl_theirs);
    CHECK(kl_ours <= 1.03 * kl_theirs);
    WARN("Q4_K_M KL divergence from F32 over 72 tokens: nibble " << kl_ours << ", llama-quantize " << kl_theirs);
}
