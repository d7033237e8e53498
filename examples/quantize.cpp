// nibble-quantize: quantize or convert any model file nibble reads into GGUF (or a
// 2023 ggjt file), with progress and a summary of sizes and quantization error.
#include <cctype>
#include <cstdio>
#include <iostream>

#include <nibble/nibble.hpp>

#include "cli.hpp"

namespace {

// A llama-quantize preset (any case: Q4_K_M, q4_0, ...) or, for the types no preset
// names (q4_2), the type itself.
bool parse_type(std::string_view name, nibble::QuantizeOptions& options) {
    if (nibble::is_quantize_preset(name)) {
        options.preset = std::string(name);
        return true;
    }
    for (uint32_t id = 0; id < 64; ++id) {
        const auto info = nibble::tensor_type_info(id);
        if (!info || !info->computable) continue;
        std::string a(info->name), b(name);
        for (auto* s : {&a, &b}) {
            for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (a == b) {
            options.type = info->type;
            return true;
        }
    }
    return false;
}

void usage() {
    std::cerr << "usage: nibble-quantize INPUT OUTPUT [TYPE] [--pure] [-t N] [--ggjt 1|2|3] [--allow-requantize] [--tokenizer FILE]\n"
                 "  INPUT   GGUF v1-v3, ggml/ggmf/ggjt/ggmm 2023 file, or llama2.c checkpoint\n"
                 "  TYPE    a llama-quantize preset, any case: " << nibble::quantize_preset_names() << "\n"
                 "          (each tensor typed by llama-quantize's mix rules), or q4_2;\n"
                 "          omitted: keep every tensor's type (convert the container only)\n"
                 "  --pure  every matrix in the preset's main type (no mix), as llama-quantize --pure\n"
                 "  -t N    threads (default: the physical cores)\n"
                 "  --ggjt N  write a 2023 ggjt vN LLaMA file in that version's block encoding instead of GGUF\n"
                 "Note: q4_2 in GGUF uses its historical type id 4; only nibble reads such files.\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::string input, output;
    nibble::QuantizeOptions options;
    try {
        nibble::cli::Args args(argc, argv);
        while (!args.done()) {
            const std::string_view a = args.next();
            if (a == "--ggjt") options.ggjt_version = static_cast<uint32_t>(args.int_value(a));
            else if (a == "--allow-requantize") options.allow_requantize = true;
            else if (a == "--pure") options.pure = true;
            else if (a == "-t" || a == "--threads") options.threads = args.int_value(a);
            else if (a == "--tokenizer") options.llama2c_tokenizer = args.value(a);
            else if (a == "-h" || a == "--help") { usage(); return 0; }
            else if (input.empty()) input = a;
            else if (output.empty()) output = a;
            else if (!options.type && options.preset.empty()) {
                if (!parse_type(a, options)) throw std::invalid_argument("unknown type '" + std::string(a) + "'");
            } else throw std::invalid_argument("unexpected argument '" + std::string(a) + "'");
        }
        if (input.empty() || output.empty()) throw std::invalid_argument("need INPUT and OUTPUT");
    } catch (const std::exception& e) {
        std::cerr << "nibble-quantize: " << e.what() << "\n";
        usage();
        return 2;
    }
    try {
        const auto report = nibble::quantize(input, output, options,
                                             [](size_t i, size_t n, const std::string& name, const std::string& from,
                                                const std::string& to) {
                                                 std::fprintf(stderr, "[%3zu/%zu] %-40s %s -> %s\n", i + 1, n, name.c_str(),
                                                              from.c_str(), to.c_str());
                                             });
        for (const auto& note : report.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
        const double mib = 1024.0 * 1024.0;
        std::printf("size: %.2f MiB -> %.2f MiB (%.1f%%)\n", static_cast<double>(report.input_bytes) / mib,
                    static_cast<double>(report.output_bytes) / mib,
                    report.input_bytes ? 100.0 * static_cast<double>(report.output_bytes) / static_cast<double>(report.input_bytes) : 0.0);
        for (const auto& t : report.per_type) {
            std::printf("%-5s %3zu tensors, %10llu weights: RMS error %.6f (%.2f%% of RMS weight %.6f)\n", t.type.c_str(),
                        t.tensors, static_cast<unsigned long long>(t.elements), t.rms_error,
                        t.rms_weight > 0 ? 100.0 * t.rms_error / t.rms_weight : 0.0, t.rms_weight);
        }
    } catch (const nibble::Error& e) {
        std::cerr << "nibble-quantize: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
