#include "requests.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "api_error.hpp"

namespace nibble::server {
namespace {

using nlohmann::json;

/// The field, or nullptr when it is absent or null (null means "the default").
const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number_in(const json& value, const char* name, double lo, double hi) {
    if (!value.is_number()) throw invalid_request(std::string(name) + " must be a number", name);
    const double v = value.get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) {
        throw invalid_request(std::string(name) + " must be between " + json(lo).dump() + " and " + json(hi).dump(), name);
    }
    return v;
}

/// An integer, also written as a number with no fraction (10.0).
int64_t integer_in(const json& value, const char* name, int64_t lo, int64_t hi) {
    if (value.is_number_integer() && value.is_number_unsigned()) {
        const uint64_t u = value.get<uint64_t>();
        if (u > static_cast<uint64_t>(hi)) throw invalid_request(std::string(name) + " must be at most " + std::to_string(hi), name);
        return static_cast<int64_t>(u);
    }
    int64_t v = 0;
    if (value.is_number_integer()) {
        v = value.get<int64_t>();
    } else if (value.is_number_float() && std::isfinite(value.get<double>()) && std::floor(value.get<double>()) == value.get<double>() &&
               std::fabs(value.get<double>()) < 9e18) {
        v = static_cast<int64_t>(value.get<double>());
    } else {
        throw invalid_request(std::string(name) + " must be an integer", name);
    }
    if (v < lo) throw invalid_request(std::string(name) + " must be at least " + std::to_string(lo), name);
    if (v > hi) throw invalid_request(std::string(name) + " must be at most " + std::to_string(hi), name);
    return v;
}

bool boolean(const json& value, const char* name) {
    if (!value.is_boolean()) throw invalid_request(std::string(name) + " must be true or false", name);
    return value.get<bool>();
}

void require_object(const json& body) {
    if (!body.is_object()) throw invalid_request("the request body must be a JSON object");
}

void refuse_unsupported(const json& body) {
    if (const json* v = field(body, "logprobs"); v != nullptr && !(v->is_boolean() && !v->get<bool>()) && *v != 0) {
        throw invalid_request("logprobs are not supported by nibble-server", "logprobs");
    }
    if (const json* v = field(body, "tools"); v != nullptr && !(v->is_array() && v->empty())) {
        throw invalid_request("tools (function calling) are not supported by nibble-server", "tools");
    }
    if (const json* v = field(body, "response_format"); v != nullptr) {
        if (!v->is_object() || v->value("type", "") != "text") {
            throw invalid_request("only response_format {\"type\": \"text\"} is supported", "response_format");
        }
    }
    if (const json* v = field(body, "n"); v != nullptr && integer_in(*v, "n", 1, 128) != 1) {
        throw invalid_request("n must be 1: one choice per request", "n");
    }
}

GenerationParams read_generation(const json& body, const RequestLimits& limits) {
    refuse_unsupported(body);
    GenerationParams p;
    const json* max_tokens = field(body, "max_completion_tokens");
    const char* max_name = "max_completion_tokens";
    if (max_tokens == nullptr) {
        max_tokens = field(body, "max_tokens");
        max_name = "max_tokens";
    }
    if (max_tokens != nullptr) p.max_tokens = static_cast<int>(integer_in(*max_tokens, max_name, 0, limits.max_tokens));

    SamplingOptions& s = p.sampling;
    s.repeat_penalty = 1.0f;  // OpenAI's penalties are of another kind; llama.cpp's repeat_penalty below
    if (const json* v = field(body, "temperature")) s.temperature = static_cast<float>(number_in(*v, "temperature", 0, 100));
    if (const json* v = field(body, "top_p")) s.top_p = static_cast<float>(number_in(*v, "top_p", 0, 1));
    if (const json* v = field(body, "min_p")) s.min_p = static_cast<float>(number_in(*v, "min_p", 0, 1));
    if (const json* v = field(body, "top_k")) s.top_k = static_cast<int>(integer_in(*v, "top_k", 0, 1 << 20));
    if (const json* v = field(body, "repeat_penalty")) s.repeat_penalty = static_cast<float>(number_in(*v, "repeat_penalty", 1e-3, 100));
    if (const json* v = field(body, "presence_penalty")) number_in(*v, "presence_penalty", -2, 2);
    if (const json* v = field(body, "frequency_penalty")) number_in(*v, "frequency_penalty", -2, 2);
    int64_t seed = -1;
    if (const json* v = field(body, "seed")) seed = integer_in(*v, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    s.seed = seed >= 0 ? static_cast<uint64_t>(seed) : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();

    if (const json* v = field(body, "stop")) {
        if (v->is_string()) {
            p.stop.push_back(v->get<std::string>());
        } else if (v->is_array() && v->size() <= 16) {
            for (const json& s : *v) {
                if (!s.is_string()) throw invalid_request("stop must be a string or an array of strings", "stop");
                p.stop.push_back(s.get<std::string>());
            }
        } else {
            throw invalid_request("stop must be a string or an array of at most 16 strings", "stop");
        }
        for (const std::string& s : p.stop) {
            if (s.size() > 1024) throw invalid_request("a stop string is longer than 1024 bytes", "stop");
        }
        std::erase_if(p.stop, [](const std::string& s) { return s.empty(); });
    }
    if (const json* v = field(body, "stream")) p.stream = boolean(*v, "stream");
    if (const json* v = field(body, "stream_options")) {
        if (!v->is_object()) throw invalid_request("stream_options must be an object", "stream_options");
        if (const json* u = field(*v, "include_usage")) p.include_usage = boolean(*u, "stream_options.include_usage");
    }
    return p;
}

std::vector<Token> token_ids(const json& array) {
    std::vector<Token> ids;
    for (const json& t : array) ids.push_back(static_cast<Token>(integer_in(t, "prompt", 0, std::numeric_limits<Token>::max())));
    return ids;
}

/// A message's content: a string, or an array of text parts.
std::string message_text(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) throw invalid_request("a message's content must be a string or an array of parts", "messages");
    std::string text;
    for (const json& part : content) {
        if (!part.is_object() || part.value("type", "") != "text") {
            throw invalid_request("only text parts ({\"type\": \"text\", \"text\": ...}) are supported in a message", "messages");
        }
        const json* t = field(part, "text");
        if (t == nullptr || !t->is_string()) throw invalid_request("a text part needs a string \"text\"", "messages");
        text += t->get<std::string>();
    }
    return text;
}

}  // namespace

