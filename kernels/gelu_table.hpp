// GELU as the reference evaluates it: the input rounded to fp16 selects an entry of a
// table of the tanh form over every fp16 value, itself rounded to fp16. Stored here as
// floats so that vector code can gather the entries directly.
#pragma once

namespace nibble::kernels {

/// 65536 entries, indexed by the fp16 bits of the input.
const float* gelu_fp16_table() noexcept;

/// Inputs at or beyond these bounds bypass the table: 0 below, the input itself above.
inline constexpr float gelu_table_low = -10.0f, gelu_table_high = 10.0f;

}  // namespace nibble::kernels
