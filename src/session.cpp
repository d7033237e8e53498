// Session: owns the KV cache, feeds the forward pass, runs the generation loop and
// keeps a full context going (ContextPolicy).
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <thread>
#include <sys/resource.h>
#include <unistd.h>
#include <utility>

#include "kernels/blocks.hpp"
#include "src/session_impl.hpp"

namespace nibble {
namespace {


// Holds back the bytes of a UTF-8 character that is not complete yet.
class Utf8Stream {
public:
    std::string push(std::string_view bytes) {
        pending_ += bytes;
        size_t cut = pending_.size();
        // Look at the last (up to 4) bytes for a lead byte whose character is incomplete.
        for (size_t back = 1; back <= std::min<size_t>(4, pending_.size()); ++back) {
            const auto c = static_cast<unsigned char>(pending_[pending_.size() - back]);
            if ((c & 0xc0) == 0x80) continue;  // continuation byte: keep looking
            const size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            if (need > back) cut = pending_.size() - back;
            break;
        }
        std::string ready = pending_.substr(0, cut);
        pending_.erase(0, cut);
        return ready;
    }
    std::string flush() { return std::exchange(pending_, {}); }

private:
    std::string pending_;
};

uint64_t physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
}

std::string gib(uint64_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / double(1u << 30)); }

}  // namespace

namespace detail {

void SessionImpl::sync_conversation() {
    conversation = tokens;
    if (pending) conversation.push_back(*pending);
}

void SessionImpl::evaluate(std::span<const Token> ids, bool all_logits, float* hidden) {
    const uint32_t n_vocab = m.config.n_vocab;
    if (ids.size() > state.n_ctx - evaluated()) {
        throw Error(ErrorCode::out_of_range, fmt::format("eval: {} tokens at position {} exceed the context of {}",
                                                         ids.size(), evaluated(), state.n_ctx));
    }
    for (Token t : ids) {
        if (t < 0 || static_cast<uint32_t>(t) >= n_vocab) {
            throw Error(ErrorCode::invalid_argument, fmt::format("eval: token id {} is outside the vocabulary of {}", t, n_vocab));
        }
    }
    if (hidden == nullptr) {
        const uint64_t logit_bytes = (all_logits ? ids.size() : 1) * uint64_t{n_vocab} * sizeof(float);
        if (logit_bytes > physical_memory_bytes()) {
            throw Error(ErrorCode::out_of_range, fmt::format("eval: the logits of {} tokens need {}, more than this machine has",
                                                             ids.size(), gib(logit_bytes)));
        }
        try {
            logits.resize((all_logits ? ids.size() : 1) * size_t{n_vocab});
        } catch (const std::bad_alloc&) {
            throw Error(ErrorCode::out_of_range, fmt::format("eval: cannot allocate {} for the logits", gib(logit_bytes)));
        }
    }
    logits_valid = false;
    for (size_t done = 0; done < ids.size();) {
        // Between batches: the first always runs, so a call makes progress (the pending
        // token, say) even when a cancel() came before it.
        if (done > 0 && take_cancel()) {
            sync_conversation();
            throw Error(ErrorCode::cancelled,
                        fmt::format("eval: cancelled after {} of {} tokens (position {})", done, ids.size(), evaluated()));
        }
        const auto n = static_cast<uint32_t>(std::min<size_t>(state.batch, ids.size() - done));
        state.threads = n > 1 ? options.batch_threads : options.threads;
        float* out = hidden != nullptr ? nullptr : all_logits ? logits.data() + done * n_vocab : logits.data();
        float* states = hidden != nullptr ? hidden + done * m.config.n_embd : nullptr;
        // Batches before the last still compute their last logits; they are overwritten.
        forward(m, kernels, state, ids.data() + done, n, evaluated(), out, all_logits, states);
        tokens.insert(tokens.end(), ids.begin() + static_cast<ptrdiff_t>(done), ids.begin() + static_cast<ptrdiff_t>(done + n));
        done += n;
        logits_valid = hidden == nullptr && (all_logits || done == ids.size());
    }
    sync_conversation();
    // A mapped file that shrank under the model gave zeros for the bytes it lost.
    if (m.directory && m.directory->file) m.directory->file->check_intact();
}

}  // namespace detail

namespace {
// SessionOptions::context_length 0: the training context, at most 4096 (2048 when the file says none).
uint32_t default_context_length(const detail::ModelImpl& m) {
    const uint32_t trained = std::min<uint32_t>(m.config.n_ctx_train, 4096);
    return trained != 0 ? trained : 2048;
}
}  // namespace

