// nibble: CPU inference for 4-bit quantized language models. The public API.
//
// Threading: a Model is immutable after load and may be shared by any number of
// threads and Sessions. A Session, a Sampler and a Tokenizer's mutable users are
// used by one thread at a time. Every function that can fail throws nibble::Error,
// and only that (allocation failures become Error(out_of_range)); docs/reliability.md
// states the limits, the memory bound and what happens when a mapped file shrinks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/error.hpp"
#include "nibble/export.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble {

using Token = int32_t;

namespace detail {
struct ModelImpl;
struct TokenizerImpl;
struct SessionImpl;
}  // namespace detail

/// Options for Tokenizer::encode.
struct EncodeOptions {
    bool add_bos = false;  ///< prepend the beginning-of-sequence token
    bool add_eos = false;  ///< append the end-of-sequence token
};

/// Text <-> token ids for a model's vocabulary. Cheap to copy (shared, immutable);
/// thread-safe.
class NIBBLE_API Tokenizer {
public:
    /// The tokenizer of a model file, without loading its weights (vocab-only GGUF
    /// files included). Throws Error when the file has none or cannot be read.
    static Tokenizer load(const std::string& path);

    /// Token ids for `text` (UTF-8). Accepts any byte sequence; throws Error for a
    /// default-constructed Tokenizer or a model without a vocabulary.
    std::vector<Token> encode(std::string_view text, EncodeOptions options = {}) const;
    /// Text of a sequence of ids; control tokens (BOS, EOS) produce no text, and the
    /// space the encoder adds in front of the text is removed. Throws
    /// invalid_argument for an id outside the vocabulary.
    std::string decode(std::span<const Token> tokens) const;
    /// Raw bytes token `id` stands for (byte tokens give their single byte, which may
    /// be part of a multi-byte UTF-8 character). Throws invalid_argument when out of range.
    std::string piece(Token id) const;
    /// The vocabulary entry as stored in the file (e.g. "▁Hello", "<0x0A>").
    std::string_view token_text(Token id) const;

    size_t vocab_size() const noexcept;
    Token bos() const noexcept;
    Token eos() const noexcept;
    /// "llama" (SentencePiece), "gpt2" (byte-level BPE) or "none".
    std::string_view kind() const noexcept;

private:
    friend struct detail::ModelImpl;
    std::shared_ptr<const detail::TokenizerImpl> impl_;
};

/// How to open a model file.
struct LoadOptions {
    bool use_mmap = true;        ///< map the file (false: read it into memory)
    std::string tokenizer_path{};  ///< llama2.c checkpoints: tokenizer file (default: tok<N>.bin or tokenizer.bin beside it)
    /// Called from the loading thread with the fraction done (0 to 1, rising, 1 last);
    /// returning false cancels the load, which then throws Error(ErrorCode::cancelled).
    /// With a callback, the tensors' pages are read in (faulted) during the load, so the
    /// fraction follows the bytes read; without one, pages not needed yet stay on disk.
    std::function<bool(float fraction)> progress{};
};

/// Hyperparameters and facts about a loaded model.
struct ModelInfo {
    std::string container;     ///< "GGUF", "llama2.c"
    uint32_t container_version = 0;
    std::string architecture;  ///< "llama"
    std::string name;
    uint32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_rot = 0;
    uint32_t context_length = 0;  ///< training context
    float rope_freq_base = 10000.0f;
    float norm_eps = 1e-5f;
    bool tied_output = false;  ///< output projection reuses the token embedding
    std::string norm;          ///< "RMSNorm" or "LayerNorm"
    std::string rope_mode;     ///< "adjacent pairs", "half split" or "none"
    bool parallel_residual = false;
    float alibi_max_bias = 0;  ///< > 0: ALiBi attention biases
    float clamp_kqv = 0;       ///< > 0: q, k, v clipped to [-c, c]
    std::string variant;       ///< family detail, e.g. Falcon "7B (one norm)" or "40B (attn_norm_2)"
    uint64_t file_bytes = 0;
    uint64_t weight_bytes = 0;    ///< bytes of all tensors
    uint64_t resident_copies = 0; ///< bytes nibble copied out of the file (layout conversions)
    uint64_t packed_bytes = 0;    ///< bytes of matrices repacked into the kernels' panel layout at load
    std::string kernels;          ///< the kernel table in use ("avx2", "neon-dotprod", ...)
    std::vector<std::pair<std::string, size_t>> tensor_types;  ///< type name -> tensor count
};

