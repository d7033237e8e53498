// nibble-chat: a conversation with a chat model on the command line.
//
// Each line is a user turn; the reply streams back and the conversation continues
// (the Session keeps it; only the new text is evaluated). Commands: /reset, /save FILE,
// /load FILE, /quit. Ctrl-C stops a reply and returns to the prompt; Ctrl-C at the
// prompt, or the end of input, exits 0. With stdin not a terminal there is no prompt:
// one user turn per line, each reply printed followed by an empty line.
//
// The chat template: --chat-template NAME, else the one the model file names (an
// unrecognised one is an error that lists the known names), else chatml for a GGUF
// file without one (as llama.cpp does) and gpt4all for the 2023 .bin files, which
// never carried one.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <optional>
#include <random>
#include <string>

#include <nibble/nibble.hpp>

#include "chat_conversation.hpp"
#include "cli.hpp"

namespace {

/// A line of stdin without its line break; nothing at the end of input or after Ctrl-C.
std::optional<std::string> read_line() {
    static std::string buffered;
    for (;;) {
        if (const size_t end = buffered.find('\n'); end != std::string::npos) {
            std::string line = buffered.substr(0, end);
            buffered.erase(0, end + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            return line;
        }
        // Polled, not a blocking read: a Ctrl-C that lands just before the read would
        // otherwise leave it waiting for a line.
        if (nibble::cli::interrupted.load()) return std::nullopt;
        struct pollfd input {STDIN_FILENO, POLLIN, 0};
        const int ready = ::poll(&input, 1, 100);
        if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
        char chunk[4096];
        const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (buffered.empty()) return std::nullopt;
            return std::exchange(buffered, {});
        }
        buffered.append(chunk, static_cast<size_t>(n));
    }
}

void print(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

nibble::ChatTemplate choose_template(const nibble::Model& model, const std::string& name) {
    if (name.empty() && model.info().chat_template.empty()) {
        const std::string fallback = model.info().container == "GGUF" ? "chatml" : "gpt4all";
        std::fprintf(stderr, "nibble-chat: the model names no chat template; using %s (--chat-template chooses another)\n",
                     fallback.c_str());
        return nibble::ChatTemplate::named(fallback);
    }
    try {
        return nibble::ChatTemplate::for_model(model, name);
    } catch (const nibble::Error& e) {
        if (e.code() != nibble::ErrorCode::unsupported) throw;
        throw nibble::Error(e.code(), std::string(e.what()) + " with --chat-template");
    }
}

/// A command line starting with '/': true when the program should end.
bool run_command(nibble::chat::Conversation& chat, const std::string& line) {
    const size_t space = line.find(' ');
    const std::string command = line.substr(0, space);
    const std::string argument = space == std::string::npos ? "" : line.substr(space + 1);
    if (command == "/quit" || command == "/exit") return true;
    try {
        if (command == "/reset") {
            chat.reset();
            std::fprintf(stderr, "nibble-chat: a new conversation\n");
        } else if ((command == "/save" || command == "/load") && argument.empty()) {
            std::fprintf(stderr, "nibble-chat: %s needs a FILE\n", command.c_str());
        } else if (command == "/save") {
            chat.save(argument);
            std::fprintf(stderr, "nibble-chat: saved %zu messages to %s\n", chat.messages().size(), argument.c_str());
        } else if (command == "/load") {
            chat.load(argument);
            std::fprintf(stderr, "nibble-chat: loaded %zu messages (template %s) from %s\n", chat.messages().size(),
                         chat.chat_template().name().c_str(), argument.c_str());
        } else {
            std::fprintf(stderr, "nibble-chat: unknown command %s (commands: /reset, /save FILE, /load FILE, /quit)\n",
                         command.c_str());
        }
    } catch (const nibble::Error& e) {
        std::fprintf(stderr, "nibble-chat: %s: %s\n", command.c_str(), e.what());
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace nibble;
    const std::string program = "nibble-chat";
    CLI::App app("Chats with a model: one user turn per line, replies streamed, the conversation kept.\n"
                 "Commands: /reset, /save FILE, /load FILE, /quit. Ctrl-C stops a reply.");
    cli::setup(app, program);
    std::string model_path, template_name, system;
    cli::SessionFlags session_flags;
    cli::SamplingFlags sampling;
    int n_predict = 256;
    bool ignore_eos = false;
    cli::add_model(app, model_path, true, "GGUF or 2023 .bin model file");
    std::string names;
    for (const auto& n : ChatTemplate::known_names()) names += (names.empty() ? "" : ", ") + n;
    app.add_option("--chat-template", template_name, "chat format: " + names + " (default: the model's)")
        ->check(CLI::Validator(
            [](std::string& name) -> std::string {
                try {
                    ChatTemplate::named(name);
                    return {};
                } catch (const Error& e) {
                    return e.what();
                }
            },
            "NAME"));
    app.add_option("--system", system, "system message opening the conversation");
    app.add_option("-n,--n-predict", n_predict, "most tokens per reply (-1 = until the end of the turn or a full context)")
        ->check(CLI::Range(-1, static_cast<int>(cli::max_context)));
    cli::add_session_flags(app, session_flags);
    cli::add_sampling_flags(app, sampling);
    app.add_flag("--ignore-eos", ignore_eos, "go on past end-of-sequence and end-of-turn tokens (for testing)");
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    return cli::run(program, [&]() -> int {
        cli::install_interrupt_handler(false);  // Ctrl-C while loading cancels the load, exit 130
        Model model = cli::load_model(model_path, session_flags.no_mmap, session_flags.mlock, {}, &cli::interrupted);
        Session session(model, session_flags.session());
        chat::Conversation chat(session, choose_template(model, template_name), system);

        GenerateOptions options;
        options.sampling = sampling.options;
        options.sampling.seed = sampling.seed >= 0 ? static_cast<uint64_t>(sampling.seed) : std::random_device{}();
        options.sampling.repeat_last_n =
            sampling.repeat_last_n < 0 ? static_cast<int>(session.context_length()) : sampling.repeat_last_n;
        options.max_tokens = n_predict >= 0 ? n_predict : static_cast<int>(session.context_length());
        options.stop_at_eos = !ignore_eos;

        const bool terminal = ::isatty(STDIN_FILENO) == 1;
        if (terminal) {
            std::fprintf(stderr, "nibble-chat: chat template %s; /reset, /save FILE, /load FILE, /quit; Ctrl-C stops a "
                                 "reply, at the prompt it quits\n", chat.chat_template().name().c_str());
        }
        for (;;) {
            cli::interrupted.store(false);
            if (terminal) print("> ");
            const auto line = read_line();
            if (!line) {
                if (terminal) print("\n");
                return 0;
            }
            if (line->empty()) continue;
            if (line->front() == '/') {
                if (run_command(chat, *line)) return 0;
                continue;
            }
            bool started = false;  // the reply's leading spaces are not printed
            auto print_reply = [&](std::string_view text) {
                if (!started) {
                    while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
                    if (text.empty()) return;
                    started = true;
                }
                print(text);
            };
            chat::Reply reply;
            cli::interrupted_session.store(&session);
            try {
                reply = chat.respond(*line, options, print_reply);
            } catch (const Error& e) {
                cli::interrupted_session.store(nullptr);
                if (e.code() != ErrorCode::out_of_range) throw;
                std::fprintf(stderr, "nibble-chat: %s; /reset starts a new conversation (-c sets a larger context)\n", e.what());
                continue;
            }
            cli::interrupted_session.store(nullptr);
            print("\n\n");
            if (reply.stop == GenerateResult::Stop::context_full) {
                std::fprintf(stderr, "nibble-chat: the context of %u tokens is full; /reset starts a new conversation\n",
                             session.context_length());
            }
            if (reply.rolled_back) std::fprintf(stderr, "nibble-chat: stopped before the reply began; the turn is dropped\n");
        }
    });
}
