// Pre-tokenization: split text into words with a sequence of PCRE2 patterns (Unicode
// classes, lookahead), the way byte-level BPE vocabularies define their words.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nibble::detail {

class RegexSplitter {
public:
    /// Compiles the patterns (UTF-8, Unicode properties, JIT where available);
    /// throws nibble::Error naming a pattern that does not compile.
    explicit RegexSplitter(const std::vector<std::string>& patterns);
    ~RegexSplitter();
    RegexSplitter(const RegexSplitter&) = delete;
    RegexSplitter& operator=(const RegexSplitter&) = delete;

    /// Applies each pattern in turn to every piece the previous one produced; both
    /// the matches and the text between them become pieces. Thread-safe.
    std::vector<std::string_view> split(std::string_view text) const;

private:
    struct Compiled;
    std::vector<std::unique_ptr<Compiled>> patterns_;
};

/// The patterns of a `tokenizer.ggml.pre` name; throws unsupported for unknown names.
std::vector<std::string> pre_tokenizer_patterns(std::string_view name);
/// Whether that pre-tokenizer's BPE takes a word found whole in the vocabulary without
/// merging (the HF `ignore_merges` of Llama 3).
bool pre_tokenizer_ignores_merges(std::string_view name);

}  // namespace nibble::detail
