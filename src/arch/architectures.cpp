#include "src/arch/architectures.hpp"

#include <array>

namespace nibble::detail {

const Architecture* find_architecture(std::string_view name) {
    static constexpr std::array<Architecture, 1> known{{{"llama", bind_llama}}};
    for (const auto& a : known) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

}  // namespace nibble::detail
