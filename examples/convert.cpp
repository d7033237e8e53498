// nibble-convert: rewrite any model file nibble reads (GGUF v1-v3, 2023 legacy files,
// llama2.c checkpoints) as a GGUF v3 file; tensors keep their bytes except where an
// old block encoding was converted to the current one on reading.
#include <iostream>

#include "formats/gguf.hpp"
#include "formats/open.hpp"
#include "nibble/error.hpp"

int main(int argc, char** argv) {
    std::string in, out, tokenizer;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--tokenizer" && i + 1 < argc) tokenizer = argv[++i];
        else if (in.empty()) in = a;
        else if (out.empty()) out = a;
        else in.clear(), i = argc;
    }
    if (in.empty() || out.empty()) {
        std::cerr << "usage: nibble-convert INPUT OUTPUT.gguf [--tokenizer tok512.bin]\n";
        return 2;
    }
    try {
        using namespace nibble::formats;
        const auto file = MappedFile::open(in);
        const auto directory = read_model_file(file, tokenizer);
        if (!directory->metadata.contains("tokenizer.ggml.tokens")) {
            std::cerr << "nibble-convert: warning: " << in << " has no tokenizer; the output will have none\n";
        }
        GgufWriter writer(3);
        writer.add_all(*directory);
        writer.write(out);
        std::cerr << "wrote " << out << ": " << directory->tensors().size() << " tensors, "
                  << directory->metadata.size() << " metadata keys\n";
    } catch (const nibble::Error& e) {
        std::cerr << "nibble-convert: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
