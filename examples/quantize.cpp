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

}  // namespace

int main(int argc, char** argv) {
    using namespace nibble;
    const std::string program = "nibble-quantize";
    CLI::App app("Quantizes or converts a model file into GGUF (or a 2023 ggjt file).");
    cli::setup(app, program);
    app.footer("Note: q4_2 in GGUF uses its historical type id 4; only nibble reads such files.");
    std::string input, output, type_name;
    QuantizeOptions options;
    options.threads = physical_core_count();
    app.add_option("INPUT", input, "GGUF v1-v3, ggml/ggmf/ggjt/ggmm 2023 file, or llama2.c checkpoint")
        ->required()
        ->check(cli::regular_file());
    app.add_option("OUTPUT", output, "the file to write")->required();
    app.add_option("TYPE", type_name, "a llama-quantize preset, any case: " + quantize_preset_names() +
                                          " (each tensor typed by llama-quantize's mix rules), or q4_2; omitted: keep "
                                          "every tensor's type (convert the container only)")
        ->check(CLI::Validator(
            [](std::string& t) {
                QuantizeOptions scratch;
                return parse_type(t, scratch) ? std::string() : "unknown type '" + t + "'";
            },
            "TYPE"));
    app.add_flag("--pure", options.pure, "every matrix in the preset's main type (no mix), as llama-quantize --pure");
    app.add_option("-t,--threads", options.threads, "threads (default: physical cores)")
        ->check(CLI::Range(1, cli::max_threads));
    app.add_option("--ggjt", options.ggjt_version, "write a 2023 ggjt vN LLaMA file in that version's block encoding")
        ->check(CLI::IsMember({1u, 2u, 3u}));
    app.add_flag("--allow-requantize", options.allow_requantize, "re-quantize tensors that are already quantized");
    app.add_option("--tokenizer", options.llama2c_tokenizer, "tokenizer of a llama2.c checkpoint")->check(cli::regular_file());
    if (auto rc = cli::parse(app, argc, argv)) return *rc;
    if (!type_name.empty()) parse_type(type_name, options);

    return cli::run(program, [&]() -> int {
        cli::ProgressDisplay bar("quantizing " + input);
        const auto report = quantize(input, output, options,
                                     [&bar](size_t i, size_t n, const std::string& name, const std::string& from,
                                            const std::string& to) {
                                         // Not a terminal: the log of what happened to each tensor, and the 10 % lines.
                                         if (::isatty(STDERR_FILENO) != 1) {
                                             std::fprintf(stderr, "[%3zu/%zu] %-40s %s -> %s\n", i + 1, n, name.c_str(),
                                                          from.c_str(), to.c_str());
                                         }
                                         bar.update(static_cast<double>(i) / static_cast<double>(n));
                                     });
        bar.update(1.0);
        bar.finish();
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
        return 0;
    });
}
