// Model quantization: every 2-D weight matrix to the target type, the rest kept, the
// result written as GGUF or as a 2023 ggjt file.
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "formats/atomic_file.hpp"
#include "formats/gguf.hpp"
#include "formats/legacy.hpp"
#include "formats/open.hpp"
#include "kernels/kernels.hpp"
#include "kernels/type_traits.hpp"
#include "nibble/nibble.hpp"
#include "src/model_impl.hpp"
#include "src/quant_mix.hpp"

namespace nibble {
namespace {

bool is_float(uint32_t type_id) { return type_id == 0 || type_id == 1; }

// The GGUF general.file_type (llama_ftype) of a model whose matrices are `type`.
uint32_t file_type_of(TensorType type) {
    switch (type) {
        case TensorType::f32: return 0;
        case TensorType::f16: return 1;
        case TensorType::q4_0: return 2;
        case TensorType::q4_1: return 3;
        case TensorType::q4_2: return 5;
        case TensorType::q8_0: return 7;
        case TensorType::q5_0: return 8;
        case TensorType::q5_1: return 9;
        case TensorType::q2_K: return 10;
        case TensorType::q3_K: return 11;  // Q3_K_S: every matrix q3_K
        case TensorType::q4_K: return 14;  // Q4_K_S
        case TensorType::q5_K: return 16;  // Q5_K_S
        case TensorType::q6_K: return 18;
        case TensorType::iq4_nl: return 25;
        case TensorType::iq4_xs: return 30;
        case TensorType::bf16: return 32;
    }
    return 0;
}

struct ErrorSums {
    size_t tensors = 0;
    uint64_t elements = 0;
    double squared_error = 0, squared_weight = 0;
};

// Every tensor's target type: the preset's mix, one type for every matrix, or none.
std::vector<detail::TensorChoice> plan_types(const formats::TensorDirectory& source, const QuantizeOptions& options,
                                             bool to_ggjt) {
    std::optional<detail::QuantPreset> preset;
    if (!options.preset.empty()) {
        preset = detail::find_quant_preset(options.preset);
        if (!preset) {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("quantize: unknown preset '{}' (known: {})", options.preset, quantize_preset_names()));
        }
    } else if (options.type) {
        preset = detail::QuantPreset{"", file_type_of(*options.type), *options.type};
    }
    if (!preset) {
        std::vector<detail::TensorChoice> keep;
        for (const auto& t : source.tensors()) keep.push_back({t.type_id, {}});
        return keep;
    }
    // A 2023 container holds only the 2023 types, each matrix in one of them.
    const bool pure = options.pure || options.preset.empty() || to_ggjt;
    auto choices = detail::choose_tensor_types(source, *preset, pure);
    for (auto& c : choices) {
        // Rows no block of the type divides: a float source stays f16 (llama-quantize stops).
        if (c.type_id == 1 && !is_float(source.tensors()[static_cast<size_t>(&c - choices.data())].type_id)) {
            const auto& t = source.tensors()[static_cast<size_t>(&c - choices.data())];
            c = {t.type_id, fmt::format("{}: rows of {} fit no block of {}, kept as {}", t.name, t.ne[0],
                                        tensor_type_name(static_cast<uint32_t>(preset->main_type)), tensor_type_name(t.type_id))};
        }
    }
    return choices;
}

// Quantizes rows of a tensor on every thread; returns the squared error and weight sums.
void quantize_rows(const formats::TensorEntry& t, uint32_t target, formats::QuantEra era, std::byte* out, int threads,
                   ErrorSums& sums) {
    const uint64_t cols = t.ne[0], rows = t.elements() / cols;
    const size_t in_row = t.data.size() / rows;
    const size_t out_row = *formats::legacy_block_bytes(target, era) * (cols / formats::legacy_block_elements(target));
    double squared_error = 0, squared_weight = 0;
    const auto n_rows = static_cast<ptrdiff_t>(rows);
#pragma omp parallel for schedule(dynamic, 16) num_threads(kernels::team_size(threads)) reduction(+ : squared_error, squared_weight)
    for (ptrdiff_t r = 0; r < n_rows; ++r) {
        std::vector<float> values(cols), restored(cols);
        kernels::dequantize_row(t.type(), t.data.data() + static_cast<size_t>(r) * in_row, values.data(), cols);
        std::byte* dst = out + static_cast<size_t>(r) * out_row;
        formats::quantize_legacy(target, era, values.data(), dst, cols);
        formats::dequantize_legacy(target, era, dst, restored.data(), cols);
        for (uint64_t j = 0; j < cols; ++j) {
            const double e = static_cast<double>(values[j]) - restored[j];
            squared_error += e * e;
            squared_weight += static_cast<double>(values[j]) * values[j];
        }
    }
    ++sums.tensors;
    sums.elements += t.elements();
    sums.squared_error += squared_error;
    sums.squared_weight += squared_weight;
}

}  // namespace

