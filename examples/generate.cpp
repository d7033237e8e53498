// nibble-generate: text generation from the command line, flags in llama.cpp's style.
// Ctrl-C stops generation, prints the timings and exits 130 (a second Ctrl-C kills);
// during loading it cancels the load (exit 130).
#include <atomic>
#include <climits>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nibble/nibble.hpp>

#include "cli.hpp"
#include "default_model.hpp"

namespace {

/// --prompt-cache: loads the saved state when there is one and keeps the part of it the
/// prompt shares; returns the prompt tokens still to evaluate.
std::span<const nibble::Token> resume_prompt_cache(nibble::Session& session, const std::string& path,
                                                   std::span<const nibble::Token> prompt) {
    if (!std::filesystem::exists(path)) {
        std::fprintf(stderr, "nibble-generate: prompt cache %s: none yet; it will hold this prompt\n", path.c_str());
        return prompt;
    }
    try {
        session.load_state(path);
    } catch (const nibble::Error& e) {
        std::fprintf(stderr, "nibble-generate: prompt cache not used: %s\n", e.what());
        session.reset();
        return prompt;
    }
    const auto held = session.tokens();
    size_t same = 0;
    while (same < held.size() && same < prompt.size() && held[same] == prompt[same]) ++same;
    session.truncate(static_cast<uint32_t>(same));
    std::fprintf(stderr, "nibble-generate: prompt cache %s: %zu of %zu prompt tokens from the cache, %zu to evaluate\n",
                 path.c_str(), same, prompt.size(), prompt.size() - same);
    return prompt.subspan(same);
}

/// --tokens "1 2 3": ids 0..2^31-1, at least one; anything else is a usage error.
std::vector<nibble::Token> parse_ids(const std::string& text) {
    std::vector<nibble::Token> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        uint64_t v = 0;
        const auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
        if (ec != std::errc() || ptr != word.data() + word.size() || v > static_cast<uint64_t>(INT32_MAX)) {
            throw nibble::cli::UsageError("--tokens: '" + word + "' is not a token id (0 to 2147483647)");
        }
        ids.push_back(static_cast<nibble::Token>(v));
    }
    if (ids.empty()) throw nibble::cli::UsageError("--tokens: no ids given");
    return ids;
}

