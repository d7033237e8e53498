// The C API, part two: sessions, generation, saved state and embeddings
// (include/nibble/nibble.h), each a guarded call into nibble::Session.
#include <memory>
#include <vector>

#include "src/c_api_impl.hpp"

using nibble::c_api::copy_out;
using nibble::c_api::guarded;
using nibble::c_api::input_span;
using nibble::c_api::input_text;
using nibble::c_api::invalid;
using nibble::c_api::require;

namespace {

nibble_stop_reason stop_reason(nibble::GenerateResult::Stop stop) {
    using Stop = nibble::GenerateResult::Stop;
    switch (stop) {
        case Stop::max_tokens: return NIBBLE_STOP_MAX_TOKENS;
        case Stop::eos: return NIBBLE_STOP_EOS;
        case Stop::callback: return NIBBLE_STOP_CALLBACK;
        case Stop::context_full: return NIBBLE_STOP_CONTEXT_FULL;
        case Stop::cancelled: return NIBBLE_STOP_CANCELLED;
    }
    return NIBBLE_STOP_MAX_TOKENS;
}

nibble::Pooling pooling_of(nibble_pooling pooling, const char* function) {
    switch (pooling) {
        case NIBBLE_POOLING_MEAN: return nibble::Pooling::mean;
        case NIBBLE_POOLING_LAST: return nibble::Pooling::last;
        case NIBBLE_POOLING_NONE: return nibble::Pooling::none;
    }
    invalid(function, fmt::format("pooling {} is not a nibble_pooling value", static_cast<int>(pooling)));
}

// Runs one generation from a text or from ids (`Prompt`), streaming through the C
// callback and filling the C result.
template <class Prompt>
void generate_into(nibble_session& s, Prompt prompt, const nibble_generate_options* options,
                   nibble_generate_result* result, const char* function) {
    const nibble_generate_options o = options != nullptr ? *options : nibble_generate_options_default();
    const auto stops = input_span(o.stop_tokens, o.n_stop_tokens, function, "stop_tokens");
    if (o.generated == nullptr && o.generated_capacity != 0) invalid(function, "generated is NULL but generated_capacity is not 0");
    const nibble::GenerateOptions cpp{
        .max_tokens = o.max_tokens,
        .sampling = {.temperature = o.sampling.temperature,
                     .top_k = o.sampling.top_k,
                     .top_p = o.sampling.top_p,
                     .min_p = o.sampling.min_p,
                     .repeat_penalty = o.sampling.repeat_penalty,
                     .repeat_last_n = o.sampling.repeat_last_n,
                     .seed = o.sampling.seed},
        .add_bos = o.add_bos,
        .stop_at_eos = o.stop_at_eos,
        .stop_tokens = std::vector<nibble::Token>(stops.begin(), stops.end()),
    };
    // The C callback gets a NUL-terminated copy of each piece.
    std::string piece;
    nibble::PieceCallback on_piece;
    if (o.on_piece != nullptr) {
        on_piece = [&](std::string_view text) {
            piece.assign(text);
            return o.on_piece(piece.c_str(), piece.size(), o.user_data) != 0;
        };
    }
    const nibble::GenerateResult r = s.session.generate(prompt, cpp, on_piece);
    std::copy_n(r.generated.begin(), std::min(r.generated.size(), o.generated_capacity), o.generated);
    if (result != nullptr) {
        *result = {.n_prompt = r.prompt.size(),
                   .n_generated = r.generated.size(),
                   .stop = stop_reason(r.stop),
                   .prompt_seconds = r.prompt_seconds,
                   .generate_seconds = r.generate_seconds,
                   .shifts = r.shifts};
    }
}

}  // namespace

static_assert(NIBBLE_CACHE_F32 == static_cast<int>(nibble::KvType::f32));
static_assert(NIBBLE_CACHE_F16 == static_cast<int>(nibble::KvType::f16));
static_assert(NIBBLE_CACHE_Q8_0 == static_cast<int>(nibble::KvType::q8_0));

