// Random-weight models of a named shape, so every format can be benchmarked without
// downloading anything. Weights do not change the speed of a dense forward pass.
#pragma once

#include <cstdint>
#include <string>

#include "nibble/tensor_type.hpp"

namespace nibble::bench {

struct ModelShape {
    std::string name;
    uint32_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_vocab = 0;
};

struct SyntheticSpec {
    ModelShape shape;
    TensorType type = TensorType::q4_0;  ///< every matrix, embedding and output included
    std::string preset;                  ///< a llama-quantize preset (Q4_K_M): its mix instead of `type` alone
    std::string label() const;           ///< "tinyllama-1.1b:q4_0", "tinyllama-1.1b:Q4_K_M"
};

/// Parses "SHAPE:TYPE" (TYPE a type nibble computes with, or a llama-quantize preset
/// such as Q4_K_M, whose mix rules then type each tensor) where SHAPE is a known name (tinyllama-1.1b, llama-7b, llama-13b,
/// stories15m) or "custom/e=2048/l=22/h=32/kv=4/ff=5632/v=32000". Throws nibble::Error.
SyntheticSpec parse_synthetic_spec(const std::string& text);

/// Parameters of the shape (matrices, norms and embeddings).
uint64_t parameter_count(const ModelShape& shape);

/// Writes a LLaMA-architecture GGUF file with random weights (fixed seed) of the spec.
void write_synthetic_model(const SyntheticSpec& spec, const std::string& path, uint64_t seed = 1);

}  // namespace nibble::bench
