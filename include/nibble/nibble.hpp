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
enum class KvType : uint8_t;  // below, with SessionOptions

namespace detail {
struct ModelImpl;
struct TokenizerImpl;
struct SessionImpl;
}  // namespace detail

/// Options for Tokenizer::encode.
struct EncodeOptions {
    /// Prepend the beginning-of-sequence token, where the vocabulary uses one
    /// (tokenizer.ggml.add_bos_token; when the file does not say, SentencePiece and Llama 3's
    /// BPE do and the older byte-level BPE vocabularies do not, as in llama.cpp).
    bool add_bos = false;
    bool add_eos = false;  ///< append the end-of-sequence token
    /// Text of control tokens (`<|im_start|>`, `</s>`, ...) becomes those tokens, as
    /// llama.cpp's parse_special: what a rendered chat template needs. Off, they are text.
    bool parse_special = false;
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
    /// End of turn (`<|eot_id|>`, tokenizer.ggml.eot_token_id), -1 when the file names none:
    /// generate() stops at it as at EOS.
    Token eot() const noexcept;
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
    /// Lock the model's bytes in RAM (mlock) so the system never pages them out. Not
    /// being permitted (RLIMIT_MEMLOCK, `ulimit -l`) is not an error: ModelInfo::locked
    /// stays false and ModelInfo::lock_error says why.
    bool use_mlock = false;
    /// The kernel table this model computes with, for every Session on it: empty for the
    /// best this CPU runs (or NIBBLE_ISA's), else a name as NIBBLE_ISA takes (scalar, avx2,
    /// avx512, avx512vnni, neon, neon-dotprod); one the CPU cannot run is Error(unsupported).
    std::string isa{};
};

/// Hyperparameters and facts about a loaded model.
struct ModelInfo {
    std::string container;     ///< "GGUF", "llama2.c"
    uint32_t container_version = 0;
    std::string architecture;  ///< "llama"
    std::string name;
    std::string chat_template;  ///< GGUF tokenizer.chat_template (a Jinja text), empty when the file has none
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
    bool locked = false;          ///< LoadOptions::use_mlock succeeded
    std::string lock_error;       ///< why use_mlock did not lock (empty when it did or was not asked)
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
    friend uint64_t kv_cache_bytes(const Model&, uint32_t, KvType, KvType);
    std::shared_ptr<const detail::ModelImpl> impl_;
};

/// Limits of SessionOptions: larger values are refused with Error(invalid_argument).
inline constexpr uint32_t max_context_length = 1u << 20;
inline constexpr uint32_t max_batch_size = 1u << 16;
inline constexpr int max_session_threads = 1024;

/// What a Session does when a generation needs more positions than its context has.
enum class ContextPolicy {
    stop,   ///< generate() ends with Stop::context_full
    shift,  ///< keep the first n_keep tokens, drop the older half of the rest, re-evaluate what is kept, go on
};

/// The element type of the KV cache's rows (llama.cpp's --cache-type-k / -v). f16 halves
/// the memory of f32 and the bytes attention reads, at a rounding of each key and value
/// (logits move within the quantized tolerance); q8_0 (blocks of 32 values with an f16
/// scale) takes 34 bytes per 32 values and needs a key width that is a multiple of 32.
/// The numbers are those of saved states.
enum class KvType : uint8_t { f32 = 0, f16 = 1, q8_0 = 2 };

/// "f32", "f16", "q8_0" (as llama.cpp spells them).
constexpr std::string_view kv_type_name(KvType type) noexcept {
    switch (type) {
        case KvType::f32: return "f32";
        case KvType::f16: return "f16";
        case KvType::q8_0: return "q8_0";
    }
    return "?";
}

/// The type of a name kv_type_name gives; nullopt for any other.
constexpr std::optional<KvType> parse_kv_type(std::string_view name) noexcept {
    for (KvType t : {KvType::f32, KvType::f16, KvType::q8_0}) {
        if (kv_type_name(t) == name) return t;
    }
    return std::nullopt;
}

/// Per-session settings. The Session constructor computes the memory they need and
/// throws Error(out_of_range), saying how much, when the machine has less; values
/// beyond the limits above (or negative thread counts) throw Error(invalid_argument).
struct SessionOptions {
    uint32_t context_length = 0;  ///< KV cache positions; 0 = the model's training context, at most 4096
    int threads = 0;              ///< generation threads; 0 = physical_core_count()
    int batch_threads = 0;        ///< prompt-processing threads; 0 = same as threads
    uint32_t batch_size = 64;     ///< tokens evaluated together while ingesting a prompt (at most context_length)
    ContextPolicy on_full = ContextPolicy::stop;
    /// Tokens at the start a shift keeps (the system prompt, say). A BOS first token is
    /// always kept. Must leave room: a shift needs n_keep < context_length / 2.
    uint32_t n_keep = 0;
    /// The element types of the cached keys and of the cached values (each may differ).
    KvType kv_type_k = KvType::f16;
    KvType kv_type_v = KvType::f16;
};

/// Bytes of the KV cache a Session on `model` with this context length and these cache
/// types holds (keys and values of every layer; the context 0 means as SessionOptions).
NIBBLE_API uint64_t kv_cache_bytes(const Model& model, uint32_t context_length, KvType type_k, KvType type_v);

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

    /// The whole state (random stream and repetition window) as bytes, for saved sessions.
    std::vector<std::byte> save() const;
    /// Restores what save() gave, options included; throws bad_format for other bytes.
    void restore(std::span<const std::byte> bytes);

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
    /// More tokens that end generation as EOS does (a chat template's end of turn, such
    /// as `<|im_end|>`); honoured only with stop_at_eos.
    std::vector<Token> stop_tokens{};
    bool keep_prompt_logits = false;  ///< fill GenerateResult::prompt_logits
};

