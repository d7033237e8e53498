// Session: owns the KV cache, feeds the forward pass, runs the generation loop.
#include <chrono>
#include <fmt/format.h>
#include <thread>
#include <sys/resource.h>
#include <unistd.h>
#include <utility>

#include "src/model_impl.hpp"
#include "src/transformer.hpp"

namespace nibble {
namespace detail {

struct SessionImpl {
    Model model;
    SessionOptions options;
    const ModelImpl& m;
    const kernels::KernelTable& kernels;
    ForwardState state;
    uint32_t position = 0;
    std::vector<float> logits;

    SessionImpl(Model model_in, SessionOptions opts, const ModelImpl& impl)
        : model(std::move(model_in)),
          options(opts),
          m(impl),
          kernels(kernels::active_kernels()),
          state(impl, opts.context_length, opts.batch_size, std::max(opts.threads, opts.batch_threads)) {}
};

}  // namespace detail

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
    if (options.threads == 0) options.threads = physical_core_count();
    if (options.batch_threads == 0) options.batch_threads = options.threads;
    if (options.batch_size == 0) options.batch_size = 1;
    if (options.context_length == 0) options.context_length = std::min<uint32_t>(m.config.n_ctx_train, 4096);
    if (options.context_length == 0) options.context_length = 2048;
    options.batch_size = std::min(options.batch_size, options.context_length);
    // Every buffer is sized here, once: refuse sizes this machine cannot hold before
    // allocating (a vector of that size would throw bad_alloc, or the kernel would kill
    // the process when the pages are touched).
    const uint64_t need = detail::ForwardState::bytes_needed(m, options.context_length, options.batch_size,
                                                             std::max(options.threads, options.batch_threads));
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

// A moved-from Session has no state: its getters give empty values, eval and
// generate an Error.
uint32_t Session::position() const noexcept { return impl_ ? impl_->position : 0; }
uint32_t Session::context_length() const noexcept { return impl_ ? impl_->state.n_ctx : 0; }
void Session::reset() noexcept {
    if (impl_) impl_->position = 0;
}
const Model& Session::model() const noexcept {
    static const Model none;
    return impl_ ? impl_->model : none;
}

std::span<const float> Session::eval(std::span<const Token> tokens, bool all_logits) {
    if (!impl_) throw Error(ErrorCode::invalid_argument, "eval: this Session was moved from");
    detail::SessionImpl& s = *impl_;
    const uint32_t n_vocab = s.m.config.n_vocab;
    if (tokens.empty()) throw Error(ErrorCode::invalid_argument, "eval: no tokens");
    if (tokens.size() > s.state.n_ctx - s.position) {
        throw Error(ErrorCode::out_of_range, fmt::format("eval: {} tokens at position {} exceed the context of {}",
                                                         tokens.size(), s.position, s.state.n_ctx));
    }
    for (Token t : tokens) {
        if (t < 0 || static_cast<uint32_t>(t) >= n_vocab) {
            throw Error(ErrorCode::invalid_argument, fmt::format("eval: token id {} is outside the vocabulary of {}", t, n_vocab));
        }
    }
    const uint64_t logit_bytes = (all_logits ? tokens.size() : 1) * uint64_t{n_vocab} * sizeof(float);
    if (logit_bytes > physical_memory_bytes()) {
        throw Error(ErrorCode::out_of_range, fmt::format("eval: the logits of {} tokens need {}, more than this machine has",
                                                         tokens.size(), gib(logit_bytes)));
    }
    try {
        s.logits.resize((all_logits ? tokens.size() : 1) * size_t{n_vocab});
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::out_of_range, fmt::format("eval: cannot allocate {} for the logits", gib(logit_bytes)));
    }
    for (size_t done = 0; done < tokens.size();) {
        const auto n = static_cast<uint32_t>(std::min<size_t>(s.state.batch, tokens.size() - done));
        const bool last_chunk = done + n == tokens.size();
        s.state.threads = n > 1 ? s.options.batch_threads : s.options.threads;
        float* out = all_logits ? s.logits.data() + done * n_vocab : s.logits.data();
        if (all_logits || last_chunk) {
            detail::forward(s.m, s.kernels, s.state, tokens.data() + done, n, s.position, out, all_logits);
        } else {
            // Intermediate chunks still compute their last logits into the buffer; it is overwritten later.
            detail::forward(s.m, s.kernels, s.state, tokens.data() + done, n, s.position, out, false);
        }
        s.position += n;
        done += n;
    }
    // A mapped file that shrank under the model gave zeros for the bytes it lost.
    if (s.m.directory && s.m.directory->file) s.m.directory->file->check_intact();
    return s.logits;
}

GenerateResult Session::generate(std::string_view prompt, const GenerateOptions& options, const PieceCallback& on_piece) {
    if (!impl_) throw Error(ErrorCode::invalid_argument, "generate: this Session was moved from");
    const auto ids = impl_->model.tokenizer().encode(prompt, {.add_bos = options.add_bos});
    if (ids.empty()) throw Error(ErrorCode::invalid_argument, "generate: the prompt is empty and no BOS token is added");
    return generate(std::span<const Token>(ids), options, on_piece);
}

GenerateResult Session::generate(std::span<const Token> prompt, const GenerateOptions& options, const PieceCallback& on_piece) {
    using clock = std::chrono::steady_clock;
    if (prompt.empty()) throw Error(ErrorCode::invalid_argument, "generate: empty prompt");
    if (options.max_tokens < 0) throw Error(ErrorCode::invalid_argument, "generate: max_tokens is negative");
    if (!impl_) throw Error(ErrorCode::invalid_argument, "generate: this Session was moved from");
    const Tokenizer& tokenizer = impl_->model.tokenizer();
    GenerateResult result;
    result.prompt.assign(prompt.begin(), prompt.end());
    Sampler sampler(options.sampling);
    for (Token t : prompt) sampler.accept(t);

    const auto t0 = clock::now();
    std::span<const float> logits = eval(prompt, options.keep_prompt_logits);
    if (options.keep_prompt_logits) {
        result.prompt_logits.assign(logits.begin(), logits.end());
        logits = logits.last(impl_->m.config.n_vocab);
    }
    result.prompt_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    if (options.max_tokens == 0) return result;

    const auto t1 = clock::now();
    Utf8Stream stream;
    Token previous = prompt.back();
    const bool has_text = tokenizer.vocab_size() > 0;
    for (int i = 0; i < options.max_tokens; ++i) {
        const Token next = sampler.sample(logits);
        sampler.accept(next);
        result.generated.push_back(next);
        if (options.stop_at_eos && next == tokenizer.eos()) {
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
        if (position() >= context_length()) {
            result.stop = GenerateResult::Stop::context_full;
            break;
        }
        const Token one[1] = {next};
        logits = eval(one);
    }
    if (on_piece && result.stop != GenerateResult::Stop::callback) {
        if (const std::string rest = stream.flush(); !rest.empty()) on_piece(rest);
    }
    result.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return result;
}

}  // namespace nibble
