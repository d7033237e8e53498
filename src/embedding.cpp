// Session::embed: the final normed hidden states of a text, pooled as llama.cpp's
// embedding mode and GPT4All's Embed4All give them.
#include <cmath>

#include <fmt/format.h>

#include "src/session_impl.hpp"

namespace nibble {

std::vector<float> Session::embed(std::string_view text, Pooling pooling) {
    if (!impl_) throw Error(ErrorCode::invalid_argument, "embed: this Session was moved from");
    const Tokenizer& tokenizer = impl_->model.tokenizer();
    const auto ids = tokenizer.encode(text, {.add_bos = tokenizer.bos() >= 0});
    return embed(std::span<const Token>(ids), pooling);
}

std::vector<float> Session::embed(std::span<const Token> tokens, Pooling pooling) {
    if (!impl_) throw Error(ErrorCode::invalid_argument, "embed: this Session was moved from");
    detail::SessionImpl& s = *impl_;
    if (tokens.empty()) throw Error(ErrorCode::invalid_argument, "embed: no tokens");
    if (pooling != Pooling::mean && pooling != Pooling::last && pooling != Pooling::none) {
        throw Error(ErrorCode::invalid_argument, "embed: pooling is not a Pooling value");
    }
    const size_t width = s.m.config.n_embd;
    reset();
    std::vector<float> states = detail::translate_allocation_failure("embed", [&] {
        return std::vector<float>(tokens.size() * width);
    });
    try {
        s.evaluate(tokens, false, states.data());
    } catch (...) {
        reset();  // the cache holds a sequence no one asked to keep
        throw;
    }
    reset();
    if (pooling == Pooling::none) return states;
    std::vector<float> pooled(width, 0.0f);
    if (pooling == Pooling::last) {
        std::copy_n(states.end() - static_cast<ptrdiff_t>(width), width, pooled.begin());
    } else {
        // Summed in double: the mean of a long text does not depend on rounding order much.
        std::vector<double> sum(width, 0.0);
        for (size_t t = 0; t < tokens.size(); ++t) {
            for (size_t i = 0; i < width; ++i) sum[i] += states[t * width + i];
        }
        for (size_t i = 0; i < width; ++i) pooled[i] = static_cast<float>(sum[i] / static_cast<double>(tokens.size()));
    }
    double norm = 0.0;
    for (float v : pooled) norm += double{v} * v;
    norm = std::sqrt(norm);
    if (norm > 0.0) {
        for (float& v : pooled) v = static_cast<float>(v / norm);
    }
    return pooled;
}

}  // namespace nibble
