// Vocabulary tables shared by the tokenizer algorithms.
#pragma once

#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include "nibble/nibble.hpp"

namespace nibble::detail {

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
    bool add_space_prefix = true;

    std::vector<Token> encode_spm(std::string_view text) const;
    void check_id(Token id) const;
};

/// Builds a SentencePiece-style ("llama") tokenizer from tokenizer.ggml.* keys.
std::shared_ptr<const TokenizerImpl> make_spm_tokenizer(std::vector<std::string> texts, std::vector<float> scores,
                                                        std::vector<TokenType> types, Token bos, Token eos, Token unk,
                                                        bool add_space_prefix);

}  // namespace nibble::detail