uint64_t kv_cache_bytes(const Model& model, uint32_t context_length, KvType type_k, KvType type_v) {
    if (!model.impl_) throw Error(ErrorCode::invalid_argument, "kv_cache_bytes: the model is empty");
    const detail::ModelImpl& m = *model.impl_;
    return detail::ForwardState::cache_bytes(m, context_length != 0 ? context_length : default_context_length(m), type_k,
                                             type_v);
}

Session::Session(Model model, SessionOptions options) {
    if (!model.impl_) throw Error(ErrorCode::invalid_argument, "Session: the model is empty");
    const detail::ModelImpl& m = *model.impl_;
    if (options.threads < 0 || options.threads > max_session_threads) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("Session: threads {} is outside 0 (the default) to {}", options.threads, max_session_threads));
    }
    if (options.batch_threads < 0 || options.batch_threads > max_session_threads) {
        throw Error(ErrorCode::invalid_argument, fmt::format("Session: batch_threads {} is outside 0 (the default) to {}",
                                                             options.batch_threads, max_session_threads));
    }
    if (options.context_length > max_context_length) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("Session: context_length {} is more than {}", options.context_length, max_context_length));
    }
    if (options.batch_size > max_batch_size) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("Session: batch_size {} is more than {}", options.batch_size, max_batch_size));
    }
    if (options.on_full != ContextPolicy::stop && options.on_full != ContextPolicy::shift) {
        throw Error(ErrorCode::invalid_argument, "Session: on_full is not a ContextPolicy");
    }
    for (const auto& [type, name] : {std::pair{options.kv_type_k, "kv_type_k"}, std::pair{options.kv_type_v, "kv_type_v"}}) {
        if (type != KvType::f32 && type != KvType::f16 && type != KvType::q8_0) {
            throw Error(ErrorCode::invalid_argument, fmt::format("Session: {} is not a KvType", name));
        }
        // A q8_0 row is whole blocks of 32 values (llama.cpp asks the same of each head).
        if (type == KvType::q8_0 && m.config.kv_dim() % kernels::qk8_0 != 0) {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("Session: {} q8_0 needs a key width that is a multiple of {}; this model's is {} "
                                    "(use f16 or f32)",
                                    name, kernels::qk8_0, m.config.kv_dim()));
        }
    }
    if (options.threads == 0) options.threads = physical_core_count();
    if (options.batch_threads == 0) options.batch_threads = options.threads;
    if (options.batch_size == 0) options.batch_size = 1;
    if (options.context_length == 0) options.context_length = default_context_length(m);
    options.batch_size = std::min(options.batch_size, options.context_length);
    if (options.on_full == ContextPolicy::shift && options.n_keep >= options.context_length / 2) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("Session: n_keep {} leaves no room to shift a context of {} (need n_keep < {})",
                                options.n_keep, options.context_length, options.context_length / 2));
    }
    // Every buffer is sized here, once: refuse sizes this machine cannot hold before
    // allocating (a vector of that size would throw bad_alloc, or the kernel would kill
    // the process when the pages are touched).
    const uint64_t need = detail::ForwardState::bytes_needed(m, options.context_length, options.batch_size,
                                                             std::max(options.threads, options.batch_threads),
                                                             options.kv_type_k, options.kv_type_v);
    uint64_t have = physical_memory_bytes();
    if (struct rlimit limit {}; ::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        have = std::min<uint64_t>(have, limit.rlim_cur);
    }
    if (need > have) {
        throw Error(ErrorCode::out_of_range,
                    fmt::format("Session: context {} with batch {} needs {} of memory for its cache and buffers, more than "
                                "the {} this process may use",
                                options.context_length, options.batch_size, gib(need), gib(have)));
    }
    try {
        impl_ = std::make_unique<detail::SessionImpl>(std::move(model), options, m);
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::out_of_range, fmt::format("Session: cannot allocate the {} its cache and buffers need "
                                                         "(context {}, batch {})",
                                                         gib(need), options.context_length, options.batch_size));
    }
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

