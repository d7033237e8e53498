// Sessions as applications use them: conversations that continue, truncate, a full
// context stopped or shifted, cancellation, saved state, embeddings; on the shipped model.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {


GenerateOptions greedy(int n) { return {.max_tokens = n, .sampling = {.temperature = 0.0f}, .stop_at_eos = false}; }

std::vector<Token> concat(std::vector<Token> a, const std::vector<Token>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<Token> held(const Session& s) { return {s.tokens().begin(), s.tokens().end()}; }

double max_difference(std::span<const float> a, std::span<const float> b) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double{a[i]} - b[i]));
    return worst;
}

}  // namespace

TEST_CASE("a conversation continues across generate calls", "[session]") {
    Session s(shipped_model(), {.threads = 1});
    const auto a = s.generate("Once upon a time", greedy(5));
    CHECK(a.prompt.size() == 5);
    CHECK(s.position() == 10);  // the fifth sampled token counts, evaluated by the next call
    CHECK(held(s) == concat(a.prompt, a.generated));
    const auto b = s.generate(std::span<const Token>(), greedy(5));
    CHECK(s.position() == 15);

    Session whole(shipped_model(), {.threads = 1});
    const auto c = whole.generate("Once upon a time", greedy(10));
    CHECK(concat(a.generated, b.generated) == c.generated);

    // A second text turn gets no second BOS.
    const auto d = s.generate(" The end.", greedy(3));
    const auto tokens = held(s);
    CHECK(std::count(tokens.begin(), tokens.end(), shipped_model().tokenizer().bos()) == 1);
    CHECK(d.prompt.front() != shipped_model().tokenizer().bos());

    // eval after generate evaluates the pending token first.
    Session e(shipped_model(), {.threads = 1});
    e.generate("Once upon a time", greedy(1));
    REQUIRE(e.position() == 6);
    const std::vector<Token> next{400};
    const auto before = held(e);
    const auto logits = e.eval(next);
    CHECK(e.position() == 7);
    Session f(shipped_model(), {.threads = 1});
    const auto ref = f.eval(concat(before, next));
    CHECK(max_difference(logits, ref) < 1e-5);
}

TEST_CASE("truncate drops the cache back for a regenerated reply", "[session]") {
    Session s(shipped_model(), {.threads = 1});
    const auto a = s.generate("Once upon a time", greedy(8));
    s.truncate(5);
    CHECK(s.position() == 5);
    CHECK(held(s) == a.prompt);
    const auto b = s.generate(std::span<const Token>(), greedy(8));
    CHECK(b.generated == a.generated);
    CHECK_THROWS_AS(s.truncate(s.position() + 1), Error);
    s.truncate(0);
    CHECK(s.position() == 0);
    CHECK(s.generate("Once upon a time", greedy(8)).generated == a.generated);
}

TEST_CASE("a full context stops, or shifts and goes on", "[session]") {
    Session stop(shipped_model(), {.context_length = 64, .threads = 1});
    const auto r = stop.generate("Once upon a time", greedy(200));
    CHECK(r.stop == GenerateResult::Stop::context_full);
    CHECK(r.generated.size() == 64 - 5 + 1);
    CHECK_THROWS_AS(stop.generate(" more", greedy(1)), Error);

    const SessionOptions shifting{.context_length = 64, .threads = 1, .on_full = ContextPolicy::shift, .n_keep = 5};
    const GenerateOptions seeded{.max_tokens = 200, .sampling = {.temperature = 0.9f, .seed = 11}, .stop_at_eos = false};
    Session a(shipped_model(), shifting), b(shipped_model(), shifting);
    const auto ra = a.generate("Once upon a time", seeded);
    const auto rb = b.generate("Once upon a time", seeded);
    CHECK(ra.generated.size() == 200);
    CHECK(ra.shifts >= 3);
    CHECK(ra.generated == rb.generated);
    const auto tokens = held(a);
    CHECK(tokens.size() <= 65);
    CHECK(std::vector<Token>(tokens.begin(), tokens.begin() + 5) == ra.prompt);  // n_keep kept
    CHECK(std::vector<Token>(tokens.end() - 10, tokens.end()) ==
          std::vector<Token>(ra.generated.end() - 10, ra.generated.end()));

    // The shifted cache is that of a fresh session fed the kept tokens.
    const std::vector<Token> probe{400};
    const auto shifted = a.eval(probe);
    Session fresh(shipped_model(), {.context_length = 64, .threads = 1});
    const auto direct = fresh.eval(concat(tokens, probe));
    CHECK(max_difference(shifted, direct) < 1e-4);

    const SessionOptions too_much{.context_length = 64, .on_full = ContextPolicy::shift, .n_keep = 32};
    CHECK_THROWS_AS(Session(shipped_model(), too_much), Error);
}

