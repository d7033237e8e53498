// The C API, part one: errors, version, models and tokens (include/nibble/nibble.h).
// Every function is a guarded call into the C++ API; nothing is implemented twice.
#include <vector>

#include "src/c_api_impl.hpp"

using nibble::c_api::copy_out;
using nibble::c_api::copy_text;
using nibble::c_api::guarded;
using nibble::c_api::input_span;
using nibble::c_api::input_text;
using nibble::c_api::invalid;
using nibble::c_api::require;

// The C enum repeats nibble::ErrorCode's numbers: keep them in step.
static_assert(NIBBLE_IO == static_cast<int>(nibble::ErrorCode::io));
static_assert(NIBBLE_BAD_FORMAT == static_cast<int>(nibble::ErrorCode::bad_format));
static_assert(NIBBLE_UNSUPPORTED == static_cast<int>(nibble::ErrorCode::unsupported));
static_assert(NIBBLE_BAD_MODEL == static_cast<int>(nibble::ErrorCode::bad_model));
static_assert(NIBBLE_INVALID_ARGUMENT == static_cast<int>(nibble::ErrorCode::invalid_argument));
static_assert(NIBBLE_OUT_OF_RANGE == static_cast<int>(nibble::ErrorCode::out_of_range));
static_assert(NIBBLE_CANCELLED == static_cast<int>(nibble::ErrorCode::cancelled));

namespace nibble::c_api {
namespace {

thread_local std::string last_message;
thread_local const char* last_error_text = "";

}  // namespace

nibble_status record_failure(nibble_status status, std::string_view text, std::string_view more,
                             std::string_view rest) noexcept {
    try {
        last_message.assign(text);
        last_message.append(more);
        last_message.append(rest);
        last_error_text = last_message.c_str();
    } catch (...) {
        last_error_text = "nibble: out of memory (the error message could not be stored)";
    }
    return status;
}

}  // namespace nibble::c_api

extern "C" {

const char* nibble_version(void) { return nibble::version(); }

const char* nibble_status_name(nibble_status status) {
    if (status == NIBBLE_OK) return "ok";
    if (status < NIBBLE_IO || status > NIBBLE_CANCELLED) return "unknown";
    return nibble::to_string(static_cast<nibble::ErrorCode>(status));
}

const char* nibble_last_error(void) { return nibble::c_api::last_error_text; }

// ---- models ----

nibble_load_options nibble_load_options_default(void) {
    const nibble::LoadOptions defaults;
    return {.use_mmap = defaults.use_mmap, .use_mlock = defaults.use_mlock, .tokenizer_path = nullptr,
            .isa = nullptr, .progress = nullptr, .progress_user_data = nullptr};
}

nibble_status nibble_model_load(const char* path, const nibble_load_options* options, nibble_model** model) {
    constexpr const char* function = "nibble_model_load";
    return guarded(function, [&] {
        require(model, function, "model");
        *model = nullptr;
        require(path, function, "path");
        const nibble_load_options o = options != nullptr ? *options : nibble_load_options_default();
        nibble::LoadOptions cpp{.use_mmap = o.use_mmap, .use_mlock = o.use_mlock};
        if (o.tokenizer_path != nullptr) cpp.tokenizer_path = o.tokenizer_path;
        if (o.isa != nullptr) cpp.isa = o.isa;
        if (o.progress != nullptr) {
            cpp.progress = [callback = o.progress, user_data = o.progress_user_data](float fraction) {
                return callback(fraction, user_data) != 0;
            };
        }
        auto handle = std::make_unique<nibble_model>(nibble_model{nibble::Model::load(path, cpp), {}});
        handle->tokenizer_kind = handle->model.tokenizer().kind();
        *model = handle.release();
    });
}

void nibble_model_free(nibble_model* model) { delete model; }

nibble_status nibble_model_get_info(const nibble_model* model, nibble_model_info* info) {
    constexpr const char* function = "nibble_model_get_info";
    return guarded(function, [&] {
        const nibble_model& m = require(model, function, "model");
        require(info, function, "info");
        const nibble::ModelInfo& i = m.model.info();
        const nibble::Tokenizer& t = m.model.tokenizer();
        *info = {.container = i.container.c_str(),
                 .container_version = i.container_version,
                 .architecture = i.architecture.c_str(),
                 .name = i.name.c_str(),
                 .chat_template = i.chat_template.c_str(),
                 .n_vocab = i.n_vocab,
                 .n_embd = i.n_embd,
                 .n_layer = i.n_layer,
                 .n_head = i.n_head,
                 .n_head_kv = i.n_head_kv,
                 .n_ff = i.n_ff,
                 .n_rot = i.n_rot,
                 .context_length = i.context_length,
                 .file_bytes = i.file_bytes,
                 .weight_bytes = i.weight_bytes,
                 .kernels = i.kernels.c_str(),
                 .locked = i.locked,
                 .lock_error = i.lock_error.c_str(),
                 .tokenizer = m.tokenizer_kind.c_str(),
                 .bos = t.vocab_size() > 0 ? t.bos() : -1,
                 .eos = t.vocab_size() > 0 ? t.eos() : -1,
                 .eot = t.vocab_size() > 0 ? t.eot() : -1};
    });
}

// ---- tokens ----

nibble_tokenize_options nibble_tokenize_options_default(void) {
    const nibble::EncodeOptions defaults;
    return {.add_bos = defaults.add_bos, .add_eos = defaults.add_eos, .parse_special = defaults.parse_special};
}

nibble_status nibble_tokenize(const nibble_model* model, const char* text, size_t length,
                              const nibble_tokenize_options* options, nibble_token* tokens, size_t capacity,
                              size_t* n_tokens) {
    constexpr const char* function = "nibble_tokenize";
    return guarded(function, [&] {
        const nibble_model& m = require(model, function, "model");
        const std::string_view source = input_text(text, length, function, "text");
        const nibble_tokenize_options o = options != nullptr ? *options : nibble_tokenize_options_default();
        const auto ids = m.model.tokenizer().encode(
            source, {.add_bos = o.add_bos, .add_eos = o.add_eos, .parse_special = o.parse_special});
        copy_out(std::span<const nibble_token>(ids), tokens, capacity, n_tokens, function, "tokens");
    });
}

nibble_status nibble_detokenize(const nibble_model* model, const nibble_token* tokens, size_t n_tokens, char* text,
                                size_t capacity, size_t* length) {
    constexpr const char* function = "nibble_detokenize";
    return guarded(function, [&] {
        const nibble_model& m = require(model, function, "model");
        const auto ids = input_span(tokens, n_tokens, function, "tokens");
        copy_text(m.model.tokenizer().decode(ids), text, capacity, length, function);
    });
}

nibble_status nibble_token_piece(const nibble_model* model, nibble_token token, char* piece, size_t capacity,
                                 size_t* length) {
    constexpr const char* function = "nibble_token_piece";
    return guarded(function, [&] {
        const nibble_model& m = require(model, function, "model");
        copy_text(m.model.tokenizer().piece(token), piece, capacity, length, function);
    });
}

}  // extern "C"
