#include "bench/synthetic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <cmath>
#include <cstring>
#include <vector>

#include "formats/gguf.hpp"
#include "kernels/type_traits.hpp"
#include "src/quant_mix.hpp"
#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "nibble/error.hpp"

namespace nibble::bench {
namespace {

const ModelShape known_shapes[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000},
    {"llama-7b", 4096, 32, 32, 32, 11008, 32000},
    {"llama-13b", 5120, 40, 40, 40, 13824, 32000},
    {"stories15m", 288, 6, 6, 6, 768, 32000},
};

struct Random {  // splitmix64: fast, and good enough for weights nobody reads
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1ull << 24); }  // [0, 1)
};

// Random bytes for the quants; scales chosen so a row's output has roughly unit
// variance for unit inputs (std of one weight ~ 1/sqrt(cols)), keeping 32 layers finite.
std::vector<std::byte> random_matrix(TensorType type, uint64_t rows, uint64_t cols, Random& rng) {
    const size_t bytes = kernels::row_bytes(type, cols) * rows;
    std::vector<std::byte> data(bytes);
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t r = rng.next();
        std::memcpy(data.data() + i, &r, 8);
    }
    const float target = 1.0f / std::sqrt(static_cast<float>(cols));
    auto scale = [&](float quant_std) { return kernels::fp32_to_fp16(target / quant_std * (0.5f + rng.uniform())); };
    auto blocks = [&](size_t block_bytes, auto&& fix) {
        for (size_t off = 0; off + block_bytes <= bytes; off += block_bytes) fix(data.data() + off);
    };
    auto set_scales = [](std::byte* b, size_t at, uint16_t v) { std::memcpy(b + at, &v, 2); };
    auto k_scales = [&](size_t block_bytes, size_t d_at, size_t dmin_at, float quant_std, float min_ratio) {
        blocks(block_bytes, [&](std::byte* b) {
            const uint16_t d = scale(quant_std);
            set_scales(b, d_at, d);
            if (min_ratio > 0) set_scales(b, dmin_at, kernels::fp32_to_fp16(min_ratio * kernels::fp16_to_fp32(d)));
        });
    };
    switch (type) {
        case TensorType::f32: {
            auto* f = reinterpret_cast<float*>(data.data());
            for (size_t i = 0; i < rows * cols; ++i) f[i] = (rng.uniform() * 2 - 1) * target * 1.7f;
            break;
        }
        case TensorType::f16: {
            auto* h = reinterpret_cast<uint16_t*>(data.data());
            for (size_t i = 0; i < rows * cols; ++i) h[i] = kernels::fp32_to_fp16((rng.uniform() * 2 - 1) * target * 1.7f);
            break;
        }
        case TensorType::q4_0:
        case TensorType::q4_2:  // both: fp16 d first, nibbles after
            blocks(type == TensorType::q4_0 ? sizeof(kernels::BlockQ4_0) : sizeof(kernels::BlockQ4_2), [&](std::byte* b) {
                const uint16_t d = scale(4.6f);
                std::memcpy(b, &d, 2);
            });
            break;
        case TensorType::q4_1:
            blocks(sizeof(kernels::BlockQ4_1), [&](std::byte* b) {
                const uint16_t d = scale(4.6f);
                const uint16_t m = kernels::fp32_to_fp16(-7.5f * kernels::fp16_to_fp32(d));
                std::memcpy(b, &d, 2);
                std::memcpy(b + 2, &m, 2);
            });
            break;
        case TensorType::q8_0:
            blocks(sizeof(kernels::BlockQ8_0), [&](std::byte* b) {
                const uint16_t d = scale(74.0f);
                std::memcpy(b, &d, 2);
            });
            break;
        case TensorType::bf16: {
            auto* h = reinterpret_cast<uint16_t*>(data.data());
            for (size_t i = 0; i < rows * cols; ++i) h[i] = kernels::fp32_to_bf16((rng.uniform() * 2 - 1) * target * 1.7f);
            break;
        }
        // The quantized types: random quants and sub-block scales, with the super-block
        // scales (and minimums) set so that rows have about the f32 models' spread:
        // `quant_std` is the spread of quant x sub-block scale, `min_ratio` dmin / d.
        case TensorType::q5_0: blocks(sizeof(kernels::BlockQ5_0), [&](std::byte* b) { set_scales(b, 0, scale(9.2f)); }); break;
        case TensorType::q5_1:
            blocks(sizeof(kernels::BlockQ5_1), [&](std::byte* b) {
                const uint16_t d = scale(9.2f);
                set_scales(b, 0, d);
                set_scales(b, 2, kernels::fp32_to_fp16(-15.5f * kernels::fp16_to_fp32(d)));
            });
            break;
        case TensorType::iq4_nl: blocks(sizeof(kernels::BlockIQ4_NL), [&](std::byte* b) { set_scales(b, 0, scale(65.0f)); }); break;
        case TensorType::iq4_xs: blocks(sizeof(kernels::BlockIQ4_XS), [&](std::byte* b) { set_scales(b, 0, scale(18.0f * 65.0f)); }); break;
        case TensorType::q2_K: k_scales(sizeof(kernels::BlockQ2_K), 80, 82, 7.5f * 1.1f, 1.5f); break;
        case TensorType::q3_K: k_scales(sizeof(kernels::BlockQ3_K), 108, 0, 18.0f * 2.3f, 0.0f); break;
        case TensorType::q4_K: k_scales(sizeof(kernels::BlockQ4_K), 0, 2, 31.5f * 4.6f, 7.5f); break;
        case TensorType::q5_K: k_scales(sizeof(kernels::BlockQ5_K), 0, 2, 31.5f * 9.2f, 15.5f); break;
        case TensorType::q6_K: k_scales(sizeof(kernels::BlockQ6_K), 208, 0, 74.0f * 18.5f, 0.0f); break;
    }
    return data;
}

