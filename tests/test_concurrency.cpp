// Sessions on shared Models from many threads: 8 Sessions over 2 Models, 64 greedy
// tokens each, run from 8 threads at once, give exactly the tokens the same Sessions
// give one after another. CI runs this binary under ThreadSanitizer (scripts/test.sh),
// with NIBBLE_CONCURRENCY_OMP_THREADS=1 so that each Session's forward pass stays on
// its own thread (libgomp is not instrumented); the release build runs it with 2
// OpenMP threads per Session.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>
#include <vector>

#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;

namespace {

int omp_threads() {
    const char* v = std::getenv("NIBBLE_CONCURRENCY_OMP_THREADS");
    return v != nullptr && *v != '\0' ? std::atoi(v) : 2;
}

std::vector<Token> run_session(Session& session, int index) {
    // Each session its own prompt: BOS, then two ids that depend on the index.
    const Token prompt[] = {1, static_cast<Token>(10 + 7 * index), static_cast<Token>(300 + index)};
    GenerateOptions options;
    options.max_tokens = 64;
    options.sampling.temperature = 0.0f;
    options.stop_at_eos = false;
    return session.generate(std::span<const Token>(prompt), options).generated;
}

}  // namespace

TEST_CASE("8 sessions over 2 models from 8 threads give the tokens they give one after another", "[concurrency]") {
    test::TempDir tmp;
    const std::string q8 = (tmp.path / "stories260K.q8_0.gguf").string();
    // quantize's own team takes its thread count from the options, not OMP_NUM_THREADS.
    quantize(test::default_model_path(), q8, {.type = TensorType::q8_0, .threads = omp_threads()});
    const Model models[2] = {Model::load(test::default_model_path()), Model::load(q8)};
    constexpr int n = 8;
    auto make_sessions = [&] {
        std::vector<Session> sessions;
        for (int i = 0; i < n; ++i) {
            sessions.emplace_back(models[i % 2], SessionOptions{.context_length = 128, .threads = omp_threads(), .batch_size = 8});
        }
        return sessions;
    };

    std::vector<Session> alone = make_sessions();
    std::vector<std::vector<Token>> expected(n);
    for (int i = 0; i < n; ++i) expected[i] = run_session(alone[i], i);

    std::vector<Session> together = make_sessions();
    std::vector<std::vector<Token>> got(n);
    std::vector<std::string> errors(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            try {
                got[i] = run_session(together[i], i);
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < n; ++i) {
        INFO("session " << i << " (model " << i % 2 << ")");
        CHECK(errors[i].empty());
        CHECK(expected[i].size() == 64);
        CHECK(got[i] == expected[i]);
    }
    // The two models differ, so the comparison is not between identical runs only.
    CHECK(expected[0] != expected[1]);
}
