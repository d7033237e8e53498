#include "formats/open.hpp"

#include <fmt/format.h>

#include "formats/gguf.hpp"
#include "formats/legacy.hpp"
#include "formats/llama2c.hpp"
#include "nibble/error.hpp"

namespace nibble::formats {

std::unique_ptr<TensorDirectory> read_model_file(std::shared_ptr<const MappedFile> file, const std::string& llama2c_tokenizer) {
    const auto bytes = file->bytes();
    if (looks_like_gguf(bytes)) return read_gguf(file);
    if (looks_like_legacy(bytes)) return read_legacy(file);
    if (looks_like_llama2c(bytes)) return read_llama2c(file, llama2c_tokenizer);
    if (looks_like_nomagic_vocab(bytes)) return read_nomagic_vocab(file);
    // No magic: llama2.c checkpoints have none, so say why it is not one either.
    throw Error(ErrorCode::bad_format, fmt::format("{}: not a GGUF, ggml/ggmf/ggjt/ggmm file ({} bytes, unknown magic), nor a "
                                                   "llama2.c checkpoint: {}",
                                                   file->name(), file->size(), llama2c_mismatch(bytes)));
}

}  // namespace nibble::formats
