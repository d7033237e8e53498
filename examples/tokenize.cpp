// nibble-tokenize: print the token ids (or pieces) of a text.
#include <fstream>
#include <iostream>
#include <sstream>

#include <nibble/nibble.hpp>

#include "cli.hpp"

int main(int argc, char** argv) {
    std::string model_path, text, file, tokenizer_path;
    bool have_text = false, bos = false, pieces = false;
    try {
        nibble::cli::Args args(argc, argv);
        while (!args.done()) {
            const std::string_view a = args.next();
            if (a == "-m" || a == "--model") model_path = args.value(a);
            else if (a == "-p" || a == "--prompt") { text = args.value(a); have_text = true; }
            else if (a == "-f" || a == "--file") file = args.value(a);
            else if (a == "--bos") bos = true;
            else if (a == "--pieces") pieces = true;
            else if (a == "--tokenizer") tokenizer_path = args.value(a);
            else throw std::invalid_argument("unknown option '" + std::string(a) + "'");
        }
        if (model_path.empty() || (have_text == !file.empty())) {
            throw std::invalid_argument("need -m MODEL and one of -p TEXT or -f FILE");
        }
    } catch (const std::exception& e) {
        std::cerr << "nibble-tokenize: " << e.what()
                  << "\nusage: nibble-tokenize -m MODEL (-p TEXT | -f FILE) [--bos] [--pieces] [--tokenizer FILE]\n";
        return 2;
    }
    try {
        if (!file.empty()) {
            std::ifstream in(file, std::ios::binary);
            if (!in) throw nibble::Error(nibble::ErrorCode::io, file + ": cannot open");
            std::ostringstream buffer;
            buffer << in.rdbuf();
            text = buffer.str();
        }
        const auto model = nibble::Model::load(model_path, {.tokenizer_path = tokenizer_path});
        const auto ids = model.tokenizer().encode(text, {.add_bos = bos});
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i) std::cout << ' ';
            if (pieces) std::cout << model.tokenizer().token_text(ids[i]);
            else std::cout << ids[i];
        }
        std::cout << '\n';
    } catch (const nibble::Error& e) {
        std::cerr << "nibble-tokenize: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
