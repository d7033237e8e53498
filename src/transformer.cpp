// One transformer forward pass for a batch of tokens, written once for all families.
#include "src/transformer.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "src/ops.hpp"

namespace nibble::detail {
namespace {

size_t scratch_for(const ModelImpl& m, uint32_t batch) {
    const ModelConfig& c = m.config;
    size_t bytes = 0;
    auto need = [&](const kernels::MatrixView& w) {
        if (w.data != nullptr) bytes = std::max(bytes, kernels::matmul_scratch_bytes(w.type, w.cols, batch));
    };
    need(m.weights.output.matrix);
    for (const auto& L : m.weights.layers) {
        for (const Linear* l : L.linears()) need(l->matrix);
    }
    (void)c;
    return bytes;
}

// Every step below is called by every thread of the forward pass's one parallel region
// and shares its work with `omp for`, whose implicit barrier ends the step.

// ys[i][t] = W_i x[t] (+ bias_i) for t < n, for linears that read the same input (q, k
// and v; gate and up): converted once, multiplied as one work list.
void linears(const kernels::KernelTable& kernels, ForwardState& s, std::initializer_list<std::pair<const Linear*, float*>> group,
             const float* x, uint32_t n) {
    // act_scratch was sized for the largest matrix at the largest batch (scratch_for); no
    // exception may leave the parallel region.
    const kernels::MatrixView* ws[kernels::max_matmul_group];
    float* ys[kernels::max_matmul_group];
    size_t count = 0;
    auto flush = [&] {
        if (count > 0) kernels::matmul_group_in_parallel(kernels, ws, ys, count, x, n, s.act_scratch.data());
        count = 0;
    };
    for (const auto& [l, y] : group) {
        if (count == kernels::max_matmul_group || (count > 0 && !kernels::can_share_activations(*ws[0], l->matrix))) flush();
        ws[count] = &l->matrix;
        ys[count++] = y;
    }
    flush();
    for (const auto& entry : group) {
        // Plain variables, not a structured binding: clang 14 cannot use one inside an OpenMP loop.
        const Linear* l = entry.first;
        float* y = entry.second;
        if (l->bias == nullptr) continue;
        const size_t rows = l->matrix.rows;
#pragma omp for schedule(static)
        for (uint32_t t = 0; t < n; ++t) {
            for (size_t r = 0; r < rows; ++r) y[t * rows + r] += l->bias[r];
        }
    }
}

void linear(const kernels::KernelTable& kernels, ForwardState& s, const Linear& l, const float* x, uint32_t n, float* y) {
    linears(kernels, s, {{&l, y}}, x, n);
}

// x[t] += a[t] (+ b[t]) for n rows of `width`.
void add_residual(const kernels::FloatOps& ops, float* x, const float* a, const float* b, uint32_t n, size_t width) {
#pragma omp for schedule(static)
    for (uint32_t t = 0; t < n; ++t) {
        const size_t at = size_t{t} * width;
        ops.add(x + at, a + at, b != nullptr ? b + at : nullptr, width);
    }
}

void norm(const kernels::FloatOps& ops, const ModelConfig& c, const NormWeights& w, const float* x, float* y, uint32_t n) {
#pragma omp for schedule(static)
    for (uint32_t t = 0; t < n; ++t) {
        if (c.norm == NormKind::rms) {
            ops.rms_norm(x + size_t{t} * c.n_embd, w.weight, y + size_t{t} * c.n_embd, c.n_embd, c.norm_eps);
        } else {
            ops.layer_norm(x + size_t{t} * c.n_embd, w.weight, w.bias, y + size_t{t} * c.n_embd, c.n_embd, c.norm_eps);
        }
    }
}

// Rotary embedding of one token's heads, in place.
void rotate_heads(const kernels::FloatOps& ops, const ModelConfig& c, const ForwardState& s, uint32_t t, float* vectors,
                  uint32_t heads) {
    const uint32_t half = c.n_rot / 2;
    const float* cos = s.rope_cos.data() + size_t{t} * half;
    const float* sin = s.rope_sin.data() + size_t{t} * half;
    for (uint32_t h = 0; h < heads; ++h) {
        float* head = vectors + size_t{h} * c.head_dim;
        if (c.rope == RopeMode::adjacent_pairs) {
            ops.rope_adjacent(head, cos, sin, c.n_rot);
        } else {
            ops.rope_half_split(head, cos, sin, c.n_rot);
        }
    }
}

// Rotary on q and k of every token, then k and v into the cache (converted to its
// types): one step.
void rotate_and_cache(const kernels::KernelTable& kernels, const ModelConfig& c, ForwardState& s, uint32_t layer, uint32_t n,
                      uint32_t pos) {
    const kernels::FloatOps& ops = *kernels.ops;
    const uint32_t kv_dim = c.kv_dim();
#pragma omp for schedule(static)
    for (uint32_t t = 0; t < n; ++t) {
        float* k = s.k.data() + size_t{t} * kv_dim;
        if (c.rope != RopeMode::none) {
            rotate_heads(ops, c, s, t, s.q.data() + size_t{t} * c.n_embd, c.n_head);
            rotate_heads(ops, c, s, t, k, c.n_head_kv);
        }
        s.k_cache.store(kernels, k, layer, pos + t);
        s.v_cache.store(kernels, s.v.data() + size_t{t} * kv_dim, layer, pos + t);
    }
}

// Causal attention of every new token over the cache, one attention_task per task.
void attention(const kernels::FloatOps& ops, const ModelConfig& c, ForwardState& s, uint32_t layer, uint32_t n, uint32_t pos) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    const auto tasks = static_cast<ptrdiff_t>(attention_task_count(c, n));
#pragma omp for schedule(dynamic, 1)
    for (ptrdiff_t index = 0; index < tasks; ++index) {
        const AttentionTask task = attention_task(c, static_cast<uint32_t>(index));
        const uint32_t visible = pos + task.token + 1;
        float* scores = s.scores.data() + size_t(omp_get_thread_num()) * queries_per_task(c) * s.n_ctx;
        const float* q = s.q.data() + size_t{task.token} * c.n_embd + size_t{task.first_head} * c.head_dim;
        const size_t head_at = size_t{task.kv_head} * c.head_dim;  // the key head's first value in a row
        s.k_cache.dots(ops, layer, head_at, q, task.heads, c.head_dim, visible, c.head_dim, scores, s.n_ctx);
        for (uint32_t j = 0; j < task.heads; ++j) {
            float* row = scores + size_t{j} * s.n_ctx;
            for (uint32_t p = 0; p < visible; ++p) row[p] *= scale;
            if (!s.alibi.empty()) {  // ALiBi: a penalty growing with the distance to the key
                const float slope = s.alibi[task.first_head + j];
                for (uint32_t p = 0; p < visible; ++p) row[p] -= slope * static_cast<float>(visible - 1 - p);
            }
            ops.softmax(row, visible);
        }
        float* out = s.attn.data() + size_t{task.token} * c.n_embd + size_t{task.first_head} * c.head_dim;
        s.v_cache.weighted_sum(ops, layer, head_at, scores, task.heads, s.n_ctx, visible, c.head_dim, out, c.head_dim);
    }
}

// q, k, v for n tokens: separate projections or one fused [q | k | v] product.
void project_qkv(const kernels::KernelTable& kernels, const ModelConfig& c, ForwardState& s, const LayerWeights& L,
                 const float* input, uint32_t n) {
    const uint32_t E = c.n_embd, kv_dim = c.kv_dim();
    if (L.wqkv.present()) {
        const uint32_t width = E + 2 * kv_dim;
        linear(kernels, s, L.wqkv, input, n, s.qkv.data());
#pragma omp for schedule(static)
        for (uint32_t t = 0; t < n; ++t) {
            float* row = s.qkv.data() + size_t{t} * width;
            if (c.clamp_kqv > 0.0f) clamp(row, width, c.clamp_kqv);
            std::copy_n(row, E, s.q.data() + size_t{t} * E);
            std::copy_n(row + E, kv_dim, s.k.data() + size_t{t} * kv_dim);
            std::copy_n(row + E + kv_dim, kv_dim, s.v.data() + size_t{t} * kv_dim);
        }
        return;
    }
    linears(kernels, s, {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}}, input, n);
    if (c.clamp_kqv > 0.0f) {
#pragma omp for schedule(static)
        for (uint32_t t = 0; t < n; ++t) {
            clamp(s.q.data() + size_t{t} * E, E, c.clamp_kqv);
            clamp(s.k.data() + size_t{t} * kv_dim, kv_dim, c.clamp_kqv);
            clamp(s.v.data() + size_t{t} * kv_dim, kv_dim, c.clamp_kqv);
        }
    }
}

