// Vocabulary tables shared by the tokenizer algorithms.
#pragma once

#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include "nibble/nibble.hpp"
#include "src/regex_split.hpp"

namespace nibble::detail {

/// Bytes of the UTF-8 character that starts with `lead`; a stray continuation or
/// invalid byte counts as one.
inline size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xe) return 3;
    if ((lead >> 3) == 0x1e) return 4;
    return 1;
}

/// Token types as GGUF stores them (tokenizer.ggml.token_type).
enum class TokenType : int32_t { undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

struct TokenizerImpl {
    std::string kind = "none";
    std::vector<std::string> texts;       ///< vocabulary entries as stored
    std::vector<float> scores;
    std::vector<TokenType> types;
    std::vector<std::string> pieces;      ///< bytes each token decodes to
    std::unordered_map<std::string, Token> ids;
    std::array<Token, 256> byte_token{};  ///< token of each byte, -1 if none
    Token bos = -1, eos = -1, unk = -1;
    Token eot = -1;                  ///< end of turn (tokenizer.ggml.eot_token_id), -1 if none
    bool add_space_prefix = true;
    bool add_bos = true;             ///< tokenizer.ggml.add_bos_token: whether BOS starts a text at all

    // byte-level BPE ("gpt2") only
    std::unordered_map<std::string, int> merge_ranks;  ///< "left right" -> rank
    std::shared_ptr<const RegexSplitter> splitter;
    std::string pre;                                   ///< tokenizer.ggml.pre
    bool ignore_merges = false;  ///< a word that is itself a vocabulary entry is taken whole (Llama 3)

    std::vector<Token> user_defined;  ///< user-defined tokens, longest text first, matched before splitting
    /// Control, user-defined and unknown tokens, longest text first: what
    /// EncodeOptions::parse_special matches (llama.cpp's set of special tokens).
    std::vector<Token> special;

    /// Encodes text: user-defined tokens (and with parse_special every special token)
    /// are cut out first, the rest goes to the vocabulary's algorithm piece by piece.
    std::vector<Token> encode(std::string_view text, bool parse_special = false) const;
    std::vector<Token> encode_spm(std::string_view text) const;
    std::vector<Token> encode_bpe(std::string_view text) const;
    void encode_greedy(const std::string& word, std::vector<Token>& out) const;
    size_t max_token_bytes = 0;
    void check_id(Token id) const;
};

/// Orders the user-defined and special tokens for matching; called by both builders.
void index_user_defined(TokenizerImpl& tokenizer);

/// Builds a SentencePiece-style ("llama") tokenizer from tokenizer.ggml.* keys.
std::shared_ptr<TokenizerImpl> make_spm_tokenizer(std::vector<std::string> texts, std::vector<float> scores,
                                                        std::vector<TokenType> types, Token bos, Token eos, Token unk,
                                                        bool add_space_prefix);

/// Builds a byte-level BPE ("gpt2") tokenizer: tokens in the GPT-2 byte-to-unicode
/// alphabet, merges "left right" in rank order, pre-tokenizer named by `pre`.
std::shared_ptr<TokenizerImpl> make_bpe_tokenizer(std::vector<std::string> texts, std::vector<TokenType> types,
                                                        const std::vector<std::string>& merges, const std::string& pre,
                                                        Token bos, Token eos, Token unk);

}  // namespace nibble::detail
