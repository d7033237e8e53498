// Readers of the 2023 containers. Each family maps its tensor names to GGUF names and
// its hyperparameters to `{arch}.*` keys, so the rest of nibble sees one shape.
#include "formats/legacy.hpp"

#include <array>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "formats/legacy_records.hpp"

namespace nibble::formats {
namespace {

// GPT-2's byte -> printable character map, so raw-byte vocabularies become the
// byte-level BPE alphabet the tokenizer expects.
std::string to_byte_alphabet(std::string_view raw) {
    // The code point of each byte, computed once: printable bytes stand for themselves,
    // the others take 256, 257, ... in byte order.
    static const std::array<uint32_t, 256> code_points = [] {
        std::array<uint32_t, 256> table{};
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            table[b] = printable ? b : next++;
        }
        return table;
    }();
    std::string out;
    for (unsigned char b : raw) {
        const uint32_t cp = code_points[b];
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }
    return out;
}

struct Vocab {
    std::vector<std::string> texts;
    std::vector<float> scores;
    std::vector<bool> special;
};

enum class VocabKind { plain, scored, mpt_flagged };

Vocab read_vocab(ByteCursor& cur, uint32_t n_vocab, VocabKind kind) {
    if (n_vocab > cur.remaining() / 4) cur.fail(fmt::format("vocabulary of {} entries cannot fit in the file", n_vocab));
    if (n_vocab > max_vocabulary) {
        cur.fail(fmt::format("vocabulary of {} entries is more than nibble accepts ({})", n_vocab, max_vocabulary));
    }
    Vocab v;
    v.texts.reserve(n_vocab);
    for (uint32_t i = 0; i < n_vocab; ++i) {
        const size_t at = cur.offset();
        uint32_t len = cur.read<uint32_t>("token length");
        bool special = false;
        if (kind == VocabKind::mpt_flagged) {
            special = (len & 0x80000000u) != 0;
            len &= 0x7fffffffu;
        }
        if (len > 4096) cur.fail_at(at, fmt::format("token {} has length {} (vocabulary truncated or corrupt)", i, len));
        v.texts.emplace_back(cur.read_chars(len, "token text"));
        v.scores.push_back(kind == VocabKind::scored ? cur.read<float>("token score") : 0.0f);
        v.special.push_back(special);
    }
    return v;
}

// SentencePiece vocabularies as the 2023 converters wrote them: U+2581 became a space,
// byte pieces their raw byte, control tokens empty. Undo that for the tokenizer.
void set_spm_tokenizer(Metadata& m, const Vocab& v) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    const bool has_byte_pieces = v.texts.size() >= 259;
    for (size_t i = 0; i < v.texts.size(); ++i) {
        const std::string& t = v.texts[i];
        if (i == 0) {
            tokens.emplace_back("<unk>");
            types.push_back(2);
        } else if (i <= 2) {
            tokens.emplace_back(i == 1 ? "<s>" : "</s>");
            types.push_back(3);
        } else if (has_byte_pieces && i <= 258 && t.size() == 1 && static_cast<unsigned char>(t[0]) == i - 3) {
            tokens.push_back(fmt::format("<0x{:02X}>", i - 3));
            types.push_back(6);
        } else {
            std::string spm;
            for (char c : t) spm += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
            tokens.push_back(std::move(spm));
            types.push_back(1);
        }
    }
    m.set("tokenizer.ggml.model", MetaValue::make_string("llama"));
    m.set("tokenizer.ggml.tokens", MetaValue::make_strings(std::move(tokens)));
    m.set("tokenizer.ggml.scores", MetaValue::make_f32s(v.scores));
    m.set("tokenizer.ggml.token_type", MetaValue::make_i32s(types));
    m.set("tokenizer.ggml.bos_token_id", MetaValue::make_u32(1));
    m.set("tokenizer.ggml.eos_token_id", MetaValue::make_u32(2));
    m.set("tokenizer.ggml.unknown_token_id", MetaValue::make_u32(0));
    // The library tokenizer of that era added no leading space (programs did).
    m.set("tokenizer.ggml.add_space_prefix", MetaValue::make_bool(false));
}

