#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "nibble/nibble.hpp"

using namespace nibble;

TEST_CASE("greedy sampling takes the argmax with the lowest id on ties", "[sampler]") {
    Sampler s({.temperature = 0.0f});
    const std::vector<float> logits{0.1f, 3.0f, -1.0f, 3.0f};
    CHECK(s.sample(logits) == 1);
}

TEST_CASE("a seed makes sampling reproducible", "[sampler]") {
    std::vector<float> logits(100);
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 7) * 0.3f;
    auto run = [&](uint64_t seed) {
        Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = seed});
        std::vector<Token> out;
        for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits));
        return out;
    };
    CHECK(run(42) == run(42));
    CHECK(run(42) != run(43));
}

TEST_CASE("top-k 1 equals greedy", "[sampler]") {
    Sampler s({.temperature = 5.0f, .top_k = 1, .seed = 9});
    const std::vector<float> logits{0.0f, 1.0f, 0.5f};
    for (int i = 0; i < 20; ++i) CHECK(s.sample(logits) == 1);
}

TEST_CASE("top-p keeps the smallest set reaching p", "[sampler]") {
    // probabilities about 0.67, 0.24, 0.09: p = 0.6 keeps only the first
    Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 0.6f, .min_p = 0.0f, .seed = 1});
    const std::vector<float> logits{2.0f, 1.0f, 0.0f};
    for (int i = 0; i < 50; ++i) CHECK(s.sample(logits) == 0);
    Sampler wide({.temperature = 1.0f, .top_k = 0, .top_p = 0.8f, .min_p = 0.0f, .seed = 1});
    std::map<Token, int> seen;
    for (int i = 0; i < 400; ++i) ++seen[wide.sample(logits)];
    CHECK(seen.count(1) == 1);
    CHECK(seen.count(2) == 0);
}

TEST_CASE("min-p drops tokens far below the best", "[sampler]") {
    Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.5f, .seed = 3});
    const std::vector<float> logits{1.0f, 0.9f, -5.0f};  // token 2 has p/p_max = e^-6
    std::map<Token, int> seen;
    for (int i = 0; i < 400; ++i) ++seen[s.sample(logits)];
    CHECK(seen.count(2) == 0);
    CHECK(seen[0] > 0);
    CHECK(seen[1] > 0);
}

TEST_CASE("sampling follows the distribution", "[sampler]") {
    Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 5});
    const std::vector<float> logits{0.0f, std::log(3.0f)};  // 1:3
    int ones = 0;
    for (int i = 0; i < 4000; ++i) ones += s.sample(logits) == 1;
    CHECK(ones > 2800);
    CHECK(ones < 3200);
}

TEST_CASE("repetition penalty discourages recent tokens", "[sampler]") {
    Sampler s({.temperature = 0.0f, .repeat_penalty = 2.0f, .repeat_last_n = 2});
    const std::vector<float> logits{1.0f, 1.5f, -1.0f};
    CHECK(s.sample(logits) == 1);
    s.accept(1);  // 1.5 / 2 = 0.75 < 1.0
    CHECK(s.sample(logits) == 0);
    s.accept(0);
    s.accept(2);  // the window of 2 forgets token 1
    CHECK(s.sample(logits) == 1);
}

TEST_CASE("invalid sampling options are refused", "[sampler]") {
    CHECK_THROWS_AS(Sampler({.top_p = 0.0f}), Error);
    CHECK_THROWS_AS(Sampler({.min_p = 2.0f}), Error);
    CHECK_THROWS_AS(Sampler({.repeat_penalty = 0.0f}), Error);
}
