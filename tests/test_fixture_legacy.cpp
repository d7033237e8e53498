// The 2023 files of ../shared/fixtures/legacy against the original code's outputs.
#include <catch2/catch.hpp>

#include <cstring>
#include <sstream>

#include "fixture_eval.hpp"
#include "formats/gguf.hpp"
#include "kernels/kernels.hpp"
#include "formats/legacy.hpp"
#include "formats/legacy_records.hpp"
#include "formats/open.hpp"

using namespace nibble;
using namespace nibble::test;
using formats::QuantEra;

namespace {

uint32_t type_of(const std::string& name) {
    if (name == "q4_0") return 2;
    if (name == "q4_1") return 3;
    if (name == "q4_2") return 4;
    return 8;
}

void check_era_vectors(const std::string& era_commit, QuantEra era, const std::string& type) {
    const std::string file = era_commit + "_" + type + ".json";
    const std::string json = read_text(fixture("legacy/blocks/" + file));
    const auto inputs = json_string_array(json, "inputs_f32_hex");
    const auto blocks = json_string_array(json, "bytes_hex");
    const auto outputs = json_string_array(json, "dequantized_f32_hex");
    const auto names = json_string_array(json, "input_names");
    REQUIRE(inputs.size() == 8);
    for (size_t i = 0; i < inputs.size(); ++i) {
        INFO(file << ": input " << names[i]);
        const auto in = from_hex(inputs[i]);
        std::vector<float> x(in.size() / 4);
        std::memcpy(x.data(), in.data(), in.size());
        const auto reference = from_hex(blocks[i]);
        std::vector<std::byte> ours(reference.size());
        formats::quantize_legacy(type_of(type), era, x.data(), ours.data(), x.size());
        CHECK(ours == reference);
        std::vector<float> y(x.size());
        formats::dequantize_legacy(type_of(type), era, reference.data(), y.data(), y.size());
        std::vector<std::byte> y_bytes(y.size() * 4);
        std::memcpy(y_bytes.data(), y.data(), y_bytes.size());
        CHECK(y_bytes == from_hex(outputs[i]));
    }
}

struct LegacyModel {
    std::string stem;
    Tolerance tolerance;
};

const std::vector<LegacyModel> legacy_models{
    {"llama/tiny-llama-ggml-q4_1", Tolerance::quantized},     {"llama/tiny-llama-ggmf-v1-q4_0", Tolerance::quantized},
    {"llama/tiny-llama-ggjt-v1-q4_0", Tolerance::quantized},  {"llama/tiny-llama-ggjt-v1-q4_2", Tolerance::quantized},
    {"llama/tiny-llama-ggjt-v2-q4_0", Tolerance::quantized},  {"llama/tiny-llama-ggjt-v3-q4_0", Tolerance::quantized},
    {"gptj/tiny-gptj-ggml-f32", Tolerance::approximate_nonlinear}, {"gptj/tiny-gptj-ggml-q4_0", Tolerance::quantized},
    {"mpt/tiny-mpt-ggmm-f32", Tolerance::approximate_nonlinear},   {"mpt/tiny-mpt-ggmm-q4_2", Tolerance::quantized},
    {"falcon/tiny-falcon-g4a-f32", Tolerance::approximate_nonlinear},
};

}  // namespace

TEST_CASE("known-answer vectors of all three eras decode and quantize bit for bit", "[fixtures][legacy]") {
    for (const std::string type : {"q4_0", "q4_1", "q8_0"}) {
        check_era_vectors("f826aac6", QuantEra::qnt0, type);
        check_era_vectors("b9fd7eee", QuantEra::qnt1, type);
        check_era_vectors("2d5db483", QuantEra::qnt2, type);
    }
    check_era_vectors("f826aac6", QuantEra::qnt0, "q4_2");
}

TEST_CASE("every legacy model matches the 2023 code's logits in a batch and one token at a time", "[fixtures][legacy]") {
    for (const auto& [stem, tolerance] : legacy_models) {
        INFO(stem);
        const Model model = Model::load(fixture("legacy/" + stem + ".bin"));
        check_logits(model, read_ids(fixture("legacy/" + stem + ".tokens.txt")), fixture("legacy/" + stem + ".logits.f32"),
                     tolerance);
    }
}

