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
    std::string model_path, text_path, base_path;
    uint32_t context = 128;
    int threads = 0;
    try {
        nibble::cli::Args args(argc, argv);
        while (!args.done()) {
            const std::string_view a = args.next();
            if (a == "-m" || a == "--model") model_path = args.value(a);
            else if (a == "-f" || a == "--file") text_path = args.value(a);
            else if (a == "-c" || a == "--ctx-size") context = static_cast<uint32_t>(args.int_value(a));
            else if (a == "-t" || a == "--threads") threads = args.int_value(a);
            else if (a == "--kl-base") base_path = args.value(a);
            else throw std::invalid_argument("unknown option '" + std::string(a) + "'");
        }
        if (model_path.empty() || text_path.empty()) throw std::invalid_argument("need -m MODEL and -f TEXT");
        if (context < 4) throw std::invalid_argument("-c must be at least 4");
    } catch (const std::exception& e) {
        std::cerr << "nibble-perplexity: " << e.what()
                  << "\nusage: nibble-perplexity -m MODEL -f TEXT [-c CONTEXT=128] [--kl-base REFERENCE_MODEL] [-t N]\n"
                     "Scores the second half of each CONTEXT-token chunk, as llama.cpp's perplexity does.\n";
        return 2;
    }
    try {
        std::ifstream in(text_path, std::ios::binary);
        if (!in) throw nibble::Error(nibble::ErrorCode::io, text_path + ": cannot open");
        std::ostringstream buffer;
        buffer << in.rdbuf();
        const nibble::Model model = nibble::Model::load(model_path);
        const auto tokens = model.tokenizer().encode(buffer.str(), {.add_bos = true});
        const size_t chunks = tokens.size() / context;
        if (chunks == 0) throw nibble::Error(nibble::ErrorCode::invalid_argument, "the text is shorter than one context");
        std::optional<nibble::Model> base;
        if (!base_path.empty()) {
            base = nibble::Model::load(base_path);
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
            nibble::Session session(model, {.context_length = context, .threads = threads, .batch_size = context});
            const auto logits = session.eval(chunk, true);
            std::vector<float> base_logits;
            if (base) {
                nibble::Session base_session(*base, {.context_length = context, .threads = threads, .batch_size = context});
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
    } catch (const nibble::Error& e) {
        std::cerr << "nibble-perplexity: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
