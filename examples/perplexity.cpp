// nibble-perplexity: how well a model predicts a text, and how far a quantized model's
// token distributions are from a reference model's (KL divergence).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nibble/nibble.hpp>

#include "cli.hpp"

namespace {

// log-softmax of one row of logits, in double.
std::vector<double> log_probs(std::span<const float> logits) {
    double max = -INFINITY;
    for (float l : logits) max = std::max(max, static_cast<double>(l));
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
    const double log_sum = max + std::log(sum);
    std::vector<double> out(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace nibble;
    const std::string program = "nibble-perplexity";
    CLI::App app("Perplexity of a model on a text, and the KL divergence from a reference model. Scores the second "
                 "half of each CONTEXT-token chunk, as llama.cpp's perplexity does.");
    cli::setup(app, program);
    std::string model_path, text_path, base_path;
    uint32_t context = 128;
    cli::Threads threads;
    bool no_mmap = false, mlock = false;
    cli::add_model(app, model_path, true);
    app.add_option("-f,--file", text_path, "the text to score (a regular file, at most 64 MiB)")
        ->required()
        ->check(cli::regular_file());
    app.add_option("-c,--ctx-size", context, "tokens per chunk")->check(CLI::Range(4u, cli::max_context));
    cli::add_threads(app, threads);
    cli::CacheTypes cache;
    cli::add_cache_types(app, cache);
    cli::add_load_flags(app, no_mmap, mlock);
    app.add_option("--kl-base", base_path, "reference model (the same vocabulary) for the KL divergence")
        ->check(cli::regular_file());
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    return cli::run(program, [&]() -> int {
        const std::string text = cli::read_text_file(text_path, "--file");
        const Model model = cli::load_model(model_path, no_mmap, mlock);
        SessionOptions session_options{.context_length = context,
                                       .threads = threads.threads,
                                       .batch_threads = threads.batch > 0 ? threads.batch : threads.threads,
                                       .batch_size = context};
        cache.apply(session_options);
        const auto tokens = model.tokenizer().encode(text, {.add_bos = true});
        const size_t chunks = tokens.size() / context;
        if (chunks == 0) throw nibble::Error(nibble::ErrorCode::invalid_argument, "the text is shorter than one context");
        std::optional<nibble::Model> base;
        if (!base_path.empty()) {
            base = cli::load_model(base_path, no_mmap, false);
            if (base->info().n_vocab != model.info().n_vocab) {
                throw nibble::Error(nibble::ErrorCode::invalid_argument, "the reference model has another vocabulary");
            }
        }
        double nll = 0, kl = 0;
        size_t scored = 0, same_top = 0;
        const size_t n_vocab = model.info().n_vocab;
        for (size_t c = 0; c < chunks; ++c) {
            std::vector<nibble::Token> chunk(tokens.begin() + static_cast<ptrdiff_t>(c * context),
                                             tokens.begin() + static_cast<ptrdiff_t>((c + 1) * context));
            chunk[0] = model.tokenizer().bos();  // every chunk starts a document
            nibble::Session session(model, session_options);
            const auto logits = session.eval(chunk, true);
            std::vector<float> base_logits;
            if (base) {
                nibble::Session base_session(*base, session_options);
                const auto b = base_session.eval(chunk, true);
                base_logits.assign(b.begin(), b.end());
            }
            for (size_t i = context / 2; i + 1 < context; ++i) {
                const auto lp = log_probs(logits.subspan(i * n_vocab, n_vocab));
                nll -= lp[static_cast<size_t>(chunk[i + 1])];
                ++scored;
                if (base) {
                    const auto bp = log_probs(std::span<const float>(base_logits).subspan(i * n_vocab, n_vocab));
                    size_t top = 0, base_top = 0;
                    for (size_t v = 0; v < n_vocab; ++v) {
                        kl += std::exp(bp[v]) * (bp[v] - lp[v]);
                        if (lp[v] > lp[top]) top = v;
                        if (bp[v] > bp[base_top]) base_top = v;
                    }
                    same_top += top == base_top;
                }
            }
            std::fprintf(stderr, "[%zu/%zu] running perplexity %.4f\n", c + 1, chunks, std::exp(nll / static_cast<double>(scored)));
        }
        std::printf("model: %s\ntokens: %zu in %zu chunks of %u, %zu scored\n", model_path.c_str(), tokens.size(), chunks,
                    context, scored);
        std::printf("perplexity: %.4f\n", std::exp(nll / static_cast<double>(scored)));
        if (base) {
            std::printf("KL divergence from %s: %.6f nats/token\n", base_path.c_str(), kl / static_cast<double>(scored));
            std::printf("same top token: %.2f%%\n", 100.0 * static_cast<double>(same_top) / static_cast<double>(scored));
        }
        return 0;
    });
}
