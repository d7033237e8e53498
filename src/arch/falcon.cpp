// Falcon: fused QKV, multi-query (7B) or grouped (40B) attention, half-split rotary,
// parallel attention and GELU MLP, no linear biases. The 40B "new decoder" has a
// second norm, attn_norm_2, which feeds attention while attn_norm feeds the MLP.
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_falcon(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    read_common_hparams(dir, "falcon", c);
    const std::string& file = dir.file_name();
    c.norm_eps = optional_f32(dir.metadata, "falcon.attention.layer_norm_epsilon", 1e-5f, dir.file_name(), true);
    if (c.n_rot != c.head_dim) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: falcon.rope.dimension_count {} must equal the head size {}", file,
                                                      c.n_rot, c.head_dim));
    }
    c.norm = NormKind::layer;
    c.rope = RopeMode::half_split;
    c.ffn = FfnKind::gelu;
    c.parallel_residual = true;

    using Bias = TensorBinder::Bias;
    TensorBinder bind(dir);
    bind.embedding_and_output(c, w, Bias::required, false, false);
    const bool new_decoder = bind.has("blk.0.attn_norm_2.weight");
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, Bias::required);
        if (new_decoder) L.attn_norm_2 = bind.norm(p + "attn_norm_2", c.n_embd, Bias::required);
        L.wqkv = bind.linear(p + "attn_qkv", c.n_embd, c.n_embd + 2 * c.kv_dim(), true, false);
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd, true, false);
        L.ffn_up = bind.linear(p + "ffn_up", c.n_embd, c.n_ff, true, false);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd, true, false);
    }
    bind.require_all_used();
}

}  // namespace nibble::detail
