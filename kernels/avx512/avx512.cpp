// AVX-512 F/BW/VL/DQ without VNNI (Skylake-X and similar).
#include "kernels/avx512/avx512_common.hpp"

namespace nibble::kernels {

const KernelTable& avx512_kernels() noexcept {
    static const KernelTable table = make_avx512_table<false>("avx512");
    return table;
}

}  // namespace nibble::kernels
