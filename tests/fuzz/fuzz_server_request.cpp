// libFuzzer target: nibble-server's request bodies (examples/server/requests.cpp) on
// arbitrary bytes: parsed as JSON and read as a completion, a chat and an embedding
// request. Anything but an ApiError 400 escaping, a crash or a leak is a finding; a
// chat request that reads is also rendered with every chat template.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../examples/server/api_error.hpp"
#include "../../examples/server/requests.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nibble::server;
    static const auto templates = [] {
        std::vector<nibble::ChatTemplate> out;
        for (const std::string& name : nibble::ChatTemplate::known_names()) out.push_back(nibble::ChatTemplate::named(name));
        return out;
    }();
    const std::string body(reinterpret_cast<const char*>(data), size);
    const RequestLimits limits;
    nlohmann::json json;
    try {
        json = parse_body(body);
    } catch (const ApiError& e) {
        if (e.status != 400) __builtin_trap();
        return 0;
    }
    const auto expect_400 = [](const ApiError& e) {
        if (e.status != 400 || e.type != "invalid_request_error") __builtin_trap();
    };
    try {
        const CompletionRequest r = read_completion(json, limits);
        if (r.params.max_tokens && (*r.params.max_tokens < 0 || *r.params.max_tokens > limits.max_tokens)) __builtin_trap();
    } catch (const ApiError& e) {
        expect_400(e);
    }
    try {
        const ChatRequest r = read_chat(json, limits);
        if (r.messages.empty()) __builtin_trap();
        for (const auto& t : templates) (void)t.render(r.messages, true);
    } catch (const ApiError& e) {
        expect_400(e);
    }
    try {
        const EmbeddingRequest r = read_embedding(json, limits);
        if (r.inputs.empty() || r.inputs.size() > limits.max_inputs) __builtin_trap();
    } catch (const ApiError& e) {
        expect_400(e);
    }
    return 0;
}
