#include "api.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "../stop_strings.hpp"
#include "api_error.hpp"

namespace nibble::server {

using nlohmann::json;

/// A generating request, ready to run: its tokens and how to generate.
struct Api::Prompt {
    bool chat = false;
    std::string id;  ///< "cmpl-..." / "chatcmpl-..."
    int64_t created = 0;
    std::vector<Token> tokens;
    GenerateOptions options;
    std::vector<std::string> stop;  ///< the request's stop strings (and the chat template's)
    bool stream = false;
    bool include_usage = false;
};

struct Api::Reply {
    std::string text;
    size_t prompt_tokens = 0;
    size_t completion_tokens = 0;
    std::string finish_reason;
    bool client_gone = false;
};

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, const json& body, int status = 200) {
    res.status = status;
    res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
    if (e.retry_after > 0) res.set_header("Retry-After", std::to_string(e.retry_after));
    send_json(res, e.body(), e.status);
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    thread_local std::mt19937_64 random{std::random_device{}()};
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s-%016llx%08llx", prefix, static_cast<unsigned long long>(random()),
                  static_cast<unsigned long long>(counter.fetch_add(1) & 0xffffffffu));
    return buffer;
}

int64_t unix_time() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string base64_of(std::span<const float> values) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::vector<unsigned char> bytes(values.size() * 4);
    for (size_t i = 0; i < values.size(); ++i) {
        uint32_t bits = 0;
        std::memcpy(&bits, &values[i], 4);
        for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<unsigned char>(bits >> (8 * b));  // little-endian
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const uint32_t n = (uint32_t{bytes[i]} << 16) | (i + 1 < bytes.size() ? uint32_t{bytes[i + 1]} << 8 : 0) |
                           (i + 2 < bytes.size() ? uint32_t{bytes[i + 2]} : 0);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? alphabet[n & 63] : '=';
    }
    return out;
}

bool json_content_type(const httplib::Request& req) {
    if (!req.has_header("Content-Type")) return true;  // a client that says nothing is trusted
    std::string type = req.get_header_value("Content-Type");
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    return type == "application/json" || (type.starts_with("application/") && type.ends_with("+json"));
}

/// Compares without an early exit, so the time taken does not tell how much of a key matched.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

}  // namespace

template <typename Body>
void Api::guarded(httplib::Response& res, Body&& body) {
    try {
        if (stopping_.load()) throw unavailable("the server is shutting down");
        if (!ready_.load(std::memory_order_acquire)) throw unavailable("the model is loading", "loading");
        body();
    } catch (const ApiError& e) {
        send_error(res, e);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::cancelled) return send_error(res, unavailable("the request was cancelled: the server is stopping or its time limit passed"));
        const bool client = e.code() == ErrorCode::invalid_argument || e.code() == ErrorCode::out_of_range;
        send_error(res, client ? invalid_request(e.what()) : ApiError(500, "server_error", e.what()));
    } catch (const std::bad_alloc&) {
        send_error(res, unavailable("out of memory"));
    } catch (const std::exception& e) {
        send_error(res, ApiError(500, "server_error", e.what()));
    }
}

std::optional<ApiError> Api::refusal(const httplib::Request& req) const {
    if (!config_.api_key.empty() && req.path != "/health") {
        const std::string header = req.get_header_value("Authorization");
        if (!header.starts_with("Bearer ") || !same_secret(header.substr(7), config_.api_key)) {
            return ApiError(401, "authentication_error", header.empty() ? "an API key is required: send Authorization: Bearer KEY"
                                                                        : "the API key is not valid",
                            {}, "invalid_api_key");
        }
    }
    if (req.has_header("Content-Length")) {
        const std::string length = req.get_header_value("Content-Length");
        size_t bytes = 0;
        const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
        if (ec == std::errc::result_out_of_range || (ec == std::errc() && end == length.data() + length.size() && bytes > config_.max_body)) {
            return ApiError(413, "invalid_request_error", "the request body is " + length + " bytes, more than the limit of " +
                                                              std::to_string(config_.max_body));
        }
    }
    if (req.method == "POST" && !json_content_type(req)) {
        return ApiError(415, "invalid_request_error",
                        "the body must be JSON: send Content-Type: application/json (not " + req.get_header_value("Content-Type") + ")");
    }
    return std::nullopt;
}