struct GenerateResult {
    std::vector<Token> prompt;     ///< the prompt ids evaluated
    std::vector<Token> generated;  ///< the ids produced, in order
    std::vector<float> prompt_logits;  ///< [prompt.size()][n_vocab] when keep_prompt_logits
    double prompt_seconds = 0;
    double generate_seconds = 0;
    /// Why generation ended: max_tokens reached, end of sequence sampled, on_piece
    /// returned false, the context filled (ContextPolicy::stop), or Session::cancel().
    enum class Stop { max_tokens, eos, callback, context_full, cancelled } stop = Stop::max_tokens;
    uint32_t shifts = 0;            ///< context shifts made during this call
};

/// How Session::embed turns the hidden states of a text into one vector.
enum class Pooling {
    mean,  ///< the mean over the tokens, L2-normalised
    last,  ///< the last token's, L2-normalised
    none,  ///< every token's, [n_tokens][n_embd], not normalised
};

/// Receives generated text, whole UTF-8 characters at a time; return false to stop.
using PieceCallback = std::function<bool(std::string_view piece)>;

/// One conversation's state: the KV cache, the tokens in it and the sampler. Owns its
/// buffers; keeps its Model alive. Use from one thread at a time, except cancel().
///
/// A conversation continues across calls: generate() appends to what is already in the
/// cache (BOS only at position 0), and the last token it sampled, which no forward pass
/// has seen yet, is evaluated at the start of the next call that evaluates anything
/// (it is counted in position() and tokens() at once).
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
    /// would overflow (eval never shifts), invalid_argument for an id outside the
    /// vocabulary, cancelled after cancel().
    std::span<const float> eval(std::span<const Token> tokens, bool all_logits = false);

    /// Encodes `prompt` (BOS first when add_bos and the session is empty), appends it,
    /// then samples up to max_tokens tokens, passing each piece of text to `on_piece`
    /// (which may be empty). An empty prompt continues from the last sampled token.
    /// The sampler lives in the session: a call with the same SamplingOptions as the
    /// previous one continues its random stream, other options start a new one.
    /// With ContextPolicy::shift a full context is shifted (GenerateResult::shifts);
    /// a prompt that cannot fit even so throws out_of_range.
    GenerateResult generate(std::string_view prompt, const GenerateOptions& options, const PieceCallback& on_piece = {});
    /// The same, from token ids (no BOS added).
    GenerateResult generate(std::span<const Token> prompt, const GenerateOptions& options,
                            const PieceCallback& on_piece = {});

    /// Asks the running eval() or generate() to stop; safe from any thread and from a
    /// signal handler. eval() then throws Error(cancelled) and generate() returns
    /// Stop::cancelled, within one batch, with every token evaluated so far kept (the
    /// session stays usable). A cancel() while nothing runs stops the next call at once.
    void cancel() noexcept;
    /// Withdraws a cancel() that no call has seen yet (a server's time limit that fired
    /// just as its request ended), so that it cannot stop the next call.
    void clear_cancel() noexcept;
    /// The next generate() starts a new random stream from its SamplingOptions::seed
    /// (and a repetition window of the tokens held), even with the same options: for
    /// independent requests served by one Session.
    void reset_sampler() noexcept;

    /// Drops the cache back to its first n tokens (n > position() is invalid_argument),
    /// for regenerating or editing a reply. The logits of token n-1 are gone: the next
    /// call evaluates it again.
    void truncate(uint32_t n);

    /// The state as bytes: a versioned header naming the model (a hash of its
    /// hyperparameters, tensor directory and tensor bytes) and the cache type, then the
    /// tokens, the KV cache rows in use, the last logits and the sampler. Loading it and
    /// continuing gives exactly what never stopping would have given.
    std::vector<std::byte> save_state() const;
    /// Replaces this session's state with saved bytes. Throws bad_format for damaged or
    /// foreign bytes, bad_model when they come from another model or cache type,
    /// out_of_range when they hold more tokens than this session's context.
    void load_state(std::span<const std::byte> state);
    /// The same, through a file (written atomically: a complete file or none).
    void save_state(const std::string& path) const;
    void load_state(const std::string& path);

    /// The final hidden states (after the output norm) of `text` (BOS first when the
    /// model has one) or of `tokens`, pooled. Evaluates them as a sequence of their own
    /// from position 0: the session is reset by it.
    std::vector<float> embed(std::string_view text, Pooling pooling = Pooling::mean);
    std::vector<float> embed(std::span<const Token> tokens, Pooling pooling = Pooling::mean);

    /// Tokens in the conversation, the pending sampled one included (so context_length()
    /// + 1 after a generation stopped by a full context).
    uint32_t position() const noexcept;
    std::span<const Token> tokens() const noexcept;  ///< those tokens, in order
    uint32_t context_length() const noexcept;
    void reset() noexcept;                       ///< forget everything (position 0, a fresh sampler)
    const Model& model() const noexcept;
    const SessionOptions& options() const noexcept;

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

#include "nibble/chat_template.hpp"