TEST_CASE("legacy models converted to GGUF by the quantizer keep their weights and logits", "[fixtures][legacy]") {
    TempDir tmp;
    for (const auto& [stem, tolerance] : legacy_models) {
        INFO(stem);
        const std::string source = fixture("legacy/" + stem + ".bin");
        const auto original = formats::read_model_file(formats::MappedFile::open(source));
        const std::string converted = (tmp.path / "converted.gguf").string();
        quantize(source, converted, {});  // what nibble-quantize does without a type
        const auto reread = formats::read_gguf(formats::MappedFile::open(converted));
        REQUIRE(reread->tensors().size() == original->tensors().size());
        for (const auto& t : original->tensors()) {
            const auto* back = reread->find(t.name);
            REQUIRE(back != nullptr);
            CHECK(back->type_id == t.type_id);
            CHECK(std::equal(t.data.begin(), t.data.end(), back->data.begin(), back->data.end()));
        }
        const auto ids = read_ids(fixture("legacy/" + stem + ".tokens.txt"));
        // Same bytes, and the same kernels: a converted 2023 encoding is packed where it
        // lies, a GGUF file's matrices from its mapping, so the logits agree bit for bit.
        const Model legacy_model = Model::load(source), gguf_model = Model::load(converted);
        CHECK(legacy_model.info().packed_bytes == gguf_model.info().packed_bytes);
        const auto from_legacy = logits_in_one_batch(legacy_model, ids);
        const auto from_gguf = logits_in_one_batch(gguf_model, ids);
        const auto cmp = compare_logits(from_gguf, from_legacy, tolerance);
        INFO(cmp.describe());
        CHECK(cmp.ok);
        CHECK((from_legacy == from_gguf));  // parenthesised: Catch would print every logit
    }
}

TEST_CASE("legacy vocabulary files parse and the 2023 tokenizer vectors are reproduced", "[fixtures][legacy][tokenizer]") {
    for (const std::string name : {"ggml-vocab-ggmf-v1.bin", "ggml-vocab-ggjt-v1.bin", "ggml-vocab-nomagic-eb34620.bin"}) {
        INFO(name);
        const Tokenizer tok = Tokenizer::load(fixture("legacy/" + name));
        CHECK(tok.vocab_size() == 32000);
    }
    const std::string json = read_text(fixture("legacy/test-tokenizer-0-78ca983.json"));
    const Tokenizer tok = Tokenizer::load(fixture("legacy/ggml-vocab-ggjt-v1.bin"));
    size_t cases = 0;
    for (size_t at = json.find("\"text\""); at != std::string::npos; at = json.find("\"text\"", at + 1)) {
        // "text": "...", "ids": [ ... ]
        const size_t open = json.find('"', json.find(':', at) + 1);
        std::string text;
        size_t i = open + 1;
        for (; json[i] != '"'; ++i) {
            if (json[i] == '\\') {
                ++i;
                if (json[i] == 'n') text += '\n';
                else if (json[i] == 't') text += '\t';
                else if (json[i] == 'u') {  // \uXXXX (BMP only in this file)
                    const auto cp = static_cast<uint32_t>(std::stoul(json.substr(i + 1, 4), nullptr, 16));
                    if (cp < 0x80) text += static_cast<char>(cp);
                    else if (cp < 0x800) { text += static_cast<char>(0xc0 | (cp >> 6)); text += static_cast<char>(0x80 | (cp & 0x3f)); }
                    else { text += static_cast<char>(0xe0 | (cp >> 12)); text += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)); text += static_cast<char>(0x80 | (cp & 0x3f)); }
                    i += 4;
                } else text += json[i];
            } else {
                text += json[i];
            }
        }
        const size_t list = json.find('[', i);
        const size_t end = json.find(']', list);
        std::vector<Token> ids;
        std::istringstream numbers(json.substr(list + 1, end - list - 1));
        std::string item;
        while (std::getline(numbers, item, ',')) ids.push_back(static_cast<Token>(std::stol(item)));
        INFO("\"" << text << "\"");
        CHECK(tok.encode(text, {.add_bos = true}) == ids);
        ++cases;
    }
    CHECK(cases >= 5);
}
