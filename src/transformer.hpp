// The forward pass shared by every family, and the state one Session keeps.
#pragma once

#include <vector>

#include "src/kv_cache.hpp"
#include "src/model_impl.hpp"

namespace nibble::detail {

/// KV cache and the scratch buffers of one batch, sized once.
struct ForwardState {
    ForwardState(const ModelImpl& model, uint32_t context_length, uint32_t batch_size, int threads, KvType type_k,
                 KvType type_v);
    /// Bytes the constructor allocates for these sizes (saturates at SIZE_MAX), so that a
    /// Session can refuse sizes the machine cannot hold before allocating anything.
    static uint64_t bytes_needed(const ModelImpl& model, uint32_t context_length, uint32_t batch_size, int threads,
                                 KvType type_k, KvType type_v);
    /// Bytes of the key and value caches alone (saturates as bytes_needed).
    static uint64_t cache_bytes(const ModelImpl& model, uint32_t context_length, KvType type_k, KvType type_v);

    uint32_t n_ctx, batch;
    int threads;
    KvRows k_cache, v_cache;              ///< [n_layer][n_ctx] rows of kv_dim
    std::vector<float> x;                 ///< [batch][n_embd] the residual stream
    std::vector<float> normed;            ///< [batch][n_embd]
    std::vector<float> attn_in;           ///< [batch][n_embd] second norm (Falcon-40B)
    std::vector<float> qkv;               ///< [batch][n_embd + 2 kv_dim] fused projection
    std::vector<float> alibi;             ///< [n_head] slopes, empty without ALiBi
    std::vector<float> q, k, v;           ///< [batch][n_embd], [batch][kv_dim] x2
    std::vector<float> attn;              ///< [batch][n_embd] attention output before wo
    std::vector<float> proj;              ///< [batch][n_embd] output of wo
    std::vector<float> ffn_out;           ///< [batch][n_embd] output of the MLP
    std::vector<float> gate, up;          ///< [batch][n_ff]
    std::vector<float> rope_cos, rope_sin;///< [batch][n_rot/2]
    std::vector<float> scores;            ///< [threads][query heads per task][n_ctx] attention weights
    std::vector<std::byte> act_scratch;   ///< converted activations for matmul
};

/// Attention works on query heads that share a key head, up to queries_per_task(c) of
/// them, so each key and value row read from the cache serves all of them while a model
/// with one key head for many queries (Falcon 7B: 71) still has work for every thread.
struct AttentionTask {
    uint32_t token, kv_head, first_head, heads;
};
uint32_t queries_per_task(const ModelConfig& c);
uint32_t attention_task_count(const ModelConfig& c, uint32_t n_tokens);
AttentionTask attention_task(const ModelConfig& c, uint32_t index);

/// Evaluates n tokens at positions [pos, pos+n) (n <= state.batch), appending their
/// keys and values to the cache. Writes logits of every token to `logits`
/// ([n][n_vocab]) when all_logits, else only of the last token ([n_vocab]). With
/// `hidden`, writes every token's final state after the output norm there ([n][n_embd]);
/// `logits` may then be null (no output projection).
void forward(const ModelImpl& model, const kernels::KernelTable& kernels, ForwardState& state, const Token* tokens,
             uint32_t n, uint32_t pos, float* logits, bool all_logits, float* hidden = nullptr);

}  // namespace nibble::detail
