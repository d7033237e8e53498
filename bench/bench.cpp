// nibble-bench: end-to-end prompt-processing and generation speed, with llama-bench's
// flags and output, the memory bandwidth reached against the machine's own, and peak
// memory. Models come from files (-m) or are synthesized (--synthetic SHAPE:TYPE).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "bench/synthetic.hpp"
#include "bench/system_probe.hpp"
#include "examples/cli.hpp"
#include "nibble_build_info.hpp"
#include "formats/open.hpp"
#include "formats/tensor_directory.hpp"
#include "kernels/kernels.hpp"
#include "nibble/nibble.hpp"
#include "src/quant_mix.hpp"

namespace {

using namespace nibble;

struct Options {
    std::vector<std::string> models, synthetic;
    std::string synthetic_dir;
    std::vector<int> prompts{512}, gens{128}, threads{physical_core_count()}, depths{0};
    std::vector<std::string> types_k{"f16"}, types_v{"f16"};
    int repeats = 5, batch = 512;
    std::string output = "md";
    size_t probe_mib = 1024;
    bool probe = true;
};

struct ModelFacts {
    std::string path, label, type;
    uint64_t size = 0, params = 0, bytes_per_token = 0;
};

// Mean and sample standard deviation.
double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::pair<double, double> mean_and_stddev(const std::vector<double>& v) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    return {mean, v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0};
}

struct Record {
    const ModelFacts* model;
    int threads, n_prompt, n_gen, batch, n_depth;
    KvType type_k, type_v;
    std::vector<double> samples_ns;
    std::vector<double> probe_samples_bps;  ///< the probe taken right before each repetition
    std::vector<std::string> probe_kernels;  ///< the read kernel that set each sample
    double peak_rss = 0, kv_bytes = 0;
    std::vector<double> samples_ts() const {
        std::vector<double> ts;
        for (double ns : samples_ns) ts.push_back((n_prompt + n_gen) * 1e9 / ns);
        return ts;
    }
    std::pair<double, double> stats() const { return mean_and_stddev(samples_ts()); }  // tokens/s
    double avg_ts() const { return stats().first; }
    double bandwidth() const { return n_gen > 0 ? avg_ts() * static_cast<double>(model->bytes_per_token) : 0.0; }
    double probe_bps() const { return median(probe_samples_bps); }
    // Each repetition against the probe taken just before it, then the median: the
    // machine's bandwidth drifts within minutes, less within seconds.
    double bandwidth_fraction() const {
        if (n_gen == 0 || probe_samples_bps.size() != samples_ns.size()) return 0.0;
        std::vector<double> fractions;
        for (size_t r = 0; r < samples_ns.size(); ++r) {
            const double bps = static_cast<double>(n_gen) * static_cast<double>(model->bytes_per_token) * 1e9 / samples_ns[r];
            fractions.push_back(bps / probe_samples_bps[r]);
        }
        return median(fractions);
    }
    // The fastest repetition against the best probe sample: noise only slows either, so
    // this is what the self-check "generation never beats the ceiling" compares.
    double best_bandwidth_fraction() const {
        if (n_gen == 0 || probe_samples_bps.empty() || samples_ns.empty()) return 0.0;
        const double fastest_ns = *std::min_element(samples_ns.begin(), samples_ns.end());
        const double bps = static_cast<double>(n_gen) * static_cast<double>(model->bytes_per_token) * 1e9 / fastest_ns;
        return bps / *std::max_element(probe_samples_bps.begin(), probe_samples_bps.end());
    }
    std::string best_probe_kernel() const {
        if (probe_samples_bps.empty()) return "";
        return probe_kernels[static_cast<size_t>(std::max_element(probe_samples_bps.begin(), probe_samples_bps.end()) - probe_samples_bps.begin())];
    }
};

