// Chat templates: each format's exact text for one conversation, recognition from
// Jinja snippets, the errors; EncodeOptions::parse_special on the shipped model.
#include <catch2/catch.hpp>

#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {

const std::vector<ChatMessage> conversation = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "How are you?"},
};

std::string rendered(std::string_view name, bool open_reply = true) {
    return ChatTemplate::named(name).render(conversation, open_reply);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("every chat template renders the conversation exactly", "[chat]") {
    CHECK(rendered("chatml") ==
          "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
          "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
          "<|im_start|>assistant\n");
    CHECK(rendered("llama2") == "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST]Hello!</s>[INST] How are you? [/INST]");
    CHECK(rendered("mistral") == "[INST] You are terse.\n\nHi[/INST] Hello!</s>[INST] How are you?[/INST]");
    CHECK(rendered("llama3") ==
          "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(rendered("zephyr") ==
          "<|system|>\nYou are terse.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n<|assistant|>\nHello!<|endoftext|>\n"
          "<|user|>\nHow are you?<|endoftext|>\n<|assistant|>\n");
    CHECK(rendered("gemma") ==
          "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
          "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n");
    CHECK(rendered("phi3") ==
          "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
          "<|user|>\nHow are you?<|end|>\n<|assistant|>\n");
    CHECK(rendered("vicuna") == "You are terse.\n\nUSER: Hi\nASSISTANT: Hello!</s>\nUSER: How are you?\nASSISTANT:");
    CHECK(rendered("gpt4all") ==
          "### System:\nYou are terse.\n### Instruction:\nHi\n### Response:\nHello!\n### Instruction:\nHow are you?\n"
          "### Response:\n");
    CHECK(ChatTemplate::known_names() ==
          std::vector<std::string>{"chatml", "llama2", "mistral", "llama3", "zephyr", "gemma", "phi3", "vicuna", "gpt4all"});
}

TEST_CASE("without the generation prompt a rendering ends with the last message", "[chat]") {
    CHECK(rendered("chatml", false).ends_with("How are you?<|im_end|>\n"));
    CHECK(rendered("llama3", false).ends_with("How are you?<|eot_id|>"));
    CHECK(rendered("gpt4all", false).ends_with("How are you?\n"));
    // [INST] formats have no generation prompt of their own: [/INST] opens the reply.
    CHECK(rendered("llama2", false) == rendered("llama2"));
    // A rendering is a prefix of the next one (what nibble-chat relies on to feed only
    // the new text), for the formats that do not trim.
    for (const std::string& name : ChatTemplate::known_names()) {
        INFO(name);
        const auto t = ChatTemplate::named(name);
        const std::vector<ChatMessage> first(conversation.begin(), conversation.begin() + 2);
        std::vector<ChatMessage> second = first;
        second.push_back({"assistant", "Hello!"});
        second.push_back({"user", "How are you?"});
        CHECK(t.render(second).starts_with(t.render(first) + (name == "mistral" || name == "vicuna" ? " " : "") + "Hello!"));
    }
}

TEST_CASE("stop strings end each template's assistant turn", "[chat]") {
    CHECK(ChatTemplate::named("chatml").stop_strings().front() == "<|im_end|>");
    CHECK(ChatTemplate::named("llama3").stop_strings().front() == "<|eot_id|>");
    CHECK(ChatTemplate::named("gemma").stop_strings().front() == "<end_of_turn>");
    CHECK(ChatTemplate::named("phi3").stop_strings().front() == "<|end|>");
    CHECK(ChatTemplate::named("gpt4all").stop_strings().front() == "### Instruction:");
    for (const std::string& name : ChatTemplate::known_names()) {
        INFO(name);
        const auto stops = ChatTemplate::named(name).stop_strings();
        REQUIRE(!stops.empty());
        // The template's own end of turn is what follows an assistant message (after
        // a line break in gpt4all's).
        const std::vector<ChatMessage> turns = {{"user", "a"}, {"assistant", "b"}, {"user", "c"}};
        const std::string text = ChatTemplate::named(name).render(turns, false);
        std::string_view after = std::string_view(text).substr(text.find('b') + 1);
        while (!after.empty() && after.front() == '\n') after.remove_prefix(1);
        CHECK(after.starts_with(stops.front()));
    }
}

TEST_CASE("Jinja templates are recognised by their markers", "[chat]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'}}", "chatml"},
        {"{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ '[INST] <<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' }}", "llama2"},
        {"{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' [/INST]' }}", "mistral"},
        {"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}", "llama3"},
        {"{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}", "zephyr"},
        {"{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}", "gemma"},
        {"{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}", "phi3"},
        {"{{ 'USER: ' + message['content'] + '\\n' }}{{ 'ASSISTANT: ' + message['content'] + '</s>\\n' }}", "vicuna"},
        {"### Instruction:\\n{{ message['content'] }}\\n### Response:\\n", "gpt4all"},
        {"llama3", "llama3"},  // a known name is itself
    };
    for (const auto& [jinja, name] : cases) {
        INFO(jinja);
        CHECK(ChatTemplate::recognise(jinja).name() == name);
    }
}

