// libFuzzer target: llama2.c checkpoints (header, implied size, zero-copy tensors),
// then the model binder.
#include <cstddef>
#include <cstdint>

#include "formats/llama2c.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto bytes = nibble::fuzz::as_bytes(data, size);
    nibble::fuzz::expect_error_or_success([&] {
        auto file = nibble::formats::MappedFile::borrow(bytes, "fuzz.bin");
        // A path that does not exist: the reader looks for a tokenizer beside it and finds none.
        nibble::fuzz::touch_metadata(nibble::formats::read_llama2c(file, "")->metadata);
    });
    if (nibble::formats::looks_like_llama2c(bytes)) nibble::fuzz::load_model(bytes);
    return 0;
}
