// NEON kernels for every ARMv8 CPU: int8 products through widening multiplies.
#include "kernels/neon/neon_common.hpp"

namespace nibble::kernels {
namespace {

struct WideningDot {
    // 16 int8 products (|product| <= 128 * 127 fits int16), pairwise-added into 4 int32.
    static int32x4_t accumulate(int32x4_t acc, int8x16_t x, int8x16_t y) {
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
        return vpadalq_s16(acc, vmull_high_s8(x, y));
    }
};

constexpr KernelTable neon_table = NeonKernels<WideningDot, false>::table("neon");

}  // namespace

const KernelTable& neon_kernels() noexcept { return neon_table; }

}  // namespace nibble::kernels
