// Tokenizer vectors made by the reference tokenizers, and the legacy-era vocab files.
#include <catch2/catch.hpp>

#include <optional>
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

/// Every string of a vocabulary's .inp encodes to its .out line and decodes back.
void check_vectors(const std::string& relative, std::string_view kind) {
    const std::string base = fixture(relative);
    const auto inputs = read_inputs(base + ".inp");
    const auto outputs = read_outputs(base + ".out");
    REQUIRE(inputs.size() == 46);
    REQUIRE(outputs.size() == inputs.size());
    const Tokenizer tok = Tokenizer::load(base);  // a vocab-only file
    CHECK(tok.kind() == kind);
    for (size_t i = 0; i < inputs.size(); ++i) {
        INFO(relative << " string " << i << ": \"" << inputs[i] << "\"");
        CHECK(tok.encode(inputs[i]) == outputs[i]);
        CHECK(tok.decode(tok.encode(inputs[i])) == inputs[i]);
    }
}

}  // namespace

TEST_CASE("the llama-spm tokenizer reproduces every reference vector", "[fixtures][tokenizer]") {
    check_vectors("tokenizer/ggml-vocab-llama-spm.gguf", "llama");
}

TEST_CASE("the byte-level BPE tokenizers reproduce every reference vector", "[fixtures][tokenizer]") {
    for (const std::string name : {"gpt-2", "falcon", "mpt", "starcoder"}) {
        check_vectors("tokenizer/ggml-vocab-" + name + ".gguf", "gpt2");
    }
}

TEST_CASE("the Llama 3 and Qwen2 tokenizers reproduce every reference vector", "[fixtures][tokenizer][modern]") {
    for (const std::string name : {"llama3", "qwen3"}) check_vectors("modern/ggml-vocab-" + name + ".gguf", "gpt2");
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

// EncodeOptions::parse_special and chat templates on the real Llama 3 and Qwen vocabularies.
namespace {
std::string chat_template_of(const std::string& path) {
    const auto dir = formats::read_gguf(formats::MappedFile::open(path));
    return dir->metadata.get_string("tokenizer.chat_template").value_or("");
}

// The Llama 3 and Qwen vocabularies need the llama-bpe and qwen2 pre-tokenizers; until
// nibble has them, their tests say so and stop (the template recognition needs none).
std::optional<Tokenizer> modern_tokenizer(const std::string& name) {
    try {
        return Tokenizer::load(fixture("modern/" + name));
    } catch (const Error& e) {
        if (e.code() != ErrorCode::unsupported) throw;
        WARN(name << ": " << e.what() << "; its parse_special checks are skipped");
        return std::nullopt;
    }
}

std::vector<Token> joined(std::initializer_list<std::vector<Token>> parts) {
    std::vector<Token> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
}  // namespace

TEST_CASE("parse_special finds the Llama 3 control tokens in text", "[fixtures][tokenizer][chat]") {
    const auto loaded = modern_tokenizer("ggml-vocab-llama3.gguf");
    if (!loaded) return;
    const Tokenizer& tok = *loaded;
    const auto ids = tok.encode("<|start_header_id|>user<|end_header_id|>", {.parse_special = true});
    CHECK(ids == joined({{128006}, tok.encode("user"), {128007}}));
    CHECK(tok.encode("<|start_header_id|>user<|end_header_id|>").front() != 128006);  // off: plain text
    CHECK(tok.encode("<|eot_id|>", {.parse_special = true}) == std::vector<Token>{128009});
    CHECK(tok.eos() == 128009);
    // A rendered conversation: every marker one token, the text between as usual.
    const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "Hello world"}};
    const auto rendered = tok.encode(ChatTemplate::named("llama3").render(chat), {.add_bos = true, .parse_special = true});
    CHECK(rendered == joined({{128000, 128006}, tok.encode("system"), {128007}, tok.encode("\n\nBe brief."), {128009, 128006},
                              tok.encode("user"), {128007}, tok.encode("\n\nHello world"), {128009, 128006},
                              tok.encode("assistant"), {128007}, tok.encode("\n\n")}));
}

TEST_CASE("parse_special finds the Qwen control tokens; user-defined ones are found either way", "[fixtures][tokenizer][chat]") {
    const auto loaded = modern_tokenizer("ggml-vocab-qwen3.gguf");
    if (!loaded) return;
    const Tokenizer& tok = *loaded;
    const auto ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n", {.parse_special = true});
    CHECK(ids == joined({{151644}, tok.encode("user\nHi"), {151645}, tok.encode("\n")}));
    CHECK(tok.encode("<|im_start|>").size() > 1);
    const Token think = tok.encode("<think>", {.parse_special = true}).at(0);
    CHECK(tok.encode("<think>") == std::vector<Token>{think});  // USER_DEFINED: matched without parse_special too
}

TEST_CASE("parse_special on a SentencePiece vocabulary: the space prefix before each stretch of text", "[fixtures][tokenizer][chat]") {
    const Tokenizer tok = Tokenizer::load(fixture("tokenizer/ggml-vocab-llama-spm.gguf"));
    CHECK(tok.encode("<s>Hello</s>", {.parse_special = true}) == joined({{1}, tok.encode("Hello"), {2}}));
    CHECK(tok.encode("[INST] Hi [/INST]</s><s>[INST]", {.parse_special = true}) ==
          joined({tok.encode("[INST] Hi [/INST]"), {2, 1}, tok.encode("[INST]")}));
}

TEST_CASE("the fixtures' real chat templates are recognised", "[fixtures][chat]") {
    const std::string llama3 = chat_template_of(fixture("modern/ggml-vocab-llama3.gguf"));
    const std::string qwen3 = chat_template_of(fixture("modern/ggml-vocab-qwen3.gguf"));
    REQUIRE(!llama3.empty());
    REQUIRE(!qwen3.empty());
    CHECK(ChatTemplate::recognise(llama3).name() == "llama3");
    CHECK(ChatTemplate::recognise(qwen3).name() == "chatml");
    // The end of turn of each is a single control token of its vocabulary.
    if (const auto tok = modern_tokenizer("ggml-vocab-llama3.gguf")) {
        CHECK(tok->encode(ChatTemplate::named("llama3").stop_strings().front(), {.parse_special = true}) ==
              std::vector<Token>{tok->eos()});
    }
    if (const auto tok = modern_tokenizer("ggml-vocab-qwen3.gguf")) {
        CHECK(tok->encode(ChatTemplate::named("chatml").stop_strings().front(), {.parse_special = true}) ==
              std::vector<Token>{tok->eos()});
    }
}
