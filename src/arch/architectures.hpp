// The families nibble runs. Each binds its tensors and sets the forward pass switches.
#pragma once

#include <string_view>

#include "src/tensor_binder.hpp"

namespace nibble::detail {

struct Architecture {
    std::string_view name;
    void (*bind)(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);
};

/// The architecture called `name` in general.architecture; nullptr if unknown.
const Architecture* find_architecture(std::string_view name);

void bind_llama(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);
void bind_gptj(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);
void bind_falcon(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);
void bind_mpt(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);
void bind_qwen2(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);
void bind_phi3(const formats::TensorDirectory& directory, ModelConfig& config, ModelWeights& weights);

}  // namespace nibble::detail
