// nibble-chat's conversation: the messages, the Session that holds them, and the text
// its tokens stand for.
//
// Each user turn renders the whole conversation with the chat template and feeds the
// Session only what is new. `held_` is the text the Session's tokens stand for (the
// rendered prompts and the replies as generated, an end-of-turn token as its text), and
// `marks_` records, token by token, how much of that text the first n tokens cover.
// When a new rendering does not extend `held_` (a reply cut at a stop string, a
// template that trims), the Session is truncated to the last mark inside the common
// prefix and the rest is fed again: the cache always holds the rendered conversation.
//
// Saved conversations (/save FILE): one file of netstrings ("<length>:<bytes>\n"):
// "nibble-chat 1", the template name, the message count and each role and content,
// the held text, the marks ("tokens bytes" pairs), then Session::save_state's bytes.
// Written beside FILE and renamed, so a file is complete or absent.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nibble/nibble.hpp>

#include "stop_strings.hpp"

namespace nibble::chat {

/// How a reply ended, and what of it the conversation keeps.
struct Reply {
    std::string text;  ///< the kept assistant message
    GenerateResult::Stop stop = GenerateResult::Stop::max_tokens;
    bool rolled_back = false;  ///< cancelled before any token: the user turn was dropped
};

class Conversation {
public:
    Conversation(Session& session, ChatTemplate chat_template, std::string system)
        : session_(session), template_(chat_template), system_(std::move(system)) {
        use_template(std::move(chat_template));
        reset();
    }

    const ChatTemplate& chat_template() const { return template_; }
    const std::vector<ChatMessage>& messages() const { return messages_; }

    /// Back to the system message alone, an empty Session.
    void reset() {
        session_.reset();
        messages_.clear();
        if (!system_.empty()) messages_.push_back({"system", system_});
        held_.clear();
        marks_.assign(1, {0, 0});
    }

    /// Adds the user's message, feeds what is new and generates the reply, passing its
    /// text to `print` as it comes (a stop string and what follows it never printed).
    Reply respond(const std::string& user, GenerateOptions options, const std::function<void(std::string_view)>& print) {
        messages_.push_back({"user", user});
        try {
            return respond_to_last(std::move(options), print);
        } catch (...) {
            messages_.pop_back();
            throw;
        }
    }

    void save(const std::string& path) const {
        std::string out = netstring("nibble-chat 1") + netstring(template_.name()) + netstring(std::to_string(messages_.size()));
        for (const auto& m : messages_) out += netstring(m.role) + netstring(m.content);
        out += netstring(held_);
        std::string marks;
        for (const auto& [tokens, bytes] : marks_) marks += std::to_string(tokens) + " " + std::to_string(bytes) + " ";
        out += netstring(marks);
        const auto state = session_.save_state();
        out += netstring(std::string_view(reinterpret_cast<const char*>(state.data()), state.size()));
        const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
        {
            std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
            file.write(out.data(), static_cast<std::streamsize>(out.size()));
            if (!file.flush()) {
                std::remove(temporary.c_str());
                throw Error(ErrorCode::io, path + ": cannot write the conversation");
            }
        }
        if (std::rename(temporary.c_str(), path.c_str()) != 0) {
            std::remove(temporary.c_str());
            throw Error(ErrorCode::io, path + ": cannot write the conversation");
        }
    }

    /// Replaces the conversation with a saved one (its template included). Leaves this
    /// one as it was when the file is not a saved conversation of this model.
    void load(const std::string& path) {
        std::ifstream file(path, std::ios::binary);
        if (!file) throw Error(ErrorCode::io, path + ": cannot open");
        const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        Reader in{path, bytes};
        if (in.next() != "nibble-chat 1") throw in.bad("not a saved nibble-chat conversation");
        ChatTemplate chat_template = ChatTemplate::named(in.next());
        const size_t count = in.number(in.next());
        std::vector<ChatMessage> messages;
        for (size_t i = 0; i < count; ++i) {
            std::string role(in.next());
            messages.push_back({std::move(role), std::string(in.next())});
        }
        std::string held(in.next());
        std::vector<std::pair<uint32_t, size_t>> marks;
        std::istringstream pairs{std::string(in.next())};
        for (uint64_t tokens = 0, text = 0; pairs >> tokens >> text;) marks.emplace_back(static_cast<uint32_t>(tokens), text);
        const std::string_view state = in.next();
        for (size_t i = 0; i < marks.size(); ++i) {
            if (marks[i].second > held.size() || (i > 0 && (marks[i].first <= marks[i - 1].first || marks[i].second < marks[i - 1].second))) {
                throw in.bad("its token marks are not in order");
            }
        }
        if (marks.empty() || marks.front() != std::pair<uint32_t, size_t>{0, 0}) throw in.bad("its token marks are missing");
        session_.load_state(std::span(reinterpret_cast<const std::byte*>(state.data()), state.size()));
        if (marks.back().first > session_.position()) {
            session_.reset();
            throw in.bad("its token marks are past the saved tokens");
        }
        use_template(std::move(chat_template));
        messages_ = std::move(messages);
        held_ = std::move(held);
        marks_ = std::move(marks);
    }

private:
    void use_template(ChatTemplate chat_template) {
        template_ = std::move(chat_template);
        stop_tokens_.clear();
        const Tokenizer& tok = session_.model().tokenizer();
        for (const std::string& s : template_.stop_strings()) {
            // A stop string that is one control token ends the reply as that token: such a
            // token has no text, so only its id can be seen.
            const auto ids = tok.encode(s, {.parse_special = true});
            if (ids.size() == 1 && tok.piece(ids[0]).empty()) stop_tokens_.push_back(ids[0]);
        }
    }