TEST_CASE("cancel stops within a batch and leaves the session usable", "[session]") {
    Session s(shipped_model(), {.threads = 1, .batch_size = 16});
    std::vector<Token> long_prompt(64, 400);
    long_prompt[0] = 1;
    s.cancel();  // before the call: the first batch still runs
    try {
        s.eval(long_prompt);
        FAIL("expected cancelled");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::cancelled);
    }
    CHECK(s.position() == 16);
    s.eval(std::span<const Token>(long_prompt).subspan(16));  // continues where it stopped
    CHECK(s.position() == 64);

    // From another thread, during a long generation.
    Session g(shipped_model(), {.context_length = 64, .threads = 1, .on_full = ContextPolicy::shift});
    std::atomic<int> pieces{0};
    std::thread canceller([&] {
        while (pieces.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        g.cancel();
    });
    const auto r = g.generate("Once upon a time", {.max_tokens = 1000000, .sampling = {.temperature = 0.0f}, .stop_at_eos = false},
                              [&](std::string_view) { ++pieces; return true; });
    canceller.join();
    CHECK(r.stop == GenerateResult::Stop::cancelled);
    CHECK(r.generated.size() < 1000000);
    CHECK(g.generate(std::span<const Token>(), greedy(3)).generated.size() == 3);
}

TEST_CASE("a saved state resumes exactly", "[session]") {
    const std::string prompt = "Once upon a time";
    Session whole(shipped_model(), {.threads = 1});
    const auto uninterrupted = whole.generate(prompt, greedy(30));

    Session first(shipped_model(), {.threads = 1});
    first.generate(prompt, greedy(0));
    const auto state = first.save_state();
    Session resumed(shipped_model(), {.threads = 1});
    resumed.load_state(state);
    CHECK(held(resumed) == uninterrupted.prompt);
    CHECK(resumed.generate(std::span<const Token>(), greedy(30)).generated == uninterrupted.generated);

    // Sampled, through a file, with the sampler's stream carried: the second half
    // after loading equals the second half of never stopping.
    const GenerateOptions seeded{.max_tokens = 12, .sampling = {.temperature = 1.0f, .seed = 5}, .stop_at_eos = false};
    Session a(shipped_model(), {.threads = 1});
    a.generate(prompt, seeded);
    const auto a2 = a.generate(std::span<const Token>(), seeded);
    Session b(shipped_model(), {.threads = 1});
    b.generate(prompt, seeded);
    TempDir dir;
    const std::string path = (dir.path / "state.bin").string();
    b.save_state(path);
    Session c(shipped_model(), {.threads = 1});
    c.load_state(path);
    CHECK(c.generate(std::span<const Token>(), seeded).generated == a2.generated);
    const std::vector<Token> probe{400};
    const auto la = a.eval(probe);
    const std::vector<float> la_copy(la.begin(), la.end());
    CHECK(max_difference(la_copy, c.eval(probe)) == 0.0);
}

