// Writes LLaMA models as `ggjt` files, the container GPT4All's LLaMA backends read.
#include <fmt/format.h>

#include "formats/legacy.hpp"
#include "nibble/error.hpp"

namespace nibble::formats {
namespace {

class Sink {
public:
    template <class T>
    void put(T v) {
        const auto* p = reinterpret_cast<const std::byte*>(&v);
        out.insert(out.end(), p, p + sizeof v);
    }
    void put_bytes(std::string_view s) {
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        out.insert(out.end(), p, p + s.size());
    }
    std::vector<std::byte> out;
};

uint32_t need(const Metadata& m, const std::string& key) {
    const auto v = m.get_uint(key);
    if (!v) throw Error(ErrorCode::invalid_argument, fmt::format("write_ggjt: metadata has no '{}'", key));
    return static_cast<uint32_t>(*v);
}

// The n_mult that makes the 2023 loader derive exactly n_ff: the largest power of two
// that works (LLaMA used 256), else any value that does.
uint32_t n_mult_for(uint32_t n_embd, uint32_t n_ff) {
    const uint32_t base = 2 * (4 * n_embd) / 3;
    auto works = [&](uint32_t mult) { return ((base + mult - 1) / mult) * mult == n_ff; };
    for (uint32_t mult = 256; mult >= 1; mult /= 2) {
        if (works(mult)) return mult;
    }
    for (uint32_t mult = n_ff; mult >= 1; --mult) {
        if (works(mult)) return mult;
    }
    throw Error(ErrorCode::invalid_argument, fmt::format("write_ggjt: n_ff {} cannot be expressed through n_mult", n_ff));
}

std::string legacy_llama_name(const std::string& name) {
    static const std::pair<std::string_view, std::string_view> globals[] = {
        {"token_embd.weight", "tok_embeddings.weight"}, {"output_norm.weight", "norm.weight"}, {"output.weight", "output.weight"}};
    for (const auto& [gguf, legacy] : globals) {
        if (name == gguf) return std::string(legacy);
    }
    static const std::pair<std::string_view, std::string_view> parts[] = {
        {"attn_norm.", "attention_norm."}, {"attn_q.", "attention.wq."},  {"attn_k.", "attention.wk."},
        {"attn_v.", "attention.wv."},      {"attn_output.", "attention.wo."}, {"ffn_norm.", "ffn_norm."},
        {"ffn_gate.", "feed_forward.w1."}, {"ffn_down.", "feed_forward.w2."}, {"ffn_up.", "feed_forward.w3."}};
    if (name.starts_with("blk.")) {
        const size_t dot = name.find('.', 4);
        const std::string layer = name.substr(4, dot - 4), rest = name.substr(dot + 1);
        for (const auto& [gguf, legacy] : parts) {
            if (rest.starts_with(gguf)) return "layers." + layer + "." + std::string(legacy) + rest.substr(gguf.size());
        }
    }
    throw Error(ErrorCode::invalid_argument, fmt::format("write_ggjt: tensor '{}' has no LLaMA legacy name", name));
}

}  // namespace

std::vector<std::byte> write_ggjt(const TensorDirectory& dir, uint32_t version, bool blocks_in_era_layout) {
    if (version < 1 || version > 3) throw Error(ErrorCode::invalid_argument, fmt::format("ggjt version {} does not exist", version));
    const Metadata& m = dir.metadata;
    if (m.get_string("general.architecture").value_or("") != "llama") {
        throw Error(ErrorCode::invalid_argument, "write_ggjt: only LLaMA models have a ggjt layout");
    }
    const auto* tokens = m.get_strings("tokenizer.ggml.tokens");
    if (tokens == nullptr) throw Error(ErrorCode::invalid_argument, "write_ggjt: the model has no vocabulary");
    const auto scores = m.get_floats("tokenizer.ggml.scores").value_or(std::vector<float>(tokens->size(), 0.0f));
    const auto types = m.get_ints("tokenizer.ggml.token_type").value_or(std::vector<int64_t>(tokens->size(), 1));
    const uint32_t n_embd = need(m, "llama.embedding_length"), n_head = need(m, "llama.attention.head_count");
    if (m.get_uint("llama.attention.head_count_kv").value_or(n_head) != n_head) {
        throw Error(ErrorCode::invalid_argument, "write_ggjt: ggjt files cannot express grouped-query attention");
    }

    Sink s;
    s.put(magic_ggjt);
    s.put(version);
    s.put(static_cast<int32_t>(tokens->size()));
    s.put(static_cast<int32_t>(n_embd));
    s.put(static_cast<int32_t>(n_mult_for(n_embd, need(m, "llama.feed_forward_length"))));
    s.put(static_cast<int32_t>(n_head));
    s.put(static_cast<int32_t>(need(m, "llama.block_count")));
    s.put(static_cast<int32_t>(n_embd / n_head));
    s.put(static_cast<int32_t>(m.get_uint("general.file_type").value_or(0)));
    for (size_t i = 0; i < tokens->size(); ++i) {
        // The converters' text: U+2581 as a space, byte pieces as their byte, control tokens empty.
        std::string text = (*tokens)[i];
        if (types[i] == 6 && text.size() == 6) {
            text = std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
        } else if (types[i] == 3) {
            text.clear();
        } else if (types[i] == 2) {
            text = " \xE2\x81\x87 ";
        } else {
            std::string spaced;
            for (size_t i = 0; i < text.size(); ++i) {
                if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
                    spaced += ' ';
                    i += 2;
                } else {
                    spaced += text[i];
                }
            }
            text = std::move(spaced);
        }
        s.put(static_cast<uint32_t>(text.size()));
        s.put_bytes(text);
        s.put(scores[i]);
    }
    for (const auto& t : dir.tensors()) {
        const std::string name = legacy_llama_name(t.name);
        s.put(static_cast<int32_t>(t.n_dims));
        s.put(static_cast<int32_t>(name.size()));
        s.put(static_cast<int32_t>(t.type_id));
        for (uint32_t d = 0; d < t.n_dims; ++d) s.put(static_cast<int32_t>(t.ne[d]));
        s.put_bytes(name);
        while (s.out.size() % 32 != 0) s.out.push_back(std::byte{0});
        if (blocks_in_era_layout) {
            s.out.insert(s.out.end(), t.data.begin(), t.data.end());
        } else {
            const auto blocks = convert_from_current(t.type_id, llama_container_era(magic_ggjt, version), t.data, t.elements());
            s.out.insert(s.out.end(), blocks.begin(), blocks.end());
        }
    }
    return std::move(s.out);
}

}  // namespace nibble::formats
