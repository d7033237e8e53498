#include "src/tensor_binder.hpp"

#include <fmt/format.h>

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
        throw Error(ErrorCode::unsupported, fmt::format("{}: tensor '{}' has type {}, which nibble cannot compute with",
                                                        dir_.file_name(), name, tensor_type_name(e->type_id)));
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

NormWeights TensorBinder::norm(const std::string& prefix, uint64_t n, bool with_bias) {
    NormWeights w;
    w.weight = vector(prefix + ".weight", n, true);
    if (with_bias) w.bias = vector(prefix + ".bias", n, true);
    return w;
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

float optional_f32(const formats::Metadata& metadata, const std::string& key, float fallback) {
    const auto v = metadata.get_float(key);
    return v ? static_cast<float>(*v) : fallback;
}

}  // namespace nibble::detail
