#include "src/tensor_binder.hpp"

#include <cmath>
#include <fmt/format.h>

#include "kernels/type_traits.hpp"

namespace nibble::detail {

const formats::TensorEntry* TensorBinder::lookup(const std::string& name, bool required) {
    const formats::TensorEntry* e = dir_.find(name);
    if (e == nullptr) {
        if (required) throw Error(ErrorCode::bad_model, fmt::format("{}: missing tensor '{}'", dir_.file_name(), name));
        return nullptr;
    }
    used_.insert(name);
    return e;
}

kernels::MatrixView TensorBinder::matrix(const std::string& name, uint64_t cols, uint64_t rows, bool required) {
    const formats::TensorEntry* e = lookup(name, required);
    if (e == nullptr) return {};
    if (e->n_dims != 2 || e->ne[0] != cols || e->ne[1] != rows) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: tensor '{}' has shape {} but the hyperparameters need [{}, {}]",
                                                      dir_.file_name(), name, e->shape_string(), cols, rows));
    }
    const auto info = tensor_type_info(e->type_id);
    if (!info || !info->computable) {
        throw Error(ErrorCode::unsupported,
                    fmt::format("{}: tensor '{}' has type {}, which nibble cannot compute with (it runs {})", dir_.file_name(), name,
                                tensor_type_name(e->type_id), computable_type_names()));
    }
    const size_t block = kernels::row_multiple(*kernels::find_type_traits(e->type_id));
    if (cols % block != 0) {
        throw Error(ErrorCode::unsupported, fmt::format("{}: tensor '{}' is {} with rows of {}, not a multiple of {}",
                                                        dir_.file_name(), name, tensor_type_name(e->type_id), cols, block));
    }
    kernels::MatrixView view;
    view.type = e->type();
    view.data = e->data.data();
    view.rows = rows;
    view.cols = cols;
    view.row_stride = e->data.size() / rows;
    return view;
}

const float* TensorBinder::vector(const std::string& name, uint64_t n, bool required) {
    const formats::TensorEntry* e = lookup(name, required);
    if (e == nullptr) return nullptr;
    if (e->n_dims != 1 || e->ne[0] != n) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: tensor '{}' has shape {} but the hyperparameters need [{}]",
                                                      dir_.file_name(), name, e->shape_string(), n));
    }
    if (e->type_id != 0) {
        throw Error(ErrorCode::unsupported, fmt::format("{}: tensor '{}' has type {} (1-D tensors must be f32)",
                                                        dir_.file_name(), name, tensor_type_name(e->type_id)));
    }
    if (reinterpret_cast<uintptr_t>(e->data.data()) % alignof(float) != 0) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: tensor '{}' data is not 4-byte aligned", dir_.file_name(), name));
    }
    return reinterpret_cast<const float*>(e->data.data());
}

Linear TensorBinder::linear(const std::string& prefix, uint64_t cols, uint64_t rows, bool required, bool bias_allowed) {
    Linear l;
    l.matrix = matrix(prefix + ".weight", cols, rows, required);
    if (bias_allowed && l.present()) l.bias = vector(prefix + ".bias", rows, false);
    return l;
}

NormWeights TensorBinder::norm(const std::string& prefix, uint64_t n, Bias bias) {
    NormWeights w;
    w.weight = vector(prefix + ".weight", n, true);
    if (bias != Bias::none) w.bias = vector(prefix + ".bias", n, bias == Bias::required);
    return w;
}

void TensorBinder::embedding_and_output(ModelConfig& c, ModelWeights& w, Bias output_norm_bias, bool output_required,
                                        bool output_bias) {
    const auto* embd = dir_.find("token_embd.weight");
    if (embd == nullptr) throw Error(ErrorCode::bad_model, fmt::format("{}: missing tensor 'token_embd.weight'", dir_.file_name()));
    if (embd->ne[1] == 0 || embd->ne[1] > (uint64_t{1} << 31)) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: token_embd.weight has {} rows", dir_.file_name(), embd->ne[1]));
    }
    c.n_vocab = static_cast<uint32_t>(embd->ne[1]);
    w.token_embd = matrix("token_embd.weight", c.n_embd, c.n_vocab);
    w.output_norm = norm("output_norm", c.n_embd, output_norm_bias);
    w.output = linear("output", c.n_embd, c.n_vocab, output_required, output_bias);
    if (!w.output.present()) w.output.matrix = w.token_embd;
}

