// The insides of a Session, shared by the files that implement it: the generation loop
// (session.cpp), saved state (session_state.cpp) and embeddings (embedding.cpp).
#pragma once

#include <atomic>
#include <optional>
#include <vector>

#include "src/model_impl.hpp"
#include "src/transformer.hpp"

namespace nibble::detail {

struct SessionImpl {
    Model model;
    SessionOptions options;
    const ModelImpl& m;
    const kernels::KernelTable& kernels;
    ForwardState state;
    std::vector<Token> tokens;       ///< evaluated: their keys and values fill cache rows [0, size)
    std::optional<Token> pending;    ///< sampled last, not evaluated yet (the next evaluation starts with it)
    std::vector<Token> conversation; ///< tokens then pending: what Session::tokens() shows
    std::vector<float> logits;       ///< of the last evaluation ([1 or n][n_vocab])
    bool logits_valid = false;       ///< the last row of `logits` belongs to tokens.back()
    std::optional<Sampler> sampler;  ///< the generation's sampler, kept across generate() calls
    std::atomic<bool> cancel_requested{false};

    SessionImpl(Model model_in, SessionOptions opts, const ModelImpl& impl)
        : model(std::move(model_in)),
          options(opts),
          m(impl),
          kernels(*impl.table),
          state(impl, opts.context_length, opts.batch_size, std::max(opts.threads, opts.batch_threads), opts.kv_type_k,
                opts.kv_type_v) {}

    uint32_t evaluated() const noexcept { return static_cast<uint32_t>(tokens.size()); }
    std::span<const float> last_logits() const noexcept {
        return std::span<const float>(logits).last(m.config.n_vocab);
    }
    void sync_conversation();
    /// True once: a cancel() arrived since the last time this was asked.
    bool take_cancel() noexcept { return cancel_requested.exchange(false); }
    /// Evaluates `ids` after the evaluated tokens, batch by batch (the pending token is
    /// not touched). With `hidden`, writes every token's final normed state there
    /// ([n][n_embd]) instead of computing logits. Throws cancelled between batches.
    void evaluate(std::span<const Token> ids, bool all_logits, float* hidden = nullptr);
};

}  // namespace nibble::detail