uint32_t field(const std::string& text, const std::string& key, size_t& pos) {
    const std::string want = key + "=";
    if (text.compare(pos, want.size(), want) != 0) {
        throw Error(ErrorCode::invalid_argument,
                    fmt::format("custom shape '{}': expected '{}' at character {}", text, want, pos));
    }
    pos += want.size();
    size_t used = 0;
    unsigned long value = 0;
    try {
        value = std::stoul(text.substr(pos), &used);
    } catch (const std::exception&) {
    }
    if (used == 0 || value == 0 || value > (1u << 20)) {
        throw Error(ErrorCode::invalid_argument, fmt::format("custom shape '{}': bad value for '{}'", text, key));
    }
    pos += used;
    if (pos < text.size() && text[pos] == '/') ++pos;
    return static_cast<uint32_t>(value);
}

// A SentencePiece-style vocabulary of n tokens (unknown, BOS, EOS, the 256 byte tokens,
// then generated word pieces with falling scores), so that other engines (llama-bench)
// load the same file.
void write_synthetic_vocabulary(formats::Metadata& meta, uint32_t n) {
    std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
    std::vector<float> scores{0.0f, 0.0f, 0.0f};
    std::vector<int32_t> types{2, 3, 3};  // unknown, control, control
    for (int b = 0; b < 256 && tokens.size() < n; ++b) {
        tokens.push_back(fmt::format("<0x{:02X}>", b));
        scores.push_back(0.0f);
        types.push_back(6);  // byte
    }
    static constexpr char letters[] = "etaoinshrdlucmfwypvbgkjqxz";
    for (uint32_t i = 0; tokens.size() < n; ++i) {
        std::string piece = (i % 2 == 0) ? "\xe2\x96\x81" : "";  // U+2581, the word-start mark
        for (uint32_t v = i / 2 + 1; v > 0; v /= 26) piece += letters[v % 26];
        tokens.push_back(std::move(piece));
        scores.push_back(-static_cast<float>(i));
        types.push_back(1);  // normal
    }
    meta.set("tokenizer.ggml.model", formats::MetaValue::make_string("llama"));
    meta.set("tokenizer.ggml.tokens", formats::MetaValue::make_strings(std::move(tokens)));
    meta.set("tokenizer.ggml.scores", formats::MetaValue::make_f32s(scores));
    meta.set("tokenizer.ggml.token_type", formats::MetaValue::make_i32s(types));
    meta.set("tokenizer.ggml.bos_token_id", formats::MetaValue::make_u32(1));
    meta.set("tokenizer.ggml.eos_token_id", formats::MetaValue::make_u32(2));
    meta.set("tokenizer.ggml.unknown_token_id", formats::MetaValue::make_u32(0));
}

}  // namespace

