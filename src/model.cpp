// Model loading: pick the reader by content, bind the architecture, describe it.
#include <fmt/format.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <type_traits>
#include <variant>

#include "formats/open.hpp"
#include "src/arch/architectures.hpp"
#include "src/byte_stream.hpp"
#include "src/model_impl.hpp"

namespace nibble {

const char* to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::io: return "io";
        case ErrorCode::bad_format: return "bad_format";
        case ErrorCode::unsupported: return "unsupported";
        case ErrorCode::bad_model: return "bad_model";
        case ErrorCode::invalid_argument: return "invalid_argument";
        case ErrorCode::out_of_range: return "out_of_range";
        case ErrorCode::cancelled: return "cancelled";
    }
    return "unknown";
}

const char* version() noexcept { return "0.1.0"; }

namespace detail {

namespace {

// mlock every range the weights read: the tensors (mapped or copied) and the packed panels.
void lock_weights(ModelImpl& impl, const formats::TensorDirectory& dir) {
    auto lock = [&](const void* data, size_t size) {
        if (size == 0 || !impl.info.lock_error.empty()) return;
        if (::mlock(data, size) != 0) {
            impl.info.lock_error = fmt::format("mlock of {} bytes: {} (raise `ulimit -l` or run with CAP_IPC_LOCK)", size,
                                               std::strerror(errno));
        }
    };
    for (const auto& t : dir.tensors()) lock(t.data.data(), t.data.size());
    for (const auto& L : impl.weights.layers) {
        for (const Linear* l : L.linears()) lock(l->matrix.data, l->matrix.row_stride * l->matrix.rows);
    }
    lock(impl.weights.output.matrix.data, impl.weights.output.matrix.row_stride * impl.weights.output.matrix.rows);
    impl.info.locked = impl.info.lock_error.empty();
}

// Plans each matrix for one token and for a batch on the model's table: a type or panel
// layout the table cannot multiply is refused at load, not inside the parallel region.
void plan_every_product(const ModelImpl& impl, const std::string& file) {
    auto plan = [&](const kernels::MatrixView& m) {
        if (m.data == nullptr) return;
        try {
            (void)kernels::plan_matmul(*impl.table, m, 1);
            (void)kernels::plan_matmul(*impl.table, m, 2);
        } catch (const Error& e) {
            throw Error(e.code(), fmt::format("{}: {}", file, e.what()));
        }
    };
    for (const auto& L : impl.weights.layers) {
        for (const Linear* l : L.linears()) plan(l->matrix);
    }
    plan(impl.weights.output.matrix);
}

}  // namespace

std::shared_ptr<const ModelImpl> ModelImpl::create(std::shared_ptr<formats::TensorDirectory> dir,
                                                   const kernels::KernelTable& table, bool lock) {
    auto impl = std::make_shared<ModelImpl>();
    const auto arch_name = dir->metadata.get_string("general.architecture");
    if (!arch_name) throw Error(ErrorCode::bad_model, fmt::format("{}: no general.architecture key", dir->file_name()));
    const Architecture* arch = find_architecture(*arch_name);
    if (arch == nullptr) {
        throw Error(ErrorCode::unsupported, fmt::format("{}: architecture '{}' is not supported", dir->file_name(), *arch_name));
    }
    arch->bind(*dir, impl->config, impl->weights);
    impl->identity = compute_identity(*dir);  // before packing rearranges bytes
    impl->table = &table;
    pack_weights(*impl, *dir, table);
    auto count_matrix = [&](const kernels::MatrixView& m) {
        const size_t bytes = m.row_stride * m.rows;
        impl->matrix_bytes += bytes;
        if (m.panel_rows > 0) impl->info.packed_bytes += bytes;
    };
    for (const auto& L : impl->weights.layers) {
        for (const Linear* l : L.linears()) count_matrix(l->matrix);
    }
    count_matrix(impl->weights.output.matrix);
    impl->tokenizer = make_tokenizer(dir->metadata, dir->file_name());
    const size_t vocab = impl->tokenizer.vocab_size();
    if (vocab != 0 && vocab != impl->config.n_vocab) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: the tokenizer has {} tokens but token_embd.weight has {} rows",
                                                      dir->file_name(), vocab, impl->config.n_vocab));
    }

    ModelInfo& info = impl->info;
    const ModelConfig& c = impl->config;
    info.container = dir->container;
    info.container_version = dir->version;
    info.architecture = *arch_name;
    info.name = dir->metadata.get_string("general.name").value_or("");
    info.chat_template = dir->metadata.get_string("tokenizer.chat_template").value_or("");
    info.n_vocab = c.n_vocab;
    info.n_embd = c.n_embd;
    info.n_layer = c.n_layer;
    info.n_head = c.n_head;
    info.n_head_kv = c.n_head_kv;
    info.n_ff = c.n_ff;
    info.n_rot = c.n_rot;
    info.context_length = c.n_ctx_train;
    info.rope_freq_base = c.rope_base;
    info.norm_eps = c.norm_eps;
    info.tied_output = impl->weights.output.matrix.data == impl->weights.token_embd.data;
    info.norm = c.norm == detail::NormKind::rms ? "RMSNorm" : "LayerNorm";
    info.rope_mode = c.rope == detail::RopeMode::adjacent_pairs ? "adjacent pairs"
                     : c.rope == detail::RopeMode::half_split   ? "half split"
                                                                : "none";
    info.parallel_residual = c.parallel_residual;
    info.alibi_max_bias = c.alibi_max_bias;
    info.clamp_kqv = c.clamp_kqv;
    if (*arch_name == "falcon") {
        info.variant = impl->weights.layers.front().attn_norm_2.weight ? "40B style (attn_norm_2 feeds attention)"
                                                                        : "7B style (one norm)";
    }
    info.file_bytes = dir->file ? dir->file->size() : 0;
    info.resident_copies = dir->owned_bytes();
    info.kernels = table.isa;
    plan_every_product(*impl, dir->file_name());
    std::map<std::string, size_t> counts;
    for (const auto& t : dir->tensors()) {
        info.weight_bytes += t.data.size();
        ++counts[tensor_type_name(t.type_id)];
    }
    info.tensor_types.assign(counts.begin(), counts.end());
    if (lock) lock_weights(*impl, *dir);
    impl->directory = std::move(dir);
    return impl;
}

