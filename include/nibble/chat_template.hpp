// Chat templates: a conversation as the prompt text a chat model was trained on.
// Included by nibble.hpp.
//
// nibble does not run Jinja. It knows the formats of llama.cpp's built-in templates
// (llama_chat_apply_template) by name and recognises a model's Jinja template
// (GGUF tokenizer.chat_template) by distinctive substrings, as llama.cpp does.
//
// BOS: render() never writes the BOS text at the start (Llama 3's
// `<|begin_of_text|>`, Gemma's `<bos>`, Llama 2's `<s>`): a Session puts the BOS
// token at position 0 itself. Control-token text inside the rendering (`<|im_end|>`,
// `</s>` after an assistant turn) is meant to be encoded with
// EncodeOptions::parse_special.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/export.hpp"

namespace nibble {

class Model;

/// One message of a conversation. role: "system", "user" or "assistant".
struct ChatMessage {
    std::string role;
    std::string content;
};

/// A chat format. Cheap to copy, immutable, thread-safe.
class NIBBLE_API ChatTemplate {
public:
    /// The template called `name` (one of known_names()); another name throws
    /// Error(invalid_argument) listing the known ones.
    static ChatTemplate named(std::string_view name);
    /// `override_name` when given; otherwise the template recognised in the model's
    /// ModelInfo::chat_template. Throws Error(unsupported) when the file has no
    /// template, or one nibble does not recognise (the message quotes its start and
    /// lists the known names, to pass one as override_name).
    static ChatTemplate for_model(const Model& model, std::string_view override_name = {});
    /// The known template a Jinja template text is (or a known name itself); throws
    /// Error(unsupported) when none matches.
    static ChatTemplate recognise(std::string_view jinja);
    /// chatml, llama2, mistral, llama3, zephyr, gemma, phi3, vicuna, gpt4all.
    static std::vector<std::string> known_names();

    const std::string& name() const noexcept { return name_; }

    /// The prompt text of `messages`, in order; with add_generation_prompt it ends with
    /// what opens the assistant's reply. Throws Error(invalid_argument) for a role
    /// other than system, user and assistant.
    std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt = true) const;
    /// Texts that end an assistant turn when the model writes them (e.g. "<|im_end|>",
    /// "<|eot_id|>", "### Instruction:"); the first is the template's own end of turn.
    std::vector<std::string> stop_strings() const;

private:
    explicit ChatTemplate(size_t index);
    size_t index_ = 0;  ///< row of the table in chat_template.cpp
    std::string name_;
};

}  // namespace nibble