std::string SyntheticSpec::label() const {
    return shape.name + ":" + (preset.empty() ? tensor_type_name(static_cast<uint32_t>(type)) : preset);
}

SyntheticSpec parse_synthetic_spec(const std::string& text) {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
        throw Error(ErrorCode::invalid_argument, fmt::format("synthetic model '{}': expected SHAPE:TYPE, e.g. tinyllama-1.1b:q4_0", text));
    }
    SyntheticSpec spec;
    const std::string shape = text.substr(0, colon), type = text.substr(colon + 1);
    bool found_type = false;
    for (const auto& t : kernels::type_traits) {
        if (t.activation && t.name == type) {
            spec.type = static_cast<TensorType>(t.id);
            found_type = true;
        }
    }
    if (const auto preset = detail::find_quant_preset(type); !found_type && preset) {
        spec.preset = std::string(preset->name);
        spec.type = preset->main_type;
        found_type = true;
    }
    if (!found_type) throw Error(ErrorCode::invalid_argument, fmt::format("synthetic model '{}': unknown type '{}'", text, type));
    for (const auto& known : known_shapes) {
        if (known.name == shape) spec.shape = known;
    }
    if (spec.shape.name.empty()) {
        const std::string prefix = "custom/";
        if (shape.compare(0, prefix.size(), prefix) != 0) {
            std::string names;
            for (const auto& known : known_shapes) names += " " + known.name;
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("synthetic model '{}': unknown shape '{}' (known:{}, or custom/e=../l=../h=../kv=../ff=../v=..)",
                                    text, shape, names));
        }
        size_t pos = prefix.size();
        ModelShape& s = spec.shape;
        s.name = shape;
        s.n_embd = field(shape, "e", pos);
        s.n_layer = field(shape, "l", pos);
        s.n_head = field(shape, "h", pos);
        s.n_head_kv = field(shape, "kv", pos);
        s.n_ff = field(shape, "ff", pos);
        s.n_vocab = field(shape, "v", pos);
        if (pos != shape.size() || s.n_embd % s.n_head != 0 || s.n_head % s.n_head_kv != 0) {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("custom shape '{}': needs e, l, h, kv, ff, v in that order, e divisible by h, h by kv", shape));
        }
    }
    const size_t multiple = kernels::row_multiple(*kernels::find_type_traits(spec.type));
    for (uint32_t cols : {spec.shape.n_embd, spec.shape.n_ff}) {
        if (cols % 32 != 0 || (spec.preset.empty() && cols % multiple != 0)) {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("synthetic model '{}': row length {} is not a multiple of {}", text, cols, std::max<size_t>(multiple, 32)));
        }
    }
    return spec;
}

uint64_t parameter_count(const ModelShape& s) {
    const uint64_t head_dim = s.n_embd / s.n_head, kv = head_dim * s.n_head_kv;
    const uint64_t per_layer = uint64_t{s.n_embd} * (2 * s.n_embd + 2 * kv) + 3ull * s.n_embd * s.n_ff + 2ull * s.n_embd;
    return per_layer * s.n_layer + 2ull * s.n_vocab * s.n_embd + s.n_embd;
}