// The MLP of n normed rows into s.ffn_out:
// SwiGLU down(silu(gate x) * up x), or GELU down(gelu(up x)).
void feed_forward(const kernels::KernelTable& kernels, const ModelConfig& c, ForwardState& s, const LayerWeights& L,
                  const float* input, uint32_t n) {
    if (c.ffn == FfnKind::swiglu) {
        linears(kernels, s, {{&L.ffn_gate, s.gate.data()}, {&L.ffn_up, s.up.data()}}, input, n);
    } else {
        linear(kernels, s, L.ffn_up, input, n, s.up.data());
    }
#pragma omp for schedule(static)
    for (uint32_t t = 0; t < n; ++t) {
        float* up = s.up.data() + size_t{t} * c.n_ff;
        if (c.ffn == FfnKind::swiglu) {
            kernels.ops->swiglu(s.gate.data() + size_t{t} * c.n_ff, up, c.n_ff);
        } else {
            kernels.ops->gelu(up, c.n_ff);
        }
    }
    linear(kernels, s, L.ffn_down, s.up.data(), n, s.ffn_out.data());
}

}  // namespace

uint32_t queries_per_task(const ModelConfig& c) { return std::min(c.n_head / c.n_head_kv, 8u); }

namespace {
uint32_t tasks_per_kv_head(const ModelConfig& c) {
    const uint32_t group = c.n_head / c.n_head_kv, per_task = queries_per_task(c);
    return (group + per_task - 1) / per_task;
}
}  // namespace

