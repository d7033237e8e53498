// The forward pass gives the same logits whatever the thread count, including more
// threads than CPUs: every output value is computed whole by one thread, in one order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

#include "bench/synthetic.hpp"
#include "nibble/nibble.hpp"
#include "src/transformer.hpp"
#include "test_support.hpp"

using namespace nibble;

namespace {

// Logits of a 12-token prompt (every position), then of 2 tokens at a time and of
// single tokens (the matrix x vector path).
std::vector<float> run(const Model& model, int threads) {
    SessionOptions options;
    options.threads = options.batch_threads = threads;
    options.context_length = 64;
    options.batch_size = 12;
    Session session(model, options);
    std::vector<Token> prompt(12);
    std::iota(prompt.begin(), prompt.end(), 3);
    const auto batch = session.eval(prompt, true);
    std::vector<float> out(batch.begin(), batch.end());
    const std::vector<Token> pair{100, 8191};
    const auto two = session.eval(pair, true);
    out.insert(out.end(), two.begin(), two.end());
    for (Token t : {Token{7}, Token{2000}}) {
        const auto step = session.eval(std::span(&t, 1));
        out.insert(out.end(), step.begin(), step.end());
    }
    return out;
}

}  // namespace

TEST_CASE("logits do not depend on the thread count", "[threads]") {
    test::TempDir dir;
    // Big enough that every pass of two tokens (q4_0) or one (q8_0) works over 32 MiB of
    // weights, and so runs on a team.
    for (const char* spec : {"custom/e=512/l=4/h=8/kv=4/ff=4096/v=8192:q4_0", "custom/e=512/l=4/h=8/kv=4/ff=4096/v=8192:q8_0"}) {
        INFO(spec);
        const std::string path = (dir.path / "synthetic.gguf").string();
        bench::write_synthetic_model(bench::parse_synthetic_spec(spec), path);
        const Model model = Model::load(path);
        const auto one = run(model, 1);
        for (int threads : {2, 3, 4}) {
            INFO("threads " << threads);
            const auto many = run(model, threads);
            REQUIRE(many.size() == one.size());
            CHECK(many == one);
        }
    }
}

TEST_CASE("attention tasks cover every (token, head) once, each with the heads of one key head", "[threads]") {
    // Grouped-query shapes: TinyLlama (32 / 4), Falcon 7B (71 / 1), plain multi-head,
    // and groups that split into uneven tasks.
    for (const auto& [n_head, n_head_kv] : {std::pair{32u, 4u}, {71u, 1u}, {8u, 8u}, {12u, 3u}, {20u, 1u}, {18u, 2u}}) {
        INFO(n_head << " heads, " << n_head_kv << " key heads");
        detail::ModelConfig c;
        c.n_head = n_head;
        c.n_head_kv = n_head_kv;
        const uint32_t tokens = 3, group = n_head / n_head_kv;
        std::vector<int> seen(size_t{tokens} * n_head, 0);
        const uint32_t count = detail::attention_task_count(c, tokens);
        for (uint32_t i = 0; i < count; ++i) {
            const detail::AttentionTask task = detail::attention_task(c, i);
            REQUIRE(task.token < tokens);
            REQUIRE(task.heads >= 1);
            REQUIRE(task.heads <= detail::queries_per_task(c));
            for (uint32_t h = task.first_head; h < task.first_head + task.heads; ++h) {
                REQUIRE(h / group == task.kv_head);  // every head of the task reads this key head
                ++seen[size_t{task.token} * n_head + h];
            }
        }
        CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
    }
}
