// Rows of q5_0, q5_1, iq4_nl, the K types and iq4_xs: dequantization (FORMATS.md §2.2,
// kquant/README.md) and the quantizers llama-quantize uses without an importance matrix
// (the searches are the same mathematics, written here from their description).
#include "kernels/reference/kquant_rows.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kquant_decode.hpp"
#include "nibble/error.hpp"

namespace nibble::kernels {
namespace {

// Round half to even without a libm call: adding 1.5 * 2^23 leaves the rounded integer in
// the low mantissa bits (for |v| < 2^22, which every quantization level here is).
inline int nearest(float v) {
    const float shifted = v + 12582912.0f;
    int32_t bits;
    std::memcpy(&bits, &shifted, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

constexpr float group_max_eps = 1e-15f;

// The element with the largest magnitude (the first of equals), its magnitude in amax.
float signed_max(const float* x, int n, float& amax) {
    float max = 0;
    amax = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    return max;
}

// ---------------------------------------------------------------- dequantize

template <class Block>
void dequantize_q5(const Block* blocks, float* y, size_t n) {
    constexpr bool has_min = sizeof(Block) == sizeof(BlockQ5_1);
    for (size_t b = 0; b < n / qk5_0; ++b) {
        uint32_t qh;
        std::memcpy(&qh, blocks[b].qh, 4);
        const float d = fp16_to_fp32(blocks[b].d);
        for (size_t j = 0; j < 16; ++j) {
            const int lo = (blocks[b].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int hi = (blocks[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            if constexpr (has_min) {
                const float m = fp16_to_fp32(blocks[b].m);
                y[b * 32 + j] = static_cast<float>(lo) * d + m;
                y[b * 32 + j + 16] = static_cast<float>(hi) * d + m;
            } else {
                y[b * 32 + j] = static_cast<float>(lo - 16) * d;
                y[b * 32 + j + 16] = static_cast<float>(hi - 16) * d;
            }
        }
    }
}

void dequantize_k(TensorType type, const void* src, float* y, size_t n) {
    DecodedSuperBlock w;
    const int offset = k_offset(type);
    for (size_t b = 0; b < n / qk_k; ++b) {
        decode_k_block(type, src, b, w);
        for (int g = 0; g < 16; ++g) {
            const float scale = w.d * static_cast<float>(w.scale[g]);
            const float min = w.dmin * static_cast<float>(w.min[g]);
            for (int j = 0; j < 16; ++j) y[b * qk_k + 16 * g + j] = scale * static_cast<float>(w.u[16 * g + j] - offset) - min;
        }
    }
}

void dequantize_iq4_nl(const BlockIQ4_NL* blocks, float* y, size_t n) {
    for (size_t b = 0; b < n / 32; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (size_t j = 0; j < 16; ++j) {
            y[b * 32 + j] = d * static_cast<float>(iq4_values[blocks[b].qs[j] & 0x0f]);
            y[b * 32 + j + 16] = d * static_cast<float>(iq4_values[blocks[b].qs[j] >> 4]);
        }
    }
}

void dequantize_iq4_xs(const BlockIQ4_XS* blocks, float* y, size_t n) {
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int s = 0; s < 8; ++s) {
            const float dl = d * static_cast<float>(iq4_xs_scale(blocks[b], s) - 32);
            const uint8_t* qs = blocks[b].qs + 16 * s;
            float* out = y + b * qk_k + 32 * static_cast<size_t>(s);
            for (int j = 0; j < 16; ++j) {
                out[j] = dl * static_cast<float>(iq4_values[qs[j] & 0x0f]);
                out[j + 16] = dl * static_cast<float>(iq4_values[qs[j] >> 4]);
            }
        }
    }
}

// ---------------------------------------------------------------- scale searches

// Fits x ~ scale * L + min (L in 0..nmax, min <= 0) minimizing the weighted squared (or
// absolute) error: start from the min/max grid, then try nstep+1 grids of nmax + rmin +
// rdelta * i steps over the range, each solved for its least-squares scale and minimum.
// Returns the scale; -min goes to *neg_min.
float fit_scale_and_min(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min, float rmin,
                        float rdelta, int nstep, bool absolute_error) {
    float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        min = std::min(min, x[i]);
        max = std::max(max, x[i]);
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t{0});
        *neg_min = -min;
        return 0.0f;
    }
    auto error_of = [&](float scale, float offset, const uint8_t* levels) {
        float e = 0;
        for (int i = 0; i < n; ++i) {
            const float diff = scale * static_cast<float>(levels[i]) + offset - x[i];
            e += weights[i] * (absolute_error ? std::fabs(diff) : diff * diff);
        }
        return e;
    };
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(std::clamp(nearest(iscale * (x[i] - min)), 0, nmax));
    float best_error = error_of(scale, min, L);
    uint8_t trial[32];
    for (int step = 0; step <= nstep; ++step) {
        iscale = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest(iscale * (x[i] - min)), 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            const auto lf = static_cast<float>(l);
            sum_l += weights[i] * lf;
            sum_l2 += weights[i] * lf * lf;
            sum_xl += weights[i] * lf * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (det <= 0) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float e = error_of(this_scale, this_min, trial);
        if (e < best_error) {
            std::copy(trial, trial + n, L);
            best_error = e;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

// Fits x ~ scale * l (l in -nmax..nmax-1) weighting each element by x^2: the grid through
// the signed maximum, then 18 neighbouring grids, keeping the best least-squares scale.
// L gets l + nmax.
float fit_symmetric_scale(int n, int nmax, const float* x, int8_t* L) {
    float amax;
    const float max = signed_max(x, n, amax);
    if (amax < group_max_eps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    auto fit = [&](float iscale, float& sum_lx, float& sum_l2) {
        sum_lx = sum_l2 = 0;
        for (int i = 0; i < n; ++i) {
            const auto l = static_cast<float>(std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1));
            const float w = x[i] * x[i];
            sum_lx += w * x[i] * l;
            sum_l2 += w * l * l;
        }
    };
    auto store = [&](float iscale) {
        for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1));
    };
    float iscale = static_cast<float>(-nmax) / max;
    float sum_lx, sum_l2;
    fit(iscale, sum_lx, sum_l2);
    store(iscale);
    float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.0f;
    float best = scale * sum_lx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
        fit(iscale, sum_lx, sum_l2);
        if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
            store(iscale);
            scale = sum_lx / sum_l2;
            best = scale * sum_lx;
        }
    }
    return scale;
}

// q3_K's search: the grid through the signed maximum, then up to 5 passes moving single
// elements to the level that improves the weighted fit. L gets l + nmax.
float fit_q3_scale(int n, int nmax, const float* x, int8_t* L) {
    float amax;
    const float max = signed_max(x, n, amax);
    if (amax < group_max_eps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sum_lx += w * x[i] * static_cast<float>(l);
        sum_l2 += w * static_cast<float>(l * l);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sum_lx - w * x[i] * static_cast<float>(L[i]);
            if (slx <= 0) continue;
            float sl2 = sum_l2 - w * static_cast<float>(L[i] * L[i]);
            const int l = std::clamp(nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i]) continue;
            slx += w * x[i] * static_cast<float>(l);
            sl2 += w * static_cast<float>(l * l);
            if (sl2 > 0 && slx * slx * sum_l2 > sum_lx * sum_lx * sl2) {
                L[i] = static_cast<int8_t>(l);
                sum_lx = slx;
                sum_l2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return sum_l2 > 0 ? sum_lx / sum_l2 : 0.0f;
}

// The index of the iq4 grid value nearest v (ties to the lower one).
int nearest_iq4_index(float v) {
    if (v <= iq4_values[0]) return 0;
    if (v >= iq4_values[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        (v < iq4_values[mid] ? hi : lo) = mid;
    }
    return v - iq4_values[hi - 1] < iq4_values[hi] - v ? hi - 1 : hi;
}

// ---------------------------------------------------------------- quantize

template <class Block>
void quantize_q5(const float* x, Block* blocks, size_t n) {
    constexpr bool has_min = sizeof(Block) == sizeof(BlockQ5_1);
    for (size_t b = 0; b < n / qk5_0; ++b) {
        const float* xb = x + b * 32;
        float d, offset = 0;
        if constexpr (has_min) {
            float min = FLT_MAX, max = -FLT_MAX;
            for (int j = 0; j < 32; ++j) {
                min = std::min(min, xb[j]);
                max = std::max(max, xb[j]);
            }
            d = (max - min) / 31;
            offset = min;
            blocks[b].m = fp32_to_fp16(min);
        } else {
            float amax;
            d = signed_max(xb, 32, amax) / -16;
        }
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            int q0, q1;
            if constexpr (has_min) {
                q0 = static_cast<uint8_t>((xb[j] - offset) * id + 0.5f);
                q1 = static_cast<uint8_t>((xb[j + 16] - offset) * id + 0.5f);
            } else {
                q0 = std::min(31, static_cast<int>(static_cast<int8_t>(xb[j] * id + 16.5f)));
                q1 = std::min(31, static_cast<int>(static_cast<int8_t>(xb[j + 16] * id + 16.5f)));
            }
            blocks[b].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
            qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
        }
        std::memcpy(blocks[b].qh, &qh, 4);
    }
}

// q4_K and q5_K: eight (scale, min) fits per super-block, stored as 6-bit codes.
template <class Block>
void quantize_q45_K(const float* x, Block* blocks, size_t n) {
    constexpr bool five = std::is_same_v<Block, BlockQ5_K>;
    constexpr int nmax = five ? 31 : 15;
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float* xb = x + b * qk_k;
        Block& out = blocks[b];
        uint8_t L[qk_k];
        float scales[8], mins[8], weights[32], max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; ++j) {
            const float* xs = xb + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
            const float av_x = std::sqrt(sum_x2 / 32);
            for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
            scales[j] = five ? fit_scale_and_min(32, nmax, xs, weights, L + 32 * j, &mins[j], -0.5f, 0.1f, 15, false)
                             : fit_scale_and_min(32, nmax, xs, weights, L + 32 * j, &mins[j], -1.0f, 0.1f, 20, false);
            max_scale = std::max(max_scale, scales[j]);
            max_min = std::max(max_min, mins[j]);
        }
        const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        std::memset(out.scales, 0, sizeof out.scales);
        for (int j = 0; j < 8; ++j) {
            const auto ls = static_cast<uint8_t>(std::clamp(nearest(inv_scale * scales[j]), 0, 63));
            const auto lm = static_cast<uint8_t>(std::clamp(nearest(inv_min * mins[j]), 0, 63));
            if (j < 4) {
                out.scales[j] = ls;
                out.scales[j + 4] = lm;
            } else {
                out.scales[j + 4] = static_cast<uint8_t>((ls & 0x0f) | (lm & 0x0f) << 4);
                out.scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
                out.scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
            }
        }
        out.d = fp32_to_fp16(max_scale / 63.0f);
        out.dmin = fp32_to_fp16(max_min / 63.0f);
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, mn;
            k_scale_min(out.scales, j, sc, mn);
            const float d = fp16_to_fp32(out.d) * static_cast<float>(sc);
            if (d == 0) continue;
            const float dm = fp16_to_fp32(out.dmin) * static_cast<float>(mn);
            for (int l = 0; l < 32; ++l) L[32 * j + l] = static_cast<uint8_t>(std::clamp(nearest((xb[32 * j + l] + dm) / d), 0, nmax));
        }
        if constexpr (five) std::memset(out.qh, 0, sizeof out.qh);
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                out.qs[32 * c + l] = static_cast<uint8_t>((lo & 15) | (hi & 15) << 4);
                if constexpr (five) out.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

void quantize_q6_K(const float* x, BlockQ6_K* blocks, size_t n) {
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float* xb = x + b * qk_k;
        BlockQ6_K& out = blocks[b];
        int8_t L[qk_k];
        float scales[16], max_scale = 0, max_abs = 0;
        for (int g = 0; g < 16; ++g) {
            scales[g] = fit_symmetric_scale(16, 32, xb + 16 * g, L + 16 * g);
            if (std::fabs(scales[g]) > max_abs) {
                max_abs = std::fabs(scales[g]);
                max_scale = scales[g];
            }
        }
        out = BlockQ6_K{};
        if (max_abs < group_max_eps) continue;
        const float iscale = -128.0f / max_scale;
        out.d = fp32_to_fp16(1 / iscale);
        for (int g = 0; g < 16; ++g) out.scales[g] = static_cast<int8_t>(std::min(127, nearest(iscale * scales[g])));
        for (int g = 0; g < 16; ++g) {
            const float d = fp16_to_fp32(out.d) * static_cast<float>(out.scales[g]);
            if (d == 0) continue;
            for (int j = 0; j < 16; ++j) L[16 * g + j] = static_cast<int8_t>(std::clamp(nearest(xb[16 * g + j] / d), -32, 31) + 32);
        }
        encode_q6_K_quants(reinterpret_cast<const uint8_t*>(L), out);  // 0..63: the same bytes signed or not
    }
}

// The 2-bit planes of q2_K and q3_K: element 128h + 32j + l at bits 2j of qs[32h + l].
void pack_two_bit_planes(const uint8_t* L, uint8_t* qs) {
    for (int h = 0; h < 2; ++h) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t* Lh = L + 128 * h;
            qs[32 * h + l] = static_cast<uint8_t>((Lh[l] & 3) | (Lh[l + 32] & 3) << 2 | (Lh[l + 64] & 3) << 4 | (Lh[l + 96] & 3) << 6);
        }
    }
}