namespace {

detail::SessionImpl& usable(const std::unique_ptr<detail::SessionImpl>& impl, const char* what) {
    if (!impl) throw Error(ErrorCode::invalid_argument, fmt::format("{}: this Session was moved from", what));
    return *impl;
}

// Makes room for `needed` more tokens after the evaluated ones, as the policy says.
// Shift: keep the first n_keep (BOS always), drop the older half of the rest (more
// when `needed` asks for it), and evaluate the kept tail again at its new positions,
// so the cache is exactly that of a session fed the kept tokens. Returns false when
// the policy is stop and there is no room.
bool make_room(detail::SessionImpl& s, size_t needed, uint32_t& shifts) {
    const uint32_t n_ctx = s.state.n_ctx, used = s.evaluated();
    if (used + needed <= n_ctx) return true;
    if (s.options.on_full == ContextPolicy::stop) return false;
    const Token bos = s.model.tokenizer().bos();
    uint32_t keep = std::min(s.options.n_keep, used);
    if (keep == 0 && used > 0 && s.tokens.front() == bos) keep = 1;
    const uint32_t rest = used - keep;
    const uint64_t must_drop = used + needed - n_ctx;
    const uint64_t drop = std::max<uint64_t>(rest / 2, must_drop);
    if (drop > rest) {
        throw Error(ErrorCode::out_of_range,
                    fmt::format("context shift: {} new tokens do not fit a context of {} with {} tokens kept", needed, n_ctx,
                                keep));
    }
    const std::vector<Token> tail(s.tokens.begin() + keep + static_cast<ptrdiff_t>(drop), s.tokens.end());
    s.tokens.resize(keep);
    s.logits_valid = false;
    ++shifts;
    if (!tail.empty()) s.evaluate(tail, false);
    s.sync_conversation();
    return true;
}

bool same_sampling(const SamplingOptions& a, const SamplingOptions& b) {
    return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p &&
           a.repeat_penalty == b.repeat_penalty && a.repeat_last_n == b.repeat_last_n && a.seed == b.seed;
}

}  // namespace

// A moved-from Session has no state: its getters give empty values, the rest an Error.
uint32_t Session::position() const noexcept { return impl_ ? static_cast<uint32_t>(impl_->conversation.size()) : 0; }
std::span<const Token> Session::tokens() const noexcept {
    return impl_ ? std::span<const Token>(impl_->conversation) : std::span<const Token>();
}
uint32_t Session::context_length() const noexcept { return impl_ ? impl_->state.n_ctx : 0; }
const SessionOptions& Session::options() const noexcept {
    static const SessionOptions none;
    return impl_ ? impl_->options : none;
}
void Session::reset() noexcept {
    if (!impl_) return;
    impl_->tokens.clear();
    impl_->pending.reset();
    impl_->conversation.clear();
    impl_->logits_valid = false;
    impl_->sampler.reset();
}
void Session::cancel() noexcept {
    if (impl_) impl_->cancel_requested.store(true);
}
void Session::clear_cancel() noexcept {
    if (impl_) impl_->cancel_requested.store(false);
}
void Session::reset_sampler() noexcept {
    if (impl_) impl_->sampler.reset();
}
const Model& Session::model() const noexcept {
    static const Model none;
    return impl_ ? impl_->model : none;
}

void Session::truncate(uint32_t n) {
    detail::SessionImpl& s = usable(impl_, "truncate");
    if (n > position()) {
        throw Error(ErrorCode::invalid_argument, fmt::format("truncate: {} is more than the {} tokens held", n, position()));
    }
    if (n == position()) return;
    s.pending.reset();
    if (n < s.evaluated()) {
        s.tokens.resize(n);
        s.logits_valid = false;
    }
    s.sync_conversation();
}

std::span<const float> Session::eval(std::span<const Token> tokens, bool all_logits) {
    detail::SessionImpl& s = usable(impl_, "eval");
    if (tokens.empty()) throw Error(ErrorCode::invalid_argument, "eval: no tokens");
    const size_t pending = s.pending ? 1 : 0;
    if (pending + tokens.size() > s.state.n_ctx - s.evaluated()) {
        throw Error(ErrorCode::out_of_range, fmt::format("eval: {} tokens at position {} exceed the context of {}",
                                                         tokens.size(), position(), s.state.n_ctx));
    }
    if (s.pending) {  // the last sampled token goes first
        const Token first[1] = {*s.pending};
        s.pending.reset();
        s.evaluate(first, false);
    }
    s.evaluate(tokens, all_logits);
    return s.logits;
}

GenerateResult Session::generate(std::string_view prompt, const GenerateOptions& options, const PieceCallback& on_piece) {
    detail::SessionImpl& s = usable(impl_, "generate");
    const bool first = position() == 0;
    const auto ids = s.model.tokenizer().encode(prompt, {.add_bos = options.add_bos && first});
    if (ids.empty() && first) throw Error(ErrorCode::invalid_argument, "generate: the prompt is empty and no BOS token is added");
    return generate(std::span<const Token>(ids), options, on_piece);
}

