// nibble-generate: text generation from the command line, flags in llama.cpp's style.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <nibble/nibble.hpp>

#include "cli.hpp"
#include "default_model.hpp"

namespace {

void usage() {
    std::cerr << "usage: nibble-generate [-m MODEL] [-p PROMPT] [-n N] [options]\n"
                 "  -m MODEL            GGUF file or llama2.c checkpoint (default: the built-in stories260K)\n"
                 "  -p PROMPT           prompt text (default: \"Once upon a time\")\n"
                 "  -n N                tokens to generate (default 256; 0 = evaluate the prompt only)\n"
                 "  --temp T            temperature (default 0.8; 0 = greedy)\n"
                 "  --top-k K           (default 40; 0 = off)\n"
                 "  --top-p P           (default 0.95; 1 = off)\n"
                 "  --min-p P           (default 0.05; 0 = off)\n"
                 "  --repeat-penalty R  (default 1.0 = off)   --repeat-last-n N (default 64)\n"
                 "  --seed S            (default: random)\n"
                 "  -t THREADS          (default: all cores)   -c CONTEXT   -b BATCH\n"
                 "  --tokenizer FILE    tokenizer of a llama2.c checkpoint (default: tok<N>.bin or tokenizer.bin beside it)\n"
                 "  --tokens \"1 2 3\"    feed these ids as the prompt instead of text (no BOS added)\n"
                 "  --print-ids         print the generated ids on a last line of stdout\n"
                 "  --ignore-eos        keep generating past the end-of-sequence token\n"
                 "  --dump-logits FILE  write the logits of every prompt position as float32 [n_prompt][n_vocab]\n";
}

std::vector<nibble::Token> parse_ids(const std::string& text) {
    std::vector<nibble::Token> ids;
    std::istringstream in(text);
    long long v = 0;
    while (in >> v) ids.push_back(static_cast<nibble::Token>(v));
    if (!in.eof()) throw std::invalid_argument("--tokens: '" + text + "' is not a list of integers");
    return ids;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path, prompt = "Once upon a time", tokens_text, dump_path, tokenizer_path;
    bool have_tokens = false, print_ids = false, seed_given = false;
    nibble::GenerateOptions gen;
    gen.max_tokens = 256;
    nibble::SessionOptions session_options;
    try {
        nibble::cli::Args args(argc, argv);
        while (!args.done()) {
            const std::string_view a = args.next();
            if (a == "-m" || a == "--model") model_path = args.value(a);
            else if (a == "-p" || a == "--prompt") prompt = args.value(a);
            else if (a == "-n" || a == "--n-predict") gen.max_tokens = args.int_value(a);
            else if (a == "--temp") gen.sampling.temperature = args.float_value(a);
            else if (a == "--top-k") gen.sampling.top_k = args.int_value(a);
            else if (a == "--top-p") gen.sampling.top_p = args.float_value(a);
            else if (a == "--min-p") gen.sampling.min_p = args.float_value(a);
            else if (a == "--repeat-penalty") gen.sampling.repeat_penalty = args.float_value(a);
            else if (a == "--repeat-last-n") gen.sampling.repeat_last_n = args.int_value(a);
            else if (a == "--seed" || a == "-s") {
                const long long s = args.long_value(a);
                seed_given = s >= 0;
                gen.sampling.seed = static_cast<uint64_t>(s);
            }
            else if (a == "-t" || a == "--threads") session_options.threads = args.int_value(a);
            else if (a == "-c" || a == "--ctx-size") session_options.context_length = static_cast<uint32_t>(args.int_value(a));
            else if (a == "-b" || a == "--batch-size") session_options.batch_size = static_cast<uint32_t>(args.int_value(a));
            else if (a == "--tokenizer") tokenizer_path = args.value(a);
            else if (a == "--tokens") { tokens_text = args.value(a); have_tokens = true; }
            else if (a == "--print-ids") print_ids = true;
            else if (a == "--ignore-eos") gen.stop_at_eos = false;
            else if (a == "--dump-logits") dump_path = args.value(a);
            else if (a == "-h" || a == "--help") { usage(); return 0; }
            else throw std::invalid_argument("unknown option '" + std::string(a) + "'");
        }
        if (gen.max_tokens < 0) throw std::invalid_argument("-n must be >= 0");
    } catch (const std::exception& e) {
        std::cerr << "nibble-generate: " << e.what() << "\n";
        usage();
        return 2;
    }
    if (!seed_given) gen.sampling.seed = std::random_device{}();

    try {
        const auto t0 = std::chrono::steady_clock::now();
        nibble::Model model = model_path.empty()
                                  ? nibble::Model::load_from_memory(nibble_default_model(), "built-in stories260K.gguf")
                                  : nibble::Model::load(model_path, {.tokenizer_path = tokenizer_path});
        const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        nibble::Session session(model, session_options);
        gen.keep_prompt_logits = !dump_path.empty();

        auto print_piece = [](std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            return true;
        };
        nibble::GenerateResult result;
        if (have_tokens) {
            const auto ids = parse_ids(tokens_text);
            if (ids.empty()) throw nibble::Error(nibble::ErrorCode::invalid_argument, "--tokens: no ids given");
            result = session.generate(std::span<const nibble::Token>(ids), gen, print_piece);
        } else {
            std::fwrite(prompt.data(), 1, prompt.size(), stdout);
            result = session.generate(prompt, gen, print_piece);
        }
        std::printf("\n");
        if (print_ids) {
            for (size_t i = 0; i < result.generated.size(); ++i) std::printf(i ? " %d" : "%d", result.generated[i]);
            std::printf("\n");
        }
        if (!dump_path.empty()) {
            std::ofstream out(dump_path, std::ios::binary);
            out.write(reinterpret_cast<const char*>(result.prompt_logits.data()),
                      static_cast<std::streamsize>(result.prompt_logits.size() * sizeof(float)));
            if (!out) throw nibble::Error(nibble::ErrorCode::io, dump_path + ": cannot write the logits");
        }
        const auto& info = model.info();
        std::fprintf(stderr, "\nmodel: %s (%s %s), load %.1f ms\n", info.name.c_str(), info.container.c_str(),
                     info.architecture.c_str(), load_s * 1e3);
        std::fprintf(stderr, "prompt: %zu tokens, %.1f tokens/s\n", result.prompt.size(),
                     result.prompt_seconds > 0 ? static_cast<double>(result.prompt.size()) / result.prompt_seconds : 0.0);
        std::fprintf(stderr, "generation: %zu tokens, %.1f tokens/s\n", result.generated.size(),
                     result.generate_seconds > 0 ? static_cast<double>(result.generated.size()) / result.generate_seconds : 0.0);
    } catch (const nibble::Error& e) {
        std::cerr << "nibble-generate: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
