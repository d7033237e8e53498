// nibble-convert: rewrite any model file nibble reads (GGUF v1-v3, 2023 legacy files,
// llama2.c checkpoints) as a GGUF v3 file; tensors keep their bytes except where an
// old block encoding was converted to the current one on reading.
#include <iostream>

#include "formats/gguf.hpp"
#include "formats/open.hpp"
#include "cli.hpp"
#include "nibble/error.hpp"

int main(int argc, char** argv) {
    const std::string program = "nibble-convert";
    CLI::App app("Rewrites any model file nibble reads as a GGUF v3 file (tensors keep their bytes).");
    nibble::cli::setup(app, program);
    std::string in, out, tokenizer;
    app.add_option("INPUT", in, "GGUF v1-v3, 2023 .bin file or llama2.c checkpoint")->required()->check(nibble::cli::regular_file());
    app.add_option("OUTPUT", out, "the GGUF file to write")->required();
    app.add_option("--tokenizer", tokenizer, "tokenizer of a llama2.c checkpoint (tok512.bin ...)")->check(nibble::cli::regular_file());
    if (auto rc = nibble::cli::parse(app, argc, argv)) return *rc;
    return nibble::cli::run(program, [&]() -> int {
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
        return 0;
    });
}
