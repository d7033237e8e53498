// The KV cache types on the shipped model: f16 and q8_0 logits near the f32 cache's,
// saved states in each type, the q8_0 width rule, and the cache's bytes.
#include <catch2/catch.hpp>

#include <cmath>

#include "bench/synthetic.hpp"
#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {

SessionOptions with_cache(KvType k, KvType v, uint32_t batch = 64) {
    return {.threads = 1, .batch_size = batch, .kv_type_k = k, .kv_type_v = v};
}

// Every position's logits of a greedy story of 200 tokens from BOS (a longer context
// than the prompt tests) through a cache of the given types.
std::vector<float> story_logits(const std::vector<Token>& story, KvType k, KvType v) {
    Session s(shipped_model(), with_cache(k, v));
    const auto all = s.eval(story, true);
    return {all.begin(), all.end()};
}

std::vector<Token> greedy_story() {
    Session s(shipped_model(), with_cache(KvType::f32, KvType::f32));
    const std::vector<Token> bos{shipped_model().tokenizer().bos()};
    const auto r = s.generate(bos, {.max_tokens = 199, .sampling = {.temperature = 0.0f}, .stop_at_eos = false});
    std::vector<Token> story = bos;
    story.insert(story.end(), r.generated.begin(), r.generated.end());
    return story;
}

ErrorCode code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return ErrorCode{};
}

}  // namespace

TEST_CASE("the f16 and q8_0 caches give logits near the f32 cache's", "[session][kv]") {
    CHECK(SessionOptions{}.kv_type_k == KvType::f16);  // llama.cpp's default
    CHECK(SessionOptions{}.kv_type_v == KvType::f16);
    const auto story = greedy_story();
    const auto f32 = story_logits(story, KvType::f32, KvType::f32);
    // f16 rounds each key and value to 11 bits: inside the quantized class of the
    // fixtures README (measured: max 0.0233 of a scale of 22, 0.001 s).
    const auto f16 = compare_logits(story_logits(story, KvType::f16, KvType::f16), f32, Tolerance::quantized);
    INFO("f16 against f32: " << f16.describe());
    CHECK(f16.ok);
    CHECK(f16.max_abs > 0);  // the cache really is another type
    const auto f16_keys = compare_logits(story_logits(story, KvType::f16, KvType::q8_0), f32, Tolerance::quantized);
    INFO("f16 keys, q8_0 values against f32: " << f16_keys.describe());
    CHECK(f16_keys.ok);
    // q8_0 keys: the model's heads have 8 values, so one block's scale serves four heads
    // and the smaller ones get coarse steps: inside the kquant class over 64 tokens
    // (measured 0.040 s), at its edge (0.049 s) over all 200.
    const std::vector<Token> first_64(story.begin(), story.begin() + 64);
    const std::vector<float> f32_64(f32.begin(), f32.begin() + 64 * static_cast<ptrdiff_t>(shipped_model().info().n_vocab));
    const auto q8 = compare_logits(story_logits(first_64, KvType::q8_0, KvType::q8_0), f32_64, Tolerance::kquant);
    INFO("q8_0 against f32: " << q8.describe());
    CHECK(q8.ok);
}

TEST_CASE("a saved state keeps its cache type: it resumes exactly, and another type is refused", "[session][kv]") {
    for (const KvType type : {KvType::f16, KvType::q8_0}) {
        INFO(kv_type_name(type));
        Session whole(shipped_model(), with_cache(type, type));
        const auto uninterrupted = whole.generate("Once upon a time", {.max_tokens = 20, .sampling = {.temperature = 0.0f}});
        Session first(shipped_model(), with_cache(type, type));
        first.generate("Once upon a time", {.max_tokens = 0});
        const auto state = first.save_state();
        Session resumed(shipped_model(), with_cache(type, type));
        resumed.load_state(state);
        CHECK(resumed.generate(std::span<const Token>(), {.max_tokens = 20, .sampling = {.temperature = 0.0f}}).generated ==
              uninterrupted.generated);
        // The rows are saved in their own type: the same state through an f32 cache is larger.
        Session as_f32(shipped_model(), with_cache(KvType::f32, KvType::f32));
        as_f32.generate("Once upon a time", {.max_tokens = 0});
        CHECK(as_f32.save_state().size() > state.size());
        // And the loaded cache is the saved one byte for byte: saving again gives the same bytes.
        Session reloaded(shipped_model(), with_cache(type, type));
        reloaded.load_state(state);
        CHECK(reloaded.save_state() == state);
    }

    Session q8(shipped_model(), with_cache(KvType::q8_0, KvType::q8_0));
    q8.generate("Once upon a time", {.max_tokens = 2});
    const auto q8_state = q8.save_state();
    Session f16(shipped_model(), with_cache(KvType::f16, KvType::f16));
    try {
        f16.load_state(q8_state);
        FAIL("expected bad_model");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::bad_model);
        CHECK_THAT(e.what(), Catch::Contains("q8_0 keys, q8_0 values") && Catch::Contains("f16 and f16"));
    }
    CHECK(f16.position() == 0);
    Session mixed(shipped_model(), with_cache(KvType::q8_0, KvType::f16));
    CHECK(code_of([&] { mixed.load_state(q8_state); }) == ErrorCode::bad_model);
    Session f32(shipped_model(), with_cache(KvType::f32, KvType::f32));
    CHECK(code_of([&] { f32.load_state(q8_state); }) == ErrorCode::bad_model);
}

TEST_CASE("a q8_0 cache needs a key width that is a multiple of 32", "[session][kv]") {
    TempDir dir;
    const std::string path = (dir.path / "narrow.gguf").string();
    // 6 heads of 16 sharing 3 key heads: a key width of 48.
    bench::write_synthetic_model(bench::parse_synthetic_spec("custom/e=96/l=1/h=6/kv=3/ff=64/v=256:f32"), path);
    const Model narrow = Model::load(path);
    for (const auto& [k, v] : {std::pair{KvType::q8_0, KvType::f16}, std::pair{KvType::f16, KvType::q8_0}}) {
        try {
            Session s(narrow, {.context_length = 16, .kv_type_k = k, .kv_type_v = v});
            FAIL("expected invalid_argument");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::invalid_argument);
            CHECK_THAT(e.what(), Catch::Contains("multiple of 32") && Catch::Contains("48"));
        }
    }
    Session f16(narrow, {.context_length = 16, .kv_type_k = KvType::f16, .kv_type_v = KvType::f16});
    const std::vector<Token> ids{1, 2, 3};
    CHECK(f16.eval(ids).size() == 256);
    CHECK(code_of([&] { Session s(narrow, {.context_length = 16, .kv_type_k = static_cast<KvType>(7)}); }) ==
          ErrorCode::invalid_argument);
}

TEST_CASE("cache type names are llama.cpp's", "[session][kv]") {
    for (const KvType t : {KvType::f32, KvType::f16, KvType::q8_0}) CHECK(parse_kv_type(kv_type_name(t)) == t);
    CHECK(kv_type_name(KvType::q8_0) == "q8_0");
    CHECK_FALSE(parse_kv_type("q4_0").has_value());
    CHECK_FALSE(parse_kv_type("F16").has_value());
}
