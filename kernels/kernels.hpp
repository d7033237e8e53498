// The kernel table: every hot operation, one implementation per ISA, chosen once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/float_ops.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble::kernels {

/// The form an activation row takes before it meets a weight row of a given type, as
/// the reference engine pairs them: the 32-element quantized types multiply q8_0 blocks
/// (with ActivationBlockSums after them), the 256-element K types and iq4_xs multiply
/// q8_K super-blocks, f16 and bf16 weights multiply activations rounded to their own
/// type, f32 stays f32.
enum class ActivationFormat { f32, f16, bf16, q8_0, q8_K };

/// Rows [0, rows) of one weight type times `tokens` converted activation rows:
/// y[t * y_stride + r] = dot(w + r * w_stride, a + t * a_stride) over `cols` elements.
/// Tables tile this as suits their registers (rows x tokens per micro-kernel).
using MulRows = void (*)(const std::byte* w, size_t w_stride, size_t rows, const std::byte* a, size_t a_stride,
                         size_t tokens, size_t cols, float* y, size_t y_stride);

/// One weight row of n elements against one converted activation row.
using DotRow = float (*)(const void* weights, const void* activations, size_t n);

/// Converts n floats into one activation row of a format.
using ConvertRow = void (*)(const float* x, void* out, size_t n);

/// What a table does with one weight type. A null `dot` or `mul` means the table lacks
/// the type (matmul says so); a null `mul_packed` leaves the type in the file layout.
struct TypeKernels {
    DotRow dot = nullptr;
    MulRows mul = nullptr;         ///< rows in the file's layout
    MulRows mul_packed = nullptr;  ///< rows packed in panels of KernelTable::panel_rows (packed.hpp)
};

/// Function pointers implementing the hot loops, one entry per weight type, filled by
/// name (designated initializers), so a table that lacks a type leaves it null instead
/// of shifting every later entry. `n` counts elements; for the block types it is a
/// multiple of the block size (callers check).
struct KernelTable {
    const char* isa;  ///< "scalar", "avx2", ...

    ConvertRow quantize_activations_q8_0 = nullptr;  ///< blocks only; matmul appends the sums
    ConvertRow quantize_activations_q8_K = nullptr;
    ConvertRow convert_activations_f16 = nullptr;
    ConvertRow convert_activations_bf16 = nullptr;

    TypeKernels f32, f16, bf16, q4_0, q4_1, q4_2, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs;

    /// Rows per panel of the packed layout this table multiplies (packed.hpp); 0 = the
    /// table reads the file's layout only.
    size_t panel_rows = 0;

    /// Norms, softmax, SwiGLU, residual adds and the attention's dot products.
    const FloatOps* ops = nullptr;
};

/// The entry of `table` for `type`; null for types no table computes with.
const TypeKernels* type_kernels(const KernelTable& table, TensorType type) noexcept;

/// The packed-layout MulRows of `table` for `type`, or null when it does not pack it.
MulRows packed_mul(const KernelTable& table, TensorType type) noexcept;

/// The portable reference implementation every ISA is tested against.
const KernelTable& reference_kernels() noexcept;

/// The table in use: the best the CPU supports, or the one named by NIBBLE_ISA
/// (scalar, avx2, avx512, avx512vnni, neon; an unknown name or one the CPU lacks throws nibble::Error).
/// Chosen on first call.
const KernelTable& active_kernels();

/// The table called `name` (its own name, e.g. avx512vnni, or its family's: scalar, avx2,
/// avx512, neon) if this CPU runs it; else Error(unsupported) starting with `what` and
/// the name, listing the available ones.
const KernelTable& find_kernels(std::string_view name, std::string_view what = "kernel table ");

/// Every table this build has that this CPU can run, the scalar reference first.
std::vector<const KernelTable*> available_kernels();

#if defined(__x86_64__)
const KernelTable& avx2_kernels() noexcept;          ///< needs AVX2, FMA and F16C
const KernelTable& avx512_kernels() noexcept;        ///< needs AVX-512 F/BW/VL/DQ (and FMA, F16C)
const KernelTable& avx512_vnni_kernels() noexcept;   ///< the same plus AVX-512 VNNI
/// The AVX2 table's K-type row dots, which the AVX-512 tables' tiled kernels fall back
/// to for one or two tokens (the same sums, so results do not depend on the batch).
namespace avx2_rows {
float dot_q2_K(const void* w, const void* a, size_t n);
float dot_q3_K(const void* w, const void* a, size_t n);
float dot_q4_K(const void* w, const void* a, size_t n);
float dot_q5_K(const void* w, const void* a, size_t n);
float dot_q6_K(const void* w, const void* a, size_t n);
}  // namespace avx2_rows
#endif
#if defined(__aarch64__)
const KernelTable& neon_kernels() noexcept;          ///< every ARMv8 CPU
const KernelTable& neon_dotprod_kernels() noexcept;  ///< needs the dot-product extension
#endif