void Api::install(httplib::Server& server) {
    // Checked on the headers, before httplib reads (or parses, for multipart) a body.
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        const auto error = refusal(req);
        if (!error) return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Connection", "close");  // the unread body must not be taken for the next request
        send_error(res, *error);
        return httplib::Server::HandlerResponse::Handled;
    });
    const auto completions = [this](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { this->completions(req, res, false); });
    };
    const auto chat = [this](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { this->completions(req, res, true); });
    };
    const auto embeddings = [this](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { this->embeddings(req, res); });
    };
    const auto models = [this](const httplib::Request&, httplib::Response& res) { guarded(res, [&] { this->models(res); }); };
    const auto model = [this](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            if (req.matches[1] != config_.model_id) {
                throw ApiError(404, "invalid_request_error", "no model " + std::string(req.matches[1]) + " (this server has " +
                                                                 config_.model_id + ")", "model", "model_not_found");
            }
            send_json(res, {{"id", config_.model_id}, {"object", "model"}, {"created", unix_time()}, {"owned_by", "nibble"}});
        });
    };
    const auto not_allowed = [](const char* allow) {
        return [allow](const httplib::Request& req, httplib::Response& res) {
            res.set_header("Allow", allow);
            send_error(res, ApiError(405, "invalid_request_error", req.method + " is not allowed on " + req.path + " (use " + allow + ")"));
        };
    };
    // The OpenAI paths, and llama.cpp's copies without /v1 (for clients whose base URL lacks it).
    for (const std::string prefix : {"/v1", ""}) {
        server.Post(prefix + "/completions", completions);
        server.Post(prefix + "/chat/completions", chat);
        server.Post(prefix + "/embeddings", embeddings);
        server.Get(prefix + "/models", models);
        server.Get(prefix + R"(/models/([^/]+))", model);
        for (const char* path : {"/completions", "/chat/completions", "/embeddings"}) {
            server.Get(prefix + path, not_allowed("POST"));
            server.Put(prefix + path, not_allowed("POST"));
            server.Delete(prefix + path, not_allowed("POST"));
            server.Patch(prefix + path, not_allowed("POST"));
        }
        server.Post(prefix + "/models", not_allowed("GET"));
    }
    server.Get("/health", [this](const httplib::Request&, httplib::Response& res) { health(res); });
    server.Post("/health", not_allowed("GET"));
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // an answer of ours already
        if (res.status == 404) {
            send_error(res, ApiError(404, "not_found_error", "no route " + req.method + " " + req.path));
        } else if (res.status == 413) {
            send_error(res, ApiError(413, "invalid_request_error", "the request body is too large"));
        } else if (res.status == 400) {
            send_error(res, invalid_request("the HTTP request is malformed"));
        } else if (res.status >= 400) {
            send_error(res, ApiError(res.status, res.status >= 500 ? "server_error" : "invalid_request_error",
                                     "HTTP " + std::to_string(res.status)));
        }
    });
}

void Api::attach(Model model, std::unique_ptr<SlotPool> pool, ChatTemplate chat_template) {
    model_ = std::move(model);
    pool_ = std::move(pool);
    const Tokenizer& tok = model_.tokenizer();
    for (const std::string& s : chat_template.stop_strings()) {
        // A stop string that is one control token has no text: only its id can be seen.
        const auto ids = tok.encode(s, {.parse_special = true});
        if (ids.size() == 1 && tok.piece(ids[0]).empty()) template_stop_tokens_.push_back(ids[0]);
    }
    chat_template_ = std::move(chat_template);
    ready_.store(true, std::memory_order_release);
}

void Api::shutdown() {
    stopping_.store(true);
    if (ready_.load(std::memory_order_acquire)) pool_->shutdown();
}

SlotPool& Api::pool() const { return *pool_; }

void Api::health(httplib::Response& res) const {
    if (!ready_.load(std::memory_order_acquire)) return send_json(res, {{"status", "loading"}}, 503);
    if (stopping_.load()) return send_json(res, {{"status", "stopping"}}, 503);
    const PoolStatus s = pool().status();
    send_json(res, {{"status", "ok"}, {"slots_idle", s.idle}, {"slots_processing", s.processing}, {"requests_waiting", s.waiting}});
}

void Api::models(httplib::Response& res) const {
    const ModelInfo& info = model_.info();
    json entry = {{"id", config_.model_id}, {"object", "model"}, {"created", unix_time()}, {"owned_by", "nibble"},
                  {"meta", {{"architecture", info.architecture}, {"n_ctx", pool().context_length()}, {"n_vocab", model_.tokenizer().vocab_size()}}}};
    send_json(res, {{"object", "list"}, {"data", json::array({entry})}});
}