uint64_t ModelImpl::compute_identity(const formats::TensorDirectory& dir) {
    uint64_t h = fnv1a(dir.container.data(), dir.container.size());
    auto mix = [&h](const void* p, size_t n) { h = fnv1a(p, n, h); };
    for (const auto& [key, value] : dir.metadata.entries()) {
        mix(key.data(), key.size());
        std::visit(
            [&](const auto& v) {
                using V = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<V, std::string>) {
                    mix(v.data(), v.size());
                } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
                    for (const auto& text : v) mix(text.data(), text.size() + 1);
                } else if constexpr (std::is_arithmetic_v<V>) {
                    mix(&v, sizeof v);
                } else {
                    mix(v.data(), v.size() * sizeof(v[0]));
                }
            },
            value.value);
    }
    for (const auto& t : dir.tensors()) {
        mix(t.name.data(), t.name.size() + 1);
        mix(&t.type_id, sizeof t.type_id);
        mix(t.ne.data(), sizeof t.ne);
        mix(t.data.data(), std::min<size_t>(t.data.size(), 4096));
    }
    return h;
}

}  // namespace detail

namespace {

std::shared_ptr<formats::TensorDirectory> read_any(std::shared_ptr<const formats::MappedFile> file,
                                                         const LoadOptions& options) {
    return formats::read_model_file(std::move(file), options.tokenizer_path);
}

// Reads every tensor's pages in, reporting the fraction of bytes done (from `from` to
// `to`) about every 1 %; throws cancelled when the callback says stop.
void read_in_with_progress(const formats::TensorDirectory& dir, const std::function<bool(float)>& progress, float from,
                           float to) {
    uint64_t total = 0, done = 0;
    for (const auto& t : dir.tensors()) total += t.data.size();
    const uint64_t step = std::max<uint64_t>(total / 100, 64 << 10);
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    uint64_t next_report = 0;
    auto report = [&](float fraction) {
        if (!progress(fraction)) throw Error(ErrorCode::cancelled, fmt::format("{}: loading cancelled", dir.file_name()));
    };
    for (const auto& t : dir.tensors()) {
        for (size_t at = 0; at < t.data.size(); at += step) {
            const size_t n = std::min<size_t>(step, t.data.size() - at);
            const auto begin = reinterpret_cast<uintptr_t>(t.data.data() + at) & ~(page - 1);
            const auto end = reinterpret_cast<uintptr_t>(t.data.data() + at + n);
            madvise(reinterpret_cast<void*>(begin), end - begin, MADV_WILLNEED);  // a hint: errors do not matter
            unsigned char sum = 0;
            for (uintptr_t p = begin < reinterpret_cast<uintptr_t>(t.data.data()) ? begin + page : begin; p < end; p += page) {
                sum = static_cast<unsigned char>(sum + *reinterpret_cast<const volatile unsigned char*>(p));
            }
            asm volatile("" : : "r"(sum));
            done += n;
            if (done >= next_report) {
                report(from + (to - from) * static_cast<float>(static_cast<double>(done) / static_cast<double>(total)));
                next_report = done + step;
            }
        }
    }
}

}  // namespace