/// Which activation format pairs with a weight type; throws for unsupported types.
ActivationFormat activation_format(TensorType type);

/// Bytes of one converted activation row of n elements (for q8_0: the blocks, then
/// one ActivationBlockSums per block).
size_t activation_row_bytes(ActivationFormat format, size_t n);

/// Converts n floats into one activation row of `format` with `table`'s converters
/// (q8_0 rows get their ActivationBlockSums too).
void convert_activation_row(const KernelTable& table, ActivationFormat format, const float* x, void* out, size_t n);

/// Bytes of one weight row of n elements of `type` (n a multiple of its block).
size_t row_bytes(TensorType type, size_t n);

// ---- Format-level row conversions (the formulas of FORMATS.md, bit for bit) ----

/// Dequantize n elements of `type` at src into f32.
void dequantize_row(TensorType type, const void* src, float* dst, size_t n);

/// Quantize n floats into `type` with the reference quantizer of the current
/// (ggjt v3 / GGUF) era: id = 1/d from the unrounded d, q4_0 truncation after +8.5,
/// q4_1 +0.5 then truncation, q8_0 roundf; q4_2 as its April 2023 quantizer (fp16 d,
/// adjacent-pair nibbles). f32 and f16 are plain conversions.
void quantize_row_reference(TensorType type, const float* src, void* dst, size_t n);

/// A weight matrix in memory: `rows` rows of `cols` elements, `row_stride` bytes apart.
struct MatrixView {
    TensorType type = TensorType::f32;
    const void* data = nullptr;
    size_t rows = 0;
    size_t cols = 0;
    size_t row_stride = 0;
    size_t panel_rows = 0;  ///< >0: packed in panels of this many rows (packed.hpp), row_stride apart per row
};

/// y[t][r] = dot(W row r, x[t]) for t < n_tokens. x is [n_tokens][cols] f32, y is
/// [n_tokens][rows] f32. Activations are converted once into `scratch` (grown as
/// needed) and reused by every row; rows are split over `threads` OpenMP threads.
void matmul(const KernelTable& kernels, const MatrixView& w, const float* x, size_t n_tokens,
            float* y, std::span<std::byte> scratch, int threads);

/// How a product is cut up: which MulRows, and chunks of rows handed to threads.
struct MatmulPlan {
    MulRows mul = nullptr;
    size_t act_bytes = 0;        ///< one converted activation row
    size_t unit = 1;             ///< rows that go together (a panel when packed)
    size_t units_per_chunk = 1;  ///< units per hand-out
    size_t chunks = 0;
};
MatmulPlan plan_matmul(const KernelTable& kernels, const MatrixView& w, size_t n_tokens);

/// Threads to start for a request of `requested`: never more than the CPUs this process
/// may run on. Extra threads add no compute or bandwidth, only a context switch at every
/// barrier (4 threads on 2 cores ran generation at 53 % of the speed of 2).
int team_size(int requested);

/// The most matrices one matmul_group_in_parallel call multiplies.
inline constexpr size_t max_matmul_group = 4;

/// Whether two matrices can multiply the same converted activations (same row length
/// and activation format), and so go in one group.
bool can_share_activations(const MatrixView& a, const MatrixView& b);

/// ys[i] = ws[i] x for up to max_matmul_group matrices that can share activations, for
/// callers already inside an OpenMP parallel region (every thread of the team must call
/// it): work-shares the activation conversion (once for all), then the row chunks of
/// every matrix as one list, with the barriers of `omp for` between and after.
void matmul_group_in_parallel(const KernelTable& kernels, const MatrixView* const* ws, float* const* ys, size_t count,
                              const float* x, size_t n_tokens, std::byte* scratch);

/// Scratch bytes matmul needs for n_tokens rows of `cols` activations against `type`.
size_t matmul_scratch_bytes(TensorType type, size_t cols, size_t n_tokens);

}  // namespace nibble::kernels
