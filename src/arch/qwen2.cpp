// Qwen2 (and Qwen2.5): LLaMA's block with biases on q, k and v, rotary on half-split
// pairs (NEOX), usually tied embeddings (no output.weight).
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_qwen2(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    const auto& m = dir.metadata;
    const std::string& file = dir.file_name();
    read_common_hparams(dir, "qwen2", c);
    require_u32(m, "qwen2.feed_forward_length", file);
    c.norm_eps = optional_f32(m, "qwen2.attention.layer_norm_rms_epsilon", 1e-6f, file, true);
    c.norm = NormKind::rms;
    c.rope = RopeMode::half_split;
    c.ffn = FfnKind::swiglu;
    c.parallel_residual = false;

    TensorBinder bind(dir);
    bind.embedding_and_output(c, w, TensorBinder::Bias::none, false, false);
    const uint32_t kv = c.kv_dim();
    // The biases define the family: dropping them moves logits by half their spread.
    auto biased = [&](const std::string& prefix, uint32_t rows) {
        Linear l = bind.linear(prefix, c.n_embd, rows, true, false);
        l.bias = bind.vector(prefix + ".bias", rows, true);
        return l;
    };
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, TensorBinder::Bias::none);
        L.wq = biased(p + "attn_q", c.n_embd);
        L.wk = biased(p + "attn_k", kv);
        L.wv = biased(p + "attn_v", kv);
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd, true, false);
        L.ffn_norm = bind.norm(p + "ffn_norm", c.n_embd, TensorBinder::Bias::none);
        L.ffn_gate = bind.linear(p + "ffn_gate", c.n_embd, c.n_ff, true, false);
        L.ffn_up = bind.linear(p + "ffn_up", c.n_embd, c.n_ff, true, false);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd, true, false);
    }
    bind.require_all_used();
}

}  // namespace nibble::detail