void quantize_q2_K(const float* x, BlockQ2_K* blocks, size_t n) {
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float* xb = x + b * qk_k;
        BlockQ2_K& out = blocks[b];
        uint8_t L[qk_k];
        float scales[16], mins[16], weights[16], max_scale = 0, max_min = 0;
        for (int g = 0; g < 16; ++g) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(xb[16 * g + l]);
            scales[g] = fit_scale_and_min(16, 3, xb + 16 * g, weights, L + 16 * g, &mins[g], -0.5f, 0.1f, 15, true);
            max_scale = std::max(max_scale, scales[g]);
            max_min = std::max(max_min, mins[g]);
        }
        out = BlockQ2_K{};
        if (max_scale > 0) {
            for (int g = 0; g < 16; ++g) out.scales[g] = static_cast<uint8_t>(std::clamp(nearest(15.0f / max_scale * scales[g]), 0, 15));
            out.d = fp32_to_fp16(max_scale / 15.0f);
        }
        if (max_min > 0) {
            for (int g = 0; g < 16; ++g) out.scales[g] |= static_cast<uint8_t>(std::clamp(nearest(15.0f / max_min * mins[g]), 0, 15) << 4);
            out.dmin = fp32_to_fp16(max_min / 15.0f);
        }
        for (int g = 0; g < 16; ++g) {
            const float d = fp16_to_fp32(out.d) * static_cast<float>(out.scales[g] & 15);
            if (d == 0) continue;
            const float dm = fp16_to_fp32(out.dmin) * static_cast<float>(out.scales[g] >> 4);
            for (int l = 0; l < 16; ++l) L[16 * g + l] = static_cast<uint8_t>(std::clamp(nearest((xb[16 * g + l] + dm) / d), 0, 3));
        }
        pack_two_bit_planes(L, out.qs);
    }
}

