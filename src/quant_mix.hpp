// llama-quantize's presets: which type each tensor of a model gets (the "mix"), so that
// nibble-quantize Q4_K_M writes the same file layout as llama-quantize Q4_K_M.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/tensor_directory.hpp"
#include "nibble/tensor_type.hpp"

namespace nibble::detail {

struct QuantPreset {
    std::string_view name;  ///< as llama-quantize spells it
    uint32_t file_type;     ///< llama_ftype, written as general.file_type
    TensorType main_type;   ///< the type most matrices get
};

/// The preset of that name, in any case ("q4_k_m" is Q4_K_M; Q4_K, Q5_K and Q3_K are
/// llama-quantize's aliases of the _M presets).
std::optional<QuantPreset> find_quant_preset(std::string_view name);

/// The preset whose general.file_type is `file_type` (its first name, as presets are
/// listed), if any.
std::optional<QuantPreset> find_quant_preset_by_file_type(uint32_t file_type);

/// Every preset name, for messages.
std::vector<std::string_view> quant_preset_names();

/// What the mix decided for one tensor, and why when it is not the preset's main type.
struct TensorChoice {
    uint32_t type_id;
    std::string note;  ///< non-empty for a fallback forced by the row length
};

/// The type of every tensor of `dir` under `preset` (or, with `pure`, the preset's main
/// type for every matrix), in directory order; tensors that are not quantized (norms,
/// 1-D tensors) keep their type. A row length the chosen type cannot hold falls back as
/// llama-quantize does (q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0, q2_K/q3_K -> q4_0,
/// iq4_xs -> iq4_nl), and to f16 where even that does not divide it.
std::vector<TensorChoice> choose_tensor_types(const formats::TensorDirectory& dir, const QuantPreset& preset, bool pure);

/// Whether llama-quantize quantizes this tensor at all (2-D weights other than norms).
bool is_quantizable_matrix(const formats::TensorEntry& t);

}  // namespace nibble::detail
