// Tokenizer vectors made by the reference tokenizers, and the legacy-era vocab files.
#include <catch2/catch.hpp>

#include <sstream>

#include "formats/gguf.hpp"
#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {

std::vector<std::string> read_inputs(const std::string& path) {
    const std::string text = read_text(path);
    const std::string separator = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t at = text.find(separator); at != std::string::npos; at = text.find(separator, start)) {
        out.push_back(text.substr(start, at - start));
        start = at + separator.size();
    }
    return out;
}

std::vector<std::vector<Token>> read_outputs(const std::string& path) {
    std::istringstream in(read_text(path));
    std::vector<std::vector<Token>> out;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::vector<Token> ids;
        Token id;
        while (words >> id) ids.push_back(id);
        out.push_back(ids);
    }
    return out;
}

}  // namespace

TEST_CASE("the llama-spm tokenizer reproduces every reference vector", "[fixtures][tokenizer]") {
    const std::string base = fixture("tokenizer/ggml-vocab-llama-spm.gguf");
    const auto inputs = read_inputs(base + ".inp");
    const auto outputs = read_outputs(base + ".out");
    REQUIRE(inputs.size() == 46);
    REQUIRE(outputs.size() == inputs.size());
    const Tokenizer tok = Tokenizer::load(base);  // a vocab-only file
    CHECK(tok.kind() == "llama");
    for (size_t i = 0; i < inputs.size(); ++i) {
        INFO("string " << i << ": \"" << inputs[i] << "\"");
        CHECK(tok.encode(inputs[i]) == outputs[i]);
        CHECK(tok.decode(tok.encode(inputs[i])) == inputs[i]);
    }
}

TEST_CASE("the byte-level BPE tokenizers reproduce every reference vector", "[fixtures][tokenizer]") {
    for (const std::string name : {"gpt-2", "falcon", "mpt", "starcoder"}) {
        const std::string base = fixture("tokenizer/ggml-vocab-" + name + ".gguf");
        const auto inputs = read_inputs(base + ".inp");
        const auto outputs = read_outputs(base + ".out");
        REQUIRE(inputs.size() == 46);
        REQUIRE(outputs.size() == inputs.size());
        const Tokenizer tok = Tokenizer::load(base);
        CHECK(tok.kind() == "gpt2");
        for (size_t i = 0; i < inputs.size(); ++i) {
            INFO(name << " string " << i << ": \"" << inputs[i] << "\"");
            CHECK(tok.encode(inputs[i]) == outputs[i]);
            CHECK(tok.decode(tok.encode(inputs[i])) == inputs[i]);
        }
    }
}

TEST_CASE("the Llama 3 and Qwen2 tokenizers reproduce every reference vector", "[fixtures][tokenizer][modern]") {
    for (const std::string name : {"llama3", "qwen3"}) {
        const std::string base = fixture("modern/ggml-vocab-" + name + ".gguf");
        const auto inputs = read_inputs(base + ".inp");
        const auto outputs = read_outputs(base + ".out");
        REQUIRE(inputs.size() == 46);
        REQUIRE(outputs.size() == inputs.size());
        const Tokenizer tok = Tokenizer::load(base);
        CHECK(tok.kind() == "gpt2");
        for (size_t i = 0; i < inputs.size(); ++i) {
            INFO(name << " string " << i << ": \"" << inputs[i] << "\"");
            CHECK(tok.encode(inputs[i]) == outputs[i]);
            CHECK(tok.decode(tok.encode(inputs[i])) == inputs[i]);
        }
    }
    // BOS as each vocabulary says (add_bos_token): Llama 3 yes, Qwen no.
    const Tokenizer llama3 = Tokenizer::load(fixture("modern/ggml-vocab-llama3.gguf"));
    CHECK(llama3.encode("Hello world", {.add_bos = true}) == std::vector<Token>{128000, 9906, 1917});
    CHECK(llama3.bos() == 128000);
    CHECK(llama3.eos() == 128009);
    const Tokenizer qwen = Tokenizer::load(fixture("modern/ggml-vocab-qwen3.gguf"));
    CHECK(qwen.encode("Hello world", {.add_bos = true}) == qwen.encode("Hello world"));
    CHECK(qwen.eos() == 151645);
}

TEST_CASE("legacy-era GGUF vocab files (v1 v2 v3) parse", "[fixtures][tokenizer]") {
    for (const std::string name : {"ggml-vocab-llama-gguf-6381d4e.gguf", "ggml-vocab-falcon-gguf-v2-ff5a3f0.gguf",
                                   "ggml-vocab-llama-gguf-2756c4f.gguf"}) {
        INFO(name);
        const auto dir = formats::read_gguf(formats::MappedFile::open(fixture("legacy/" + name)));
        const auto* tokens = dir->metadata.get_strings("tokenizer.ggml.tokens");
        REQUIRE(tokens != nullptr);
        CHECK(tokens->size() > 30000);
        CHECK(dir->metadata.get_string("general.architecture").has_value());
    }
    CHECK(formats::read_gguf(formats::MappedFile::open(fixture("legacy/ggml-vocab-llama-gguf-6381d4e.gguf")))->version == 1);
    CHECK(formats::read_gguf(formats::MappedFile::open(fixture("legacy/ggml-vocab-falcon-gguf-v2-ff5a3f0.gguf")))->version == 2);
    const Tokenizer v1 = Tokenizer::load(fixture("legacy/ggml-vocab-llama-gguf-6381d4e.gguf"));
    CHECK(v1.encode("Hello world") == std::vector<Token>{15043, 3186});
}
