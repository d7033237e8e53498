// GPT-J (GPT4All-J): one LayerNorm feeding attention and MLP in parallel, rotary on
// the first n_rot dimensions of each head (adjacent pairs), GELU MLP with biases,
// output projection with bias.
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_gptj(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    read_common_hparams(dir, "gptj", c);
    c.norm_eps = optional_f32(dir.metadata, "gptj.attention.layer_norm_epsilon", 1e-5f, dir.file_name(), true);
    c.norm = NormKind::layer;
    c.rope = RopeMode::adjacent_pairs;
    c.ffn = FfnKind::gelu;
    c.parallel_residual = true;

    using Bias = TensorBinder::Bias;
    TensorBinder bind(dir);
    bind.embedding_and_output(c, w, Bias::required, true, true);
    const uint32_t kv = c.kv_dim();
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, Bias::required);
        L.wq = bind.linear(p + "attn_q", c.n_embd, c.n_embd, true, false);
        L.wk = bind.linear(p + "attn_k", c.n_embd, kv, true, false);
        L.wv = bind.linear(p + "attn_v", c.n_embd, kv, true, false);
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd, true, false);
        L.ffn_up = bind.linear(p + "ffn_up", c.n_embd, c.n_ff);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd);
    }
    bind.require_all_used();
}

}  // namespace nibble::detail
