// libFuzzer target: the GGUF reader, then the model binder over whatever it accepts.
#include <cstddef>
#include <cstdint>

#include "formats/gguf.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto bytes = nibble::fuzz::as_bytes(data, size);
    nibble::fuzz::expect_error_or_success([&] {
        auto dir = nibble::formats::read_gguf(nibble::formats::MappedFile::borrow(bytes, "fuzz.gguf"));
        nibble::fuzz::touch_metadata(dir->metadata);
    });
    if (nibble::formats::looks_like_gguf(bytes)) nibble::fuzz::load_model(bytes);
    return 0;
}