bool is_quantize_preset(std::string_view name) { return detail::find_quant_preset(name).has_value(); }

std::string quantize_preset_names() {
    std::string names;
    for (auto n : detail::quant_preset_names()) names += (names.empty() ? "" : ", ") + std::string(n);
    return names;
}

namespace {
QuantizeReport quantize_file(const std::string& input, const std::string& output, const QuantizeOptions& options,
                             const QuantizeProgress& progress) {
    using formats::QuantEra;
    if (options.ggjt_version > 3) throw Error(ErrorCode::invalid_argument, fmt::format("ggjt version {} does not exist", options.ggjt_version));
    const bool to_ggjt = options.ggjt_version != 0;
    const QuantEra era = to_ggjt ? formats::llama_container_era(formats::magic_ggjt, options.ggjt_version) : QuantEra::qnt2;
    if (options.type && !tensor_type_info(static_cast<uint32_t>(*options.type))->computable) {
        throw Error(ErrorCode::invalid_argument, "quantize: unsupported target type");
    }
    const auto input_file = formats::MappedFile::open(input);
    formats::refuse_same_file(output, *input_file);
    const auto source = formats::read_model_file(input_file, options.llama2c_tokenizer);
    const auto plan = plan_types(*source, options, to_ggjt);

    auto result = std::make_shared<formats::TensorDirectory>();
    for (const auto& [key, value] : source->metadata.entries()) {
        if (key != "general.alignment") result->metadata.set(key, value);
    }
    QuantizeReport report;
    report.input_bytes = source->file ? source->file->size() : 0;
    std::map<std::string, ErrorSums> sums;
    const auto& tensors = source->tensors();
    for (size_t i = 0; i < tensors.size(); ++i) {
        const formats::TensorEntry& t = tensors[i];
        const uint32_t target = plan[i].type_id;
        if (!plan[i].note.empty()) report.notes.push_back(plan[i].note);
        if (target != t.type_id && !is_float(t.type_id) && !options.allow_requantize) {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("{}: tensor '{}' is already {}; re-quantizing to {} loses quality (allow it explicitly)",
                                    input, t.name, tensor_type_name(t.type_id), tensor_type_name(target)));
        }
        if (to_ggjt && !formats::legacy_block_bytes(target, era)) {
            throw Error(ErrorCode::invalid_argument, fmt::format("{}: tensor '{}' would be {}, which a ggjt v{} file cannot hold",
                                                                 output, t.name, tensor_type_name(target), options.ggjt_version));
        }
        if (progress) progress(i, tensors.size(), t.name, tensor_type_name(t.type_id), tensor_type_name(target));
        formats::TensorEntry out = t;
        out.type_id = target;
        const uint64_t n = t.elements();
        if (target == t.type_id) {
            // Same type: the bytes carry over (re-encoded only for an older ggjt era).
            out.data = to_ggjt ? result->own(formats::convert_from_current(t.type_id, era, t.data, n))
                               : result->own({t.data.begin(), t.data.end()});
        } else {
            std::vector<std::byte> blocks(n / formats::legacy_block_elements(target) * *formats::legacy_block_bytes(target, era));
            quantize_rows(t, target, era, blocks.data(), options.threads > 0 ? options.threads : physical_core_count(),
                          sums[tensor_type_name(target)]);
            out.data = result->own(std::move(blocks));
        }
        result->add(std::move(out));
    }
    if (!options.preset.empty()) {
        result->metadata.set("general.file_type", formats::MetaValue::make_u32(detail::find_quant_preset(options.preset)->file_type));
    } else if (options.type) {
        result->metadata.set("general.file_type", formats::MetaValue::make_u32(file_type_of(*options.type)));
    }
    result->metadata.set("general.quantization_version", formats::MetaValue::make_u32(2));

    std::vector<std::byte> bytes;
    if (to_ggjt) {
        bytes = formats::write_ggjt(*result, options.ggjt_version, true);
    } else {
        formats::GgufWriter writer;
        writer.add_all(*result);
        bytes = writer.bytes();
    }
    input_file->check_intact();  // a source that shrank while read gave zeros: write nothing
    formats::AtomicFile out(output);  // a temporary file beside `output`, renamed when complete
    out.write(bytes.data(), bytes.size());
    out.commit();
    report.output_bytes = bytes.size();
    for (const auto& [type, s] : sums) {
        report.per_type.push_back({type, s.tensors, s.elements, std::sqrt(s.squared_error / static_cast<double>(s.elements)),
                                   std::sqrt(s.squared_weight / static_cast<double>(s.elements))});
    }
    return report;
}
}  // namespace

QuantizeReport quantize(const std::string& input, const std::string& output, const QuantizeOptions& options,
                        const QuantizeProgress& progress) {
    return detail::translate_allocation_failure(input, [&] { return quantize_file(input, output, options, progress); });
}

}  // namespace nibble
