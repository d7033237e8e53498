// nibble-server's HTTP API: the OpenAI routes over a SlotPool, registered on a
// cpp-httplib Server. Before attach() (while the model loads) every route but /health
// answers 503.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>
#include <nibble/nibble.hpp>
#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "connection.hpp"
#include "requests.hpp"
#include "slot_pool.hpp"

namespace nibble::server {

struct ApiConfig {
    std::string model_id;  ///< what /v1/models lists and responses carry
    std::string api_key;   ///< "" = no key required
    size_t max_body = 1 << 20;  ///< a larger Content-Length is refused (413) before the body is read
    RequestLimits limits;
};

class Api {
public:
    explicit Api(ApiConfig config) : config_(std::move(config)) {}

    /// Adds every route (and the 404/405/413 answers) to `server`.
    void install(httplib::Server& server);
    /// The model is loaded: serve it. `chat_template` renders chat requests.
    void attach(Model model, std::unique_ptr<SlotPool> pool, ChatTemplate chat_template);
    /// Cancels running generations and refuses new ones (503).
    void shutdown();

private:
    struct Prompt;
    struct Reply;

    /// What the headers alone refuse: a bad key (401), a body over the limit (413), a
    /// POST that is not JSON (415).
    std::optional<ApiError> refusal(const httplib::Request& req) const;
    void health(httplib::Response& res) const;
    void models(httplib::Response& res) const;
    void completions(const httplib::Request& req, httplib::Response& res, bool chat);
    void embeddings(const httplib::Request& req, httplib::Response& res);

    /// Runs `body` once the model is ready, turning its ApiError (or any other failure)
    /// into an error response.
    template <typename Body>
    void guarded(httplib::Response& res, Body&& body);
    SlotPool& pool() const;
    /// 400 context_length_exceeded when `tokens` do not fit a slot's context.
    void check_fits(size_t tokens, const char* param) const;
    std::vector<Token> encode_checked(const std::string& text, bool parse_special, const char* param) const;
    /// Generates the reply to `prompt`, passing its text to `emit` (a stream; false: the
    /// client left). A whole reply (no `emit`) ends early when `connection` is gone.
    Reply generate(SlotPool::Lease& lease, const Prompt& prompt, const std::function<bool(std::string_view)>& emit,
                   const ClientConnection* connection = nullptr) const;
    nlohmann::json chunk(const Prompt& prompt, nlohmann::json choice) const;

    ApiConfig config_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> stopping_{false};
    Model model_;
    std::unique_ptr<SlotPool> pool_;
    std::optional<ChatTemplate> chat_template_;
    std::vector<Token> template_stop_tokens_;  ///< the template's end-of-turn control tokens
};

}  // namespace nibble::server