TEST_CASE("a saved state from elsewhere is refused with a clear error", "[session]") {
    Session s(shipped_model(), {.threads = 1});
    s.generate("Once upon a time", greedy(4));
    const auto state = s.save_state();
    auto code_of = [](auto&& f) {
        try {
            f();
        } catch (const Error& e) {
            return e.code();
        }
        return ErrorCode{};
    };
    Session target(shipped_model(), {.threads = 1});
    auto damaged = state;
    damaged[damaged.size() / 2] ^= std::byte{1};
    CHECK(code_of([&] { target.load_state(damaged); }) == ErrorCode::bad_format);
    CHECK(code_of([&] { target.load_state(std::span(state).first(state.size() - 9)); }) == ErrorCode::bad_format);
    const std::vector<std::byte> junk(64, std::byte{0});
    CHECK(code_of([&] { target.load_state(junk); }) == ErrorCode::bad_format);
    Session small(shipped_model(), {.context_length = 8, .threads = 1});
    CHECK(code_of([&] { small.load_state(state); }) == ErrorCode::out_of_range);
    CHECK(target.position() == 0);  // nothing half-loaded

    TempDir dir;
    const std::string other_path = (dir.path / "other.gguf").string();
    quantize(default_model_path(), other_path, {.type = TensorType::q8_0});
    const Model other = Model::load(other_path);
    Session foreign(other, {.threads = 1});
    try {
        foreign.load_state(state);
        FAIL("expected bad_model");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::bad_model);
        CHECK_THAT(e.what(), Catch::Contains("another model"));
    }
    CHECK(code_of([&] { target.load_state((dir.path / "missing.bin").string()); }) == ErrorCode::io);
}

TEST_CASE("embeddings are pooled final hidden states", "[session]") {
    Session s(shipped_model(), {.threads = 1});
    const auto a = s.embed("Once upon a time there was a cat");
    const auto b = s.embed("Once upon a time there was a cat");
    REQUIRE(a.size() == 64);
    CHECK(a == b);
    double norm = 0;
    for (float v : a) norm += double{v} * v;
    CHECK(std::sqrt(norm) == Approx(1.0).epsilon(1e-6));
    CHECK(s.position() == 0);

    const auto ids = shipped_model().tokenizer().encode("Once upon a time there was a cat", {.add_bos = true});
    const auto rows = s.embed(ids, Pooling::none);
    REQUIRE(rows.size() == ids.size() * 64);
    // The same states one token at a time (the single-token path, not the batch one).
    Session single(shipped_model(), {.threads = 1, .batch_size = 1});
    const auto one_by_one = single.embed(ids, Pooling::none);
    CHECK(max_difference(rows, one_by_one) < 1e-4);
    std::vector<double> mean(64, 0.0);
    for (size_t t = 0; t < ids.size(); ++t) {
        for (size_t i = 0; i < 64; ++i) mean[i] += one_by_one[t * 64 + i] / static_cast<double>(ids.size());
    }
    double mean_norm = 0;
    for (double v : mean) mean_norm += v * v;
    mean_norm = std::sqrt(mean_norm);
    for (size_t i = 0; i < 64; ++i) CHECK(a[i] == Approx(mean[i] / mean_norm).margin(1e-4));
    // Last-token pooling of a prefix is that token's state (causal attention).
    const auto last = s.embed(std::span(ids).first(4), Pooling::last);
    double row_norm = 0;
    for (size_t i = 0; i < 64; ++i) row_norm += double{rows[3 * 64 + i]} * rows[3 * 64 + i];
    for (size_t i = 0; i < 64; ++i) CHECK(last[i] == Approx(rows[3 * 64 + i] / std::sqrt(row_norm)).margin(1e-4));
    CHECK(s.embed("A dog", Pooling::mean) != a);
}

TEST_CASE("use_mlock locks the weights or says why not", "[session]") {
    const Model locked = Model::load(default_model_path(), {.use_mlock = true});
    struct rlimit limit {};
    REQUIRE(::getrlimit(RLIMIT_MEMLOCK, &limit) == 0);
    const bool room = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= (uint64_t{4} << 20);
    if (room) {
        CHECK(locked.info().locked);
        CHECK(locked.info().lock_error.empty());
    } else {
        CHECK_FALSE(locked.info().locked);
        CHECK_THAT(locked.info().lock_error, Catch::Contains("mlock"));
    }
    CHECK_FALSE(shipped_model().info().locked);
}