// Raw-byte vocabularies without merges (GPT-J, MPT, Falcon files): the tokenizer
// falls back to greedy longest-match, as the 2023 example code did.
void set_byte_tokenizer(Metadata& m, const Vocab& v, const char* pre, uint32_t eos) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (size_t i = 0; i < v.texts.size(); ++i) {
        tokens.push_back(to_byte_alphabet(v.texts[i]));
        types.push_back(v.special[i] ? 3 : 1);
    }
    m.set("tokenizer.ggml.model", MetaValue::make_string("gpt2"));
    m.set("tokenizer.ggml.pre", MetaValue::make_string(pre));
    m.set("tokenizer.ggml.tokens", MetaValue::make_strings(std::move(tokens)));
    m.set("tokenizer.ggml.token_type", MetaValue::make_i32s(types));
    m.set("tokenizer.ggml.merges", MetaValue::make_strings({}));
    if (eos < v.texts.size()) {
        m.set("tokenizer.ggml.bos_token_id", MetaValue::make_u32(eos));
        m.set("tokenizer.ggml.eos_token_id", MetaValue::make_u32(eos));
    }
}

using NameMap = std::string (*)(const std::string& legacy_name);

// "<prefix>N.<rest>" -> ("blk.N.", rest), or empty when the name is not a layer tensor.
std::optional<std::pair<std::string, std::string>> split_layer(const std::string& name, std::string_view prefix) {
    if (!name.starts_with(prefix)) return std::nullopt;
    const size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos) return std::nullopt;
    return std::make_pair("blk." + name.substr(prefix.size(), dot - prefix.size()) + ".", name.substr(dot + 1));
}

std::string map_with(const std::string& name, std::string_view layer_prefix,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> globals,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> layer_parts) {
    for (const auto& [from, to] : globals) {
        if (name == from) return std::string(to);
    }
    if (auto split = split_layer(name, layer_prefix)) {
        for (const auto& [from, to] : layer_parts) {
            if (split->second.starts_with(from)) return split->first + std::string(to) + split->second.substr(from.size());
        }
    }
    return name;  // unknown names stay as they are: the model binder reports them
}

std::string llama_name(const std::string& n) {
    return map_with(n, "layers.",
                    {{"tok_embeddings.weight", "token_embd.weight"}, {"norm.weight", "output_norm.weight"},
                     {"output.weight", "output.weight"}},
                    {{"attention_norm.", "attn_norm."}, {"attention.wq.", "attn_q."}, {"attention.wk.", "attn_k."},
                     {"attention.wv.", "attn_v."}, {"attention.wo.", "attn_output."}, {"ffn_norm.", "ffn_norm."},
                     {"feed_forward.w1.", "ffn_gate."}, {"feed_forward.w2.", "ffn_down."}, {"feed_forward.w3.", "ffn_up."}});
}

std::string gptj_name(const std::string& n) {
    return map_with(n, "transformer.h.",
                    {{"transformer.wte.weight", "token_embd.weight"}, {"transformer.ln_f.weight", "output_norm.weight"},
                     {"transformer.ln_f.bias", "output_norm.bias"}, {"lm_head.weight", "output.weight"},
                     {"lm_head.bias", "output.bias"}},
                    {{"ln_1.", "attn_norm."}, {"attn.q_proj.", "attn_q."}, {"attn.k_proj.", "attn_k."},
                     {"attn.v_proj.", "attn_v."}, {"attn.out_proj.", "attn_output."}, {"mlp.fc_in.", "ffn_up."},
                     {"mlp.fc_out.", "ffn_down."}});
}

std::string mpt_name(const std::string& n) {
    return map_with(n, "transformer.blocks.",
                    {{"transformer.wte.weight", "token_embd.weight"}, {"transformer.norm_f.weight", "output_norm.weight"}},
                    {{"norm_1.", "attn_norm."}, {"attn.Wqkv.", "attn_qkv."}, {"attn.out_proj.", "attn_output."},
                     {"norm_2.", "ffn_norm."}, {"ffn.up_proj.", "ffn_up."}, {"ffn.down_proj.", "ffn_down."}});
}

std::string falcon_name(const std::string& n) {
    return map_with(n, "transformer.h.",
                    {{"transformer.word_embeddings.weight", "token_embd.weight"}, {"lm_head.weight", "output.weight"},
                     {"transformer.ln_f.weight", "output_norm.weight"}, {"transformer.ln_f.bias", "output_norm.bias"}},
                    {{"input_layernorm.", "attn_norm."}, {"self_attention.query_key_value.", "attn_qkv."},
                     {"self_attention.dense.", "attn_output."}, {"mlp.dense_h_to_4h.", "ffn_up."},
                     {"mlp.dense_4h_to_h.", "ffn_down."}});
}

