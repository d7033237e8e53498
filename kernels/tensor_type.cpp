#include "nibble/tensor_type.hpp"

#include <array>
#include <string>

namespace nibble {
namespace {

struct KnownType {
    uint32_t id;
    std::string_view name;
    size_t block_elements;
    size_t block_bytes;
};

// Every ggml type id whose size nibble knows, so that files holding types nibble
// cannot compute with still parse and can be described (nibble-info).
constexpr std::array<KnownType, 20> known_types{{
    {0, "f32", 1, 4},       {1, "f16", 1, 2},       {2, "q4_0", 32, 18},   {3, "q4_1", 32, 20},
    {4, "q4_2", 16, 10},    {5, "q4_3", 16, 12},    {6, "q5_0", 32, 22},   {7, "q5_1", 32, 24},
    {8, "q8_0", 32, 34},    {10, "q2_K", 256, 84},  {11, "q3_K", 256, 110}, {12, "q4_K", 256, 144},
    {13, "q5_K", 256, 176}, {14, "q6_K", 256, 210}, {24, "i8", 1, 1},      {25, "i16", 1, 2},
    {26, "i32", 1, 4},      {27, "i64", 1, 8},      {28, "f64", 1, 8},     {30, "bf16", 1, 2},
}};

}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id) noexcept {
    for (const auto& known : known_types) {
        if (known.id == type_id) {
            const bool computable = type_id <= 4 || type_id == 8;  // f32 f16 q4_0 q4_1 q4_2 q8_0
            return TensorTypeInfo{static_cast<TensorType>(type_id), known.name, known.block_elements,
                                  known.block_bytes, computable};
        }
    }
    return std::nullopt;
}

std::string tensor_type_name(uint32_t type_id) {
    if (auto info = tensor_type_info(type_id)) return std::string(info->name);
    return "type#" + std::to_string(type_id);
}

}  // namespace nibble