TEST_CASE("a model computes with the kernel table it was loaded for", "[session]") {
    const Model scalar = Model::load(default_model_path(), {.isa = "scalar"});
    CHECK(scalar.info().kernels == "scalar");
    const Model best = Model::load(default_model_path());
    const std::vector<Token> ids{1, 403, 407, 261, 378, 432, 383, 286};
    // An f32 cache: the tables then differ only in the order of float sums. (With f16, a
    // key that lands on the other side of a rounding boundary in one table moves logits
    // by ~1e-4 of their scale: 2.2e-3 here, NEON against scalar.)
    const SessionOptions f32_cache{.threads = 1, .kv_type_k = KvType::f32, .kv_type_v = KvType::f32};
    Session a(scalar, f32_cache), b(best, f32_cache);
    const auto la = a.eval(ids, true);
    const std::vector<float> from_scalar(la.begin(), la.end());
    const auto lb = b.eval(ids, true);
    CHECK(max_difference(from_scalar, lb) < 1e-3);  // two tables side by side in one process
    try {
        Model::load(default_model_path(), {.isa = "no-such-isa"});
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::unsupported);
        CHECK_THAT(e.what(), Catch::Contains("LoadOptions::isa no-such-isa"));
        CHECK_THAT(e.what(), Catch::Contains("scalar"));
    }
}

// nibble-server relies on this: a slot that reuses a cached prefix, or that is on
// another thread count, gives the same greedy text as a fresh one.
TEST_CASE("a token's logits do not depend on how the sequence was split into batches", "[session]") {
    const auto tokens = shipped_model().tokenizer().encode(
        "Once upon a time there was a little girl named Lily who loved to play outside in the park", {.add_bos = true});
    REQUIRE(tokens.size() > 16);
    const size_t n_vocab = shipped_model().tokenizer().vocab_size();
    // Every cache type (each row is converted on its own, whatever batch it came in), and
    // keys and values of different types.
    for (const auto& [type_k, type_v] : {std::pair{KvType::f32, KvType::f32}, std::pair{KvType::f16, KvType::f16},
                                         std::pair{KvType::q8_0, KvType::q8_0}, std::pair{KvType::q8_0, KvType::f16}}) {
        Session whole(shipped_model(), {.threads = 2, .batch_size = 64, .kv_type_k = type_k, .kv_type_v = type_v});
        const auto all = whole.eval(tokens, true);
        const std::vector<float> reference(all.begin(), all.end());
        for (const uint32_t batch : {1u, 3u, 7u}) {
            for (const int threads : {1, 2}) {
                INFO("cache " << kv_type_name(type_k) << "/" << kv_type_name(type_v) << ", batch " << batch << ", threads "
                              << threads);
                Session split(shipped_model(),
                              {.threads = threads, .batch_size = batch, .kv_type_k = type_k, .kv_type_v = type_v});
                split.eval(std::span(tokens).first(5));  // a cached prefix, then one token at a time
                bool identical = true;
                for (size_t i = 5; i < tokens.size(); ++i) {
                    const auto logits = split.eval(std::span(tokens).subspan(i, 1));
                    identical = identical && std::equal(logits.begin(), logits.end(), reference.begin() + i * n_vocab);
                }
                CHECK(identical);
            }
        }
    }
}

TEST_CASE("clear_cancel withdraws a cancel; reset_sampler restarts the random stream", "[session]") {
    Session s(shipped_model(), {.threads = 1});
    s.cancel();
    s.clear_cancel();
    const auto tokens = shipped_model().tokenizer().encode("Once upon a time", {.add_bos = true});
    CHECK_NOTHROW(s.eval(tokens));

    const GenerateOptions seeded{.max_tokens = 12, .sampling = {.temperature = 1.0f, .seed = 42}, .stop_at_eos = false};
    Session t(shipped_model(), {.threads = 1});
    const auto first = t.generate(std::span<const Token>(tokens), seeded);
    t.truncate(static_cast<uint32_t>(tokens.size() - 1));
    t.reset_sampler();
    const auto again = t.generate(std::span<const Token>(tokens).last(1), seeded);
    CHECK(again.generated == first.generated);  // the same seed from the same place: the same tokens
}
