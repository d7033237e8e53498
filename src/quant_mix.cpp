// llama-quantize's mix rules (src/llama-quant.cpp of llama.cpp, as of 2026-08): the
// output matrix in q6_K, the value and down projections of some layers in a wider type,
// a fallback where the row length does not fit the type's block. MoE-only rules are left
// out (nibble runs no MoE model).
#include "src/quant_mix.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "kernels/type_traits.hpp"

namespace nibble::detail {
namespace {

using T = TensorType;

constexpr std::array<QuantPreset, 22> presets{{
    {"F32", 0, T::f32},        {"F16", 1, T::f16},       {"BF16", 32, T::bf16},    {"Q4_0", 2, T::q4_0},
    {"Q4_1", 3, T::q4_1},      {"Q8_0", 7, T::q8_0},     {"Q5_0", 8, T::q5_0},     {"Q5_1", 9, T::q5_1},
    {"Q2_K", 10, T::q2_K},     {"Q3_K_S", 11, T::q3_K},  {"Q3_K_M", 12, T::q3_K},  {"Q3_K_L", 13, T::q3_K},
    {"Q4_K_S", 14, T::q4_K},   {"Q4_K_M", 15, T::q4_K},  {"Q5_K_S", 16, T::q5_K},  {"Q5_K_M", 17, T::q5_K},
    {"Q6_K", 18, T::q6_K},     {"IQ4_NL", 25, T::iq4_nl}, {"IQ4_XS", 30, T::iq4_xs}, {"Q3_K", 12, T::q3_K},
    {"Q4_K", 15, T::q4_K},     {"Q5_K", 17, T::q5_K},
}};
constexpr uint32_t ftype_q2_K = 10, ftype_q3_K_M = 12, ftype_q3_K_L = 13, ftype_q4_K_S = 14, ftype_q4_K_M = 15,
                   ftype_q5_K_M = 17, ftype_iq4_nl = 25, ftype_iq4_xs = 30;

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

size_t block_of(uint32_t type_id) { return kernels::row_multiple(*kernels::find_type_traits(type_id)); }

enum class Category { output, token_embd, attn_v, attn_k, attn_q, attn_output, ffn_up, ffn_gate, ffn_down, other };

Category category_of(const std::string& name) {
    if (name == "output.weight") return Category::output;
    if (name == "token_embd.weight") return Category::token_embd;
    auto has = [&](std::string_view part) { return name.find(part) != std::string::npos; };
    if (has("attn_qkv.weight") || has("attn_kv_b.weight") || has("attn_v.weight")) return Category::attn_v;
    if (has("attn_k.weight")) return Category::attn_k;
    if (has("attn_q.weight")) return Category::attn_q;
    if (has("attn_output.weight")) return Category::attn_output;
    if (has("ffn_up")) return Category::ffn_up;
    if (has("ffn_gate")) return Category::ffn_gate;
    if (has("ffn_down")) return Category::ffn_down;
    return Category::other;
}

// The first and last eighth of the layers, and every third one between.
bool use_more_bits(int layer, int layers) {
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

struct ModelFacts {
    std::string arch;
    uint64_t n_gqa = 1;
    bool tied_embeddings = false;
    bool is_70b = false;
    int n_attn_v = 0, n_ffn_down = 0;
};

ModelFacts facts_of(const formats::TensorDirectory& dir) {
    ModelFacts f;
    f.arch = dir.metadata.get_string("general.architecture").value_or("");
    const uint64_t heads = dir.metadata.get_uint(f.arch + ".attention.head_count").value_or(1);
    const uint64_t kv = dir.metadata.get_uint(f.arch + ".attention.head_count_kv").value_or(heads);
    f.n_gqa = kv > 0 ? heads / kv : 1;
    f.tied_embeddings = dir.find("output.weight") == nullptr;
    f.is_70b = f.arch == "llama" && dir.metadata.get_uint("llama.block_count").value_or(0) == 80;
    for (const auto& t : dir.tensors()) {
        if (!is_quantizable_matrix(t)) continue;
        const Category c = category_of(t.name);
        f.n_attn_v += c == Category::attn_v;
        f.n_ffn_down += c == Category::ffn_down;
    }
    return f;
}

// The preset's choice before the row-length fallback (llama_tensor_get_type_impl).
T mixed_type(const QuantPreset& p, const formats::TensorEntry& t, Category c, const ModelFacts& m, int& i_attn_v, int& i_ffn_down) {
    const uint32_t ft = p.file_type;
    const bool falcon = m.arch == "falcon";
    T type = p.main_type;
    if (c == Category::output || (m.tied_embeddings && c == Category::token_embd)) {
        if (falcon || t.ne[0] % block_of(static_cast<uint32_t>(type)) != 0) return T::q8_0;
        return type == T::q8_0 ? T::q8_0 : T::q6_K;
    }
    if (c == Category::attn_v) {
        if (ft == ftype_q2_K) type = m.n_gqa >= 4 ? T::q4_K : T::q3_K;
        else if (ft == ftype_q3_K_M) type = i_attn_v < 2 ? T::q5_K : T::q4_K;
        else if (ft == ftype_q3_K_L) type = T::q5_K;
        else if ((ft == ftype_iq4_nl || ft == ftype_iq4_xs) && m.n_gqa >= 4) type = T::q5_K;
        else if ((ft == ftype_q4_K_M || ft == ftype_q5_K_M) && use_more_bits(i_attn_v, m.n_attn_v)) type = T::q6_K;
        else if (ft == ftype_q4_K_S && i_attn_v < 4) type = T::q5_K;
        if (m.is_70b && (type == T::q3_K || type == T::q4_K)) type = T::q5_K;
        ++i_attn_v;
        return type;
    }
    if (c == Category::ffn_down) {
        const int layer = i_ffn_down++, layers = m.n_ffn_down;
        if (ft == ftype_q2_K) return T::q3_K;
        if (ft == ftype_q3_K_M) {
            return layer < layers / 16 ? T::q5_K : !falcon || use_more_bits(layer, layers) ? T::q4_K : T::q3_K;
        }
        if (ft == ftype_q3_K_L) return falcon ? T::q4_K : T::q5_K;
        if (ft == ftype_q4_K_M) {
            if (falcon) return layer < layers / 16 ? T::q6_K : use_more_bits(layer, layers) ? T::q5_K : T::q4_K;
            return use_more_bits(layer, layers) ? T::q6_K : type;
        }
        if (layer < layers / 8 && (ft == ftype_iq4_nl || ft == ftype_iq4_xs)) return T::q5_K;
        if (ft == ftype_q5_K_M && use_more_bits(layer, layers)) return T::q6_K;
        if (ft == ftype_q4_K_S && !falcon && layer < layers / 8) return T::q5_K;
        return type;
    }
    if (c == Category::attn_output) {
        if (!falcon) {
            if (ft == ftype_q2_K) return T::q3_K;
            if (ft == ftype_q3_K_M) return T::q4_K;
            if (ft == ftype_q3_K_L) return T::q5_K;
        } else if (ft == ftype_q3_K_L) {
            return T::q4_K;
        }
    }
    return type;
}

// The row-length fallback (tensor_type_fallback): a 256-block type becomes a 32-block
// one, and f16 where rows are not even a multiple of 32.
TensorChoice fit_rows(const formats::TensorEntry& t, T type) {
    const auto id = static_cast<uint32_t>(type);
    if (t.ne[0] % block_of(id) == 0) return {id, {}};
    T fallback = T::f16;
    switch (type) {
        case T::iq4_xs: fallback = T::iq4_nl; break;
        case T::q2_K:
        case T::q3_K: fallback = T::q4_0; break;
        case T::q4_K: fallback = T::q5_0; break;
        case T::q5_K: fallback = T::q5_1; break;
        case T::q6_K: fallback = T::q8_0; break;
        default: break;
    }
    if (t.ne[0] % block_of(static_cast<uint32_t>(fallback)) != 0) fallback = T::f16;
    const auto to = static_cast<uint32_t>(fallback);
    if (fallback == T::f16) return {to, fmt::format("{}: rows of {} are not a multiple of {}, kept as f16", t.name, t.ne[0], block_of(id))};
    return {to, fmt::format("{}: rows of {} are not a multiple of {}, {} instead of {}", t.name, t.ne[0], block_of(id),
                            tensor_type_name(to), tensor_type_name(id))};
}

}  // namespace

bool is_quantizable_matrix(const formats::TensorEntry& t) {
    return t.n_dims >= 2 && t.name.ends_with("weight") && t.name.find("_norm.weight") == std::string::npos &&
           t.name.find("ffn_gate_inp.weight") == std::string::npos;
}

std::optional<QuantPreset> find_quant_preset(std::string_view name) {
    const std::string want = upper(name);
    for (const auto& p : presets) {
        if (p.name == want) return p;
    }
    return std::nullopt;
}

std::optional<QuantPreset> find_quant_preset_by_file_type(uint32_t file_type) {
    for (const auto& p : presets) {
        if (p.file_type == file_type) return p;
    }
    return std::nullopt;
}

std::vector<std::string_view> quant_preset_names() {
    std::vector<std::string_view> names;
    for (const auto& p : presets) names.push_back(p.name);
    return names;
}

std::vector<TensorChoice> choose_tensor_types(const formats::TensorDirectory& dir, const QuantPreset& preset, bool pure) {
    const ModelFacts facts = facts_of(dir);
    int i_attn_v = 0, i_ffn_down = 0;
    std::vector<TensorChoice> out;
    for (const auto& t : dir.tensors()) {
        if (!is_quantizable_matrix(t)) {
            out.push_back({t.type_id, {}});
            continue;
        }
        const Category c = category_of(t.name);
        const bool quantized = kernels::find_type_traits(static_cast<uint32_t>(preset.main_type))->block_elements > 1;
        const T type = pure || !quantized ? preset.main_type : mixed_type(preset, t, c, facts, i_attn_v, i_ffn_down);
        out.push_back(fit_rows(t, type));
    }
    return out;
}

}  // namespace nibble::detail