/// A loaded model: immutable, thread-safe, cheap to copy (shared ownership).
class NIBBLE_API Model {
public:
    /// Opens a GGUF file or a llama2.c checkpoint. Throws Error naming the file and
    /// what is wrong with it. With use_mmap (the default) the file stays mapped: if it
    /// shrinks while the Model lives, the lost bytes read as zeros and the next
    /// Session::eval throws Error(io); with use_mmap = false the file is read whole and
    /// may change or vanish afterwards.
    static Model load(const std::string& path, const LoadOptions& options = {});
    /// Loads from memory the caller keeps alive and unchanged as long as any copy of
    /// the Model or a Session on it exists. `name` appears in error messages.
    static Model load_from_memory(std::span<const std::byte> bytes, const std::string& name = "<memory>");

    const ModelInfo& info() const noexcept;
    const Tokenizer& tokenizer() const noexcept;

private:
    friend class Session;
    std::shared_ptr<const detail::ModelImpl> impl_;
};

/// Limits of SessionOptions: larger values are refused with Error(invalid_argument).
inline constexpr uint32_t max_context_length = 1u << 20;
inline constexpr uint32_t max_batch_size = 1u << 16;
inline constexpr int max_session_threads = 1024;

/// Per-session settings. The Session constructor computes the memory they need and
/// throws Error(out_of_range), saying how much, when the machine has less; values
/// beyond the limits above (or negative thread counts) throw Error(invalid_argument).
struct SessionOptions {
    uint32_t context_length = 0;  ///< KV cache positions; 0 = the model's training context, at most 4096
    int threads = 0;              ///< generation threads; 0 = physical_core_count()
    int batch_threads = 0;        ///< prompt-processing threads; 0 = same as threads
    uint32_t batch_size = 64;     ///< tokens evaluated together while ingesting a prompt (at most context_length)
};

/// How the next token is chosen. temperature <= 0 means greedy (argmax).
struct SamplingOptions {
    float temperature = 0.8f;
    int top_k = 40;               ///< 0 = off
    float top_p = 0.95f;          ///< 1 = off
    float min_p = 0.05f;          ///< 0 = off
    float repeat_penalty = 1.0f;  ///< 1 = off; >1 discourages the last repeat_last_n tokens
    int repeat_last_n = 64;
    uint64_t seed = 0;            ///< the same seed and inputs give the same tokens
};

/// Picks tokens from logits. One thread at a time.
class NIBBLE_API Sampler {
public:
    explicit Sampler(SamplingOptions options = {});
    /// Chooses a token from `logits` (one per vocabulary entry), applying the penalty
    /// for tokens previously passed to accept().
    Token sample(std::span<const float> logits);
    /// Records a token in the repetition window (prompt tokens and chosen tokens).
    void accept(Token token);
    void reset();
    const SamplingOptions& options() const noexcept { return options_; }

private:
    SamplingOptions options_;
    std::vector<Token> recent_;
    uint64_t rng_state_[4];
    std::vector<std::pair<float, Token>> candidates_;
};

struct GenerateOptions {
    int max_tokens = 128;       ///< tokens to generate; 0 = evaluate the prompt only
    SamplingOptions sampling{};
    bool add_bos = true;        ///< prepend BOS to a text prompt
    bool stop_at_eos = true;     ///< false: generate max_tokens even past end-of-sequence
    bool keep_prompt_logits = false;  ///< fill GenerateResult::prompt_logits
};

struct GenerateResult {
    std::vector<Token> prompt;     ///< the prompt ids evaluated
    std::vector<Token> generated;  ///< the ids produced, in order
    std::vector<float> prompt_logits;  ///< [prompt.size()][n_vocab] when keep_prompt_logits
    double prompt_seconds = 0;
    double generate_seconds = 0;
    enum class Stop { max_tokens, eos, callback, context_full } stop = Stop::max_tokens;
};

/// Receives generated text, whole UTF-8 characters at a time; return false to stop.
using PieceCallback = std::function<bool(std::string_view piece)>;

/// One conversation's state: the KV cache and the current position. Owns its
/// buffers; keeps its Model alive. Use from one thread at a time.
class NIBBLE_API Session {
public:
    explicit Session(Model model, SessionOptions options = {});
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;

    /// Appends `tokens` at the current position and evaluates them, in batches of
    /// batch_size. Returns the logits of the last token ([n_vocab]), or with
    /// all_logits the logits of every token given ([tokens.size()][n_vocab]). The
    /// span stays valid until the next call. Throws out_of_range when the context
    /// would overflow, invalid_argument for an id outside the vocabulary.
    std::span<const float> eval(std::span<const Token> tokens, bool all_logits = false);

