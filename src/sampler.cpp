// Sampling: repetition penalty, then top-k, top-p and min-p on the untempered
// distribution, then temperature, then a draw from a seeded xoshiro256** stream
// (portable: the same seed gives the same tokens on every platform).
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <unordered_set>

#include "nibble/nibble.hpp"
#include "src/byte_stream.hpp"

namespace nibble {
namespace {

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t next_random(uint64_t* s) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

}  // namespace

Sampler::Sampler(SamplingOptions options) : options_(options) {
    // Written so that NaN fails every test: a comparison with NaN is false.
    const auto& o = options_;
    auto refuse = [](const char* what, double value) {
        throw Error(ErrorCode::invalid_argument, fmt::format("sampling option {} = {} is out of range", what, value));
    };
    if (!(o.temperature >= 0.0f && std::isfinite(o.temperature))) refuse("temperature (need finite, >= 0; 0 = greedy)", o.temperature);
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) refuse("top_p (need 0 < top_p <= 1)", o.top_p);
    if (!(o.min_p >= 0.0f && o.min_p <= 1.0f)) refuse("min_p (need 0 <= min_p <= 1)", o.min_p);
    if (!(o.repeat_penalty > 0.0f && std::isfinite(o.repeat_penalty))) refuse("repeat_penalty (need finite, > 0)", o.repeat_penalty);
    if (o.top_k < 0) refuse("top_k (need >= 0)", o.top_k);
    if (o.repeat_last_n < 0) refuse("repeat_last_n (need >= 0)", o.repeat_last_n);
    reset();
}

void Sampler::reset() {
    recent_.clear();
    uint64_t seed = options_.seed;
    for (auto& s : rng_state_) s = splitmix64(seed);
}

void Sampler::accept(Token token) {
    if (options_.repeat_last_n == 0) return;
    recent_.push_back(token);
    if (recent_.size() > static_cast<size_t>(options_.repeat_last_n)) recent_.erase(recent_.begin());
}

Token Sampler::sample(std::span<const float> logits) {
    if (logits.empty()) throw Error(ErrorCode::invalid_argument, "sample: no logits");
    candidates_.resize(logits.size());
    // NaN logits can never be chosen (they sort as -inf); +inf ones are certain (the
    // largest float). With no logit above -inf there is nothing to choose from.
    bool any = false;
    for (size_t i = 0; i < logits.size(); ++i) {
        float l = logits[i];
        if (std::isnan(l)) l = -std::numeric_limits<float>::infinity();
        if (l == std::numeric_limits<float>::infinity()) l = std::numeric_limits<float>::max();
        any = any || l > -std::numeric_limits<float>::infinity();
        candidates_[i] = {l, static_cast<Token>(i)};
    }
    if (!any) {
        throw Error(ErrorCode::bad_model,
                    fmt::format("sample: all {} logits are NaN or -infinity (the model's weights or inputs are broken)",
                                logits.size()));
    }
    if (options_.repeat_penalty != 1.0f) {
        std::unordered_set<Token> seen(recent_.begin(), recent_.end());
        for (Token t : seen) {
            if (t < 0 || static_cast<size_t>(t) >= logits.size()) continue;
            float& l = candidates_[static_cast<size_t>(t)].first;
            l = l > 0.0f ? l / options_.repeat_penalty : l * options_.repeat_penalty;
        }
    }
    auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    if (options_.temperature <= 0.0f) {
        return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->second;
    }
    size_t keep = candidates_.size();
    if (options_.top_k > 0) keep = std::min(keep, static_cast<size_t>(options_.top_k));
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(keep), candidates_.end(), by_logit);
    candidates_.resize(keep);

    // Probabilities before temperature decide which candidates survive top-p and min-p.
    std::vector<double> probs(keep);
    double sum = 0.0;
    for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp(static_cast<double>(candidates_[i].first - candidates_[0].first));
    if (options_.top_p < 1.0f) {
        double cumulative = 0.0;
        for (size_t i = 0; i < keep; ++i) {
            cumulative += probs[i] / sum;
            if (cumulative >= options_.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    if (options_.min_p > 0.0f) {
        size_t i = 1;
        while (i < keep && probs[i] >= options_.min_p * probs[0]) ++i;
        keep = i;
    }
    candidates_.resize(keep);

    double total = 0.0;
    std::vector<double> weights(keep);
    for (size_t i = 0; i < keep; ++i) {
        total += weights[i] = std::exp(static_cast<double>(candidates_[i].first - candidates_[0].first) / options_.temperature);
    }
    const double r = static_cast<double>(next_random(rng_state_) >> 11) * 0x1.0p-53 * total;
    double acc = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        acc += weights[i];
        if (r < acc) return candidates_[i].second;
    }
    return candidates_[keep - 1].second;
}

// Options, random stream, then the repetition window (count, ids).
std::vector<std::byte> Sampler::save() const {
    detail::ByteWriter w;
    w.put(options_.temperature);
    w.put(options_.top_k);
    w.put(options_.top_p);
    w.put(options_.min_p);
    w.put(options_.repeat_penalty);
    w.put(options_.repeat_last_n);
    w.put(options_.seed);
    for (uint64_t s : rng_state_) w.put(s);
    w.put(static_cast<uint32_t>(recent_.size()));
    w.put_array(std::span<const Token>(recent_));
    return std::move(w.bytes);
}

void Sampler::restore(std::span<const std::byte> bytes) {
    detail::ByteReader r(bytes, "sampler state");
    SamplingOptions o;
    o.temperature = r.get<float>();
    o.top_k = r.get<int>();
    o.top_p = r.get<float>();
    o.min_p = r.get<float>();
    o.repeat_penalty = r.get<float>();
    o.repeat_last_n = r.get<int>();
    o.seed = r.get<uint64_t>();
    Sampler restored(o);  // validates the options
    for (uint64_t& s : restored.rng_state_) s = r.get<uint64_t>();
    const auto n = r.get<uint32_t>();
    if (n > static_cast<uint32_t>(std::max(o.repeat_last_n, 0)) || r.left() != size_t{n} * sizeof(Token)) {
        throw Error(ErrorCode::bad_format, fmt::format("sampler state: a window of {} tokens does not match its {} bytes "
                                                       "(repeat_last_n {})", n, r.left(), o.repeat_last_n));
    }
    restored.recent_.resize(n);
    r.get_array(std::span<Token>(restored.recent_));
    *this = std::move(restored);
}

}  // namespace nibble