kernels::MatrixView row_range(const kernels::MatrixView& m, uint64_t first, uint64_t count) {
    kernels::MatrixView part = m;
    part.data = static_cast<const std::byte*>(m.data) + first * m.row_stride;
    part.rows = count;
    return part;
}

void TensorBinder::refuse(const std::string& name, const char* feature) const {
    if (dir_.find(name) != nullptr) {
        throw Error(ErrorCode::unsupported, fmt::format("{}: tensor '{}' ({}) is not supported", dir_.file_name(), name, feature));
    }
}

void read_common_hparams(const formats::TensorDirectory& dir, const std::string& arch, ModelConfig& c) {
    const auto& m = dir.metadata;
    const std::string& file = dir.file_name();
    c.n_embd = require_u32(m, arch + ".embedding_length", file);
    c.n_layer = require_u32(m, arch + ".block_count", file);
    c.n_head = require_u32(m, arch + ".attention.head_count", file);
    if (c.n_layer > dir.tensors().size()) {  // every layer has tensors: refuse before sizing anything by it
        throw Error(ErrorCode::bad_model, fmt::format("{}: {}.block_count is {} but the file holds only {} tensors", file,
                                                      arch, c.n_layer, dir.tensors().size()));
    }
    c.n_ff = optional_u32(m, arch + ".feed_forward_length", 4 * c.n_embd);
    c.n_head_kv = optional_u32(m, arch + ".attention.head_count_kv", c.n_head);
    c.n_ctx_train = optional_u32(m, arch + ".context_length", 2048);
    c.rope_base = optional_f32(m, arch + ".rope.freq_base", 10000.0f, file, true);
    if (c.n_ctx_train == 0) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: hyperparameter '{}.context_length' is 0", file, arch));
    }
    if (c.n_embd % c.n_head != 0) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: embedding length {} is not a multiple of the head count {}", file,
                                                      c.n_embd, c.n_head));
    }
    if (c.n_head_kv == 0 || c.n_head % c.n_head_kv != 0) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: head count {} is not a multiple of the KV head count {}", file,
                                                      c.n_head, c.n_head_kv));
    }
    c.head_dim = c.n_embd / c.n_head;
    c.n_rot = optional_u32(m, arch + ".rope.dimension_count", c.head_dim);
    if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: {}.rope.dimension_count {} must be even and at most the head size {}",
                                                      file, arch, c.n_rot, c.head_dim));
    }
}

void TensorBinder::require_all_used() const {
    for (const auto& t : dir_.tensors()) {
        if (used_.count(t.name) == 0) {
            throw Error(ErrorCode::bad_model, fmt::format("{}: unexpected tensor '{}' {} for this architecture",
                                                          dir_.file_name(), t.name, t.shape_string()));
        }
    }
}

uint32_t require_u32(const formats::Metadata& metadata, const std::string& key, const std::string& file) {
    const auto v = metadata.get_uint(key);
    if (!v) throw Error(ErrorCode::bad_model, fmt::format("{}: missing hyperparameter '{}'", file, key));
    if (*v == 0 || *v > (uint64_t{1} << 31)) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: hyperparameter '{}' = {} is out of range", file, key, *v));
    }
    return static_cast<uint32_t>(*v);
}

uint32_t optional_u32(const formats::Metadata& metadata, const std::string& key, uint32_t fallback) {
    const auto v = metadata.get_uint(key);
    if (!v) return fallback;
    if (*v > (uint64_t{1} << 31)) throw Error(ErrorCode::bad_model, fmt::format("hyperparameter '{}' = {} is out of range", key, *v));
    return static_cast<uint32_t>(*v);
}

float optional_f32(const formats::Metadata& metadata, const std::string& key, float fallback, const std::string& file,
                   bool positive) {
    const auto v = metadata.get_float(key);
    if (!v) return fallback;
    const auto f = static_cast<float>(*v);
    if (!std::isfinite(f) || (positive && !(f > 0.0f))) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: hyperparameter '{}' = {} is out of range (need a finite{} number)",
                                                      file, key, *v, positive ? ", positive" : ""));
    }
    return f;
}

}  // namespace nibble::detail
