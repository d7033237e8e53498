#include "formats/llama2c.hpp"

#include <filesystem>
#include <fmt/format.h>

#include "formats/byte_cursor.hpp"

namespace nibble::formats {
namespace {

struct Llama2cHeader {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Element counts of each section, in file order, as 128-bit to rule out overflow.
struct Llama2cLayout {
    unsigned __int128 head_size, kv_dim, total_floats;
    bool shared_classifier;
};

std::optional<Llama2cLayout> layout_of(const Llama2cHeader& h) {
    if (h.dim <= 0 || h.hidden_dim <= 0 || h.n_layers <= 0 || h.n_heads <= 0 || h.n_kv_heads <= 0 ||
        h.vocab_size == 0 || h.vocab_size == INT32_MIN || h.seq_len <= 0) {
        return std::nullopt;
    }
    if (h.n_kv_heads > h.n_heads || h.dim % h.n_heads != 0 || h.n_heads % h.n_kv_heads != 0) return std::nullopt;
    using u128 = unsigned __int128;
    const u128 dim = static_cast<u128>(h.dim), hidden = static_cast<u128>(h.hidden_dim);
    const u128 layers = static_cast<u128>(h.n_layers), vocab = static_cast<u128>(h.vocab_size < 0 ? -h.vocab_size : h.vocab_size);
    const u128 head_size = dim / static_cast<u128>(h.n_heads);
    if (head_size % 2 != 0) return std::nullopt;
    const u128 kv_dim = dim * static_cast<u128>(h.n_kv_heads) / static_cast<u128>(h.n_heads);
    u128 total = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden) + dim +
                 static_cast<u128>(h.seq_len) * head_size;  // the two unused RoPE tables
    const bool shared = h.vocab_size > 0;
    if (!shared) total += vocab * dim;
    return Llama2cLayout{head_size, kv_dim, total, shared};
}

Llama2cHeader read_header(std::span<const std::byte> bytes) {
    Llama2cHeader h{};
    std::memcpy(&h, bytes.data(), sizeof h);
    return h;
}

}  // namespace

bool looks_like_llama2c(std::span<const std::byte> bytes) noexcept {
    if (bytes.size() < sizeof(Llama2cHeader)) return false;
    const auto layout = layout_of(read_header(bytes));
    return layout && sizeof(Llama2cHeader) + layout->total_floats * 4 == bytes.size();
}

std::string llama2c_mismatch(std::span<const std::byte> bytes) {
    if (bytes.size() < sizeof(Llama2cHeader)) {
        return fmt::format("{} bytes is too short for a llama2.c header", bytes.size());
    }
    const Llama2cHeader h = read_header(bytes);
    const auto layout = layout_of(h);
    if (!layout) {
        return fmt::format("implausible llama2.c header (dim {}, hidden {}, layers {}, heads {}, kv heads {}, vocab {}, "
                           "seq_len {})",
                           h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len);
    }
    const auto expected = sizeof(Llama2cHeader) + layout->total_floats * 4;
    if (expected != bytes.size()) {
        return fmt::format("llama2.c header implies {} bytes but the file has {}", static_cast<uint64_t>(expected), bytes.size());
    }
    return {};
}

void read_llama2c_tokenizer(const MappedFile& file, uint32_t n_vocab, Metadata& metadata) {
    ByteCursor cur(file.bytes(), file.name());
    const auto max_len = cur.read<int32_t>("max_token_length");
    if (max_len <= 0 || max_len > 65536) cur.fail_at(0, fmt::format("max_token_length {} is implausible", max_len));
    if (n_vocab > max_vocabulary) {
        cur.fail_at(0, fmt::format("a vocabulary of {} entries is more than nibble accepts ({})", n_vocab, max_vocabulary));
    }
    // Each entry takes at least 8 bytes (score, length): refuse a count the file cannot hold before reserving.
    if (n_vocab > cur.remaining() / 8) {
        cur.fail(fmt::format("{} tokens cannot fit in the {} bytes that remain", n_vocab, cur.remaining()));
    }
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    tokens.reserve(n_vocab);
    for (uint32_t id = 0; id < n_vocab; ++id) {
        scores.push_back(cur.read<float>("token score"));
        const size_t at = cur.offset();
        const auto len = cur.read<int32_t>("token length");
        if (len < 0 || len > max_len) {
            cur.fail_at(at, fmt::format("token {} has length {} (max_token_length is {})", id, len, max_len));
        }
        std::string piece(cur.read_chars(static_cast<size_t>(len), "token bytes"));
        int32_t type = 1;  // normal
        if (id == 0) {
            piece = "<unk>";
            type = 2;
        } else if (id == 1 || id == 2) {
            piece = id == 1 ? "<s>" : "</s>";
            type = 3;  // control
        } else if (piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with(">")) {
            type = 6;  // byte fallback piece
        } else {
            std::string spm;  // llama2.c writes a plain space where SentencePiece uses U+2581
            for (char c : piece) spm += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
            piece = std::move(spm);
        }
        tokens.push_back(std::move(piece));
        types.push_back(type);
    }
    metadata.set("tokenizer.ggml.model", MetaValue::make_string("llama"));
    metadata.set("tokenizer.ggml.tokens", MetaValue::make_strings(std::move(tokens)));
    metadata.set("tokenizer.ggml.scores", MetaValue::make_f32s(scores));
    metadata.set("tokenizer.ggml.token_type", MetaValue::make_i32s(types));
    metadata.set("tokenizer.ggml.bos_token_id", MetaValue::make_u32(1));
    metadata.set("tokenizer.ggml.eos_token_id", MetaValue::make_u32(2));
    metadata.set("tokenizer.ggml.unknown_token_id", MetaValue::make_u32(0));
}

std::unique_ptr<TensorDirectory> read_llama2c(std::shared_ptr<const MappedFile> file, const std::string& tokenizer_path) {
    if (file->size() < sizeof(Llama2cHeader)) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: {} bytes is too short for a llama2.c header", file->name(), file->size()));
    }
    const Llama2cHeader h = read_header(file->bytes());
    const auto layout = layout_of(h);
    if (!layout) {
        throw Error(ErrorCode::bad_format,
                    fmt::format("{}: offset 0: implausible llama2.c header (dim {}, hidden {}, layers {}, heads {}, kv heads {}, "
                                "vocab {}, seq_len {})",
                                file->name(), h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len));
    }
    const auto expected = sizeof(Llama2cHeader) + layout->total_floats * 4;
    if (expected != file->size()) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: llama2.c header implies {} bytes but the file has {}", file->name(),
                                                       static_cast<uint64_t>(expected), file->size()));
    }
    auto dir = std::make_unique<TensorDirectory>();
    dir->container = "llama2.c";
    dir->version = 1;
    dir->file = file;

    const uint64_t dim = static_cast<uint64_t>(h.dim), hidden = static_cast<uint64_t>(h.hidden_dim);
    const uint64_t vocab = static_cast<uint64_t>(h.vocab_size < 0 ? -h.vocab_size : h.vocab_size);
    const uint64_t kv_dim = static_cast<uint64_t>(layout->kv_dim), head_size = static_cast<uint64_t>(layout->head_size);
    size_t offset = sizeof(Llama2cHeader);
    auto take = [&](const std::string& name, uint64_t ne0, uint64_t ne1) {
        TensorEntry e;
        e.name = name;
        e.type_id = 0;
        e.n_dims = ne1 == 1 ? 1 : 2;
        e.ne = {ne0, ne1, 1, 1};
        e.file_offset = offset;
        e.data = file->bytes().subspan(offset, static_cast<size_t>(ne0 * ne1 * 4));
        offset += e.data.size();
        dir->add(std::move(e));
    };
    auto per_layer = [&](const char* name, uint64_t ne0, uint64_t ne1) {
        for (int32_t l = 0; l < h.n_layers; ++l) take(fmt::format("blk.{}.{}.weight", l, name), ne0, ne1);
    };
    take("token_embd.weight", dim, vocab);
    per_layer("attn_norm", dim, 1);
    per_layer("attn_q", dim, dim);
    per_layer("attn_k", dim, kv_dim);
    per_layer("attn_v", dim, kv_dim);
    per_layer("attn_output", dim, dim);
    per_layer("ffn_norm", dim, 1);
    per_layer("ffn_gate", dim, hidden);
    per_layer("ffn_down", hidden, dim);
    per_layer("ffn_up", dim, hidden);
    take("output_norm.weight", dim, 1);
    offset += static_cast<size_t>(h.seq_len) * head_size * 4;  // skip the legacy RoPE tables
    if (!layout->shared_classifier) take("output.weight", dim, vocab);

    Metadata& m = dir->metadata;
    m.set("general.architecture", MetaValue::make_string("llama"));
    m.set("general.name", MetaValue::make_string(std::filesystem::path(file->name()).stem().string()));
    m.set("general.file_type", MetaValue::make_u32(0));
    m.set("llama.context_length", MetaValue::make_u32(static_cast<uint32_t>(h.seq_len)));
    m.set("llama.embedding_length", MetaValue::make_u32(static_cast<uint32_t>(h.dim)));
    m.set("llama.block_count", MetaValue::make_u32(static_cast<uint32_t>(h.n_layers)));
    m.set("llama.feed_forward_length", MetaValue::make_u32(static_cast<uint32_t>(h.hidden_dim)));
    m.set("llama.attention.head_count", MetaValue::make_u32(static_cast<uint32_t>(h.n_heads)));
    m.set("llama.attention.head_count_kv", MetaValue::make_u32(static_cast<uint32_t>(h.n_kv_heads)));
    m.set("llama.rope.dimension_count", MetaValue::make_u32(static_cast<uint32_t>(head_size)));
    m.set("llama.rope.freq_base", MetaValue::make_f32(10000.0f));
    m.set("llama.attention.layer_norm_rms_epsilon", MetaValue::make_f32(1e-5f));

    std::string tok_path = tokenizer_path;
    if (tok_path.empty()) {
        const auto folder = std::filesystem::path(file->name()).parent_path();
        for (const auto& candidate : {folder / fmt::format("tok{}.bin", vocab), folder / "tokenizer.bin"}) {
            std::error_code ignored;
            if (std::filesystem::is_regular_file(candidate, ignored)) {
                tok_path = candidate.string();
                break;
            }
        }
    }
    if (!tok_path.empty()) {
        const auto tok_file = MappedFile::open(tok_path);
        read_llama2c_tokenizer(*tok_file, static_cast<uint32_t>(vocab), m);
        tok_file->check_intact();  // a tokenizer file that shrank while read gave zeros
    }
    return dir;
}

}  // namespace nibble::formats