TEST_CASE("unknown template names and texts are errors that list the known names", "[chat]") {
    const std::string named = error_of([] { ChatTemplate::named("chatgpt"); });
    CHECK(named.find("'chatgpt'") != std::string::npos);
    for (const std::string& name : ChatTemplate::known_names()) CHECK(named.find(name) != std::string::npos);
    try {
        ChatTemplate::named("x");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::invalid_argument);
    }
    const std::string text = error_of([] { ChatTemplate::recognise("{% for m in messages %}<<weird>>{{ m.content }}"); });
    CHECK(text.find("\"{% for m in messages %}<<weird>>") != std::string::npos);
    CHECK(text.find("gpt4all") != std::string::npos);
    const std::string role = error_of([] {
        const std::vector<ChatMessage> bad = {{"tool", "x"}};
        ChatTemplate::named("chatml").render(bad);
    });
    CHECK(role.find("'tool'") != std::string::npos);
}

TEST_CASE("a model without a chat template needs a name", "[chat]") {
    const Model model = Model::load(default_model_path());
    REQUIRE(model.info().chat_template.empty());
    CHECK(ChatTemplate::for_model(model, "vicuna").name() == "vicuna");
    const std::string message = error_of([&] { ChatTemplate::for_model(model); });
    CHECK(message.find("no chat template") != std::string::npos);
    CHECK(message.find("chatml") != std::string::npos);
}

TEST_CASE("parse_special turns the text of control tokens into those tokens", "[chat][tokenizer]") {
    const Model model = Model::load(default_model_path());
    const Tokenizer& tok = model.tokenizer();
    REQUIRE(tok.bos() == 1);
    REQUIRE(tok.eos() == 2);
    const std::string text = "Hi</s><s>Bye";
    const auto plain = tok.encode(text);
    const auto special = tok.encode(text, {.parse_special = true});
    // Off: the markers are text, spelled with ordinary pieces.
    CHECK(std::find(plain.begin(), plain.end(), 1) == plain.end());
    CHECK(std::find(plain.begin(), plain.end(), 2) == plain.end());
    // On: Hi, </s>, <s>, Bye; each stretch of text encoded as on its own (a
    // SentencePiece vocabulary puts its space in front of each, as llama.cpp does).
    const auto hi = tok.encode("Hi");
    const auto bye = tok.encode("Bye");
    std::vector<Token> expected = hi;
    expected.push_back(2);
    expected.push_back(1);
    expected.insert(expected.end(), bye.begin(), bye.end());
    CHECK(special == expected);
    CHECK(tok.encode("</s>", {.parse_special = true}) == std::vector<Token>{2});
    CHECK(tok.encode("<s></s>", {.add_bos = true, .parse_special = true}) == std::vector<Token>{1, 1, 2});
    CHECK(tok.encode("", {.parse_special = true}).empty());
    // A marker cut short stays text.
    CHECK(tok.encode("</s", {.parse_special = true}) == tok.encode("</s"));
}
