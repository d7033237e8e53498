// libFuzzer target: Tokenizer::encode and decode on arbitrary bytes. The first byte
// chooses the tokenizer: the shipped stories260K SentencePiece vocabulary, or (when
// the fixtures are present) the GPT-2 byte-level BPE vocabulary and the LLaMA 2
// SentencePiece vocabulary. The rest is the text; it is also read as token ids.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "fuzz_common.hpp"

namespace {

std::vector<nibble::Tokenizer> load_tokenizers() {
    std::vector<nibble::Tokenizer> out;
    out.push_back(nibble::Tokenizer::load(NIBBLE_SOURCE_DIR "/models/stories260K.gguf"));
    for (const char* name : {"/tokenizer/ggml-vocab-gpt-2.gguf", "/tokenizer/ggml-vocab-llama-spm.gguf",
                             "/tokenizer/ggml-vocab-falcon.gguf"}) {
        const std::string path = std::string(NIBBLE_FIXTURES_DIR) + name;
        if (std::filesystem::exists(path)) out.push_back(nibble::Tokenizer::load(path));
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<nibble::Tokenizer> tokenizers = load_tokenizers();
    if (size < 1) return 0;
    const nibble::Tokenizer& tokenizer = tokenizers[data[0] % tokenizers.size()];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    nibble::fuzz::exercise_tokenizer(tokenizer, text);
    // The same bytes as token ids (decode must refuse ids outside the vocabulary with an Error).
    std::vector<nibble::Token> ids;
    for (size_t i = 1; i + 4 <= size; i += 4) {
        int32_t id = 0;
        std::memcpy(&id, data + i, 4);
        ids.push_back(id % static_cast<int32_t>(tokenizer.vocab_size() + 8));
    }
    nibble::fuzz::expect_error_or_success([&] { (void)tokenizer.decode(ids); });
    return 0;
}