uint32_t attention_task_count(const ModelConfig& c, uint32_t n_tokens) { return n_tokens * c.n_head_kv * tasks_per_kv_head(c); }

AttentionTask attention_task(const ModelConfig& c, uint32_t index) {
    const uint32_t group = c.n_head / c.n_head_kv, per_task = queries_per_task(c), per_kv_head = tasks_per_kv_head(c);
    const uint32_t per_token = c.n_head_kv * per_kv_head;
    AttentionTask task;
    task.token = index / per_token;
    task.kv_head = index % per_token / per_kv_head;
    task.first_head = task.kv_head * group + index % per_token % per_kv_head * per_task;
    task.heads = std::min(per_task, (task.kv_head + 1) * group - task.first_head);
    return task;
}

namespace {
unsigned __int128 cache_bytes_128(const ModelImpl& m, uint32_t context_length, KvType type_k, KvType type_v) {
    const size_t row_bytes = kv_row_bytes(type_k, m.config.kv_dim()) + kv_row_bytes(type_v, m.config.kv_dim());
    return static_cast<unsigned __int128>(m.config.n_layer) * context_length * row_bytes;
}
uint64_t saturated(unsigned __int128 bytes) { return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes); }
}  // namespace

uint64_t ForwardState::cache_bytes(const ModelImpl& m, uint32_t context_length, KvType type_k, KvType type_v) {
    return saturated(cache_bytes_128(m, context_length, type_k, type_v));
}

uint64_t ForwardState::bytes_needed(const ModelImpl& m, uint32_t context_length, uint32_t batch_size, int thread_count,
                                    KvType type_k, KvType type_v) {
    // The same sizes as the constructor below, in 128 bits.
    using u128 = unsigned __int128;
    const ModelConfig& c = m.config;
    const u128 ctx = context_length, batch = batch_size, kv = c.kv_dim(), E = c.n_embd;
    const u128 threads = static_cast<u128>(std::max(thread_count, 1));
    u128 floats = batch * E * 8;                                           // x, normed, attn_in, q, attn, proj, ffn_out
    floats += batch * (E + 2 * kv) + 2 * batch * kv;                   // qkv, k, v
    floats += 2 * batch * u128{c.n_ff};                                // gate, up
    floats += 2 * batch * std::max<u128>(1, c.n_rot / 2) + c.n_head;   // rope tables, alibi
    floats += threads * queries_per_task(c) * ctx;                     // scores
    return saturated(floats * 4 + scratch_for(m, batch_size) + cache_bytes_128(m, context_length, type_k, type_v));
}

