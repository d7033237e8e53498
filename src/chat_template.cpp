// Chat templates: the formats of llama.cpp's built-in templates, written from their
// published descriptions, and the substring tests that recognise a model's Jinja text.
#include <fmt/format.h>

#include <array>
#include <optional>

#include "nibble/nibble.hpp"

namespace nibble {
namespace {

// Whitespace trimmed from both ends, as the llama3 and gemma formats do to contents.
std::string trimmed(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    size_t begin = 0, end = s.size();
    while (begin < end && space(s[begin])) ++begin;
    while (end > begin && space(s[end - 1])) --end;
    return std::string(s.substr(begin, end - begin));
}

using Messages = std::span<const ChatMessage>;

// <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
std::string render_chatml(Messages messages, bool open_reply) {
    std::string out;
    for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (open_reply) out += "<|im_start|>assistant\n";
    return out;
}

// llama.cpp's "llama2-sys": [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST]reply</s>[INST] ...
// The reply follows [/INST] at once: the model writes its own leading space.
std::string render_llama2(Messages messages, bool) {
    std::string out = "[INST] ";
    bool inside_turn = true;
    for (const auto& m : messages) {
        if (!inside_turn) {
            out += "[INST] ";
            inside_turn = true;
        }
        if (m.role == "system") {
            out += "<<SYS>>\n" + m.content + "\n<</SYS>>\n\n";
        } else if (m.role == "user") {
            out += m.content + " [/INST]";
        } else {
            out += m.content + "</s>";
            inside_turn = false;
        }
    }
    return out;  // the format has no separate generation prompt: [/INST] opens the reply
}

// llama.cpp's "mistral-v3": [INST] system\n\nuser[/INST] reply</s>[INST] user[/INST]
// (the system text opens the first instruction; replies trimmed).
std::string render_mistral(Messages messages, bool) {
    std::string out;
    bool inside_turn = false;
    for (const auto& m : messages) {
        if (!inside_turn) {
            out += "[INST] ";
            inside_turn = true;
        }
        if (m.role == "system") {
            out += m.content + "\n\n";
        } else if (m.role == "user") {
            out += m.content + "[/INST]";
        } else {
            out += ' ';  // appended piece by piece: GCC 12 warns (-Wrestrict) about " " + string
            out += trimmed(m.content);
            out += "</s>";
            inside_turn = false;
        }
    }
    return out;
}

// <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> (contents trimmed)
std::string render_llama3(Messages messages, bool open_reply) {
    std::string out;
    for (const auto& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trimmed(m.content) + "<|eot_id|>";
    }
    if (open_reply) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

// <|role|>\ncontent<|endoftext|>\n ... <|assistant|>\n
std::string render_zephyr(Messages messages, bool open_reply) {
    std::string out;
    for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|endoftext|>\n";
    if (open_reply) out += "<|assistant|>\n";
    return out;
}

// <start_of_turn>user\n(system\n\n)content<end_of_turn>\n<start_of_turn>model\n...
// Gemma has no system role: the system text opens the next user turn.
std::string render_gemma(Messages messages, bool open_reply) {
    std::string out, system;
    for (const auto& m : messages) {
        if (m.role == "system") {
            system += trimmed(m.content);
            continue;
        }
        const bool reply = m.role == "assistant";
        out += std::string("<start_of_turn>") + (reply ? "model" : m.role) + "\n";
        if (!system.empty() && !reply) {
            out += system + "\n\n";
            system.clear();
        }
        out += trimmed(m.content) + "<end_of_turn>\n";
    }
    if (open_reply) out += "<start_of_turn>model\n";
    return out;
}

// <|role|>\ncontent<|end|>\n ... <|assistant|>\n
std::string render_phi3(Messages messages, bool open_reply) {
    std::string out;
    for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
    if (open_reply) out += "<|assistant|>\n";
    return out;
}

// system\n\nUSER: user\nASSISTANT: reply</s>\n ... ASSISTANT:
std::string render_vicuna(Messages messages, bool open_reply) {
    std::string out;
    for (const auto& m : messages) {
        if (m.role == "system") out += m.content + "\n\n";
        else if (m.role == "user") out += "USER: " + m.content + "\n";
        else out += "ASSISTANT: " + m.content + "</s>\n";
    }
    if (open_reply) out += "ASSISTANT:";
    return out;
}

// GPT4All's 2023 prompt template: ### Instruction:\nuser\n### Response:\nreply\n
std::string render_gpt4all(Messages messages, bool open_reply) {
    std::string out;
    for (const auto& m : messages) {
        if (m.role == "system") out += "### System:\n" + m.content + "\n";
        else if (m.role == "user") out += "### Instruction:\n" + m.content + "\n";
        else out += "### Response:\n" + m.content + "\n";
    }
    if (open_reply) out += "### Response:\n";
    return out;
}

struct Format {
    std::string_view name;
    std::string (*render)(Messages, bool);
    std::array<std::string_view, 3> stops;  ///< end-of-turn texts, the format's own first; empty = none
};

constexpr std::array<Format, 9> formats{{
    {"chatml", render_chatml, {"<|im_end|>", "<|im_start|>", ""}},
    {"llama2", render_llama2, {"</s>", "[INST]", ""}},
    {"mistral", render_mistral, {"</s>", "[INST]", ""}},
    {"llama3", render_llama3, {"<|eot_id|>", "<|start_header_id|>", "<|end_of_text|>"}},
    {"zephyr", render_zephyr, {"<|endoftext|>", "</s>", "<|user|>"}},
    {"gemma", render_gemma, {"<end_of_turn>", "<start_of_turn>", ""}},
    {"phi3", render_phi3, {"<|end|>", "<|endoftext|>", "<|user|>"}},
    {"vicuna", render_vicuna, {"</s>", "USER:", ""}},
    {"gpt4all", render_gpt4all, {"### Instruction:", "### Human:", ""}},
}};

std::string joined_names() {
    std::string out;
    for (const auto& f : formats) out += (out.empty() ? "" : ", ") + std::string(f.name);
    return out;
}

std::optional<size_t> index_of(std::string_view name) {
    for (size_t i = 0; i < formats.size(); ++i) {
        if (formats[i].name == name) return i;
    }
    return std::nullopt;
}

// The order and the substrings follow llama.cpp's detection, restricted to the formats
// above: the most specific markers first.
std::optional<std::string_view> recognised_name(std::string_view jinja) {
    const auto has = [&](std::string_view s) { return jinja.find(s) != std::string_view::npos; };
    if (has("<|im_start|>")) return "chatml";
    if (has("[INST]")) return has("<<SYS>>") ? "llama2" : "mistral";
    if (has("<|end|>") && (has("<|assistant|>") || has("<|user|>"))) return "phi3";
    if (has("<|user|>") && (has("<|endoftext|>") || has("</s>") || has("eos_token"))) return "zephyr";
    if (has("<start_of_turn>")) return "gemma";
    if (has("USER:") && has("ASSISTANT:")) return "vicuna";
    if (has("<|start_header_id|>") && has("<|end_header_id|>")) return "llama3";
    if (has("### Instruction")) return "gpt4all";
    return std::nullopt;
}

// The start of a template for a message: one line, at most 60 bytes.
std::string quoted_start(std::string_view jinja) {
    std::string out;
    for (char c : jinja.substr(0, 60)) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return "\"" + out + (jinja.size() > 60 ? "...\"" : "\"");
}

}  // namespace

ChatTemplate::ChatTemplate(size_t index) : index_(index), name_(formats[index].name) {}

ChatTemplate ChatTemplate::named(std::string_view name) {
    if (auto i = index_of(name)) return ChatTemplate(*i);
    throw Error(ErrorCode::invalid_argument,
                fmt::format("unknown chat template '{}'; the known ones: {}", name, joined_names()));
}

ChatTemplate ChatTemplate::recognise(std::string_view jinja) {
    if (auto i = index_of(jinja)) return ChatTemplate(*i);
    if (auto name = recognised_name(jinja)) return ChatTemplate(*index_of(*name));
    throw Error(ErrorCode::unsupported, fmt::format("chat template {} is not one nibble recognises; name one of: {}",
                                                    quoted_start(jinja), joined_names()));
}

ChatTemplate ChatTemplate::for_model(const Model& model, std::string_view override_name) {
    if (!override_name.empty()) return named(override_name);
    const std::string& jinja = model.info().chat_template;
    if (jinja.empty()) {
        throw Error(ErrorCode::unsupported,
                    fmt::format("the model file has no chat template; name one of: {}", joined_names()));
    }
    return recognise(jinja);
}

std::vector<std::string> ChatTemplate::known_names() {
    std::vector<std::string> out;
    for (const auto& f : formats) out.emplace_back(f.name);
    return out;
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
    for (size_t i = 0; i < messages.size(); ++i) {
        const std::string& role = messages[i].role;
        if (role != "system" && role != "user" && role != "assistant") {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("chat message {}: role '{}' is not system, user or assistant", i, role));
        }
    }
    return formats[index_].render(messages, add_generation_prompt);
}

std::vector<std::string> ChatTemplate::stop_strings() const {
    std::vector<std::string> out;
    for (std::string_view s : formats[index_].stops) {
        if (!s.empty()) out.emplace_back(s);
    }
    return out;
}

}  // namespace nibble
