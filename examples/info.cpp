// nibble-info: describe a model file without evaluating it, or say why it cannot load.
#include <cstdio>
#include <iostream>

#include <nibble/nibble.hpp>

#include "cli.hpp"

int main(int argc, char** argv) {
    const std::string program = "nibble-info";
    CLI::App app("Describes a model file without evaluating it, or says why it cannot load (exit 1).");
    nibble::cli::setup(app, program);
    std::string path;
    bool no_mmap = false, mlock = false;
    uint32_t context = 0;
    nibble::cli::CacheTypes cache;
    app.add_option("MODEL", path, "GGUF, 2023 .bin or llama2.c file")->required()->check(nibble::cli::regular_file());
    nibble::cli::add_context(app, context, "context the KV cache line is for (0 = the model's training context, at most 4096)");
    nibble::cli::add_cache_types(app, cache);
    nibble::cli::add_load_flags(app, no_mmap, mlock);
    if (auto rc = nibble::cli::parse(app, argc, argv)) return *rc;
    return nibble::cli::run(program, [&]() -> int {
        const auto file = nibble::probe(path);
        if (file.tensor_count == 0) {  // vocabulary-only files are valid, just not models
            std::printf("file:            %s\ncontainer:       %s v%u\nvocab-only file: %zu tokens, no tensors\n", path.c_str(),
                        file.container.c_str(), file.container_version, file.vocab_size);
            return 0;
        }
        const auto model = nibble::cli::load_model(path, no_mmap, mlock);
        const auto& i = model.info();
        const double mib = 1024.0 * 1024.0;
        std::printf("file:            %s\n", path.c_str());
        std::printf("container:       %s v%u\n", i.container.c_str(), i.container_version);
        std::printf("architecture:    %s\n", i.architecture.c_str());
        if (!i.name.empty()) std::printf("name:            %s\n", i.name.c_str());
        std::printf("vocabulary:      %u (%s tokenizer)\n", i.n_vocab, std::string(model.tokenizer().kind()).c_str());
        std::printf("embedding:       %u\n", i.n_embd);
        std::printf("layers:          %u\n", i.n_layer);
        std::printf("heads:           %u (KV heads %u, head size %u)\n", i.n_head, i.n_head_kv, i.n_embd / i.n_head);
        std::printf("feed-forward:    %u\n", i.n_ff);
        if (!i.variant.empty()) std::printf("variant:         %s\n", i.variant.c_str());
        if (i.rope_mode == "none") {
            std::printf("positions:       no rotary\n");
        } else {
            std::printf("rotary:          %u of %u dims per head, %s, base %g\n", i.n_rot, i.n_embd / i.n_head,
                        i.rope_mode.c_str(), static_cast<double>(i.rope_freq_base));
        }
        if (i.alibi_max_bias > 0) std::printf("ALiBi:           max bias %g\n", static_cast<double>(i.alibi_max_bias));
        if (i.clamp_kqv > 0) std::printf("qkv clamp:       %g\n", static_cast<double>(i.clamp_kqv));
        std::printf("norm:            %s, epsilon %g\n", i.norm.c_str(), static_cast<double>(i.norm_eps));
        std::printf("residual:        %s\n", i.parallel_residual ? "parallel (attention and MLP read the same input)"
                                                                 : "sequential");
        std::printf("context (train): %u\n", i.context_length);
        std::printf("output:          %s\n", i.tied_output ? "tied to the token embedding" : "separate matrix");
        std::printf("tensors:        ");
        for (const auto& [type, count] : i.tensor_types) std::printf(" %s x%zu", type.c_str(), count);
        std::printf("\n");
        std::printf("file size:       %.2f MiB\n", static_cast<double>(i.file_bytes) / mib);
        std::printf("weights:         %.2f MiB (memory-mapped)\n", static_cast<double>(i.weight_bytes) / mib);
        std::printf("resident copies: %.2f MiB%s\n", static_cast<double>(i.resident_copies) / mib,
                    i.resident_copies ? " (old block encodings or unaligned data, converted once on loading)" : "");
        std::printf("kernels:         %s, %.2f MiB of matrices repacked into its panel layout on loading\n",
                    i.kernels.c_str(), static_cast<double>(i.packed_bytes) / mib);
        // The context a Session would take for -c 0 (SessionOptions::context_length).
        const uint32_t ctx = context != 0 ? context : i.context_length != 0 ? std::min<uint32_t>(i.context_length, 4096) : 2048;
        nibble::SessionOptions types;
        cache.apply(types);
        const auto kv = static_cast<double>(nibble::kv_cache_bytes(model, ctx, types.kv_type_k, types.kv_type_v));
        std::printf("KV cache:        %.2f MiB at context %u (keys %s, values %s)\n", kv / mib, ctx, cache.k.c_str(),
                    cache.v.c_str());
        std::printf("memory needed:   %.2f MiB (weights + copies + KV cache)\n",
                    (static_cast<double>(i.weight_bytes + i.resident_copies) + kv) / mib);
        return 0;
    });
}
