// LLaMA: RMSNorm, rotary on adjacent pairs, grouped-query attention, SwiGLU.
#include <fmt/format.h>

#include "src/arch/architectures.hpp"

namespace nibble::detail {

void bind_llama(const formats::TensorDirectory& dir, ModelConfig& c, ModelWeights& w) {
    const auto& m = dir.metadata;
    const std::string& file = dir.file_name();
    c.n_embd = require_u32(m, "llama.embedding_length", file);
    c.n_layer = require_u32(m, "llama.block_count", file);
    c.n_head = require_u32(m, "llama.attention.head_count", file);
    c.n_ff = require_u32(m, "llama.feed_forward_length", file);
    c.n_head_kv = optional_u32(m, "llama.attention.head_count_kv", c.n_head);
    c.n_ctx_train = optional_u32(m, "llama.context_length", 2048);
    c.rope_base = optional_f32(m, "llama.rope.freq_base", 10000.0f);
    c.norm_eps = optional_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (c.n_embd % c.n_head != 0) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: embedding length {} is not a multiple of the head count {}", file,
                                                      c.n_embd, c.n_head));
    }
    if (c.n_head_kv == 0 || c.n_head % c.n_head_kv != 0) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: head count {} is not a multiple of the KV head count {}", file,
                                                      c.n_head, c.n_head_kv));
    }
    c.head_dim = c.n_embd / c.n_head;
    c.n_rot = optional_u32(m, "llama.rope.dimension_count", c.head_dim);
    if (c.n_rot != c.head_dim) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: llama.rope.dimension_count {} must equal the head size {}", file,
                                                      c.n_rot, c.head_dim));
    }
    c.norm = NormKind::rms;
    c.rope = RopeMode::adjacent_pairs;
    c.ffn = FfnKind::swiglu;
    c.parallel_residual = false;

    TensorBinder bind(dir);
    const auto* embd = dir.find("token_embd.weight");
    if (embd == nullptr) throw Error(ErrorCode::bad_model, fmt::format("{}: missing tensor 'token_embd.weight'", file));
    c.n_vocab = static_cast<uint32_t>(embd->ne[1]);
    w.token_embd = bind.matrix("token_embd.weight", c.n_embd, c.n_vocab);
    w.output_norm = bind.norm("output_norm", c.n_embd, false);
    w.output = bind.linear("output", c.n_embd, c.n_vocab, false, false);
    if (!w.output.present()) w.output.matrix = w.token_embd;

    const uint32_t kv = c.kv_dim();
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        LayerWeights& L = w.layers[l];
        L.attn_norm = bind.norm(p + "attn_norm", c.n_embd, false);
        L.wq = bind.linear(p + "attn_q", c.n_embd, c.n_embd);
        L.wk = bind.linear(p + "attn_k", c.n_embd, kv);
        L.wv = bind.linear(p + "attn_v", c.n_embd, kv);
        L.wo = bind.linear(p + "attn_output", c.n_embd, c.n_embd);
        L.ffn_norm = bind.norm(p + "ffn_norm", c.n_embd, false);
        L.ffn_gate = bind.linear(p + "ffn_gate", c.n_embd, c.n_ff);
        L.ffn_up = bind.linear(p + "ffn_up", c.n_embd, c.n_ff);
        L.ffn_down = bind.linear(p + "ffn_down", c.n_ff, c.n_embd);
    }
    if (bind.has("rope_freqs.weight")) {  // per-dimension rope factors (LLaMA 3.1): ignoring them would be wrong
        throw Error(ErrorCode::unsupported, fmt::format("{}: rope frequency factors ('rope_freqs.weight') are not supported", file));
    }
    bind.require_all_used();
}

}  // namespace nibble::detail