// Adds the records under their GGUF names, converting old block encodings once.
void add_tensors(TensorDirectory& dir, const std::vector<LegacyTensor>& records, QuantEra era, NameMap map) {
    for (const auto& r : records) {
        TensorEntry e;
        e.name = map(r.name);
        e.type_id = r.type_id;
        e.n_dims = r.n_dims;
        e.ne = r.ne;
        e.file_offset = r.offset;
        // f32, f16, q4_2 and every fp16-scale block are already in the kernels' layout.
        const bool same_layout = era == QuantEra::qnt2 || r.type_id == 0 || r.type_id == 1 || r.type_id == 4;
        const uint64_t elements = r.ne[0] * r.ne[1] * r.ne[2] * r.ne[3];
        e.data = same_layout ? r.data : dir.own(convert_to_current(r.type_id, era, r.data, elements));
        // Containers without alignment can leave data at odd offsets: copy it so that
        // kernels read whole floats and fp16 scales at aligned addresses.
        if (reinterpret_cast<uintptr_t>(e.data.data()) % 4 != 0) e.data = dir.own({e.data.begin(), e.data.end()});
        dir.add(std::move(e));
    }
}

void set_common(Metadata& m, const std::string& arch, const MappedFile& file, const std::string& container, QuantEra era) {
    m.set("general.architecture", MetaValue::make_string(arch));
    m.set("general.name", MetaValue::make_string(std::filesystem::path(file.name()).stem().string()));
    m.set("general.source.container", MetaValue::make_string(container));
    m.set("general.source.quantization", MetaValue::make_string(era_name(era)));
}

// ---- LLaMA: ggml (unversioned), ggmf v1, ggjt v1-v3 ----
std::unique_ptr<TensorDirectory> read_llama(std::shared_ptr<const MappedFile> file, ByteCursor& cur, uint32_t magic,
                                            uint32_t version) {
    const size_t header_at = cur.offset();
    const auto h = read_positive_ints(cur, {"n_vocab", "n_embd", "n_mult", "n_head", "n_layer", "n_rot"});
    const auto ftype = cur.read<int32_t>("ftype");
    const auto n_vocab = static_cast<uint32_t>(h[0]), n_embd = static_cast<uint32_t>(h[1]), n_mult = static_cast<uint32_t>(h[2]);
    const auto n_head = static_cast<uint32_t>(h[3]), n_layer = static_cast<uint32_t>(h[4]), n_rot = static_cast<uint32_t>(h[5]);
    if (n_embd % n_head != 0 || n_rot != n_embd / n_head) {
        cur.fail_at(header_at, fmt::format("n_rot {} must equal n_embd {} / n_head {}", n_rot, n_embd, n_head));
    }
    const QuantEra era = llama_container_era(magic, version);
    const Vocab vocab = read_vocab(cur, n_vocab, magic == magic_ggml ? VocabKind::plain : VocabKind::scored);
    RecordOptions options;
    options.era = era;
    options.aligned = magic == magic_ggjt;
    options.type6_is_q8_0 = magic == magic_ggjt && version == 1 && ftype == 7;
    const auto records = read_legacy_records(cur, options);
    check_ftype(cur, ftype, records);

    auto dir = std::make_unique<TensorDirectory>();
    dir->container = magic == magic_ggml ? "ggml" : magic == magic_ggmf ? "ggmf" : "ggjt";
    dir->version = magic == magic_ggml ? 0 : version;
    dir->file = file;
    Metadata& m = dir->metadata;
    set_common(m, "llama", *file, magic == magic_ggml ? "ggml" : fmt::format("{} v{}", dir->container, version), era);
    // n_ff as the original loader derived it from n_mult
    const uint32_t n_ff = ((2 * (4 * n_embd) / 3 + n_mult - 1) / n_mult) * n_mult;
    m.set("general.file_type", MetaValue::make_u32(static_cast<uint32_t>(ftype)));
    m.set("llama.context_length", MetaValue::make_u32(2048));
    m.set("llama.embedding_length", MetaValue::make_u32(n_embd));
    m.set("llama.block_count", MetaValue::make_u32(n_layer));
    m.set("llama.feed_forward_length", MetaValue::make_u32(n_ff));
    m.set("llama.attention.head_count", MetaValue::make_u32(n_head));
    m.set("llama.attention.head_count_kv", MetaValue::make_u32(n_head));
    m.set("llama.rope.dimension_count", MetaValue::make_u32(n_rot));
    m.set("llama.attention.layer_norm_rms_epsilon", MetaValue::make_f32(1e-6f));  // fixed in 2023 ggml
    set_spm_tokenizer(m, vocab);
    add_tensors(*dir, records, era, llama_name);
    return dir;
}

