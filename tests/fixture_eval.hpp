// Evaluating a fixture model two ways: one batch, and one token at a time.
#pragma once

#include <vector>

#include "nibble/nibble.hpp"
#include "test_support.hpp"

namespace nibble::test {

/// Every position's logits of `ids` evaluated in one batch on a cache of type `cache`.
inline std::vector<float> logits_in_one_batch(const Model& model, const std::vector<Token>& ids, KvType cache = KvType::f32) {
    Session s(model, {.batch_size = static_cast<uint32_t>(ids.size()), .kv_type_k = cache, .kv_type_v = cache});
    const auto all = s.eval(ids, true);
    return {all.begin(), all.end()};
}

inline std::vector<float> logits_one_at_a_time(const Model& model, const std::vector<Token>& ids, KvType cache = KvType::f32) {
    Session s(model, {.threads = 1, .kv_type_k = cache, .kv_type_v = cache});
    std::vector<float> out;
    for (Token t : ids) {
        const Token one[1] = {t};
        const auto l = s.eval(one);
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

/// Checks both evaluation orders of `ids` against the reference logits file. Every
/// reference was made with an f32 KV cache (the fixtures READMEs), so these run on one;
/// test_fixture_kv.cpp holds the f16 and q8_0 caches against it.
inline void check_logits(const Model& model, const std::vector<Token>& ids, const std::string& reference_file,
                         Tolerance tolerance) {
    const auto reference = read_f32(reference_file);
    REQUIRE(reference.size() == ids.size() * model.info().n_vocab);
    const auto batch = compare_logits(logits_in_one_batch(model, ids, KvType::f32), reference, tolerance);
    INFO(reference_file << " batch: " << batch.describe());
    CHECK(batch.ok);
    const auto single = compare_logits(logits_one_at_a_time(model, ids, KvType::f32), reference, tolerance);
    INFO(reference_file << " one at a time: " << single.describe());
    CHECK(single.ok);
}

}  // namespace nibble::test