json parse_body(const std::string& body) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) throw invalid_request("the request body is not valid JSON");
    require_object(parsed);
    return parsed;
}

CompletionRequest read_completion(const json& body, const RequestLimits& limits) {
    require_object(body);
    CompletionRequest r;
    r.params = read_generation(body, limits);
    const json* prompt = field(body, "prompt");
    if (prompt == nullptr) throw invalid_request("prompt is required", "prompt");
    if (prompt->is_string()) {
        r.prompt = prompt->get<std::string>();
    } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
        r.prompt = (*prompt)[0].get<std::string>();
    } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number()) {
        r.ids = token_ids(*prompt);
    } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_array() && !(*prompt)[0].empty()) {
        r.ids = token_ids((*prompt)[0]);
    } else if (prompt->is_array() && prompt->size() > 1) {
        throw invalid_request("one prompt per request: send the others as requests of their own", "prompt");
    } else {
        throw invalid_request("prompt must be a string, an array of one string, or an array of token ids", "prompt");
    }
    return r;
}

ChatRequest read_chat(const json& body, const RequestLimits& limits) {
    require_object(body);
    ChatRequest r;
    r.params = read_generation(body, limits);
    const json* messages = field(body, "messages");
    if (messages == nullptr) throw invalid_request("messages is required", "messages");
    if (!messages->is_array() || messages->empty()) throw invalid_request("messages must be a non-empty array", "messages");
    for (const json& m : *messages) {
        if (!m.is_object()) throw invalid_request("each message must be an object with a role and a content", "messages");
        const json* role = field(m, "role");
        if (role == nullptr || !role->is_string()) throw invalid_request("each message needs a string role", "messages");
        std::string name = role->get<std::string>();
        if (name == "developer") name = "system";
        if (name != "system" && name != "user" && name != "assistant") {
            throw invalid_request("role \"" + role->get<std::string>() + "\" is not supported (system, developer, user, assistant)", "messages");
        }
        const json* content = field(m, "content");
        if (content == nullptr && name != "assistant") throw invalid_request("a " + name + " message needs a content", "messages");
        r.messages.push_back({std::move(name), content == nullptr ? std::string() : message_text(*content)});
    }
    return r;
}

EmbeddingRequest read_embedding(const json& body, const RequestLimits& limits) {
    require_object(body);
    EmbeddingRequest r;
    const json* input = field(body, "input");
    if (input == nullptr) throw invalid_request("input is required", "input");
    if (input->is_string()) {
        r.inputs.push_back(input->get<std::string>());
    } else if (input->is_array() && !input->empty() && input->size() <= limits.max_inputs) {
        for (const json& s : *input) {
            if (!s.is_string()) throw invalid_request("input must be a string or an array of strings", "input");
            r.inputs.push_back(s.get<std::string>());
        }
    } else {
        throw invalid_request("input must be a string or an array of 1 to " + std::to_string(limits.max_inputs) + " strings", "input");
    }
    for (const std::string& s : r.inputs) {
        if (s.empty()) throw invalid_request("input must not contain empty strings", "input");
    }
    if (const json* f = field(body, "encoding_format")) {
        if (!f->is_string() || (*f != "float" && *f != "base64")) {
            throw invalid_request("encoding_format must be \"float\" or \"base64\"", "encoding_format");
        }
        r.base64 = *f == "base64";
    }
    return r;
}

}  // namespace nibble::server