void write_synthetic_model(const SyntheticSpec& spec, const std::string& path, uint64_t seed) {
    const ModelShape& s = spec.shape;
    const uint32_t head_dim = s.n_embd / s.n_head, kv_dim = head_dim * s.n_head_kv;
    formats::GgufWriter writer;
    auto& meta = writer.metadata();
    meta.set("general.architecture", formats::MetaValue::make_string("llama"));
    meta.set("general.name", formats::MetaValue::make_string("synthetic " + spec.label()));
    meta.set("llama.context_length", formats::MetaValue::make_u32(4096));
    meta.set("llama.embedding_length", formats::MetaValue::make_u32(s.n_embd));
    meta.set("llama.block_count", formats::MetaValue::make_u32(s.n_layer));
    meta.set("llama.feed_forward_length", formats::MetaValue::make_u32(s.n_ff));
    meta.set("llama.attention.head_count", formats::MetaValue::make_u32(s.n_head));
    meta.set("llama.attention.head_count_kv", formats::MetaValue::make_u32(s.n_head_kv));
    meta.set("llama.rope.dimension_count", formats::MetaValue::make_u32(head_dim));
    meta.set("llama.attention.layer_norm_rms_epsilon", formats::MetaValue::make_f32(1e-5f));
    write_synthetic_vocabulary(meta, s.n_vocab);

    // With a preset, each matrix's type comes from llama-quantize's mix rules, applied to
    // the model's tensor list first.
    std::map<std::string, uint32_t> preset_types;
    if (!spec.preset.empty()) {
        formats::TensorDirectory plan;
        plan.metadata = meta;
        auto entry = [&](const std::string& name, uint64_t cols, uint64_t rows) {
            formats::TensorEntry e;
            e.name = name;
            e.n_dims = rows > 1 ? 2 : 1;
            e.ne = {cols, rows, 1, 1};
            plan.add(e);
        };
        entry("token_embd.weight", s.n_embd, s.n_vocab);
        for (uint32_t l = 0; l < s.n_layer; ++l) {
            const std::string b = fmt::format("blk.{}.", l);
            entry(b + "attn_norm.weight", s.n_embd, 1);
            entry(b + "attn_q.weight", s.n_embd, s.n_embd);
            entry(b + "attn_k.weight", s.n_embd, kv_dim);
            entry(b + "attn_v.weight", s.n_embd, kv_dim);
            entry(b + "attn_output.weight", s.n_embd, s.n_embd);
            entry(b + "ffn_norm.weight", s.n_embd, 1);
            entry(b + "ffn_gate.weight", s.n_embd, s.n_ff);
            entry(b + "ffn_up.weight", s.n_embd, s.n_ff);
            entry(b + "ffn_down.weight", s.n_ff, s.n_embd);
        }
        entry("output_norm.weight", s.n_embd, 1);
        entry("output.weight", s.n_embd, s.n_vocab);
        const auto choices = detail::choose_tensor_types(plan, *detail::find_quant_preset(spec.preset), false);
        for (size_t i = 0; i < choices.size(); ++i) preset_types[plan.tensors()[i].name] = choices[i].type_id;
        meta.set("general.file_type", formats::MetaValue::make_u32(detail::find_quant_preset(spec.preset)->file_type));
    }

    Random rng{seed};
    std::vector<std::vector<std::byte>> storage;  // kept alive until the streamed write
    auto matrix = [&](const std::string& name, uint64_t cols, uint64_t rows) {
        const auto found = preset_types.find(name);
        const uint32_t type_id = found != preset_types.end() ? found->second : static_cast<uint32_t>(spec.type);
        storage.push_back(random_matrix(static_cast<TensorType>(type_id), rows, cols, rng));
        const std::array<uint64_t, 2> ne{cols, rows};
        writer.add_tensor(name, type_id, ne, storage.back());
    };
    auto ones = [&](const std::string& name, uint64_t n) {
        std::vector<std::byte> data(n * sizeof(float));
        const float one = 1.0f;
        for (uint64_t i = 0; i < n; ++i) std::memcpy(data.data() + i * 4, &one, 4);
        storage.push_back(std::move(data));
        const std::array<uint64_t, 1> ne{n};
        writer.add_tensor(name, 0, ne, storage.back());
    };
    matrix("token_embd.weight", s.n_embd, s.n_vocab);
    for (uint32_t l = 0; l < s.n_layer; ++l) {
        const std::string b = fmt::format("blk.{}.", l);
        ones(b + "attn_norm.weight", s.n_embd);
        matrix(b + "attn_q.weight", s.n_embd, s.n_embd);
        matrix(b + "attn_k.weight", s.n_embd, kv_dim);
        matrix(b + "attn_v.weight", s.n_embd, kv_dim);
        matrix(b + "attn_output.weight", s.n_embd, s.n_embd);
        ones(b + "ffn_norm.weight", s.n_embd);
        matrix(b + "ffn_gate.weight", s.n_embd, s.n_ff);
        matrix(b + "ffn_up.weight", s.n_embd, s.n_ff);
        matrix(b + "ffn_down.weight", s.n_ff, s.n_embd);
    }
    ones("output_norm.weight", s.n_embd);
    matrix("output.weight", s.n_embd, s.n_vocab);
    writer.write(path);
}

}  // namespace nibble::bench
