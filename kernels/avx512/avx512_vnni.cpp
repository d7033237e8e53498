// AVX-512 with VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later).
#include "kernels/avx512/avx512_common.hpp"

namespace nibble::kernels {

const KernelTable& avx512_vnni_kernels() noexcept {
    static const KernelTable table = make_avx512_table<true>("avx512vnni");
    return table;
}

}  // namespace nibble::kernels