GenerateResult Session::generate(std::span<const Token> prompt, const GenerateOptions& options, const PieceCallback& on_piece) {
    using clock = std::chrono::steady_clock;
    detail::SessionImpl& s = usable(impl_, "generate");
    if (options.max_tokens < 0) throw Error(ErrorCode::invalid_argument, "generate: max_tokens is negative");
    if (prompt.empty() && position() == 0) throw Error(ErrorCode::invalid_argument, "generate: empty prompt and empty session");
    const Tokenizer& tokenizer = s.model.tokenizer();
    GenerateResult result;
    result.prompt.assign(prompt.begin(), prompt.end());
    if (!s.sampler || !same_sampling(s.sampler->options(), options.sampling)) {
        s.sampler.emplace(options.sampling);
        const size_t window = static_cast<size_t>(options.sampling.repeat_last_n);
        const auto& held = s.conversation;
        for (size_t i = held.size() > window ? held.size() - window : 0; i < held.size(); ++i) s.sampler->accept(held[i]);
    }
    Sampler& sampler = *s.sampler;
    for (Token t : prompt) sampler.accept(t);

    const auto t0 = clock::now();
    const size_t needed = (s.pending ? 1 : 0) + prompt.size();
    if (!make_room(s, needed, result.shifts)) {
        throw Error(ErrorCode::out_of_range,
                    fmt::format("generate: {} tokens at position {} exceed the context of {} (truncate, reset, or "
                                "ContextPolicy::shift)", needed, s.evaluated(), s.state.n_ctx));
    }
    // What to evaluate first: the pending token and the prompt; with neither and no
    // logits at hand (after truncate or a cancelled call), the last token again.
    std::vector<Token> input;
    if (s.pending) input.push_back(*s.pending);
    input.insert(input.end(), prompt.begin(), prompt.end());
    if (input.empty() && !s.logits_valid) {
        input.push_back(s.tokens.back());
        s.tokens.pop_back();
    }
    s.pending.reset();
    s.sync_conversation();

    std::span<const float> logits;
    try {
        if (!input.empty()) {
            const size_t lead = input.size() - prompt.size();  // the pending token or the re-evaluated last one
            if (options.keep_prompt_logits && !prompt.empty()) {
                if (lead > 0) s.evaluate(std::span<const Token>(input).first(lead), false);
                s.evaluate(prompt, true);
                result.prompt_logits.assign(s.logits.begin(), s.logits.end());
            } else {
                s.evaluate(input, false);
            }
        }
    } catch (const Error& e) {
        if (e.code() != ErrorCode::cancelled) throw;
        result.stop = GenerateResult::Stop::cancelled;
        result.prompt_seconds = std::chrono::duration<double>(clock::now() - t0).count();
        return result;
    }
    logits = s.last_logits();
    result.prompt_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    if (options.max_tokens == 0) return result;

    const auto t1 = clock::now();
    Utf8Stream stream;
    Token previous = s.tokens.empty() ? -1 : s.tokens.back();
    const bool has_text = tokenizer.vocab_size() > 0;
    try {
        for (int i = 0;; ++i) {
            if (s.take_cancel()) {
                result.stop = GenerateResult::Stop::cancelled;
                break;
            }
            const Token next = sampler.sample(logits);
            sampler.accept(next);
            result.generated.push_back(next);
            s.pending = next;  // in the conversation now; evaluated when the next token needs it
            s.sync_conversation();
            if (options.stop_at_eos && (next == tokenizer.eos() || next == tokenizer.eot() || std::find(options.stop_tokens.begin(),
                                                                                 options.stop_tokens.end(), next) !=
                                                                       options.stop_tokens.end())) {
                result.stop = GenerateResult::Stop::eos;
                break;
            }
            if (has_text && on_piece) {
                std::string piece = tokenizer.piece(next);
                // SentencePiece text starts with the space the encoder added: drop it after BOS.
                if (previous == tokenizer.bos() && !piece.empty() && piece.front() == ' ') piece.erase(0, 1);
                const std::string ready = stream.push(piece);
                if (!ready.empty() && !on_piece(ready)) {
                    result.stop = GenerateResult::Stop::callback;
                    break;
                }
            }
            previous = next;
            if (i + 1 == options.max_tokens) break;
            if (!make_room(s, 1, result.shifts)) {
                result.stop = GenerateResult::Stop::context_full;
                break;
            }
            const Token one[1] = {next};
            s.evaluate(one, false);
            s.pending.reset();  // only now: a failed evaluation leaves it pending
            s.sync_conversation();
            logits = s.last_logits();
        }
    } catch (const Error& e) {
        if (e.code() != ErrorCode::cancelled) throw;
        result.stop = GenerateResult::Stop::cancelled;
    }
    if (on_piece && result.stop != GenerateResult::Stop::callback) {
        if (const std::string rest = stream.flush(); !rest.empty()) on_piece(rest);
    }
    result.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return result;
}

}  // namespace nibble