ForwardState::ForwardState(const ModelImpl& m, uint32_t context_length, uint32_t batch_size, int thread_count, KvType type_k,
                           KvType type_v)
    : n_ctx(context_length),
      batch(batch_size),
      threads(thread_count),
      k_cache(type_k, m.config.n_layer, context_length, m.config.kv_dim()),
      v_cache(type_v, m.config.n_layer, context_length, m.config.kv_dim()) {
    const ModelConfig& c = m.config;
    x.resize(size_t{batch} * c.n_embd);
    normed.resize(x.size());
    attn_in.resize(x.size());
    qkv.resize(size_t{batch} * (c.n_embd + 2 * c.kv_dim()));
    if (c.alibi_max_bias > 0.0f) {
        for (uint32_t h = 0; h < c.n_head; ++h) alibi.push_back(alibi_slope(h, c.n_head, c.alibi_max_bias));
    }
    q.resize(x.size());
    k.resize(size_t{batch} * c.kv_dim());
    v.resize(k.size());
    attn.resize(x.size());
    proj.resize(x.size());
    ffn_out.resize(x.size());
    gate.resize(size_t{batch} * c.n_ff);
    up.resize(gate.size());
    rope_cos.resize(size_t{batch} * std::max(1u, c.n_rot / 2));
    rope_sin.resize(rope_cos.size());
    scores.resize(size_t(std::max(threads, 1)) * queries_per_task(c) * n_ctx);
    act_scratch.resize(scratch_for(m, batch));
}

namespace {

void forward_steps(const ModelImpl& m, const kernels::KernelTable& kernels, ForwardState& s, const Token* tokens, uint32_t n,
                   uint32_t pos, float* logits, bool all_logits, float* hidden) {
    const ModelConfig& c = m.config;
    const ModelWeights& w = m.weights;
    const uint32_t E = c.n_embd;
    const uint32_t half_rot = c.n_rot / 2;
    const kernels::FloatOps& ops = *kernels.ops;

#pragma omp for schedule(static)
    for (uint32_t t = 0; t < n; ++t) {  // x[t] = embedding row of token t; rotation angles of its position
        const auto* row = static_cast<const std::byte*>(w.token_embd.data) + size_t(tokens[t]) * w.token_embd.row_stride;
        kernels::dequantize_row(w.token_embd.type, row, s.x.data() + size_t{t} * E, E);
        if (c.rope != RopeMode::none) {
            rope_angles(pos + t, c.n_rot, c.rope_base, c.rope_divisors, s.rope_cos.data() + size_t{t} * half_rot,
                        s.rope_sin.data() + size_t{t} * half_rot);
        }
    }

    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const LayerWeights& L = w.layers[l];
        // attention block: q, k, v from the normed input; rotary; append to the cache; attend
        norm(ops, c, L.attn_norm, s.x.data(), s.normed.data(), n);
        const float* attn_input = s.normed.data();
        if (L.attn_norm_2.weight != nullptr) {
            norm(ops, c, L.attn_norm_2, s.x.data(), s.attn_in.data(), n);
            attn_input = s.attn_in.data();
        }
        project_qkv(kernels, c, s, L, attn_input, n);
        rotate_and_cache(kernels, c, s, l, n, pos);
        attention(ops, c, s, l, n, pos);
        linear(kernels, s, L.wo, s.attn.data(), n, s.proj.data());

        if (c.parallel_residual) {
            // x += attention(norm(x)) + mlp(norm(x)): both read the same block input
            feed_forward(kernels, c, s, L, s.normed.data(), n);
            add_residual(ops, s.x.data(), s.proj.data(), s.ffn_out.data(), n, E);
        } else {
            add_residual(ops, s.x.data(), s.proj.data(), nullptr, n, E);
            norm(ops, c, L.ffn_norm, s.x.data(), s.normed.data(), n);
            feed_forward(kernels, c, s, L, s.normed.data(), n);
            add_residual(ops, s.x.data(), s.ffn_out.data(), nullptr, n, E);
        }
    }

    if (hidden != nullptr) {
        norm(ops, c, w.output_norm, s.x.data(), hidden, n);
        if (logits == nullptr) return;
    }
    const uint32_t first = all_logits ? 0 : n - 1;
    const uint32_t count = n - first;
    norm(ops, c, w.output_norm, s.x.data() + size_t{first} * E, s.normed.data(), count);
    linear(kernels, s, w.output, s.normed.data(), count, logits);
}

}  // namespace

void forward(const ModelImpl& m, const kernels::KernelTable& kernels, ForwardState& s, const Token* tokens, uint32_t n,
             uint32_t pos, float* logits, bool all_logits, float* hidden) {
    // One parallel region for the whole pass; each step work-shares inside it. A pass
    // over less than ~32 MiB of weights is over before a team would pay for its barriers.
    const bool worth_threads = s.threads > 1 && m.matrix_bytes * n >= (size_t{32} << 20);
#pragma omp parallel num_threads(kernels::team_size(s.threads)) if (worth_threads)
    forward_steps(m, kernels, s, tokens, n, pos, logits, all_logits, hidden);
}

}  // namespace nibble::detail