/// Parses the command line; returns an exit code when the program should stop here.
std::optional<int> parse(int argc, char** argv, Options& o) {
    CLI::App app("End-to-end prompt-processing (pp) and generation (tg) speed, with llama-bench's flags and records, "
                 "the memory bandwidth reached against the machine's own, and peak memory.");
    cli::setup(app, "nibble-bench");
    app.add_option("-m,--model", o.models, "model files (GGUF, ggjt, ...), comma-separated")
        ->delimiter(',')
        ->check(cli::regular_file())
        ->default_str("");
    app.add_option("--synthetic", o.synthetic, "random-weight models: tinyllama-1.1b:q4_0, llama-7b:q4_2, "
                                               "custom/e=2048/l=22/h=32/kv=4/ff=5632/v=32000:q8_0 ...")
        ->delimiter(',')
        ->default_str("");
    app.add_option("--synthetic-dir", o.synthetic_dir, "keep synthetic files there (reused when present)");
    app.add_option("-p,--n-prompt", o.prompts, "prompt tokens of the pp tests; 0 skips")
        ->delimiter(',')
        ->check(CLI::Range(0, static_cast<int>(cli::max_context)));
    app.add_option("-n,--n-gen", o.gens, "generated tokens of the tg tests; 0 skips")
        ->delimiter(',')
        ->check(CLI::Range(0, static_cast<int>(cli::max_context)));
    app.add_option("-d,--n-depth", o.depths, "tokens already in the cache when each test starts (llama-bench's depth; "
                                             "filled once, untimed)")
        ->delimiter(',')
        ->check(CLI::Range(0, static_cast<int>(cli::max_context)));
    const auto cache_names = CLI::IsMember({"f32", "f16", "q8_0"});
    app.add_option("--cache-type-k", o.types_k, "KV cache types of the keys, also -ctk: f32, f16, q8_0")
        ->delimiter(',')
        ->check(cache_names);
    app.add_option("--cache-type-v", o.types_v, "KV cache types of the values, also -ctv: f32, f16, q8_0")
        ->delimiter(',')
        ->check(cache_names);
    app.add_option("-t,--threads", o.threads, "thread counts (default: physical cores)")
        ->delimiter(',')
        ->check(CLI::Range(1, cli::max_threads));
    app.add_option("-b,--batch-size", o.batch, "prompt batch size")->check(CLI::Range(1, static_cast<int>(cli::max_batch)));
    app.add_option("-r,--repetitions", o.repeats, "repetitions of each test")->check(CLI::Range(1, 1000));
    app.add_option("-o,--output", o.output, "output format")->check(CLI::IsMember({"md", "json"}));
    app.add_option("--probe-mib", o.probe_mib, "bandwidth probe size; 0 disables it. The probe runs right before every "
                                               "generation repetition, and each repetition is compared with its own "
                                               "probe (median reported)")
        ->check(CLI::Range(size_t{0}, size_t{1} << 20));
    if (auto rc = cli::parse(app, argc, argv)) return rc;
    if (o.models.empty() && o.synthetic.empty()) {
        std::cerr << "nibble-bench: give a model with -m or --synthetic (see --help)\n";
        return 2;
    }
    o.probe = o.probe_mib > 0;
    return std::nullopt;
}

