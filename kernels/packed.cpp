#include "kernels/packed.hpp"

#include <cstring>
#include <type_traits>

#include "kernels/blocks.hpp"
#include "kernels/kernels.hpp"
#include "kernels/kquant_decode.hpp"
#include "kernels/type_traits.hpp"

namespace nibble::kernels {
namespace {

// One 32-element block of a file row as 32 unsigned quants plus scales: the common
// ground between the file layouts and the panel layout.
struct PlainBlock {
    uint8_t q[32];
    uint16_t d[2];
    uint16_t m;
};

// Bytes of 32 elements in the file layout (q4_2: two blocks).
size_t file_block_bytes(TensorType type) { return row_bytes(type, qk8_0); }

PlainBlock read_file_block(TensorType type, const std::byte* src) {
    PlainBlock p{};
    auto nibbles = [&](const uint8_t* qs) {
        for (int j = 0; j < 16; ++j) {
            p.q[j] = qs[j] & 0x0f;
            p.q[j + 16] = qs[j] >> 4;
        }
    };
    switch (type) {
        case TensorType::q4_0:
        case TensorType::iq4_nl: {  // the same layout: fp16 d, 16 bytes of nibbles
            BlockQ4_0 b;
            std::memcpy(&b, src, sizeof b);
            p.d[0] = b.d;
            nibbles(b.qs);
            break;
        }
        case TensorType::q4_1: {
            BlockQ4_1 b;
            std::memcpy(&b, src, sizeof b);
            p.d[0] = b.d;
            p.m = b.m;
            nibbles(b.qs);
            break;
        }
        case TensorType::q4_2:
            for (int s = 0; s < 2; ++s) {
                BlockQ4_2 b;
                std::memcpy(&b, src + s * sizeof b, sizeof b);
                p.d[s] = b.d;
                for (int j = 0; j < 8; ++j) {
                    p.q[16 * s + 2 * j] = b.qs[j] & 0x0f;
                    p.q[16 * s + 2 * j + 1] = b.qs[j] >> 4;
                }
            }
            break;
        case TensorType::q5_0:
        case TensorType::q5_1: {
            const bool has_min = type == TensorType::q5_1;
            BlockQ5_1 b{};  // q5_0's block is the same without m
            std::memcpy(&b.d, src, 2);
            if (has_min) std::memcpy(&b.m, src + 2, 2);
            std::memcpy(b.qh, src + (has_min ? 4 : 2), 4 + 16);
            p.d[0] = b.d;
            p.m = b.m;
            nibbles(b.qs);
            uint32_t qh;
            std::memcpy(&qh, b.qh, 4);
            for (int j = 0; j < 32; ++j) p.q[j] = static_cast<uint8_t>(p.q[j] | ((qh >> j) & 1u) << 4);
            break;
        }
        case TensorType::q8_0: {
            BlockQ8_0 b;
            std::memcpy(&b, src, sizeof b);
            p.d[0] = b.d;
            for (int j = 0; j < 32; ++j) p.q[j] = static_cast<uint8_t>(b.qs[j] + 128);
            break;
        }
        default: break;  // packable() admits no other type
    }
    return p;
}

void write_file_block(TensorType type, const PlainBlock& p, std::byte* dst) {
    auto nibbles = [&](uint8_t* qs) {
        for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(p.q[j] | p.q[j + 16] << 4);
    };
    switch (type) {
        case TensorType::q4_0:
        case TensorType::iq4_nl: {
            BlockQ4_0 b{p.d[0], {}};
            nibbles(b.qs);
            std::memcpy(dst, &b, sizeof b);
            break;
        }
        case TensorType::q4_1: {
            BlockQ4_1 b{p.d[0], p.m, {}};
            nibbles(b.qs);
            std::memcpy(dst, &b, sizeof b);
            break;
        }
        case TensorType::q4_2:
            for (int s = 0; s < 2; ++s) {
                BlockQ4_2 b{p.d[s], {}};
                for (int j = 0; j < 8; ++j) b.qs[j] = static_cast<uint8_t>(p.q[16 * s + 2 * j] | p.q[16 * s + 2 * j + 1] << 4);
                std::memcpy(dst + s * sizeof b, &b, sizeof b);
            }
            break;
        case TensorType::q5_0:
        case TensorType::q5_1: {
            const bool has_min = type == TensorType::q5_1;
            uint8_t qs[16];
            uint32_t qh = 0;
            for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((p.q[j] & 15) | (p.q[j + 16] & 15) << 4);
            for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>(p.q[j] >> 4) << j;
            std::memcpy(dst, &p.d[0], 2);
            if (has_min) std::memcpy(dst + 2, &p.m, 2);
            std::memcpy(dst + (has_min ? 4 : 2), &qh, 4);
            std::memcpy(dst + (has_min ? 8 : 6), qs, 16);
            break;
        }
        case TensorType::q8_0: {
            BlockQ8_0 b{p.d[0], {}};
            for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(p.q[j] - 128);
            std::memcpy(dst, &b, sizeof b);
            break;
        }
        default: break;  // packable() admits no other type
    }
}

// Where row r's block lands inside a panel block of R rows, and back.
template <bool ToPanel>
void move_panel_block(TensorType type, size_t R, size_t r, PlainBlock& p, std::byte* panel_block) {
    auto* bytes = reinterpret_cast<uint8_t*>(panel_block);
    const bool fifth = type == TensorType::q5_0 || type == TensorType::q5_1;
    auto* scales = reinterpret_cast<uint16_t*>(panel_block + (type == TensorType::q8_0 ? 32 : fifth ? 20 : 16) * R);
    auto fp16 = [&](size_t index, uint16_t& v) {
        if constexpr (ToPanel) {
            std::memcpy(scales + index, &v, 2);
        } else {
            std::memcpy(&v, scales + index, 2);
        }
    };
    if (type == TensorType::q8_0) {
        for (size_t g = 0; g < 8; ++g) {
            for (size_t i = 0; i < 4; ++i) {
                uint8_t& cell = bytes[g * 4 * R + 4 * r + i];
                if constexpr (ToPanel) cell = p.q[4 * g + i]; else p.q[4 * g + i] = cell;
            }
        }
    } else {
        for (size_t c = 0; c < 4; ++c) {
            for (size_t i = 0; i < 4; ++i) {
                uint8_t& cell = bytes[c * 4 * R + 4 * r + i];
                if constexpr (ToPanel) {
                    cell = static_cast<uint8_t>((p.q[4 * c + i] & 15) | (p.q[16 + 4 * c + i] & 15) << 4);
                } else {
                    p.q[4 * c + i] = cell & 0x0f;
                    p.q[16 + 4 * c + i] = cell >> 4;
                }
            }
        }
        if (fifth) {
            // Row r's fifth bits as one word: byte i holds element 4c + i's at bit c and
            // element 16 + 4c + i's at bit 4 + c, so a chunk's bits sit one shift from bit 4.
            for (size_t i = 0; i < 4; ++i) {
                uint8_t& cell = bytes[16 * R + 4 * r + i];
                if constexpr (ToPanel) cell = 0;
                for (size_t c = 0; c < 4; ++c) {
                    if constexpr (ToPanel) {
                        cell = static_cast<uint8_t>(cell | (p.q[4 * c + i] >> 4) << c | (p.q[16 + 4 * c + i] >> 4) << (4 + c));
                    } else {
                        p.q[4 * c + i] = static_cast<uint8_t>(p.q[4 * c + i] | ((cell >> c) & 1) << 4);
                        p.q[16 + 4 * c + i] = static_cast<uint8_t>(p.q[16 + 4 * c + i] | ((cell >> (4 + c)) & 1) << 4);
                    }
                }
            }
        }
    }
    fp16(r, p.d[0]);
    if (type == TensorType::q4_2) fp16(R + r, p.d[1]);
    if (type == TensorType::q4_1 || type == TensorType::q5_1) fp16(R + r, p.m);
}

// n bytes of a super-block's part between its file block and its place in the panel.
template <bool ToPanel>
void move_bytes(std::byte* panel, void* block, size_t n) {
    if constexpr (ToPanel) std::memcpy(panel, block, n); else std::memcpy(block, panel, n);
}

// q4_K panels, per super-block of R rows (the file's 144 bytes per row, rearranged):
// R fp16 d, R fp16 dmin, the three 4-byte words of the packed scales (word w of every
// row, then the next word), then 32 groups of 4R bytes: byte 4r + i of group 8c + g is
// row r's qs[32c + 4g + i] (low nibble: element 64c + 4g + i; high: 32 elements later).
// q5_K panels: the same, with 8 groups of 4R bytes between the scales and the nibbles:
// byte 4r + i of group g is row r's qh[4g + i] (bit j: element 32j + 4g + i's fifth bit).
template <bool ToPanel, class Block>
void move_q45_K_block(size_t R, size_t r, Block& b, std::byte* panel_block) {
    const auto copy = move_bytes<ToPanel>;
    copy(panel_block + 2 * r, &b.d, 2);
    copy(panel_block + 2 * R + 2 * r, &b.dmin, 2);
    for (size_t w = 0; w < 3; ++w) copy(panel_block + 4 * R + w * 4 * R + 4 * r, b.scales + 4 * w, 4);
    std::byte* quants = panel_block + 16 * R;
    if constexpr (std::is_same_v<Block, BlockQ5_K>) {
        for (size_t group = 0; group < 8; ++group) copy(quants + group * 4 * R + 4 * r, b.qh + 4 * group, 4);
        quants += 32 * R;
    }
    for (size_t group = 0; group < 32; ++group) copy(quants + group * 4 * R + 4 * r, b.qs + 4 * group, 4);
}

// q6_K panels, per super-block of R rows (the file's 210 bytes per row, rearranged): R
// fp16 d, the 16 int8 scales as four 4-byte words (word w of every row, then the next),
// then for each half n and each g < 8 three groups A, B, C of 4R bytes. With q_k the
// 6-bit quant of element 128n + 32k + 4g + i, byte 4r + i of A holds row r's q_0 in its
// low 6 bits and bits 0-1 of q_3 on top, B q_1 and bits 2-3 of q_3, C q_2 and bits 4-5:
// three quants come out by one mask each, the fourth from the three top bit pairs (the
// file's split into 4 low and 2 high bits costs 17 vector steps per 4 vectors, this 11).
template <bool ToPanel>
void move_q6_K_block(size_t R, size_t r, BlockQ6_K& b, std::byte* panel_block) {
    const auto copy = move_bytes<ToPanel>;
    copy(panel_block + 2 * r, &b.d, 2);
    for (size_t w = 0; w < 4; ++w) copy(panel_block + 2 * R + w * 4 * R + 4 * r, b.scales + 4 * w, 4);
    auto* quants = reinterpret_cast<uint8_t*>(panel_block + 18 * R);
    DecodedSuperBlock decoded;
    if constexpr (ToPanel) decode_q6_K(b, decoded, true);
    for (size_t n = 0; n < 2; ++n) {
        for (size_t g = 0; g < 8; ++g) {
            uint8_t* group = quants + (n * 8 + g) * 12 * R;
            for (size_t i = 0; i < 4; ++i) {
                uint8_t* q = decoded.u + 128 * n + 4 * g + i;  // q[32 * k]: quant k of the four
                uint8_t& part_a = group[4 * r + i];
                uint8_t& part_b = group[4 * R + 4 * r + i];
                uint8_t& part_c = group[8 * R + 4 * r + i];
                if constexpr (ToPanel) {
                    part_a = static_cast<uint8_t>(q[0] | (q[96] & 3) << 6);
                    part_b = static_cast<uint8_t>(q[32] | ((q[96] >> 2) & 3) << 6);
                    part_c = static_cast<uint8_t>(q[64] | (q[96] >> 4) << 6);
                } else {
                    q[0] = part_a & 63, q[32] = part_b & 63, q[64] = part_c & 63;
                    q[96] = static_cast<uint8_t>((part_a >> 6) | (part_b >> 6) << 2 | (part_c >> 6) << 4);
                }
            }
        }
    }
    if constexpr (!ToPanel) encode_q6_K_quants(decoded.u, b);
}

// q2_K panels, per super-block of R rows (84 bytes per row): R fp16 d, R fp16 dmin, the
// 16 scale bytes as four 4-byte words, then 16 groups of 4R bytes: group 8n + g holds
// row r's qs[32n + 4g + i] at byte 4r + i.
// q3_K panels (110 bytes per row): R fp16 d, the 12 packed scale bytes as three words,
// 8 groups of 4R bytes of hmask (group g: hmask[4g + i]), then qs as for q2_K.
template <bool ToPanel, class Block>
void move_q23_K_block(size_t R, size_t r, Block& b, std::byte* panel_block) {
    const auto copy = move_bytes<ToPanel>;
    copy(panel_block + 2 * r, &b.d, 2);
    std::byte* qs = nullptr;
    if constexpr (std::is_same_v<Block, BlockQ2_K>) {
        copy(panel_block + 2 * R + 2 * r, &b.dmin, 2);
        for (size_t w = 0; w < 4; ++w) copy(panel_block + 4 * R + w * 4 * R + 4 * r, b.scales + 4 * w, 4);
        qs = panel_block + 20 * R;
    } else {
        for (size_t w = 0; w < 3; ++w) copy(panel_block + 2 * R + w * 4 * R + 4 * r, b.scales + 4 * w, 4);
        for (size_t g = 0; g < 8; ++g) copy(panel_block + 14 * R + g * 4 * R + 4 * r, b.hmask + 4 * g, 4);
        qs = panel_block + 46 * R;
    }
    for (size_t group = 0; group < 16; ++group) copy(qs + group * 4 * R + 4 * r, b.qs + 4 * group, 4);
}

// iq4_xs panels, per super-block of R rows (136 bytes per row): R fp16 d, R uint16
// scales_h, the 4 scales_l bytes as one word per row, then 32 groups of 4R bytes: group
// 4j + c holds row r's qs[16j + 4c + i] at byte 4r + i (low nibble: element 32j + 4c + i,
// high: 16 elements later).
template <bool ToPanel>
void move_iq4_xs_block(size_t R, size_t r, BlockIQ4_XS& b, std::byte* panel_block) {
    const auto copy = move_bytes<ToPanel>;
    copy(panel_block + 2 * r, &b.d, 2);
    copy(panel_block + 2 * R + 2 * r, &b.scales_h, 2);
    copy(panel_block + 4 * R + 4 * r, b.scales_l, 4);
    for (size_t group = 0; group < 32; ++group) copy(panel_block + 8 * R + group * 4 * R + 4 * r, b.qs + 4 * group, 4);
}

// Moves every super-block of row r between the file layout and its panel.
template <class Block, bool ToPanel, class Move>
void move_k_row(size_t R, size_t r, size_t blocks, std::byte* panel, std::byte* row, Move move) {
    for (size_t b = 0; b < blocks; ++b) {
        Block block;
        if constexpr (ToPanel) std::memcpy(&block, row + b * sizeof block, sizeof block);
        move(R, r % R, block, panel + b * sizeof(Block) * R);
        if constexpr (!ToPanel) std::memcpy(row + b * sizeof block, &block, sizeof block);
    }
}

bool packs_by_super_block(TensorType type) {
    return type == TensorType::q2_K || type == TensorType::q3_K || type == TensorType::q4_K || type == TensorType::q5_K ||
           type == TensorType::q6_K || type == TensorType::iq4_xs;
}

template <bool ToPanel>
void move_super_block_row(TensorType type, size_t R, size_t r, size_t blocks, std::byte* panel, std::byte* row) {
    if (type == TensorType::q2_K) move_k_row<BlockQ2_K, ToPanel>(R, r, blocks, panel, row, move_q23_K_block<ToPanel, BlockQ2_K>);
    else if (type == TensorType::q3_K) move_k_row<BlockQ3_K, ToPanel>(R, r, blocks, panel, row, move_q23_K_block<ToPanel, BlockQ3_K>);
    else if (type == TensorType::q4_K) move_k_row<BlockQ4_K, ToPanel>(R, r, blocks, panel, row, move_q45_K_block<ToPanel, BlockQ4_K>);
    else if (type == TensorType::q5_K) move_k_row<BlockQ5_K, ToPanel>(R, r, blocks, panel, row, move_q45_K_block<ToPanel, BlockQ5_K>);
    else if (type == TensorType::q6_K) move_k_row<BlockQ6_K, ToPanel>(R, r, blocks, panel, row, move_q6_K_block<ToPanel>);
    else move_k_row<BlockIQ4_XS, ToPanel>(R, r, blocks, panel, row, move_iq4_xs_block<ToPanel>);
}

}  // namespace

bool packable(TensorType type, size_t rows, size_t cols, size_t panel_rows) noexcept {
    const TypeTraits* traits = find_type_traits(type);
    return traits != nullptr && traits->packs && cols % row_multiple(*traits) == 0 && panel_rows > 0 && rows % panel_rows == 0 && cols % qk8_0 == 0 && cols > 0;
}

void pack_panels(TensorType type, size_t R, const std::byte* src, size_t row_stride, size_t rows, size_t cols, std::byte* dst) {
    if (packs_by_super_block(type)) {
        const size_t row = row_bytes(type, cols);
        for (size_t r = 0; r < rows; ++r) {
            auto* from = const_cast<std::byte*>(src + r * row_stride);  // read only: ToPanel copies out of it
            move_super_block_row<true>(type, R, r, cols / qk_k, dst + (r / R) * row * R, from);
        }
        return;
    }
    const size_t blocks = cols / qk8_0, block_bytes = file_block_bytes(type), panel_block = block_bytes * R;
    for (size_t r = 0; r < rows; ++r) {
        std::byte* panel = dst + (r / R) * panel_block * blocks;
        for (size_t b = 0; b < blocks; ++b) {
            PlainBlock p = read_file_block(type, src + r * row_stride + b * block_bytes);
            move_panel_block<true>(type, R, r % R, p, panel + b * panel_block);
        }
    }
}

void pack_panels_in_place(TensorType type, size_t R, std::byte* data, size_t rows, size_t cols) {
    const size_t panel_bytes = row_bytes(type, cols) * R;
    std::vector<std::byte> rows_of_panel(panel_bytes);
    for (size_t r0 = 0; r0 < rows; r0 += R) {
        std::byte* panel = data + (r0 / R) * panel_bytes;
        std::memcpy(rows_of_panel.data(), panel, panel_bytes);
        pack_panels(type, R, rows_of_panel.data(), panel_bytes / R, R, cols, panel);
    }
}

void unpack_panel_row(TensorType type, size_t R, const std::byte* packed, size_t row, size_t cols, std::byte* dst) {
    if (packs_by_super_block(type)) {
        auto* panel = const_cast<std::byte*>(packed + (row / R) * row_bytes(type, cols) * R);  // read only: !ToPanel copies out of it
        move_super_block_row<false>(type, R, row, cols / qk_k, panel, dst);
        return;
    }
    const size_t blocks = cols / qk8_0, block_bytes = file_block_bytes(type), panel_block = block_bytes * R;
    const std::byte* panel = packed + (row / R) * panel_block * blocks;
    for (size_t b = 0; b < blocks; ++b) {
        PlainBlock p{};
        move_panel_block<false>(type, R, row % R, p, const_cast<std::byte*>(panel + b * panel_block));
        write_file_block(type, p, dst + b * block_bytes);
    }
}

}  // namespace nibble::kernels
