// libFuzzer target: every 2023 container (ggml, ggmf, ggjt v1-v3, GPT4All-J, ggmm,
// GPT4All Falcon) and the pre-magic vocabulary layout, then the model binder.
#include <cstddef>
#include <cstdint>

#include "formats/legacy.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto bytes = nibble::fuzz::as_bytes(data, size);
    nibble::fuzz::expect_error_or_success([&] {
        auto file = nibble::formats::MappedFile::borrow(bytes, "fuzz.bin");
        if (nibble::formats::looks_like_legacy(bytes)) {
            nibble::fuzz::touch_metadata(nibble::formats::read_legacy(file)->metadata);
        } else if (nibble::formats::looks_like_nomagic_vocab(bytes)) {
            nibble::fuzz::touch_metadata(nibble::formats::read_nomagic_vocab(file)->metadata);
        }
    });
    if (nibble::formats::looks_like_legacy(bytes)) nibble::fuzz::load_model(bytes);
    return 0;
}
