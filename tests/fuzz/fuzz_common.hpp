// What every fuzz target shares: a nibble::Error is the expected answer to a bad
// input; anything else escaping (another exception, a crash, a sanitizer report, a
// leak) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string_view>

#include "formats/metadata.hpp"
#include "formats/tensor_directory.hpp"
#include "nibble/nibble.hpp"

namespace nibble::fuzz {

inline std::span<const std::byte> as_bytes(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const std::byte*>(data), size};
}

/// Runs `f`; a nibble::Error is fine (its message must not be empty), anything else aborts.
template <class F>
void expect_error_or_success(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        if (std::strlen(e.what()) == 0) {
            std::fprintf(stderr, "nibble::Error with an empty message\n");
            std::abort();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "non-nibble exception escaped: %s\n", e.what());
        std::abort();
    }
}

/// Reads every metadata value back (describe() walks strings and arrays).
inline void touch_metadata(const formats::Metadata& metadata) {
    size_t total = 0;
    for (const auto& [key, value] : metadata.entries()) total += key.size() + value.describe().size();
    if (total == SIZE_MAX) std::abort();
}

inline void exercise_tokenizer(const Tokenizer& tokenizer, std::string_view text) {
    expect_error_or_success([&] {
        const auto ids = tokenizer.encode(text, {.add_bos = true, .add_eos = true});
        for (Token id : ids) {
            if (id < 0 || static_cast<size_t>(id) >= tokenizer.vocab_size()) {
                std::fprintf(stderr, "encode produced id %d outside the vocabulary of %zu\n", id, tokenizer.vocab_size());
                std::abort();
            }
        }
        (void)tokenizer.decode(ids);
    });
}

/// Binds a model over the bytes and, when that works, evaluates two tokens.
inline void load_model(std::span<const std::byte> bytes) {
    expect_error_or_success([&] {
        const Model model = Model::load_from_memory(bytes, "fuzz");
        Session session(model, {.context_length = 8, .threads = 1, .batch_size = 2});
        const Token ids[2] = {0, static_cast<Token>(model.info().n_vocab - 1)};
        (void)session.eval(ids);
    });
}

}  // namespace nibble::fuzz
