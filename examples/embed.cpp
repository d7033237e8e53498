// nibble-embed: the embedding of a text, as llama.cpp's llama-embedding gives it: the
// final hidden states pooled (mean or last token) and L2-normalised, one line of numbers.
#include <cstdio>

#include <nibble/nibble.hpp>

#include "cli.hpp"

int main(int argc, char** argv) {
    using namespace nibble;
    const std::string program = "nibble-embed";
    CLI::App app("Prints the embedding of a text: the model's final hidden states, pooled and L2-normalised.");
    cli::setup(app, program);
    std::string model_path, pooling_name = "mean";
    cli::TextInput input;
    cli::SessionFlags session_flags;
    bool json = false;
    cli::add_model(app, model_path, true, "GGUF, 2023 .bin or llama2.c file");
    cli::add_text_input(app, input, "the text to embed");
    cli::add_session_flags(app, session_flags);
    app.add_option("--pooling", pooling_name, "mean (default) or last (the last token's state)")
        ->check(CLI::IsMember({"mean", "last"}));
    app.add_flag("--json", json, "print {\"embedding\": [...], \"n_tokens\": N} instead of a line of numbers");
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    return cli::run(program, [&]() -> int {
        if (!input.given()) throw cli::UsageError("give the text with -p TEXT or -f FILE");
        const std::string text = input.resolve();
        const Model model = cli::load_model(model_path, session_flags.no_mmap, session_flags.mlock);
        const auto ids = model.tokenizer().encode(text, {.add_bos = model.tokenizer().bos() >= 0});
        if (ids.empty()) throw cli::UsageError("the text is empty and the model has no BOS token");
        SessionOptions options = session_flags.session();
        if (options.context_length == 0) options.context_length = static_cast<uint32_t>(std::max<size_t>(ids.size(), 1));
        Session session(model, options);
        const auto vector = session.embed(ids, pooling_name == "last" ? Pooling::last : Pooling::mean);
        if (json) std::printf("{\"n_tokens\": %zu, \"embedding\": [", ids.size());
        for (size_t i = 0; i < vector.size(); ++i) std::printf(i ? (json ? ", %.9g" : " %.9g") : "%.9g", double{vector[i]});
        std::printf(json ? "]}\n" : "\n");
        return 0;
    });
}
