// The weight types end to end: synthetic models in llama-quantize's presets load and
// evaluate the same in one batch and one token at a time; a type nibble lacks is refused
// naming the tensor, its type and the types nibble runs.
#include <catch2/catch.hpp>

#include <numeric>

#include "bench/synthetic.hpp"
#include "formats/gguf.hpp"
#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;

namespace {

const std::string tiny_shape = "custom/e=256/l=2/h=4/kv=2/ff=768/v=512";

std::vector<float> logits(const Model& model, const std::vector<Token>& ids, bool one_at_a_time) {
    Session s(model, {.context_length = 64, .batch_size = 16});
    if (!one_at_a_time) {
        const auto all = s.eval(ids, true);
        return {all.begin(), all.end()};
    }
    std::vector<float> out;
    for (Token t : ids) {
        const Token one[1] = {t};
        const auto l = s.eval(one);
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

}  // namespace

TEST_CASE("synthetic models in llama-quantize's presets take its mix and evaluate alike in batch and alone", "[model][types]") {
    test::TempDir dir;
    for (const std::string preset : {"Q4_K_M", "Q5_K_M", "Q6_K", "q3_k_m", "Q2_K", "IQ4_XS", "Q4_0", "Q5_1", "IQ4_NL", "BF16"}) {
        INFO(preset);
        const auto spec = bench::parse_synthetic_spec(tiny_shape + ":" + preset);
        const std::string path = (dir.path / "model.gguf").string();
        bench::write_synthetic_model(spec, path);
        const auto file = formats::read_gguf(formats::MappedFile::open(path));
        const std::string upper = spec.preset;
        if (upper == "Q4_K_M") {
            CHECK(file->find("output.weight")->type_id == static_cast<uint32_t>(TensorType::q6_K));
            CHECK(file->find("blk.1.attn_v.weight")->type_id == static_cast<uint32_t>(TensorType::q6_K));
            CHECK(file->find("blk.0.attn_v.weight")->type_id == static_cast<uint32_t>(TensorType::q4_K));
            CHECK(file->find("blk.0.ffn_gate.weight")->type_id == static_cast<uint32_t>(TensorType::q4_K));
        }
        if (upper == "Q4_0") CHECK(file->find("output.weight")->type_id == static_cast<uint32_t>(TensorType::q6_K));
        const Model model = Model::load(path);
        CHECK(model.tokenizer().vocab_size() == 512);
        std::vector<Token> ids(12);
        std::iota(ids.begin(), ids.end(), 3);
        const auto batch = logits(model, ids, false), single = logits(model, ids, true);
        // The same kernels' sums whatever the batch: within rounding of the activations.
        const auto cmp = test::compare_logits(single, batch, test::Tolerance::quantized);
        INFO(cmp.describe());
        CHECK(cmp.ok);
        const FileInfo info = probe(path);
        bool listed = false;
        for (const auto& [type, count] : info.tensor_types) listed |= type == tensor_type_name(static_cast<uint32_t>(spec.type));
        CHECK(listed);
    }
}

TEST_CASE("a tensor of a type nibble cannot compute with is refused by name, with the types it runs", "[model][types]") {
    test::TempDir dir;
    const std::string path = (dir.path / "model.gguf").string();
    bench::write_synthetic_model(bench::parse_synthetic_spec(tiny_shape + ":q4_K"), path);
    const auto source = formats::read_gguf(formats::MappedFile::open(path));
    for (const uint32_t lacking : {16u /* iq2_xxs */, 19u /* iq1_s */, 35u /* tq2_0 */, 39u /* mxfp4 */}) {
        formats::GgufWriter w;
        for (const auto& [k, v] : source->metadata.entries()) w.metadata().set(k, v);
        std::vector<std::byte> replaced;
        for (const auto& t : source->tensors()) {
            if (t.name == "blk.1.ffn_up.weight") {
                const auto info = tensor_type_info(lacking);
                replaced.assign(t.elements() / info->block_elements * info->block_bytes, std::byte{0});
                w.add_tensor(t.name, lacking, std::span(t.ne.data(), t.n_dims), replaced);
            } else {
                w.add_tensor(t.name, t.type_id, std::span(t.ne.data(), t.n_dims), t.data);
            }
        }
        const auto bytes = w.bytes();
        INFO(tensor_type_name(lacking));
        try {
            Model::load_from_memory(bytes, "lacking.gguf");
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::unsupported);
            CHECK_THAT(e.what(), Catch::Contains("blk.1.ffn_up.weight") && Catch::Contains(tensor_type_name(lacking)) &&
                                     Catch::Contains("q4_K") && Catch::Contains("iq4_xs"));
        }
    }
}
