// llama2.c checkpoints (Karpathy's run.c format) and their tokenizer files.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "formats/tensor_directory.hpp"

namespace nibble::formats {

/// True when the bytes have a plausible llama2.c header and exactly the size it implies.
bool looks_like_llama2c(std::span<const std::byte> bytes) noexcept;

/// Why the bytes are not a llama2.c checkpoint (empty when they are one).
std::string llama2c_mismatch(std::span<const std::byte> bytes);

/// Reads a checkpoint into a directory with GGUF tensor names and `llama.*` keys,
/// zero-copy. The tokenizer comes from `tokenizer_path` when given, else from
/// `tok<vocab>.bin` or `tokenizer.bin` beside the checkpoint when one exists.
std::unique_ptr<TensorDirectory> read_llama2c(std::shared_ptr<const MappedFile> file,
                                              const std::string& tokenizer_path = {});

/// Reads a llama2.c tokenizer file for a vocabulary of n_vocab entries into
/// `tokenizer.ggml.*` keys (pieces with U+2581 for space, token types set).
void read_llama2c_tokenizer(const MappedFile& file, uint32_t n_vocab, Metadata& metadata);

}  // namespace nibble::formats