void quantize_q3_K(const float* x, BlockQ3_K* blocks, size_t n) {
    for (size_t b = 0; b < n / qk_k; ++b) {
        const float* xb = x + b * qk_k;
        BlockQ3_K& out = blocks[b];
        int8_t L[qk_k];
        float scales[16], max_scale = 0, max_abs = 0;
        for (int g = 0; g < 16; ++g) {
            scales[g] = fit_q3_scale(16, 4, xb + 16 * g, L + 16 * g);
            if (std::fabs(scales[g]) > max_abs) {
                max_abs = std::fabs(scales[g]);
                max_scale = scales[g];
            }
        }
        out = BlockQ3_K{};
        if (max_scale != 0) {
            const float iscale = -32.0f / max_scale;
            for (int g = 0; g < 16; ++g) {
                const int l = std::clamp(nearest(iscale * scales[g]), -32, 31) + 32;
                if (g < 8) out.scales[g] = static_cast<uint8_t>(l & 15);
                else out.scales[g - 8] |= static_cast<uint8_t>((l & 15) << 4);
                out.scales[8 + g % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (g / 4)));
            }
            out.d = fp32_to_fp16(1 / iscale);
        }
        int8_t s[16];
        q3_k_scales(out.scales, s);
        for (int g = 0; g < 16; ++g) {
            const float d = fp16_to_fp32(out.d) * static_cast<float>(s[g]);
            if (d == 0) continue;
            for (int l = 0; l < 16; ++l) L[16 * g + l] = static_cast<int8_t>(std::clamp(nearest(xb[16 * g + l] / d), -4, 3) + 4);
        }
        uint8_t low[qk_k];
        for (int j = 0; j < static_cast<int>(qk_k); ++j) {
            if (L[j] > 3) out.hmask[j % 32] |= static_cast<uint8_t>(1u << (j / 32));
            low[j] = static_cast<uint8_t>(L[j] & 3);
        }
        pack_two_bit_planes(low, out.qs);
    }
}