// Example-style files store the quantization version as ftype / 1000.
QuantEra era_from_ftype(const ByteCursor& cur, size_t at, int32_t ftype) {
    const int32_t qnt = ftype / 1000;
    if (ftype < 0 || qnt > 2) {
        cur.fail_at(at, fmt::format("ftype {} names quantization version {}, so the q4/q8 block encoding cannot be known",
                                    ftype, qnt));
    }
    return static_cast<QuantEra>(qnt);
}

// What follows the hyperparameters of an example-style file (GPT-J, MPT): ftype with
// its quantization version, n_vocab repeated, the vocabulary, then the tensor records.
struct ExampleBody {
    QuantEra era;
    Vocab vocab;
    std::vector<LegacyTensor> records;
};

ExampleBody read_example_body(ByteCursor& cur, int32_t n_vocab, VocabKind vocab_kind) {
    const size_t ftype_at = cur.offset();
    const auto ftype = cur.read<int32_t>("ftype");
    ExampleBody body{era_from_ftype(cur, ftype_at, ftype), {}, {}};
    const size_t again_at = cur.offset();
    const auto n_vocab_again = cur.read<int32_t>("n_vocab (repeated)");
    if (n_vocab_again != n_vocab) cur.fail_at(again_at, fmt::format("vocabulary size {} differs from n_vocab {}", n_vocab_again, n_vocab));
    body.vocab = read_vocab(cur, static_cast<uint32_t>(n_vocab), vocab_kind);
    body.records = read_legacy_records(cur, {body.era, false, false});
    check_ftype(cur, ftype, body.records);
    return body;
}

// ---- GPT4All-J: ggml magic, GPT-J hyperparameters ----
std::unique_ptr<TensorDirectory> read_gptj(std::shared_ptr<const MappedFile> file, ByteCursor& cur) {
    const auto h = read_positive_ints(cur, {"n_vocab", "n_ctx", "n_embd", "n_head", "n_layer", "n_rot"});
    const auto [era, vocab, records] = read_example_body(cur, h[0], VocabKind::plain);

    auto dir = std::make_unique<TensorDirectory>();
    dir->container = "ggml (GPT-J)";
    dir->file = file;
    Metadata& m = dir->metadata;
    set_common(m, "gptj", *file, "ggml (GPT4All-J)", era);
    m.set("gptj.context_length", MetaValue::make_u32(static_cast<uint32_t>(h[1])));
    m.set("gptj.embedding_length", MetaValue::make_u32(static_cast<uint32_t>(h[2])));
    m.set("gptj.attention.head_count", MetaValue::make_u32(static_cast<uint32_t>(h[3])));
    m.set("gptj.block_count", MetaValue::make_u32(static_cast<uint32_t>(h[4])));
    m.set("gptj.rope.dimension_count", MetaValue::make_u32(static_cast<uint32_t>(h[5])));
    m.set("gptj.feed_forward_length", MetaValue::make_u32(4 * static_cast<uint32_t>(h[2])));
    m.set("gptj.attention.layer_norm_epsilon", MetaValue::make_f32(1e-5f));
    set_byte_tokenizer(m, vocab, "gpt-2", 50256);
    add_tensors(*dir, records, era, gptj_name);
    return dir;
}

