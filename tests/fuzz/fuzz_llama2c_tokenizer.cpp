// libFuzzer target: llama2.c tokenizer files (tok512.bin and the like). The first two
// bytes choose the vocabulary size the checkpoint would declare (1 to 65536); the
// rest is the file. What the reader accepts becomes a tokenizer and encodes text.
#include <cstddef>
#include <cstdint>

#include "formats/llama2c.hpp"
#include "fuzz_common.hpp"
#include "src/model_impl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint32_t n_vocab = 1 + (uint32_t{data[0]} | uint32_t{data[1]} << 8);
    const auto bytes = nibble::fuzz::as_bytes(data + 2, size - 2);
    nibble::fuzz::expect_error_or_success([&] {
        nibble::formats::Metadata metadata;
        auto file = nibble::formats::MappedFile::borrow(bytes, "tok.bin");
        nibble::formats::read_llama2c_tokenizer(*file, n_vocab, metadata);
        const nibble::Tokenizer tokenizer = nibble::detail::ModelImpl::make_tokenizer(metadata, "tok.bin");
        nibble::fuzz::exercise_tokenizer(tokenizer, "Once upon a time \xE2\x96\x81 <0x0A>\n\xff");
    });
    return 0;
}