// iq4_nl (one 32-weight block) and iq4_xs (eight, with 6-bit sub-block scales): for each
// block, the scale through the signed maximum and 15 neighbours, each with its grid
// indices and least-squares scale, weighting each element by x^2.
void quantize_iq4(const float* x, size_t super, uint16_t* d_out, uint8_t* qs, uint16_t* scales_h, uint8_t* scales_l) {
    constexpr int tries = 7;
    const size_t blocks = super / 32;
    uint8_t L[qk_k] = {};
    float scales[8], max_scale = 0, amax_scale = 0;
    for (size_t ib = 0; ib < blocks; ++ib) {
        const float* xb = x + 32 * ib;
        float amax;
        const float max = signed_max(xb, 32, amax);
        if (amax < group_max_eps) {
            scales[ib] = 0;
            continue;
        }
        auto fit = [&](float id, float& sum_qx, float& sum_q2, uint8_t* levels) {
            sum_qx = sum_q2 = 0;
            for (int j = 0; j < 32; ++j) {
                const int l = nearest_iq4_index(id * xb[j]);
                if (levels) levels[j] = static_cast<uint8_t>(l);
                const auto q = static_cast<float>(iq4_values[l]);
                const float w = xb[j] * xb[j];
                sum_qx += w * q * xb[j];
                sum_q2 += w * q * q;
            }
        };
        float sum_qx, sum_q2;
        fit(1 / (-max / iq4_values[0]), sum_qx, sum_q2, L + 32 * ib);
        float d = sum_q2 > 0 ? sum_qx / sum_q2 : 0.0f;
        float best = d * sum_qx;
        for (int t = -tries; t <= tries; ++t) {
            fit((static_cast<float>(t) + iq4_values[0]) / max, sum_qx, sum_q2, nullptr);
            if (sum_q2 > 0 && sum_qx * sum_qx > best * sum_q2) {
                d = sum_qx / sum_q2;
                best = d * sum_qx;
            }
        }
        scales[ib] = d;
        if (std::fabs(d) > amax_scale) {
            amax_scale = std::fabs(d);
            max_scale = d;
        }
    }
    if (blocks > 1) {
        *scales_h = 0;
        std::memset(scales_l, 0, blocks / 2);
        const float d = -max_scale / 32;
        *d_out = fp32_to_fp16(d);
        const float id = d != 0 ? 1 / d : 0.0f;
        for (size_t ib = 0; ib < blocks; ++ib) {
            int l = std::clamp(nearest(id * scales[ib]), -32, 31);
            const float dl = d * static_cast<float>(l);
            const float idl = dl != 0 ? 1 / dl : 0.0f;
            for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(nearest_iq4_index(idl * x[32 * ib + j]));
            l += 32;
            scales_l[ib / 2] |= static_cast<uint8_t>((l & 15) << (4 * (ib % 2)));
            *scales_h |= static_cast<uint16_t>((l >> 4) << (2 * ib));
        }
    } else {
        *d_out = fp32_to_fp16(scales[0]);
        const float id = scales[0] != 0 ? 1 / scales[0] : 0.0f;
        for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(nearest_iq4_index(id * x[j]));
    }
    for (size_t ib = 0; ib < blocks; ++ib) {
        for (int j = 0; j < 16; ++j) qs[16 * ib + j] = static_cast<uint8_t>(L[32 * ib + j] | L[32 * ib + 16 + j] << 4);
    }
}

}  // namespace

