#include "kernels/gelu_table.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/fp16.hpp"

namespace nibble::kernels {

const float* gelu_fp16_table() noexcept {
    static const std::vector<float> table = [] {
        std::vector<float> t(size_t{1} << 16);
        for (uint32_t h = 0; h < t.size(); ++h) {
            const float x = fp16_to_fp32(static_cast<uint16_t>(h));
            const float y = 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * x * (1.0f + 0.044715f * x * x)));
            t[h] = fp16_to_fp32(fp32_to_fp16(y));
        }
        return t;
    }();
    return table.data();
}

}  // namespace nibble::kernels