    Reply respond_to_last(GenerateOptions options, const std::function<void(std::string_view)>& print) {
        const std::string full = template_.render(messages_, true);
        keep_common_prefix(full);
        const Tokenizer& tok = session_.model().tokenizer();
        const uint32_t start = session_.position();
        const auto prompt = tok.encode(std::string_view(full).substr(held_.size()), {.add_bos = start == 0, .parse_special = true});

        options.stop_tokens.insert(options.stop_tokens.end(), stop_tokens_.begin(), stop_tokens_.end());
        StopStringFilter filter(template_.stop_strings(), print);
        const GenerateResult result =
            session_.generate(std::span<const Token>(prompt), options, [&](std::string_view piece) { return filter.push(piece); });
        Reply reply;
        reply.stop = result.stop;
        if (result.generated.empty() && result.stop == GenerateResult::Stop::cancelled) {
            session_.truncate(std::min(start, session_.position()));  // the prompt, maybe evaluated in part, undone
            messages_.pop_back();
            reply.rolled_back = true;
            return reply;
        }
        filter.finish();
        held_ = full;
        uint32_t tokens = start + static_cast<uint32_t>(prompt.size());
        marks_.emplace_back(tokens, held_.size());
        for (Token t : result.generated) {
            const std::string piece = tok.piece(t);
            held_ += piece.empty() ? std::string(tok.token_text(t)) : piece;  // an end-of-turn token as its text
            marks_.emplace_back(++tokens, held_.size());
        }
        reply.text = filter.kept();
        messages_.push_back({"assistant", reply.text});
        return reply;
    }

    // Truncates the Session to the last mark inside the common prefix of held_ and `full`.
    void keep_common_prefix(const std::string& full) {
        const size_t common = static_cast<size_t>(
            std::mismatch(held_.begin(), held_.end(), full.begin(), full.end()).first - held_.begin());
        if (common == held_.size()) return;
        while (marks_.size() > 1 && marks_.back().second > common) marks_.pop_back();
        session_.truncate(std::min(marks_.back().first, session_.position()));
        held_.resize(marks_.back().second);
    }

    static std::string netstring(std::string_view s) { return std::to_string(s.size()) + ":" + std::string(s) + "\n"; }

    struct Reader {
        const std::string& path;
        std::string_view rest;
        Error bad(const std::string& why) const { return Error(ErrorCode::bad_format, path + ": " + why); }
        std::string_view next() {
            if (rest.empty()) throw bad("truncated");
            const size_t colon = rest.find(':');
            if (colon == std::string_view::npos || colon == 0 || colon > 20) throw bad("not a saved nibble-chat conversation");
            const size_t length = number(rest.substr(0, colon));
            if (length > rest.size() - colon - 1 || rest.size() - colon - 1 - length < 1 || rest[colon + 1 + length] != '\n') {
                throw bad("truncated or damaged");
            }
            const std::string_view field = rest.substr(colon + 1, length);
            rest.remove_prefix(colon + 2 + length);
            return field;
        }
        size_t number(std::string_view text) const {
            size_t v = 0;
            const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (ec != std::errc() || ptr != text.data() + text.size()) throw bad("damaged (a count is not a number)");
            return v;
        }
    };

    Session& session_;
    ChatTemplate template_;
    std::string system_;
    std::vector<ChatMessage> messages_;
    std::string held_;
    std::vector<std::pair<uint32_t, size_t>> marks_;  ///< (tokens, bytes of held_ they stand for), first (0, 0)
    std::vector<Token> stop_tokens_;
};

}  // namespace nibble::chat