extern "C" {

// ---- sessions ----

nibble_session_options nibble_session_options_default(void) {
    const nibble::SessionOptions d;
    return {.context_length = d.context_length, .batch_size = d.batch_size, .threads = d.threads,
            .batch_threads = d.batch_threads, .on_full = NIBBLE_CONTEXT_STOP, .n_keep = d.n_keep,
            .type_k = static_cast<nibble_cache_type>(d.kv_type_k), .type_v = static_cast<nibble_cache_type>(d.kv_type_v)};
}

nibble_status nibble_session_create(const nibble_model* model, const nibble_session_options* options,
                                    nibble_session** session) {
    constexpr const char* function = "nibble_session_create";
    return guarded(function, [&] {
        require(session, function, "session");
        *session = nullptr;
        const nibble_model& m = require(model, function, "model");
        const nibble_session_options o = options != nullptr ? *options : nibble_session_options_default();
        if (o.on_full != NIBBLE_CONTEXT_STOP && o.on_full != NIBBLE_CONTEXT_SHIFT) {
            invalid(function, fmt::format("on_full {} is not a nibble_context_policy value", static_cast<int>(o.on_full)));
        }
        for (const auto& [type, name] : {std::pair{o.type_k, "type_k"}, std::pair{o.type_v, "type_v"}}) {
            if (type != NIBBLE_CACHE_F32 && type != NIBBLE_CACHE_F16 && type != NIBBLE_CACHE_Q8_0) {
                invalid(function, fmt::format("{} {} is not a nibble_cache_type value", name, static_cast<int>(type)));
            }
        }
        const nibble::SessionOptions cpp{
            .context_length = o.context_length,
            .threads = o.threads,
            .batch_threads = o.batch_threads,
            .batch_size = o.batch_size,
            .on_full = o.on_full == NIBBLE_CONTEXT_SHIFT ? nibble::ContextPolicy::shift : nibble::ContextPolicy::stop,
            .n_keep = o.n_keep,
            // nibble_cache_type has KvType's numbers
            .kv_type_k = static_cast<nibble::KvType>(o.type_k),
            .kv_type_v = static_cast<nibble::KvType>(o.type_v)};
        *session = std::make_unique<nibble_session>(nibble::Session(m.model, cpp)).release();
    });
}

void nibble_session_free(nibble_session* session) { delete session; }

nibble_status nibble_session_reset(nibble_session* session) {
    constexpr const char* function = "nibble_session_reset";
    return guarded(function, [&] { require(session, function, "session").session.reset(); });
}

nibble_status nibble_session_truncate(nibble_session* session, uint32_t n) {
    constexpr const char* function = "nibble_session_truncate";
    return guarded(function, [&] { require(session, function, "session").session.truncate(n); });
}

nibble_status nibble_session_position(const nibble_session* session, uint32_t* position) {
    constexpr const char* function = "nibble_session_position";
    return guarded(function, [&] { require(position, function, "position") = require(session, function, "session").session.position(); });
}

nibble_status nibble_session_context_length(const nibble_session* session, uint32_t* context_length) {
    constexpr const char* function = "nibble_session_context_length";
    return guarded(function, [&] {
        require(context_length, function, "context_length") = require(session, function, "session").session.context_length();
    });
}

nibble_status nibble_session_tokens(const nibble_session* session, nibble_token* tokens, size_t capacity, size_t* n_tokens) {
    constexpr const char* function = "nibble_session_tokens";
    return guarded(function, [&] {
        copy_out(require(session, function, "session").session.tokens(), tokens, capacity, n_tokens, function, "tokens");
    });
}

nibble_status nibble_session_cancel(nibble_session* session) {
    // Nothing here allocates for a valid session (signal handlers may call it).
    if (session == nullptr) return nibble::c_api::record_failure(NIBBLE_INVALID_ARGUMENT, "nibble_session_cancel: session is NULL");
    session->session.cancel();
    return NIBBLE_OK;
}

nibble_status nibble_session_eval(nibble_session* session, const nibble_token* tokens, size_t n_tokens, bool all_logits,
                                  const float** logits, size_t* n_logits) {
    constexpr const char* function = "nibble_session_eval";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        require(logits, function, "logits");
        require(n_logits, function, "n_logits");
        *logits = nullptr;
        *n_logits = 0;
        const auto result = s.session.eval(input_span(tokens, n_tokens, function, "tokens"), all_logits);
        *logits = result.data();
        *n_logits = result.size();
    });
}

