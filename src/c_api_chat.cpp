// The C API, part three: chat templates (include/nibble/nibble.h over
// include/nibble/chat_template.hpp).
#include <memory>
#include <vector>

#include "nibble/chat_template.hpp"
#include "src/c_api_impl.hpp"

using nibble::c_api::copy_text;
using nibble::c_api::guarded;
using nibble::c_api::input_span;
using nibble::c_api::invalid;
using nibble::c_api::require;

struct nibble_chat_template {
    explicit nibble_chat_template(nibble::ChatTemplate t) : chat(std::move(t)), stop_strings(chat.stop_strings()) {}
    nibble::ChatTemplate chat;
    std::vector<std::string> stop_strings;  // kept, so that the C strings outlive the call
};

namespace {

const std::vector<std::string>& known_names() {
    static const std::vector<std::string> names = nibble::ChatTemplate::known_names();
    return names;
}

}  // namespace

extern "C" {

nibble_status nibble_chat_template_named(const char* name, nibble_chat_template** chat_template) {
    constexpr const char* function = "nibble_chat_template_named";
    return guarded(function, [&] {
        require(chat_template, function, "chat_template");
        *chat_template = nullptr;
        require(name, function, "name");
        *chat_template = std::make_unique<nibble_chat_template>(nibble::ChatTemplate::named(name)).release();
    });
}

nibble_status nibble_chat_template_for_model(const nibble_model* model, const char* override_name,
                                             nibble_chat_template** chat_template) {
    constexpr const char* function = "nibble_chat_template_for_model";
    return guarded(function, [&] {
        require(chat_template, function, "chat_template");
        *chat_template = nullptr;
        const nibble_model& m = require(model, function, "model");
        const std::string_view name = override_name != nullptr ? std::string_view(override_name) : std::string_view();
        *chat_template = std::make_unique<nibble_chat_template>(nibble::ChatTemplate::for_model(m.model, name)).release();
    });
}

void nibble_chat_template_free(nibble_chat_template* chat_template) { delete chat_template; }

nibble_status nibble_chat_template_name(const nibble_chat_template* chat_template, const char** name) {
    constexpr const char* function = "nibble_chat_template_name";
    return guarded(function, [&] {
        require(name, function, "name") = require(chat_template, function, "chat_template").chat.name().c_str();
    });
}

nibble_status nibble_chat_template_render(const nibble_chat_template* chat_template, const nibble_chat_message* messages,
                                          size_t n_messages, bool add_generation_prompt, char* text, size_t capacity,
                                          size_t* length) {
    constexpr const char* function = "nibble_chat_template_render";
    return guarded(function, [&] {
        const nibble_chat_template& t = require(chat_template, function, "chat_template");
        const auto given = input_span(messages, n_messages, function, "messages");
        std::vector<nibble::ChatMessage> conversation;
        conversation.reserve(given.size());
        for (size_t i = 0; i < given.size(); ++i) {
            if (given[i].role == nullptr || given[i].content == nullptr) {
                invalid(function, fmt::format("messages[{}] has a NULL {}", i, given[i].role == nullptr ? "role" : "content"));
            }
            conversation.push_back({given[i].role, given[i].content});
        }
        copy_text(t.chat.render(conversation, add_generation_prompt), text, capacity, length, function);
    });
}

nibble_status nibble_chat_template_stop_string_count(const nibble_chat_template* chat_template, size_t* count) {
    constexpr const char* function = "nibble_chat_template_stop_string_count";
    return guarded(function, [&] {
        require(count, function, "count") = require(chat_template, function, "chat_template").stop_strings.size();
    });
}

nibble_status nibble_chat_template_stop_string(const nibble_chat_template* chat_template, size_t index,
                                               const char** stop_string) {
    constexpr const char* function = "nibble_chat_template_stop_string";
    return guarded(function, [&] {
        const auto& strings = require(chat_template, function, "chat_template").stop_strings;
        require(stop_string, function, "stop_string");
        if (index >= strings.size()) invalid(function, fmt::format("index {} is not below the count {}", index, strings.size()));
        *stop_string = strings[index].c_str();
    });
}

nibble_status nibble_chat_template_known_name_count(size_t* count) {
    constexpr const char* function = "nibble_chat_template_known_name_count";
    return guarded(function, [&] { require(count, function, "count") = known_names().size(); });
}

nibble_status nibble_chat_template_known_name(size_t index, const char** name) {
    constexpr const char* function = "nibble_chat_template_known_name";
    return guarded(function, [&] {
        require(name, function, "name");
        const auto& names = known_names();
        if (index >= names.size()) invalid(function, fmt::format("index {} is not below the count {}", index, names.size()));
        *name = names[index].c_str();
    });
}

}  // extern "C"
