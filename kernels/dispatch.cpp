// Chooses the kernel table once. Today only the scalar reference exists; each ISA
// folder adds its table here, guarded by a run-time CPU check.
#include <cstdlib>
#include <string_view>

#include "kernels/kernels.hpp"
#include "nibble/error.hpp"

namespace nibble::kernels {
namespace {

const KernelTable& choose_kernels() {
    const char* forced = std::getenv("NIBBLE_ISA");
    if (forced != nullptr && *forced != '\0') {
        const std::string_view name(forced);
        if (name == "scalar") return reference_kernels();
        throw Error(ErrorCode::unsupported,
                    "NIBBLE_ISA=" + std::string(name) + ": this build has no such kernel table (available: scalar)");
    }
    return reference_kernels();
}

}  // namespace

const KernelTable& active_kernels() {
    static const KernelTable& chosen = choose_kernels();
    return chosen;
}

}  // namespace nibble::kernels
