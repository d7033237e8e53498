// LLaMA (1, 2, 3.x, Mistral): RMSNorm, rotary on adjacent pairs (with Llama 3.1's
// per-pair divisors when the file has rope_freqs), grouped-query attention, SwiGLU.
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_llama(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    const auto& m = dir.metadata;
    const std::string& file = dir.file_name();
    read_common_hparams(dir, "llama", c);
    require_u32(m, "llama.feed_forward_length", file);
    c.norm_eps = optional_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f, file, true);
    if (c.n_rot != c.head_dim) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: llama.rope.dimension_count {} must equal the head size {}", file,
                                                      c.n_rot, c.head_dim));
    }
    c.norm = NormKind::rms;
    c.rope = RopeMode::adjacent_pairs;
    c.ffn = FfnKind::swiglu;
    c.parallel_residual = false;

    TensorBinder bind(dir);
    bind.embedding_and_output(c, w, TensorBinder::Bias::none, false, false);

    const uint32_t kv = c.kv_dim();
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, TensorBinder::Bias::none);
        L.wq = bind.linear(p + "attn_q", c.n_embd, c.n_embd);
        L.wk = bind.linear(p + "attn_k", c.n_embd, kv);
        L.wv = bind.linear(p + "attn_v", c.n_embd, kv);
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd);
        L.ffn_norm = bind.norm(p + "ffn_norm", c.n_embd, TensorBinder::Bias::none);
        L.ffn_gate = bind.linear(p + "ffn_gate", c.n_embd, c.n_ff);
        L.ffn_up = bind.linear(p + "ffn_up", c.n_embd, c.n_ff);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd);
    }
    // Llama 3.1/3.2 rope scaling: one divisor per rotated pair, no metadata keys.
    c.rope_divisors = bind.vector("rope_freqs.weight", c.n_rot / 2, false);
    bind.require_all_used();
}

}  // namespace nibble::detail
