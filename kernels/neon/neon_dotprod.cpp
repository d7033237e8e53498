// NEON kernels for CPUs with the dot-product extension (SDOT; Cortex-A76, Apple M1, ...).
// Compiled with +dotprod; chosen only when HWCAP_ASIMDDP says the CPU has it.
#include "kernels/neon/neon_common.hpp"

namespace nibble::kernels {
namespace {

struct SdotDot {
    static int32x4_t accumulate(int32x4_t acc, int8x16_t x, int8x16_t y) { return vdotq_s32(acc, x, y); }
};

constexpr KernelTable neon_dotprod_table = NeonKernels<SdotDot, true>::table("neon-dotprod");

}  // namespace

const KernelTable& neon_dotprod_kernels() noexcept { return neon_dotprod_table; }

}  // namespace nibble::kernels
