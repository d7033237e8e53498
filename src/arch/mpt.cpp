// MPT: no positional embedding but ALiBi biases, optional clipping of q/k/v, fused
// QKV, sequential LayerNorm blocks with a GELU MLP, output tied to the embedding.
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_mpt(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    read_common_hparams(dir, "mpt", c);
    const auto& m = dir.metadata;
    c.norm_eps = optional_f32(m, "mpt.attention.layer_norm_epsilon", 1e-5f, dir.file_name(), true);
    c.alibi_max_bias = optional_f32(m, "mpt.attention.max_alibi_bias", 0.0f, dir.file_name());
    c.clamp_kqv = optional_f32(m, "mpt.attention.clamp_kqv", 0.0f, dir.file_name());
    if (c.alibi_max_bias < 0.0f || c.clamp_kqv < 0.0f) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: max_alibi_bias {} and clamp_kqv {} must not be negative",
                                                      dir.file_name(), c.alibi_max_bias, c.clamp_kqv));
    }
    c.norm = NormKind::layer;
    c.rope = RopeMode::none;
    c.ffn = FfnKind::gelu;
    c.parallel_residual = false;

    using Bias = TensorBinder::Bias;
    TensorBinder bind(dir);
    bind.refuse("pos_embd.weight", "learned absolute positions");
    bind.embedding_and_output(c, w, Bias::optional, false, false);
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        bind.refuse(p + "attn_q_norm.weight", "q/k LayerNorm");
        bind.refuse(p + "ffn_act.scales", "AWQ activation scales");
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, Bias::optional);
        L.wqkv = bind.linear(p + "attn_qkv", c.n_embd, c.n_embd + 2 * c.kv_dim());
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd);
        L.ffn_norm = bind.norm(p + "ffn_norm", c.n_embd, Bias::optional);
        L.ffn_up = bind.linear(p + "ffn_up", c.n_embd, c.n_ff);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd);
    }
    bind.require_all_used();
}

}  // namespace nibble::detail
