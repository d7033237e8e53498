#include "src/arch/architectures.hpp"

#include <array>

namespace nibble::detail {

const Architecture* find_architecture(std::string_view name) {
    static constexpr std::array<Architecture, 6> known{{{"llama", bind_llama},
                                                        {"gptj", bind_gptj},
                                                        {"falcon", bind_falcon},
                                                        {"mpt", bind_mpt},
                                                        {"qwen2", bind_qwen2},
                                                        {"phi3", bind_phi3}}};
    for (const auto& a : known) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

}  // namespace nibble::detail
