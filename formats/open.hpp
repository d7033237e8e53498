// Opens any model file nibble reads, choosing the reader by content.
#pragma once

#include <memory>
#include <string>

#include "formats/tensor_directory.hpp"

namespace nibble::formats {

/// GGUF, the 2023 legacy containers, llama2.c checkpoints (tokenizer from
/// `llama2c_tokenizer` or beside the file) and pre-magic vocab files.
std::unique_ptr<TensorDirectory> read_model_file(std::shared_ptr<const MappedFile> file,
                                                 const std::string& llama2c_tokenizer = {});

}  // namespace nibble::formats
