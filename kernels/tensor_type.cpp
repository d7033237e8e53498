#include "nibble/tensor_type.hpp"

#include <string>

#include "kernels/type_traits.hpp"

namespace nibble {

std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id) noexcept {
    const auto* t = kernels::find_type_traits(type_id);
    if (t == nullptr) return std::nullopt;
    return TensorTypeInfo{static_cast<TensorType>(type_id), t->name, t->block_elements, t->block_bytes,
                          t->activation.has_value()};
}

std::string tensor_type_name(uint32_t type_id) {
    if (const auto* t = kernels::find_type_traits(type_id)) return std::string(t->name);
    return "type#" + std::to_string(type_id);
}

std::string computable_type_names() {
    std::string names;
    for (const auto& t : kernels::type_traits) {
        if (t.activation) names += (names.empty() ? "" : ", ") + std::string(t.name);
    }
    return names;
}

}  // namespace nibble
