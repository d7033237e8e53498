#include "src/arch/architectures.hpp"

#include <array>

namespace nibble::detail {

const Architecture* find_architecture(std::string_view name) {
    static constexpr std::array<Architecture, 4> known{
        {{"llama", bind_llama}, {"gptj", bind_gptj}, {"falcon", bind_falcon}, {"mpt", bind_mpt}}};
    for (const auto& a : known) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

}  // namespace nibble::detail