ModelFacts describe(const std::string& path) {
    const auto dir = formats::read_model_file(formats::MappedFile::open(path));
    ModelFacts f;
    f.path = path;
    uint64_t embd_bytes = 0, embd_row = 0;
    bool output_present = false;
    std::map<std::string, uint64_t> bytes_by_type;
    for (const auto& t : dir->tensors()) {
        f.size += t.data.size();
        f.params += t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
        if (t.n_dims >= 2) bytes_by_type[tensor_type_name(t.type_id)] += t.data.size();
        if (t.name == "token_embd.weight") {
            embd_bytes = t.data.size();
            embd_row = t.ne[1] > 0 ? t.data.size() / t.ne[1] : 0;
        } else {
            f.bytes_per_token += t.data.size();
            if (t.name == "output.weight") output_present = true;
        }
    }
    // Generation reads every matrix once per token, but only one embedding row; a
    // tied output matrix is the embedding read whole.
    f.bytes_per_token += output_present ? embd_row : embd_bytes;
    f.type = std::max_element(bytes_by_type.begin(), bytes_by_type.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
    // A mix of types (llama-quantize's presets): named by its preset, as llama-bench names the file type.
    if (bytes_by_type.size() > 1) {
        if (const auto ft = dir->metadata.get_uint("general.file_type")) {
            if (const auto preset = detail::find_quant_preset_by_file_type(static_cast<uint32_t>(*ft))) f.type = preset->name;
        }
    }
    const std::string arch = dir->metadata.get_string("general.architecture").value_or("?");
    const double billions = static_cast<double>(f.params) / 1e9;
    f.label = billions >= 1 ? fmt::format("{} {:.1f}B {}", arch, billions, f.type)
                            : fmt::format("{} {:.1f}M {}", arch, billions * 1000, f.type);
    return f;
}

std::string synthesize(const std::string& text, const std::string& dir) {
    const bench::SyntheticSpec spec = bench::parse_synthetic_spec(text);
    std::string name = spec.label();
    std::replace(name.begin(), name.end(), '/', '_');
    std::replace(name.begin(), name.end(), ':', '-');
    std::replace(name.begin(), name.end(), ',', '_');
    std::erase(name, '=');
    const std::filesystem::path folder = dir.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(dir);
    std::filesystem::create_directories(folder);
    const std::string path = (folder / ("nibble-synthetic-" + name + ".gguf")).string();
    if (!dir.empty() && std::filesystem::exists(path)) return path;
    std::fprintf(stderr, "nibble-bench: writing %s (%.2f B parameters)...\n", path.c_str(),
                 static_cast<double>(bench::parameter_count(spec.shape)) / 1e9);
    bench::write_synthetic_model(spec, path);
    return path;
}

std::vector<Token> random_tokens(size_t n, uint32_t vocab, std::mt19937& rng) {
    std::uniform_int_distribution<uint32_t> pick(0, vocab - 1);
    std::vector<Token> out(n);
    for (auto& t : out) t = static_cast<Token>(pick(rng));
    return out;
}

// One repetition after `depth` tokens: the cache is filled with them the first time,
// later repetitions drop back to them (their rows stay as they were), untimed.
double run_once(Session& session, const std::vector<Token>& depth, const std::vector<Token>& prompt, int n_gen,
                std::mt19937& rng) {
    if (depth.empty() || session.position() < depth.size()) {
        session.reset();
        if (!depth.empty()) session.eval(depth);
    } else {
        session.truncate(static_cast<uint32_t>(depth.size()));
    }
    const uint32_t vocab = session.model().info().n_vocab;
    const auto start = std::chrono::steady_clock::now();
    if (!prompt.empty()) session.eval(prompt);
    for (int i = 0; i < n_gen; ++i) {
        const Token next = random_tokens(1, vocab, rng)[0];
        session.eval(std::span(&next, 1));
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

struct Test {
    int threads, n_prompt, n_gen, n_depth;
    KvType type_k, type_v;
};

Record measure(const Options& o, const Model& model, const ModelFacts& facts, const Test& t) {
    const int n_prompt = t.n_prompt, n_gen = t.n_gen;
    Record rec{&facts, t.threads, n_prompt, n_gen, o.batch, t.n_depth, t.type_k, t.type_v, {}, {}, {}};
    SessionOptions so;
    so.threads = so.batch_threads = t.threads;
    so.context_length = static_cast<uint32_t>(std::max(t.n_depth + n_prompt + n_gen, 16));
    // The depth is filled in prompt batches too.
    so.batch_size = static_cast<uint32_t>(std::max(1, std::min(o.batch, std::max(n_prompt, t.n_depth))));
    so.kv_type_k = t.type_k;
    so.kv_type_v = t.type_v;
    std::mt19937 rng(1234);
    bool peak_known = bench::reset_peak_rss();
    {
        Session session(model, so);
        const auto depth = random_tokens(static_cast<size_t>(t.n_depth), model.info().n_vocab, rng);
        const auto prompt = random_tokens(static_cast<size_t>(n_prompt), model.info().n_vocab, rng);
        run_once(session, depth, std::vector<Token>(prompt.begin(), prompt.begin() + std::min<ptrdiff_t>(n_prompt, 8)),
                 n_gen > 0 ? 1 : 0, rng);  // warm-up: weights paged in, threads started, the depth filled
        for (int r = 0; r < o.repeats; ++r) {
            if (o.probe && n_gen > 0) {
                const bench::ProbeResult probe = bench::probe_read_bandwidth(o.probe_mib << 20, t.threads, 2);
                rec.probe_samples_bps.push_back(probe.bytes_per_second);
                rec.probe_kernels.push_back(std::string(probe.kernel) + (probe.huge_pages ? ", 2 MiB pages" : ", 4 KiB pages"));
                // The probe's buffer is gone again; the peak from here on is the test's.
                peak_known = bench::reset_peak_rss() && peak_known;
            }
            rec.samples_ns.push_back(run_once(session, depth, prompt, n_gen, rng));
            if (peak_known) rec.peak_rss = std::max(rec.peak_rss, static_cast<double>(bench::peak_rss_bytes()));
        }
        rec.kv_bytes = static_cast<double>(kv_cache_bytes(model, so.context_length, so.kv_type_k, so.kv_type_v));
    }
    if (!peak_known) rec.peak_rss = 0.0;
    return rec;
}

std::string iso_time() {
    const std::time_t now = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return buf;
}

std::vector<double> probe_gbs(const Record& r) {
    std::vector<double> out;
    for (double bps : r.probe_samples_bps) out.push_back(bps / 1e9);
    return out;
}

// llama-bench's record (its field names and types), then nibble's own fields.
void print_json(const std::vector<Record>& records) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const Record& r : records) {
        const auto [avg, sd] = r.stats();
        const auto [avg_ns, sd_ns] = mean_and_stddev(r.samples_ns);
        std::vector<uint64_t> samples_ns;
        for (double ns : r.samples_ns) samples_ns.push_back(static_cast<uint64_t>(std::llround(ns)));
        nlohmann::ordered_json j;
        j["build_commit"] = NIBBLE_BUILD_COMMIT;
        j["build_number"] = NIBBLE_BUILD_NUMBER;
        j["cpu_info"] = bench::cpu_name();
        j["gpu_info"] = "";
        j["backends"] = "CPU";
        j["model_filename"] = r.model->path;
        j["model_type"] = r.model->label;
        j["model_size"] = r.model->size;
        j["model_n_params"] = r.model->params;
        j["n_batch"] = r.batch;
        j["n_ubatch"] = r.batch;
        j["n_threads"] = r.threads;
        j["type_k"] = kv_type_name(r.type_k);
        j["type_v"] = kv_type_name(r.type_v);
        j["use_mmap"] = true;
        j["n_prompt"] = r.n_prompt;
        j["n_gen"] = r.n_gen;
        j["n_depth"] = r.n_depth;
        j["test_time"] = iso_time();
        j["avg_ns"] = static_cast<uint64_t>(std::llround(avg_ns));
        j["stddev_ns"] = static_cast<uint64_t>(std::llround(sd_ns));
        j["avg_ts"] = avg;
        j["stddev_ts"] = sd;
        j["samples_ns"] = samples_ns;
        j["samples_ts"] = r.samples_ts();
        // nibble's own
        j["nibble_version"] = version();
        j["isa"] = kernels::active_kernels().isa;
        j["weight_type"] = r.model->type;
        j["bytes_per_token"] = r.model->bytes_per_token;
        j["bandwidth_gbs"] = r.bandwidth() / 1e9;
        j["probe_gbs"] = r.probe_bps() / 1e9;
        j["probe_samples_gbs"] = probe_gbs(r);
        j["bandwidth_fraction"] = r.bandwidth_fraction();
        j["best_bandwidth_fraction"] = r.best_bandwidth_fraction();
        j["probe_kernel"] = r.best_probe_kernel();
        j["peak_rss_bytes"] = static_cast<uint64_t>(r.peak_rss);
        j["kv_cache_bytes"] = static_cast<uint64_t>(r.kv_bytes);
        j["peak_rss_over_file_and_kv"] =
            r.peak_rss > 0 ? r.peak_rss / (static_cast<double>(r.model->size) + r.kv_bytes) - 1.0 : 0.0;
        out.push_back(std::move(j));
    }
    // Invalid UTF-8 in a path is replaced, not thrown on.
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

void print_md_header() {
    std::printf("| model | size | params | backend | threads | test | t/s | GB/s | probe GB/s | of probe | peak RSS over file+KV "
                "| KV cache |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
}

void print_md_row(const Record& r) {
    const auto [avg, sd] = r.stats();
    std::string test = r.n_gen == 0 ? fmt::format("pp{}", r.n_prompt)
                       : r.n_prompt == 0 ? fmt::format("tg{}", r.n_gen)
                                         : fmt::format("pp{}+tg{}", r.n_prompt, r.n_gen);
    if (r.n_depth > 0) test += fmt::format(" @ d{}", r.n_depth);  // llama-bench's name for a test at depth
    const bool tg = r.n_prompt == 0;
    std::printf("| %s | %.2f MiB | %.2f B | CPU (%s) | %d | %s | %.2f ± %.2f | %s | %s | %s | %s | %s/%s %.2f MiB |\n",
                r.model->label.c_str(),
                static_cast<double>(r.model->size) / (1 << 20), static_cast<double>(r.model->params) / 1e9,
                kernels::active_kernels().isa, r.threads, test.c_str(), avg, sd,
                tg ? fmt::format("{:.2f}", r.bandwidth() / 1e9).c_str() : "",
                tg && r.probe_bps() > 0 ? fmt::format("{:.2f}", r.probe_bps() / 1e9).c_str() : "",
                tg && r.probe_bps() > 0 ? fmt::format("{:.1f} %", 100 * r.bandwidth_fraction()).c_str() : "",
                r.peak_rss > 0 ? fmt::format("{:+.1f} %", 100 * (r.peak_rss / (static_cast<double>(r.model->size) + r.kv_bytes) - 1)).c_str() : "",
                std::string(kv_type_name(r.type_k)).c_str(), std::string(kv_type_name(r.type_v)).c_str(), r.kv_bytes / (1 << 20));
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (auto rc = parse(argc, argv, o)) return *rc;
    return cli::run("nibble-bench", [&]() -> int {
        std::vector<std::string> paths = o.models;
        std::vector<std::string> temporary;
        for (const auto& s : o.synthetic) {
            paths.push_back(synthesize(s, o.synthetic_dir));
            if (o.synthetic_dir.empty()) temporary.push_back(paths.back());
        }
        std::vector<ModelFacts> facts;
        for (const auto& p : paths) facts.push_back(describe(p));
        std::vector<Record> records;
        if (o.output == "md") print_md_header();
        for (const auto& f : facts) {
            for (int threads : o.threads) {
                // A fresh load per thread count, generation first: the peak memory of
                // generation is then that of a user who loads a model and generates,
                // not what an earlier prompt test left mapped.
                const Model model = Model::load(f.path);
                for (const auto& type_k : o.types_k) {
                    for (const auto& type_v : o.types_v) {
                        const KvType k = *parse_kv_type(type_k), v = *parse_kv_type(type_v);  // the flags checked the names
                        for (int depth : o.depths) {
                            for (int n : o.gens) {
                                if (n == 0) continue;
                                records.push_back(measure(o, model, f, {threads, 0, n, depth, k, v}));
                                if (o.output == "md") print_md_row(records.back());
                            }
                            for (int p : o.prompts) {
                                if (p == 0) continue;
                                records.push_back(measure(o, model, f, {threads, p, 0, depth, k, v}));
                                if (o.output == "md") print_md_row(records.back());
                            }
                        }
                    }
                }
            }
        }
        for (const auto& t : temporary) std::filesystem::remove(t);
        if (o.output == "json") print_json(records);
        return 0;
    });
}