void dequantize_row_k(TensorType type, const void* src, float* dst, size_t n) {
    switch (type) {
        case TensorType::q5_0: return dequantize_q5(static_cast<const BlockQ5_0*>(src), dst, n);
        case TensorType::q5_1: return dequantize_q5(static_cast<const BlockQ5_1*>(src), dst, n);
        case TensorType::iq4_nl: return dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n);
        case TensorType::iq4_xs: return dequantize_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, n);
        default:
            if (is_k_type(type)) return dequantize_k(type, src, dst, n);
    }
    throw Error(ErrorCode::unsupported, "dequantize: no kernel for type " + tensor_type_name(static_cast<uint32_t>(type)));
}

void quantize_row_k(TensorType type, const float* src, void* dst, size_t n) {
    switch (type) {
        case TensorType::q5_0: return quantize_q5(src, static_cast<BlockQ5_0*>(dst), n);
        case TensorType::q5_1: return quantize_q5(src, static_cast<BlockQ5_1*>(dst), n);
        case TensorType::q2_K: return quantize_q2_K(src, static_cast<BlockQ2_K*>(dst), n);
        case TensorType::q3_K: return quantize_q3_K(src, static_cast<BlockQ3_K*>(dst), n);
        case TensorType::q4_K: return quantize_q45_K(src, static_cast<BlockQ4_K*>(dst), n);
        case TensorType::q5_K: return quantize_q45_K(src, static_cast<BlockQ5_K*>(dst), n);
        case TensorType::q6_K: return quantize_q6_K(src, static_cast<BlockQ6_K*>(dst), n);
        case TensorType::iq4_nl: {
            auto* blocks = static_cast<BlockIQ4_NL*>(dst);
            uint16_t unused_h;
            for (size_t b = 0; b < n / 32; ++b) quantize_iq4(src + 32 * b, 32, &blocks[b].d, blocks[b].qs, &unused_h, nullptr);
            return;
        }
        case TensorType::iq4_xs: {
            auto* blocks = static_cast<BlockIQ4_XS*>(dst);
            for (size_t b = 0; b < n / qk_k; ++b) {
                quantize_iq4(src + qk_k * b, qk_k, &blocks[b].d, blocks[b].qs, &blocks[b].scales_h, blocks[b].scales_l);
            }
            return;
        }
        default: break;
    }
    throw Error(ErrorCode::unsupported, "quantize: no quantizer for type " + tensor_type_name(static_cast<uint32_t>(type)));
}

}  // namespace nibble::kernels