// llama.cpp's closing summary: load, prompt eval and eval, in ms per token and tokens/s.
void print_timings(double load_s, const nibble::GenerateResult& r, double total_s) {
    auto line = [](const char* what, double seconds, size_t n, const char* unit) {
        const double ms = seconds * 1e3;
        std::fprintf(stderr, "nibble-generate: %16s = %10.2f ms / %5zu %-6s (%8.2f ms per token, %8.2f tokens per second)\n",
                     what, ms, n, unit, n ? ms / static_cast<double>(n) : 0.0,
                     seconds > 0 ? static_cast<double>(n) / seconds : 0.0);
    };
    std::fprintf(stderr, "\nnibble-generate: %16s = %10.2f ms\n", "load time", load_s * 1e3);
    line("prompt eval time", r.prompt_seconds, r.prompt.size(), "tokens");
    line("eval time", r.generate_seconds, r.generated.size(), "runs");
    std::fprintf(stderr, "nibble-generate: %16s = %10.2f ms / %5zu tokens\n", "total time", total_s * 1e3,
                 r.prompt.size() + r.generated.size());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace nibble;
    const std::string program = "nibble-generate";
    CLI::App app("Generates text from a prompt. With no -m, the built-in stories260K model.");
    cli::setup(app, program);
    std::string model_path, tokenizer_path, tokens_text, dump_path;
    cli::TextInput prompt;
    prompt.text = "Once upon a time";
    cli::SessionFlags session_flags;
    cli::SamplingFlags sampling;
    int n_predict = 256;
    bool print_ids = false, ignore_eos = false;
    cli::add_model(app, model_path, false, "GGUF, 2023 .bin or llama2.c file (default: the built-in stories260K)");
    cli::add_text_input(app, prompt, "prompt text");
    app.add_option("-n,--n-predict", n_predict, "tokens to generate (-1 = until end of sequence or a full context; 0 = "
                                                "evaluate the prompt only)")
        ->check(CLI::Range(-1, static_cast<int>(cli::max_context)));
    cli::add_session_flags(app, session_flags);
    cli::add_sampling_flags(app, sampling);
    app.add_option("--tokenizer", tokenizer_path, "tokenizer of a llama2.c checkpoint (default: tok<N>.bin or "
                                                  "tokenizer.bin beside it)")
        ->check(cli::regular_file());
    auto* tokens_option = app.add_option("--tokens", tokens_text, "feed these ids (\"1 403 407\") as the prompt instead "
                                                                  "of text (no BOS added)");
    tokens_option->excludes(prompt.file_option);
    app.add_flag("--print-ids", print_ids, "print the generated ids on a last line of stdout");
    app.add_flag("--ignore-eos", ignore_eos, "keep generating past the end-of-sequence token");
    app.add_option("--dump-logits", dump_path, "write the logits of every prompt position as float32 [n_prompt][n_vocab]");
    bool context_shift = false;
    uint32_t n_keep = 0;
    std::string prompt_cache;
    app.add_flag("--context-shift", context_shift, "when the context fills, keep --keep tokens, drop half of the rest "
                                                   "and go on (default: stop with a message)");
    app.add_option("--keep", n_keep, "tokens from the start of the prompt a context shift keeps (BOS always)")
        ->check(CLI::Range(0u, cli::max_context));
    app.add_option("--prompt-cache", prompt_cache, "file for the evaluated prompt: saved on the first run, loaded on "
                                                   "later ones, which evaluate only what is new")
        ->excludes("--dump-logits");
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    return cli::run(program, [&]() -> int {
        const auto start = std::chrono::steady_clock::now();
        std::vector<Token> ids;
        if (!tokens_text.empty() || tokens_option->count() > 0) ids = parse_ids(tokens_text);
        const std::string text = prompt.resolve();

        cli::install_interrupt_handler(true);  // Ctrl-C while loading cancels the load, exit 130
        const auto t0 = std::chrono::steady_clock::now();
        Model model = model_path.empty() ? Model::load_from_memory(nibble_default_model(), "built-in stories260K.gguf")
                                         : cli::load_model(model_path, session_flags.no_mmap, session_flags.mlock,
                                                           tokenizer_path, &cli::interrupted);
        const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        SessionOptions session_options = session_flags.session();
        session_options.on_full = context_shift ? ContextPolicy::shift : ContextPolicy::stop;
        session_options.n_keep = n_keep;
        Session session(model, session_options);
        cli::interrupted_session.store(&session);
        struct Unregister {
            ~Unregister() { cli::interrupted_session.store(nullptr); }
        } unregister;
        if (ids.empty() && !prompt_cache.empty()) ids = model.tokenizer().encode(text, {.add_bos = true});
        const bool print_prompt = !text.empty() && tokens_text.empty() && tokens_option->count() == 0;
        std::span<const Token> to_evaluate(ids);
        if (!prompt_cache.empty()) to_evaluate = resume_prompt_cache(session, prompt_cache, ids);

        GenerateOptions gen;
        gen.sampling = sampling.options;
        gen.sampling.seed = sampling.seed >= 0 ? static_cast<uint64_t>(sampling.seed) : std::random_device{}();
        gen.sampling.repeat_last_n =
            sampling.repeat_last_n < 0 ? static_cast<int>(session.context_length()) : sampling.repeat_last_n;
        // -1: until end of sequence, a full context, or (shifting) Ctrl-C.
        gen.max_tokens = n_predict >= 0 ? n_predict : context_shift ? INT_MAX : static_cast<int>(session.context_length());
        gen.stop_at_eos = !ignore_eos;
        gen.keep_prompt_logits = !dump_path.empty();

        auto print_piece = [](std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            return !cli::interrupted.load();
        };
        GenerateResult result;
        if (print_prompt) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
        }
        if (!prompt_cache.empty()) {
            // The prompt first, saved, then the generation.
            GenerateOptions prompt_only = gen;
            prompt_only.max_tokens = 0;
            result = session.generate(to_evaluate, prompt_only);
            if (result.stop != GenerateResult::Stop::cancelled) {
                session.save_state(prompt_cache);
                const double prompt_s = result.prompt_seconds;
                result = session.generate(std::span<const Token>(), gen, print_piece);
                result.prompt.assign(to_evaluate.begin(), to_evaluate.end());
                result.prompt_seconds = prompt_s;
            }
        } else if (!ids.empty()) {
            result = session.generate(std::span<const Token>(ids), gen, print_piece);
        } else {
            result = session.generate(text, gen, print_piece);
        }
        std::printf("\n");
        std::fflush(stdout);
        if (result.stop == GenerateResult::Stop::context_full) {
            std::fprintf(stderr, "nibble-generate: the context of %u tokens is full: stopped after %zu tokens "
                                 "(--context-shift goes on, -c sets a larger context)\n",
                         session.context_length(), result.generated.size());
        }
        if (result.shifts > 0) std::fprintf(stderr, "nibble-generate: context shifted %u times\n", result.shifts);
        if (print_ids) {
            for (size_t i = 0; i < result.generated.size(); ++i) std::printf(i ? " %d" : "%d", result.generated[i]);
            std::printf("\n");
        }
        std::fflush(stdout);
        if (!dump_path.empty()) {
            std::ofstream out(dump_path, std::ios::binary);
            out.write(reinterpret_cast<const char*>(result.prompt_logits.data()),
                      static_cast<std::streamsize>(result.prompt_logits.size() * sizeof(float)));
            if (!out) throw Error(ErrorCode::io, dump_path + ": cannot write the logits");
        }
        const auto& info = model.info();
        std::fprintf(stderr, "\nnibble-generate: model %s (%s %s, %s kernels)", info.name.c_str(), info.container.c_str(),
                     info.architecture.c_str(), info.kernels.c_str());
        print_timings(load_s, result, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (cli::interrupted.load()) {
            std::fprintf(stderr, "nibble-generate: interrupted\n");
            return 130;
        }
        return 0;
    });
}