    /// Encodes `prompt`, evaluates it, then samples up to max_tokens tokens, passing
    /// each piece of text to `on_piece` (which may be empty).
    GenerateResult generate(std::string_view prompt, const GenerateOptions& options, const PieceCallback& on_piece = {});
    /// The same, from token ids.
    GenerateResult generate(std::span<const Token> prompt, const GenerateOptions& options,
                            const PieceCallback& on_piece = {});

    uint32_t position() const noexcept;        ///< tokens in the cache
    uint32_t context_length() const noexcept;
    void reset() noexcept;                     ///< forget everything (position 0)
    const Model& model() const noexcept;

private:
    std::unique_ptr<detail::SessionImpl> impl_;
};

/// What a file holds, read without binding a model: answers "why won't it load?".
struct FileInfo {
    std::string container;      ///< "GGUF", "ggjt", "ggmm", "llama2.c", ...
    uint32_t container_version = 0;
    std::string architecture;   ///< general.architecture, if any
    size_t tensor_count = 0;
    std::vector<std::pair<std::string, size_t>> tensor_types;  ///< type name -> count
    size_t vocab_size = 0;
    uint64_t file_bytes = 0;
    uint64_t converted_bytes = 0;  ///< old block encodings rewritten on reading
};

/// Reads the container and metadata of `path`. Throws Error when the file cannot be parsed.
NIBBLE_API FileInfo probe(const std::string& path);

/// How nibble::quantize rewrites a model.
struct QuantizeOptions {
    /// Target type of every 2-D weight matrix (any type nibble computes with); empty
    /// keeps every tensor's type (a pure container conversion, e.g. legacy -> GGUF).
    std::optional<TensorType> type{};
    /// A llama-quantize preset in any case (Q4_K_M, Q5_K_M, Q6_K, Q4_0, IQ4_XS, F16, ...):
    /// each tensor gets the type llama-quantize's mix rules give it (the output matrix in
    /// q6_K, some value and down projections wider, fallbacks for row lengths a 256-block
    /// type cannot hold). Overrides `type`; `pure` turns the mix off (its main type for
    /// every matrix, as llama-quantize --pure).
    std::string preset{};
    bool pure = false;
    int threads = 0;                ///< 0: every core this process may run on
    bool allow_requantize = false;  ///< re-quantize tensors that are already quantized
    uint32_t ggjt_version = 0;      ///< 0: write GGUF; 1-3: write a 2023 `ggjt` file (LLaMA only)
    std::string llama2c_tokenizer{};  ///< for llama2.c inputs (default: beside the checkpoint)
};

struct QuantizeReport {
    uint64_t input_bytes = 0, output_bytes = 0;
    struct PerType {
        std::string type;
        size_t tensors = 0;
        uint64_t elements = 0;
        double rms_error = 0;     ///< sqrt(mean((x - dequantized)^2)) over its tensors
        double rms_weight = 0;    ///< sqrt(mean(x^2)), to read the error against
    };
    std::vector<PerType> per_type;
    std::vector<std::string> notes;  ///< tensors kept in a wider type, and why
};

/// Called before each tensor: index, count, name, source type, target type.
using QuantizeProgress = std::function<void(size_t, size_t, const std::string&, const std::string&, const std::string&)>;

/// Whether `name` is a preset QuantizeOptions::preset accepts (any case).
NIBBLE_API bool is_quantize_preset(std::string_view name);

/// The preset names, comma-separated (for messages).
NIBBLE_API std::string quantize_preset_names();

/// Reads any model file nibble reads and writes it quantized as `options` say.
/// Norms, biases and other 1-D tensors stay f32; matrices whose rows are not a
/// multiple of 32 stay in a wider type (f16 from float sources), listed in the notes.
/// Throws Error for unreadable input, unwritable output or a refused re-quantization.
NIBBLE_API QuantizeReport quantize(const std::string& input, const std::string& output, const QuantizeOptions& options,
                        const QuantizeProgress& progress = {});

/// Library version, "MAJOR.MINOR.PATCH".
NIBBLE_API const char* version() noexcept;

/// Physical cores this process may run on (SMT siblings counted once): the default
/// thread count, since a second hyperthread adds little to bandwidth-bound work.
NIBBLE_API int physical_core_count();

}  // namespace nibble