// ---- generation ----

nibble_generate_options nibble_generate_options_default(void) {
    const nibble::GenerateOptions d;
    const nibble::SamplingOptions& s = d.sampling;
    return {.max_tokens = d.max_tokens,
            .sampling = {.temperature = s.temperature, .top_k = s.top_k, .top_p = s.top_p, .min_p = s.min_p,
                         .repeat_penalty = s.repeat_penalty, .repeat_last_n = s.repeat_last_n, .seed = s.seed},
            .add_bos = d.add_bos,
            .stop_at_eos = d.stop_at_eos,
            .stop_tokens = nullptr,
            .n_stop_tokens = 0,
            .on_piece = nullptr,
            .user_data = nullptr,
            .generated = nullptr,
            .generated_capacity = 0};
}

nibble_status nibble_generate(nibble_session* session, const char* prompt, size_t length,
                              const nibble_generate_options* options, nibble_generate_result* result) {
    constexpr const char* function = "nibble_generate";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        generate_into(s, input_text(prompt, length, function, "prompt"), options, result, function);
    });
}

nibble_status nibble_generate_tokens(nibble_session* session, const nibble_token* prompt, size_t n_tokens,
                                     const nibble_generate_options* options, nibble_generate_result* result) {
    constexpr const char* function = "nibble_generate_tokens";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        generate_into(s, input_span(prompt, n_tokens, function, "prompt"), options, result, function);
    });
}

// ---- saved state ----

nibble_status nibble_session_state_size(const nibble_session* session, size_t* size) {
    constexpr const char* function = "nibble_session_state_size";
    return guarded(function, [&] {
        const nibble_session& s = require(session, function, "session");
        require(size, function, "size") = s.session.save_state().size();
    });
}

nibble_status nibble_session_save_state(const nibble_session* session, void* buffer, size_t capacity, size_t* size) {
    constexpr const char* function = "nibble_session_save_state";
    return guarded(function, [&] {
        const nibble_session& s = require(session, function, "session");
        require(size, function, "size");
        const std::vector<std::byte> state = s.session.save_state();
        copy_out(std::span<const std::byte>(state), static_cast<std::byte*>(buffer), capacity, size, function, "bytes");
    });
}

nibble_status nibble_session_load_state(nibble_session* session, const void* bytes, size_t size) {
    constexpr const char* function = "nibble_session_load_state";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        s.session.load_state(input_span(static_cast<const std::byte*>(bytes), size, function, "bytes"));
    });
}

nibble_status nibble_session_save_state_file(const nibble_session* session, const char* path) {
    constexpr const char* function = "nibble_session_save_state_file";
    return guarded(function, [&] {
        const nibble_session& s = require(session, function, "session");
        require(path, function, "path");
        s.session.save_state(std::string(path));
    });
}

nibble_status nibble_session_load_state_file(nibble_session* session, const char* path) {
    constexpr const char* function = "nibble_session_load_state_file";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        require(path, function, "path");
        s.session.load_state(std::string(path));
    });
}

// ---- embeddings ----

nibble_status nibble_embed(nibble_session* session, const char* text, size_t length, nibble_pooling pooling, float* values,
                           size_t capacity, size_t* n_values) {
    constexpr const char* function = "nibble_embed";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        require(n_values, function, "n_values");
        const auto result = s.session.embed(input_text(text, length, function, "text"), pooling_of(pooling, function));
        copy_out(std::span<const float>(result), values, capacity, n_values, function, "floats");
    });
}

nibble_status nibble_embed_tokens(nibble_session* session, const nibble_token* tokens, size_t n_tokens,
                                  nibble_pooling pooling, float* values, size_t capacity, size_t* n_values) {
    constexpr const char* function = "nibble_embed_tokens";
    return guarded(function, [&] {
        nibble_session& s = require(session, function, "session");
        require(n_values, function, "n_values");
        const auto result = s.session.embed(input_span(tokens, n_tokens, function, "tokens"), pooling_of(pooling, function));
        copy_out(std::span<const float>(result), values, capacity, n_values, function, "floats");
    });
}

}  // extern "C"
