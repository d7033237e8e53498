// The insides of a Model: configuration switches, bound weights, tokenizer.
#pragma once

#include <array>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "formats/tensor_directory.hpp"
#include "kernels/kernels.hpp"
#include "nibble/nibble.hpp"
#include "src/huge_pages.hpp"

namespace nibble::detail {

/// Runs `f`, turning an allocation failure into the library's one exception type:
/// Error(out_of_range) "WHAT: out of memory". Public entry points call through it.
template <class F>
decltype(auto) translate_allocation_failure(std::string_view what, F&& f) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::out_of_range, std::string(what) + ": out of memory");
    } catch (const std::length_error&) {
        throw Error(ErrorCode::out_of_range, std::string(what) + ": a buffer would exceed the largest size this system allows");
    }
}

enum class NormKind { rms, layer };
enum class RopeMode { none, adjacent_pairs, half_split };
enum class FfnKind { swiglu, gelu };

/// Everything the shared forward pass needs to know about a family: sizes and the
/// switches that tell the families apart.
struct ModelConfig {
    uint32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0;
    uint32_t head_dim = 0, n_rot = 0, n_ctx_train = 0;
    float rope_base = 10000.0f;
    const float* rope_divisors = nullptr;  ///< n_rot/2 per-pair angle divisors (Llama 3.1 rope_freqs), or null
    float norm_eps = 1e-5f;
    NormKind norm = NormKind::rms;
    RopeMode rope = RopeMode::adjacent_pairs;
    FfnKind ffn = FfnKind::swiglu;
    bool parallel_residual = false;  ///< attention and MLP both read the block input
    float alibi_max_bias = 0.0f;     ///< > 0: ALiBi position biases instead of rotary
    float clamp_kqv = 0.0f;          ///< > 0: clip q, k and v to [-c, c]
    uint32_t kv_dim() const noexcept { return head_dim * n_head_kv; }
};

/// A norm's weight and optional bias (f32 vectors of n_embd).
struct NormWeights {
    const float* weight = nullptr;
    const float* bias = nullptr;
};

/// A linear layer: weight matrix and optional f32 bias of `rows` entries.
struct Linear {
    kernels::MatrixView matrix;
    const float* bias = nullptr;
    bool present() const noexcept { return matrix.data != nullptr; }
};

struct LayerWeights {
    NormWeights attn_norm, ffn_norm;
    NormWeights attn_norm_2;  ///< Falcon-40B: a second norm of the block input that feeds attention
    Linear wq, wk, wv, wo;
    Linear wqkv;              ///< fused [q | k | v] projection (Falcon, MPT) instead of wq, wk, wv
    Linear ffn_gate, ffn_up, ffn_down;

    /// Every linear of the layer (absent ones have no matrix data).
    std::array<Linear*, 8> linears() noexcept { return {&wq, &wk, &wv, &wqkv, &wo, &ffn_gate, &ffn_up, &ffn_down}; }
    std::array<const Linear*, 8> linears() const noexcept {
        return {&wq, &wk, &wv, &wqkv, &wo, &ffn_gate, &ffn_up, &ffn_down};
    }
};

struct ModelWeights {
    kernels::MatrixView token_embd;
    NormWeights output_norm;
    Linear output;  ///< may alias token_embd (tied)
    std::vector<LayerWeights> layers;
};

struct ModelImpl {
    std::shared_ptr<const formats::TensorDirectory> directory;
    HugePageBuffer packed_storage;  ///< weights repacked for the kernels, if any
    size_t matrix_bytes = 0;  ///< bytes of every matrix a token reads (sizes the work of a pass)
    const kernels::KernelTable* table = nullptr;  ///< what every matrix product of this model runs on
    ModelConfig config;
    ModelWeights weights;
    Tokenizer tokenizer;
    ModelInfo info;
    /// A hash of the hyperparameters, the metadata, the tensor directory and the first
    /// bytes of every tensor as the file holds them: names the model in saved states.
    uint64_t identity = 0;

    /// Binds and packs the weights; with `lock`, mlocks every byte they read (failure
    /// is recorded in info.lock_error, not thrown).
    /// Every matrix product is planned on `table` here, so none can fail inside the
    /// forward pass's parallel region (where an exception would end the process).
    static std::shared_ptr<const ModelImpl> create(std::shared_ptr<formats::TensorDirectory> directory,
                                                   const kernels::KernelTable& table, bool lock = false);
    static uint64_t compute_identity(const formats::TensorDirectory& directory);
    static Tokenizer make_tokenizer(const formats::Metadata& metadata, const std::string& file_name);
};

/// Repacks the matrices `table` multiplies faster in its panel layout (no-op for tables
/// without one); the views then point at the packed copy.
void pack_weights(ModelImpl& model, formats::TensorDirectory& directory, const kernels::KernelTable& table);

}  // namespace nibble::detail
