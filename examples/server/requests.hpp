// The bodies of /v1/completions, /v1/chat/completions and /v1/embeddings, read from
// JSON and checked: a field of the wrong type or out of range is an ApiError 400 naming
// it; fields the server does not know are ignored, as the OpenAI API's clients expect.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nibble/nibble.hpp>
#include <nlohmann/json.hpp>

namespace nibble::server {

/// Bounds a request may not exceed (from the server's flags).
struct RequestLimits {
    int max_tokens = 4096;     ///< the largest max_tokens accepted
    size_t max_inputs = 64;    ///< embeddings per request
};

/// What every generating request has: sampling, length, stop strings, streaming.
struct GenerationParams {
    std::optional<int> max_tokens;  ///< absent: as many as the context and the server's limit allow
    SamplingOptions sampling;       ///< seed filled in (random when the request gives none)
    std::vector<std::string> stop;  ///< non-empty strings
    bool stream = false;
    bool include_usage = false;     ///< stream_options.include_usage
};

struct CompletionRequest {
    GenerationParams params;
    std::string prompt;                      ///< text, encoded with BOS
    std::optional<std::vector<Token>> ids;   ///< or token ids, used as given
};

struct ChatRequest {
    GenerationParams params;
    std::vector<ChatMessage> messages;
};

struct EmbeddingRequest {
    std::vector<std::string> inputs;
    bool base64 = false;  ///< encoding_format "base64": little-endian float32, base64
};

/// Parses the body as JSON (400 when it is not an object of JSON).
nlohmann::json parse_body(const std::string& body);

CompletionRequest read_completion(const nlohmann::json& body, const RequestLimits& limits);
ChatRequest read_chat(const nlohmann::json& body, const RequestLimits& limits);
EmbeddingRequest read_embedding(const nlohmann::json& body, const RequestLimits& limits);

}  // namespace nibble::server
