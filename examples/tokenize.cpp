// nibble-tokenize: the token ids (or pieces) of a text, as llama-tokenize prints them.
// Reads only the vocabulary (Tokenizer::load), so vocabulary-only GGUF files work.
#include <iostream>

#include <nibble/nibble.hpp>

#include "cli.hpp"

int main(int argc, char** argv) {
    using namespace nibble;
    const std::string program = "nibble-tokenize";
    CLI::App app("Prints the tokens of a text: by default one \"id -> 'piece'\" line per token, as llama-tokenize does.");
    cli::setup(app, program);
    std::string model_path, tokenizer_path;
    cli::TextInput input;
    bool ids_only = false, pieces = false, no_bos = false, bos = false, show_count = false;
    cli::add_model(app, model_path, true, "model or vocabulary-only file (GGUF, 2023 .bin, llama2.c)");
    cli::add_text_input(app, input, "text to tokenize");
    auto* ids_flag = app.add_flag("--ids", ids_only, "print only the ids, as a list: [1, 15043, 3186]");
    app.add_flag("--pieces", pieces, "print only the vocabulary entries, space-separated on one line")->excludes(ids_flag);
    auto* no_bos_flag = app.add_flag("--no-bos", no_bos, "do not prepend BOS (prepended where the vocabulary asks for it: tokenizer.ggml.add_bos_token)");
    app.add_flag("--bos", bos, "prepend BOS whatever the vocabulary")->excludes(no_bos_flag);
    app.add_flag("--show-count", show_count, "print the number of tokens at the end");
    app.add_option("--tokenizer", tokenizer_path, "tokenizer of a llama2.c checkpoint")->check(cli::regular_file());
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    return cli::run(program, [&]() -> int {
        if (!input.given()) throw cli::UsageError("give the text with -p TEXT or -f FILE");
        const std::string text = input.resolve();
        const Tokenizer tokenizer = tokenizer_path.empty()
                                        ? Tokenizer::load(model_path)
                                        : Model::load(model_path, {.tokenizer_path = tokenizer_path}).tokenizer();
        // BOS where the vocabulary uses one (tokenizer.ggml.add_bos_token), as llama-tokenize.
        auto ids = tokenizer.encode(text, {.add_bos = !no_bos});
        if (bos && tokenizer.bos() >= 0 && (ids.empty() || ids.front() != tokenizer.bos())) ids.insert(ids.begin(), tokenizer.bos());
        if (ids_only) {
            std::cout << '[';
            for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? ", " : "") << ids[i];
            std::cout << "]\n";
        } else if (pieces) {
            for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << tokenizer.token_text(ids[i]);
            std::cout << '\n';
        } else {
            for (const Token id : ids) std::cout << std::setw(6) << id << " -> '" << tokenizer.piece(id) << "'\n";
        }
        if (show_count) std::cout << "Total number of tokens: " << ids.size() << '\n';
        return 0;
    });
}