// ---- GPT4All MPT: ggmm ----
std::unique_ptr<TensorDirectory> read_mpt(std::shared_ptr<const MappedFile> file, ByteCursor& cur) {
    const auto h = read_positive_ints(cur, {"n_vocab", "n_ctx", "n_layer", "n_head", "n_embd"});
    const size_t floats_at = cur.offset();
    const auto alibi_bias_max = cur.read<float>("alibi_bias_max");
    const auto clip_qkv = cur.read<float>("clip_qkv");
    if (!(alibi_bias_max >= 0.0f && alibi_bias_max < 1e3f) || !(clip_qkv >= 0.0f && clip_qkv < 1e30f)) {
        cur.fail_at(floats_at, fmt::format("alibi_bias_max {} / clip_qkv {} are out of range", alibi_bias_max, clip_qkv));
    }
    const auto [era, vocab, records] = read_example_body(cur, h[0], VocabKind::mpt_flagged);

    auto dir = std::make_unique<TensorDirectory>();
    dir->container = "ggmm";
    dir->file = file;
    Metadata& m = dir->metadata;
    set_common(m, "mpt", *file, "ggmm (GPT4All MPT)", era);
    m.set("mpt.context_length", MetaValue::make_u32(static_cast<uint32_t>(h[1])));
    m.set("mpt.block_count", MetaValue::make_u32(static_cast<uint32_t>(h[2])));
    m.set("mpt.attention.head_count", MetaValue::make_u32(static_cast<uint32_t>(h[3])));
    m.set("mpt.embedding_length", MetaValue::make_u32(static_cast<uint32_t>(h[4])));
    m.set("mpt.feed_forward_length", MetaValue::make_u32(4 * static_cast<uint32_t>(h[4])));
    m.set("mpt.attention.layer_norm_epsilon", MetaValue::make_f32(1e-5f));
    m.set("mpt.attention.max_alibi_bias", MetaValue::make_f32(alibi_bias_max));
    if (clip_qkv > 0.0f) m.set("mpt.attention.clamp_kqv", MetaValue::make_f32(clip_qkv));
    set_byte_tokenizer(m, vocab, "mpt", 0);
    add_tensors(*dir, records, era, mpt_name);
    return dir;
}

// ---- GPT4All Falcon: ggjt magic, Falcon hyperparameters, always the fp16-scale encoding ----
std::unique_ptr<TensorDirectory> read_falcon(std::shared_ptr<const MappedFile> file, ByteCursor& cur) {
    const size_t header_at = cur.offset();
    const auto h = read_positive_ints(cur, {"n_vocab", "n_embd", "n_head", "n_head_kv", "n_layer", "falcon_version"});
    const auto ftype = cur.read<int32_t>("ftype");  // GPT4All's loader ignores the encoding part; blocks are QNT2
    if (h[5] != 7) {
        throw Error(ErrorCode::unsupported, fmt::format("{}: offset {}: legacy Falcon files of falcon_version {} are not "
                                                        "supported (GPT4All's format defines only 7)", file->name(),
                                                        header_at + 20, h[5]));
    }
    const Vocab vocab = read_vocab(cur, static_cast<uint32_t>(h[0]), VocabKind::scored);
    const auto records = read_legacy_records(cur, {QuantEra::qnt2, true, false});
    check_ftype(cur, ftype, records);

    auto dir = std::make_unique<TensorDirectory>();
    dir->container = "ggjt (Falcon)";
    dir->version = 1;
    dir->file = file;
    Metadata& m = dir->metadata;
    set_common(m, "falcon", *file, "ggjt (GPT4All Falcon)", QuantEra::qnt2);
    m.set("falcon.context_length", MetaValue::make_u32(2048));
    m.set("falcon.embedding_length", MetaValue::make_u32(static_cast<uint32_t>(h[1])));
    m.set("falcon.attention.head_count", MetaValue::make_u32(static_cast<uint32_t>(h[2])));
    m.set("falcon.attention.head_count_kv", MetaValue::make_u32(static_cast<uint32_t>(h[3])));
    m.set("falcon.block_count", MetaValue::make_u32(static_cast<uint32_t>(h[4])));
    m.set("falcon.feed_forward_length", MetaValue::make_u32(4 * static_cast<uint32_t>(h[1])));
    m.set("falcon.attention.layer_norm_epsilon", MetaValue::make_f32(1e-5f));
    set_byte_tokenizer(m, vocab, "falcon", 11);
    add_tensors(*dir, records, QuantEra::qnt2, falcon_name);
    return dir;
}

}  // namespace

