// End-to-end tests on the model the project ships (models/stories260K.gguf):
// they run on a fresh clone, without the shared fixtures.
#include <catch2/catch.hpp>

#include <thread>

#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::test;

TEST_CASE("the shipped model describes itself", "[model]") {
    const auto& info = shipped_model().info();
    CHECK(info.container == "GGUF");
    CHECK(info.architecture == "llama");
    CHECK(info.n_vocab == 512);
    CHECK(info.n_embd == 64);
    CHECK(info.n_layer == 5);
    CHECK(info.n_head == 8);
    CHECK(info.n_head_kv == 4);
    CHECK(info.n_ff == 172);
    CHECK(info.tied_output);
}

TEST_CASE("the shipped tokenizer encodes as llama2.c does", "[model][tokenizer]") {
    const Tokenizer& tok = shipped_model().tokenizer();
    CHECK(tok.encode("Once upon a time", {.add_bos = true}) == std::vector<Token>{1, 403, 407, 261, 378});
    CHECK(tok.decode(tok.encode("Once upon a time")) == "Once upon a time");
    // characters outside the vocabulary fall back to byte pieces and decode back
    const std::string unusual = "caf\xC3\xA9 \xE2\x82\xAC 42\n\tz";
    CHECK(tok.decode(tok.encode(unusual)) == unusual);
    CHECK(tok.encode("").empty());
    CHECK_THROWS_AS(tok.piece(512), Error);
}

TEST_CASE("greedy generation reproduces llama2.c's run", "[model]") {
    const auto expected = read_ids(test_data("greedy_once_upon_a_time_64.ids"));
    REQUIRE(expected.size() == 5 + 64);  // prompt ids, then ids per position (4 forced + 60 generated)
    const std::vector<Token> want(expected.begin() + 5 + 4, expected.end());
    Session session(shipped_model(), {.threads = 2});
    std::string text;
    const auto result = session.generate("Once upon a time", {.max_tokens = 60, .sampling = {.temperature = 0.0f}},
                                         [&](std::string_view piece) { text += piece; return true; });
    CHECK(result.prompt == std::vector<Token>(expected.begin(), expected.begin() + 5));
    CHECK(result.generated == want);
    const std::string reference = read_text(test_data("greedy_once_upon_a_time_64.txt"));
    CHECK(reference.starts_with("Once upon a time" + text.substr(0, 40)));
}

TEST_CASE("batch and one-token-at-a-time evaluation agree", "[model]") {
    const std::vector<Token> ids{1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
    Session batch(shipped_model(), {.batch_size = 4});
    const auto all = batch.eval(ids, true);
    const std::vector<float> batched(all.begin(), all.end());
    Session single(shipped_model(), {.threads = 1});
    for (size_t i = 0; i < ids.size(); ++i) {
        const auto logits = single.eval(std::span(ids).subspan(i, 1));
        for (size_t v = 0; v < logits.size(); ++v) {
            REQUIRE(logits[v] == Approx(batched[i * 512 + v]).margin(1e-5));
        }
    }
    CHECK(single.position() == ids.size());
}

TEST_CASE("sessions refuse bad input and respect their limits", "[model]") {
    Session s(shipped_model(), {.context_length = 8});
    const std::vector<Token> bad{1, 512};
    CHECK_THROWS_AS(s.eval(bad), Error);
    const std::vector<Token> many(9, 1);
    try {
        s.eval(many);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::out_of_range);
    }
    const auto r = s.generate("Once", {.max_tokens = 100, .sampling = {.temperature = 0.0f}});
    CHECK(r.stop == GenerateResult::Stop::context_full);
    CHECK(s.position() == 9);  // 8 in the cache and the last sampled token, which did not fit
    s.reset();
    CHECK(s.position() == 0);
}

TEST_CASE("generation stops at -n or on request and is deterministic under a seed", "[model]") {
    Session s(shipped_model());
    const GenerateOptions options{.max_tokens = 20, .sampling = {.temperature = 1.0f, .seed = 77}};
    const auto a = s.generate("Once upon a time", options);
    s.reset();
    const auto b = s.generate("Once upon a time", options);
    CHECK(a.generated == b.generated);
    CHECK(a.generated.size() <= 20);
    s.reset();
    int pieces = 0;
    const auto c = s.generate("Once upon a time", {.max_tokens = 50, .sampling = {.temperature = 0.0f}},
                              [&](std::string_view) { return ++pieces < 3; });
    CHECK(c.stop == GenerateResult::Stop::callback);
    CHECK(pieces == 3);
    s.reset();
    const auto d = s.generate("Once upon a time", {.max_tokens = 0});
    CHECK(d.generated.empty());
    CHECK(s.position() == 5);
}

TEST_CASE("a model shared by sessions on several threads gives the same answers", "[model]") {
    std::vector<std::vector<Token>> results(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i) {
        threads.emplace_back([&, i] {
            Session s(shipped_model(), {.threads = 1});
            results[i] = s.generate("Once upon a time", {.max_tokens = 30, .sampling = {.temperature = 0.0f}}).generated;
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : results) CHECK(r == results[0]);
}

TEST_CASE("load errors name the file", "[model]") {
    try {
        Model::load("/nonexistent/model.gguf");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::io);
        CHECK_THAT(e.what(), Catch::Contains("/nonexistent/model.gguf"));
    }
    const std::vector<std::byte> junk(100, std::byte{7});
    CHECK_THROWS_AS(Model::load_from_memory(junk, "junk.bin"), Error);
}