Model Model::load(const std::string& path, const LoadOptions& options) {
    return detail::translate_allocation_failure(path, [&] {
        Model model;
        auto step = [&](float fraction) {
            if (options.progress && !options.progress(fraction)) {
                throw Error(ErrorCode::cancelled, fmt::format("{}: loading cancelled", path));
            }
        };
        step(0.0f);
        // No other reference to the file: a copy read without mmap is then the model's
        // alone, and its matrices are packed in place (TensorDirectory::exclusive_bytes).
        auto dir = read_any(formats::MappedFile::open(path, options.use_mmap), options);
        step(0.05f);
        if (options.progress) read_in_with_progress(*dir, options.progress, 0.05f, 0.9f);
        const kernels::KernelTable& table =
            options.isa.empty() ? kernels::active_kernels() : kernels::find_kernels(options.isa, "LoadOptions::isa ");
        model.impl_ = detail::ModelImpl::create(std::move(dir), table, options.use_mlock);  // binding and repacking: the last 10 %
        // The file shrank while its weights were read or repacked.
        if (model.impl_->directory->file) model.impl_->directory->file->check_intact();
        step(1.0f);
        return model;
    });
}

Model Model::load_from_memory(std::span<const std::byte> bytes, const std::string& name) {
    return detail::translate_allocation_failure(name, [&] {
        Model model;
        model.impl_ = detail::ModelImpl::create(read_any(formats::MappedFile::borrow(bytes, name), {}), kernels::active_kernels());
        return model;
    });
}

FileInfo probe(const std::string& path) {
    return detail::translate_allocation_failure(path, [&] {
    const auto file = formats::MappedFile::open(path);
    const auto dir = formats::read_model_file(file);
    file->check_intact();
    FileInfo info;
    info.container = dir->container;
    info.container_version = dir->version;
    info.architecture = dir->metadata.get_string("general.architecture").value_or("");
    info.tensor_count = dir->tensors().size();
    std::map<std::string, size_t> counts;
    for (const auto& t : dir->tensors()) ++counts[tensor_type_name(t.type_id)];
    info.tensor_types.assign(counts.begin(), counts.end());
    if (const auto* tokens = dir->metadata.get_strings("tokenizer.ggml.tokens")) info.vocab_size = tokens->size();
    info.file_bytes = dir->file ? dir->file->size() : 0;
    info.converted_bytes = dir->owned_bytes();
    return info;
    });
}

Tokenizer Tokenizer::load(const std::string& path) {
    return detail::translate_allocation_failure(path, [&] {
        const auto file = formats::MappedFile::open(path);
        const auto dir = read_any(file, {});
        Tokenizer t = detail::ModelImpl::make_tokenizer(dir->metadata, path);
        file->check_intact();
        if (t.vocab_size() == 0) throw Error(ErrorCode::bad_model, fmt::format("{}: the file has no tokenizer", path));
        return t;
    });
}

// A default-constructed Model is empty: empty facts, a tokenizer whose use is an Error.
const ModelInfo& Model::info() const noexcept {
    static const ModelInfo none;
    return impl_ ? impl_->info : none;
}
const Tokenizer& Model::tokenizer() const noexcept {
    static const Tokenizer none;
    return impl_ ? impl_->tokenizer : none;
}

}  // namespace nibble
