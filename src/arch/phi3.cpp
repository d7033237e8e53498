// Phi-3: fused [q | k | v] projection and fused [gate | up] projection, rotary on
// half-split pairs (NEOX), RMSNorm, SwiGLU, a separate output matrix.
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_phi3(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    const auto& m = dir.metadata;
    const std::string& file = dir.file_name();
    read_common_hparams(dir, "phi3", c);
    require_u32(m, "phi3.feed_forward_length", file);
    c.norm_eps = optional_f32(m, "phi3.attention.layer_norm_rms_epsilon", 1e-5f, file, true);
    c.norm = NormKind::rms;
    c.rope = RopeMode::half_split;
    c.ffn = FfnKind::swiglu;
    c.parallel_residual = false;

    TensorBinder bind(dir);
    // The 128k-context variants scale rope by position range (LongRoPE): not implemented.
    bind.refuse("rope_factors_long.weight", "Phi-3 LongRoPE scaling of the 128k variants");
    bind.refuse("rope_factors_short.weight", "Phi-3 LongRoPE scaling of the 128k variants");
    bind.embedding_and_output(c, w, TensorBinder::Bias::none, false, false);
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, TensorBinder::Bias::none);
        L.wqkv = bind.linear(p + "attn_qkv", c.n_embd, c.n_embd + 2 * c.kv_dim(), true, false);
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd, true, false);
        L.ffn_norm = bind.norm(p + "ffn_norm", c.n_embd, TensorBinder::Bias::none);
        // ffn_up holds the gate's n_ff rows, then the up projection's: two views of one tensor.
        const kernels::MatrixView gate_up = bind.matrix(p + "ffn_up.weight", c.n_embd, uint64_t{2} * c.n_ff);
        L.ffn_gate.matrix = row_range(gate_up, 0, c.n_ff);
        L.ffn_up.matrix = row_range(gate_up, c.n_ff, c.n_ff);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd, true, false);
    }
    bind.require_all_used();
}

}  // namespace nibble::detail
