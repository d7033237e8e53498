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
#include "nibble/nibble.hpp"
#include "src/model_impl.hpp"

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
    }
    return 0;
}

bool is_weight_matrix(const formats::TensorEntry& t) {
    return t.n_dims >= 2 && t.name.ends_with(".weight") && t.name.find("_norm") == std::string::npos;
}

struct ErrorSums {
    size_t tensors = 0;
    uint64_t elements = 0;
    double squared_error = 0, squared_weight = 0;
};

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
        uint32_t target = t.type_id;
        if (options.type && is_weight_matrix(t)) {
            target = static_cast<uint32_t>(*options.type);
            if (t.ne[0] % 32 != 0 && !is_float(target)) {
                target = is_float(t.type_id) ? 1 : t.type_id;
                report.notes.push_back(fmt::format("{}: rows of {} are not a multiple of 32, kept as {}", t.name, t.ne[0],
                                                   tensor_type_name(target)));
            }
        }
        if (target != t.type_id && !is_float(t.type_id) && !options.allow_requantize) {
            throw Error(ErrorCode::invalid_argument,
                        fmt::format("{}: tensor '{}' is already {}; re-quantizing to {} loses quality (allow it explicitly)",
                                    input, t.name, tensor_type_name(t.type_id), tensor_type_name(target)));
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
            std::vector<float> values(n), restored(n);
            kernels::dequantize_row(t.type(), t.data.data(), values.data(), n);
            const size_t block_bytes = *formats::legacy_block_bytes(target, era);
            std::vector<std::byte> blocks(n / formats::legacy_block_elements(target) * block_bytes);
            formats::quantize_legacy(target, era, values.data(), blocks.data(), n);
            formats::dequantize_legacy(target, era, blocks.data(), restored.data(), n);
            ErrorSums& s = sums[tensor_type_name(target)];
            ++s.tensors;
            s.elements += n;
            for (uint64_t j = 0; j < n; ++j) {
                const double e = static_cast<double>(values[j]) - restored[j];
                s.squared_error += e * e;
                s.squared_weight += static_cast<double>(values[j]) * values[j];
            }
            out.data = result->own(std::move(blocks));
        }
        result->add(std::move(out));
    }
    if (options.type) result->metadata.set("general.file_type", formats::MetaValue::make_u32(file_type_of(*options.type)));
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
