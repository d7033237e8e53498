// Weights repacked at load into panels of R rows, the layout the x86 matrix kernels
// read: one 4-way u8 x i8 dot instruction then advances R rows by 4 k for one token,
// with that token's 4 activation bytes broadcast. Panels keep the file's bytes per row
// (fp16 scales, packed nibbles), so a packed model takes no more memory than its file.
//
// Per 32-element block, a panel of R rows holds:
//   q4_0, q4_1, q4_2, iq4_nl: 4 chunks of 4R bytes; byte 4r+i of chunk c holds row r's element
//     4c+i in its low nibble and element 16+4c+i in its high nibble (0..15, unsigned);
//     then R fp16 scales (q4_2: R for elements 0..15, R for 16..31); q4_1 then R fp16 mins.
//   q5_0, q5_1: the same chunks of nibbles, then one 4-byte word of fifth bits per row
//     (byte i: element 4c+i's at bit c, element 16+4c+i's at bit 4+c), then R fp16
//     scales, and for q5_1 R fp16 mins.
//   q8_0: 8 chunks of 4R bytes; byte 4r+i of chunk g is row r's element 4g+i plus 128;
//     then R fp16 scales.
// Per 256-element super-block of q4_K: R fp16 d, R fp16 dmin, the 12 bytes of packed
// 6-bit scales as three 4-byte words (word 0 of every row, then word 1, word 2), then 32
// groups of 4R bytes, byte 4r+i of group 8c+g being row r's qs[32c+4g+i] (its low nibble
// element 64c+4g+i, its high nibble element 64c+32+4g+i). q5_K: the same, with 8 groups
// of 4R bytes of fifth bits between the scales and the nibbles (byte 4r+i of group g is
// row r's qh[4g+i]). q2_K: R fp16 d, R fp16 dmin, the 16 scale bytes as four words, then
// 16 groups of 4R bytes (group 8n+g: row r's qs[32n+4g+i]). q3_K: R fp16 d, the 12 scale
// bytes as three words, 8 groups of hmask (group g: hmask[4g+i]), then qs as q2_K.
// q6_K: R fp16 d, the 16 int8 scales as four 4-byte words, then per half n and g < 8
// three groups of 4R bytes; with q_k row r's 6-bit quant of element 128n+32k+4g+i, byte
// 4r+i of group j < 3 holds q_j in bits 0-5 and bits 2j, 2j+1 of q_3 in bits 6-7.
// iq4_xs: R fp16 d, R uint16 scales_h, the scales_l bytes as one word per row, then 32
// groups of 4R bytes (group 4j+c: row r's qs[16j+4c+i]).
#pragma once

#include <cstddef>
#include <cstdint>

#include "nibble/tensor_type.hpp"

namespace nibble::kernels {

/// Whether a rows x cols matrix of `type` can be packed in panels of `panel_rows`.
bool packable(TensorType type, size_t rows, size_t cols, size_t panel_rows) noexcept;

/// Packs rows x cols weights (rows `row_stride` bytes apart) into `dst`, which holds
/// row_bytes(type, cols) * rows bytes. Panels are row_bytes * panel_rows bytes apart.
void pack_panels(TensorType type, size_t panel_rows, const std::byte* src, size_t row_stride, size_t rows, size_t cols,
                 std::byte* dst);

/// Packs rows x cols contiguous weights where they lie: panel by panel through a copy
/// of one panel, so nothing else needs to hold the whole matrix.
void pack_panels_in_place(TensorType type, size_t panel_rows, std::byte* data, size_t rows, size_t cols);

/// Unpacks one row of a packed matrix back into the file's layout (for tests and tools).
void unpack_panel_row(TensorType type, size_t panel_rows, const std::byte* packed, size_t row, size_t cols, std::byte* dst);

}  // namespace nibble::kernels