void Api::check_fits(size_t tokens, const char* param) const {
    if (tokens > pool().context_length()) {
        throw invalid_request(std::string(param) + " is " + std::to_string(tokens) + " tokens, more than the context of " +
                                  std::to_string(pool().context_length()) + " tokens",
                              param, "context_length_exceeded");
    }
}

std::vector<Token> Api::encode_checked(const std::string& text, bool parse_special, const char* param) const {
    const Tokenizer& tok = model_.tokenizer();
    std::vector<Token> ids = tok.encode(text, {.add_bos = true, .parse_special = parse_special});
    if (ids.empty()) throw invalid_request(std::string(param) + " is empty", param);
    check_fits(ids.size(), param);
    return ids;
}

void Api::completions(const httplib::Request& req, httplib::Response& res, bool chat) {
    const json body = parse_body(req.body);
    Prompt prompt;
    prompt.chat = chat;
    prompt.id = new_id(chat ? "chatcmpl" : "cmpl");
    prompt.created = unix_time();
    GenerationParams params;
    if (chat) {
        ChatRequest r = read_chat(body, config_.limits);
        params = std::move(r.params);
        prompt.tokens = encode_checked(chat_template_->render(r.messages, true), true, "messages");
        prompt.stop = chat_template_->stop_strings();
        prompt.options.stop_tokens = template_stop_tokens_;
    } else {
        CompletionRequest r = read_completion(body, config_.limits);
        params = std::move(r.params);
        if (r.ids) {
            for (Token t : *r.ids) {
                if (static_cast<size_t>(t) >= model_.tokenizer().vocab_size()) {
                    throw invalid_request("token id " + std::to_string(t) + " is outside the vocabulary of " +
                                              std::to_string(model_.tokenizer().vocab_size()), "prompt");
                }
            }
            check_fits(r.ids->size(), "prompt");
            prompt.tokens = std::move(*r.ids);
        } else {
            prompt.tokens = encode_checked(r.prompt, false, "prompt");
        }
    }
    const size_t room = pool().context_length() - prompt.tokens.size();
    if (room == 0 && params.max_tokens.value_or(1) > 0) {
        throw invalid_request("the prompt fills the context of " + std::to_string(pool().context_length()) +
                                  " tokens: no room for a reply", chat ? "messages" : "prompt", "context_length_exceeded");
    }
    prompt.options.max_tokens = static_cast<int>(std::min<size_t>(room, static_cast<size_t>(params.max_tokens.value_or(config_.limits.max_tokens))));
    prompt.options.sampling = params.sampling;
    prompt.options.add_bos = false;
    prompt.stop.insert(prompt.stop.end(), params.stop.begin(), params.stop.end());
    prompt.stream = params.stream;
    prompt.include_usage = params.include_usage;

    auto lease = std::make_shared<SlotPool::Lease>(pool().acquire(prompt.tokens));
    if (!prompt.stream) {
        const ClientConnection connection(req);
        const Reply reply = generate(*lease, prompt, {}, &connection);
        json choice = {{"index", 0}, {"finish_reason", reply.finish_reason}, {"logprobs", nullptr}};
        if (chat) {
            choice["message"] = {{"role", "assistant"}, {"content", reply.text}};
        } else {
            choice["text"] = reply.text;
        }
        json out = chunk(prompt, std::move(choice));
        out["object"] = chat ? "chat.completion" : "text_completion";
        out["usage"] = {{"prompt_tokens", reply.prompt_tokens}, {"completion_tokens", reply.completion_tokens},
                        {"total_tokens", reply.prompt_tokens + reply.completion_tokens}};
        return send_json(res, out);
    }
    // Streaming: the generation runs inside the content provider, after the headers went.
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [this, lease, prompt = std::move(prompt)](size_t, httplib::DataSink& sink) {
        const auto event = [&](const json& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
        };
        try {
            if (prompt.chat && !event(chunk(prompt, {{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}))) {
                return false;
            }
            const Reply reply = generate(*lease, prompt, [&](std::string_view text) {
                json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
                if (prompt.chat) {
                    choice["delta"] = {{"content", text}};
                } else {
                    choice["text"] = text;
                }
                return event(chunk(prompt, std::move(choice)));
            });
            if (reply.client_gone) return false;
            json last = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reply.finish_reason}};
            if (prompt.chat) {
                last["delta"] = json::object();
            } else {
                last["text"] = "";
            }
            if (!event(chunk(prompt, std::move(last)))) return false;
            if (prompt.include_usage) {
                json usage = chunk(prompt, json());
                usage["choices"] = json::array();
                usage["usage"] = {{"prompt_tokens", reply.prompt_tokens}, {"completion_tokens", reply.completion_tokens},
                                  {"total_tokens", reply.prompt_tokens + reply.completion_tokens}};
                if (!event(usage)) return false;
            }
        } catch (const ApiError& e) {
            if (!event(e.body())) return false;
        } catch (const std::exception& e) {
            if (!event(ApiError(500, "server_error", e.what()).body())) return false;
        }
        static constexpr std::string_view done = "data: [DONE]\n\n";
        if (!sink.write(done.data(), done.size())) return false;
        sink.done();
        return true;
    });
}