bool looks_like_nomagic_vocab(std::span<const std::byte> bytes) noexcept {
    // u32 n_vocab, then n_vocab x {u32 length, bytes, f32 score}, exactly to the end.
    try {
        auto file = MappedFile::borrow(bytes, "");
        ByteCursor cur(bytes, "");
        const auto n = cur.read<uint32_t>("n_vocab");
        if (n == 0 || n > 1000000) return false;
        read_vocab(cur, n, VocabKind::scored);
        return cur.at_end();
    } catch (const Error&) {
        return false;
    }
}

std::unique_ptr<TensorDirectory> read_nomagic_vocab(std::shared_ptr<const MappedFile> file) {
    ByteCursor cur(file->bytes(), file->name());
    const auto n = cur.read<uint32_t>("n_vocab");
    const Vocab vocab = read_vocab(cur, n, VocabKind::scored);
    if (!cur.at_end()) cur.fail("unexpected bytes after the vocabulary");
    auto dir = std::make_unique<TensorDirectory>();
    dir->container = "vocab (no magic)";
    dir->file = file;
    set_common(dir->metadata, "llama", *file, "vocab (no magic)", QuantEra::qnt0);
    set_spm_tokenizer(dir->metadata, vocab);
    return dir;
}

QuantEra llama_container_era(uint32_t magic, uint32_t version) {
    if (magic == magic_ggjt && version >= 1 && version <= 3) return static_cast<QuantEra>(version - 1);
    return QuantEra::qnt0;
}

bool looks_like_legacy(std::span<const std::byte> bytes) noexcept {
    if (bytes.size() < 4) return false;
    uint32_t magic;
    std::memcpy(&magic, bytes.data(), 4);
    return magic == magic_ggml || magic == magic_ggmf || magic == magic_ggjt || magic == magic_ggmm;
}

std::unique_ptr<TensorDirectory> read_legacy(std::shared_ptr<const MappedFile> file) {
    ByteCursor cur(file->bytes(), file->name());
    const auto magic = cur.read<uint32_t>("magic");
    switch (magic) {
        case magic_ggml: {
            // GPT-J files repeat n_vocab after the 7 hyperparameters; LLaMA files start their vocabulary there.
            ByteCursor peek(file->bytes(), file->name(), 4);
            const auto first = peek.read<int32_t>("n_vocab");
            peek.skip(24, "hyperparameters");
            const auto eighth = peek.read<int32_t>("hyperparameter");
            if (eighth == first) return read_gptj(file, cur);
            // Not GPT-J's repeated n_vocab: LLaMA's header, whose n_rot is n_embd / n_head.
            ByteCursor ints(file->bytes(), file->name(), 4);
            int32_t h[6];
            for (auto& v : h) v = ints.read<int32_t>("hyperparameter");
            if (h[3] > 0 && h[1] % h[3] == 0 && h[5] == h[1] / h[3]) return read_llama(file, cur, magic, 0);
            cur.fail_at(4, fmt::format("a ggml header that is neither LLaMA's (n_rot {} would equal n_embd {} / n_head {}) nor "
                                       "GPT-J's (n_vocab {} repeated at offset 32, where {} is found)",
                                       h[5], h[1], h[3], first, eighth));
        }
        case magic_ggmf: {
            const size_t at = cur.offset();
            const auto version = cur.read<uint32_t>("version");
            if (version != 1) cur.fail_at(at, fmt::format("ggmf version {} is unknown (expected 1)", version));
            return read_llama(file, cur, magic, version);
        }
        case magic_ggjt: {
            const size_t at = cur.offset();
            const auto version = cur.read<uint32_t>("version");
            // LLaMA's n_rot equals n_embd / n_head; GPT4All's Falcon header has falcon_version there.
            ByteCursor peek(file->bytes(), file->name(), cur.offset());
            int32_t h[7];
            for (auto& v : h) v = peek.read<int32_t>("hyperparameter");
            const bool llama_shape = h[3] > 0 && h[1] % h[3] == 0 && h[5] == h[1] / h[3];
            if (!llama_shape && (h[5] == 7 || h[5] == 40)) return read_falcon(file, cur);
            if (version < 1 || version > 3) cur.fail_at(at, fmt::format("ggjt version {} is unknown (expected 1 to 3)", version));
            return read_llama(file, cur, magic, version);
        }
        case magic_ggmm: return read_mpt(file, cur);
        default: break;
    }
    cur.fail_at(0, fmt::format("unknown magic {:#010x}", magic));
}

}  // namespace nibble::formats
