// The 2023 model files: LLaMA `ggml`/`ggmf`/`ggjt`, GPT4All-J (`ggml`), GPT4All MPT
// (`ggmm`) and GPT4All Falcon (`ggjt`). Each fills a TensorDirectory with GGUF names
// and keys; blocks of older encodings are converted to the current layout once.
#pragma once

#include <memory>

#include "formats/legacy_blocks.hpp"
#include "formats/tensor_directory.hpp"

namespace nibble::formats {

inline constexpr uint32_t magic_ggml = 0x67676d6c;  // unversioned (LLaMA, GPT-J)
inline constexpr uint32_t magic_ggmf = 0x67676d66;  // LLaMA, version 1
inline constexpr uint32_t magic_ggjt = 0x67676a74;  // LLaMA v1-v3, GPT4All Falcon
inline constexpr uint32_t magic_ggmm = 0x67676d6d;  // GPT4All MPT

/// True when the file starts with one of the legacy magics.
bool looks_like_legacy(std::span<const std::byte> bytes) noexcept;

/// Reads any legacy model or vocab-only file. Throws nibble::Error naming the file,
/// the offset or tensor, and what was expected.
std::unique_ptr<TensorDirectory> read_legacy(std::shared_ptr<const MappedFile> file);

/// The pre-magic vocabulary-only layout (early 2023 tokenizer test files).
bool looks_like_nomagic_vocab(std::span<const std::byte> bytes) noexcept;
std::unique_ptr<TensorDirectory> read_nomagic_vocab(std::shared_ptr<const MappedFile> file);

/// The encoding era of a legacy LLaMA container version (ggml/ggmf: 0, ggjt vN: N-1).
QuantEra llama_container_era(uint32_t magic, uint32_t version);

/// Writes a LLaMA-family directory (GGUF names) as a `ggjt` file of `version` 1, 2 or 3,
/// for users of 2023 tools. Blocks are taken in the current layout and re-encoded for
/// the version's era, or, with `blocks_in_era_layout`, written exactly as given.
std::vector<std::byte> write_ggjt(const TensorDirectory& directory, uint32_t version, bool blocks_in_era_layout = false);

}  // namespace nibble::formats