json Api::chunk(const Prompt& prompt, json choice) const {
    json out = {{"id", prompt.id}, {"object", prompt.chat ? "chat.completion.chunk" : "text_completion"}, {"created", prompt.created},
                {"model", config_.model_id}, {"system_fingerprint", "nibble"}};
    out["choices"] = choice.is_null() ? json::array() : json::array({std::move(choice)});
    return out;
}

Api::Reply Api::generate(SlotPool::Lease& lease, const Prompt& prompt, const std::function<bool(std::string_view)>& emit,
                         const ClientConnection* connection) const {
    Session& session = lease.session();
    // Reuse the slot's cache: keep the tokens the prompt starts with, evaluate the rest.
    // The last prompt token is always evaluated again, for its logits.
    const auto held = session.tokens();
    size_t shared = static_cast<size_t>(std::mismatch(held.begin(), held.end(), prompt.tokens.begin(), prompt.tokens.end()).first - held.begin());
    shared = std::min(shared, prompt.tokens.size() - 1);
    session.truncate(static_cast<uint32_t>(shared));
    session.reset_sampler();

    bool client_gone = false;
    const std::function<void(std::string_view)> forward = [&](std::string_view text) {
        if (!client_gone && emit && !emit(text)) client_gone = true;
    };
    chat::StopStringFilter filter(prompt.stop, forward);
    // A stream learns that its client left from a failed write; a whole reply asks the
    // socket after each token.
    const auto go_on = [&](std::string_view piece) {
        if (!client_gone && connection && connection->gone()) client_gone = true;
        return filter.push(piece) && !client_gone;
    };
    const GenerateResult result = session.generate(std::span<const Token>(prompt.tokens).subspan(shared), prompt.options, go_on);
    if (!filter.stopped() && result.stop != GenerateResult::Stop::callback) filter.finish();

    Reply reply;
    reply.text = filter.text();
    reply.prompt_tokens = prompt.tokens.size();
    reply.completion_tokens = result.generated.size();
    reply.client_gone = client_gone;
    using Stop = GenerateResult::Stop;
    const bool timed_out = result.stop == Stop::cancelled && lease.timed_out();
    reply.finish_reason = result.stop == Stop::eos || filter.stopped() ? "stop" : "length";
    std::fprintf(stderr, "nibble-server: %s on slot %zu: %zu prompt tokens (%zu cached), %zu generated in %.1f ms: %s\n", prompt.id.c_str(),
                 lease.index(), prompt.tokens.size(), shared, result.generated.size(),
                 1e3 * (result.prompt_seconds + result.generate_seconds),
                 client_gone ? "client gone" : timed_out ? "time limit" : result.stop == Stop::cancelled ? "cancelled" : reply.finish_reason.c_str());
    if (result.stop == Stop::cancelled && !timed_out) throw unavailable("the server is shutting down");
    return reply;
}

void Api::embeddings(const httplib::Request& req, httplib::Response& res) {
    const EmbeddingRequest request = read_embedding(parse_body(req.body), config_.limits);
    std::vector<std::vector<Token>> inputs;
    size_t tokens = 0;
    for (const std::string& text : request.inputs) {
        inputs.push_back(encode_checked(text, false, "input"));
        tokens += inputs.back().size();
    }
    json data = json::array();
    {
        SlotPool::Lease lease = pool().acquire({});
        for (size_t i = 0; i < inputs.size(); ++i) {
            const std::vector<float> vector = lease.session().embed(inputs[i], Pooling::mean);
            json item = {{"object", "embedding"}, {"index", i}};
            if (request.base64) {
                item["embedding"] = base64_of(vector);
            } else {
                item["embedding"] = vector;
            }
            data.push_back(std::move(item));
        }
    }
    send_json(res, {{"object", "list"}, {"data", std::move(data)}, {"model", config_.model_id},
                    {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

}  // namespace nibble::server
