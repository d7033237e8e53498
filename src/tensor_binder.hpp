// Binds tensors by name, checking type and shape, and names what is wrong.
#pragma once

#include <set>
#include <string>

#include "formats/tensor_directory.hpp"
#include "src/model_impl.hpp"

namespace nibble::detail {

class TensorBinder {
public:
    explicit TensorBinder(const formats::TensorDirectory& directory) : dir_(directory) {}

    /// A weight matrix of `rows` rows of `cols` elements (ggml ne = [cols, rows]).
    /// Missing and optional: an empty view.
    kernels::MatrixView matrix(const std::string& name, uint64_t cols, uint64_t rows, bool required = true);
    /// An f32 vector of n elements. Missing and optional: nullptr.
    const float* vector(const std::string& name, uint64_t n, bool required = true);
    /// Linear layer `prefix.weight` with optional `prefix.bias`.
    Linear linear(const std::string& prefix, uint64_t cols, uint64_t rows, bool required = true, bool bias_allowed = true);
    enum class Bias { none, optional, required };
    /// A norm `prefix.weight` (required) with its `prefix.bias` as `bias` says.
    NormWeights norm(const std::string& prefix, uint64_t n, Bias bias);
    /// Throws unsupported when `name` is present: a feature nibble does not implement.
    void refuse(const std::string& name, const char* feature) const;

    /// token_embd (which sets n_vocab), output_norm and output; an absent output
    /// reuses the token embedding unless `output_required`.
    void embedding_and_output(ModelConfig& config, ModelWeights& weights, Bias output_norm_bias, bool output_required,
                              bool output_bias);

    bool has(const std::string& name) const { return dir_.find(name) != nullptr; }
    /// Throws bad_model naming the first tensor no binding claimed.
    void require_all_used() const;

private:
    const formats::TensorEntry* lookup(const std::string& name, bool required);
    const formats::TensorDirectory& dir_;
    std::set<std::string, std::less<>> used_;
};

/// Rows [first, first + count) of a matrix in the file layout, as a matrix of its own.
kernels::MatrixView row_range(const kernels::MatrixView& matrix, uint64_t first, uint64_t count);

/// Reads a required unsigned hyperparameter `key`; throws bad_model naming it.
uint32_t require_u32(const formats::Metadata& metadata, const std::string& key, const std::string& file);
/// The hyperparameters every family shares, read from `{arch}.*` keys; n_ff defaults
/// to 4 * n_embd where the key is absent. Checks head counts divide evenly.
void read_common_hparams(const formats::TensorDirectory& dir, const std::string& arch, ModelConfig& config);

uint32_t optional_u32(const formats::Metadata& metadata, const std::string& key, uint32_t fallback);
/// A float hyperparameter, or `fallback` when absent; throws bad_model naming the key
/// when it is not finite (or, with `positive`, not > 0).
float optional_f32(const formats::Metadata& metadata, const std::string& key, float fallback, const std::string& file,
                   bool positive = false);

}  // namespace nibble::detail
