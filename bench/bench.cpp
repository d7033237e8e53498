// nibble-bench: end-to-end prompt-processing and generation speed, with llama-bench's
// flags and output, the memory bandwidth reached against the machine's own, and peak
// memory. Models come from files (-m) or are synthesized (--synthetic SHAPE:TYPE).
#include <fmt/format.h>

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
#include "formats/open.hpp"
#include "formats/tensor_directory.hpp"
#include "kernels/kernels.hpp"
#include "nibble/nibble.hpp"

namespace {

using namespace nibble;

struct Options {
    std::vector<std::string> models, synthetic;
    std::string synthetic_dir;
    std::vector<int> prompts{512}, gens{128}, threads{physical_core_count()};
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
    int threads, n_prompt, n_gen, batch;
    std::vector<double> samples_ns;
    std::vector<double> probe_samples_bps;  ///< the probe taken right before each repetition
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
};

std::vector<int> int_list(const std::string& flag, const std::string& text) {
    std::vector<int> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        size_t used = 0;
        int v = -1;
        try {
            v = std::stoi(item, &used);
        } catch (const std::exception&) {
        }
        if (used != item.size() || v < 0) throw std::invalid_argument(flag + ": '" + item + "' is not a count");
        out.push_back(v);
    }
    if (out.empty()) throw std::invalid_argument(flag + " needs a value");
    return out;
}

std::vector<std::string> string_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
}

void usage() {
    std::puts(
        "usage: nibble-bench [-m MODEL[,MODEL]] [--synthetic SHAPE:TYPE[,..]] [options]\n"
        "  -m FILE              model file (GGUF, ggjt, ...); lists allowed\n"
        "  --synthetic SPEC     random-weight model: tinyllama-1.1b:q4_0, llama-7b:q4_2,\n"
        "                       custom/e=2048/l=22/h=32/kv=4/ff=5632/v=32000:q8_0 ...\n"
        "  --synthetic-dir DIR  keep synthetic files there (reused when present)\n"
        "  -p N[,N]             prompt tokens (pp test), default 512; 0 skips\n"
        "  -n N[,N]             generated tokens (tg test), default 128; 0 skips\n"
        "  -t N[,N]             threads, default: physical cores\n"
        "  -b N                 prompt batch size, default 512\n"
        "  -r N                 repetitions, default 5\n"
        "  -o md|json           output format, default md\n"
        "  --probe-mib N        bandwidth probe size, default 1024; 0 disables it. The probe\n"
        "                       runs right before every generation repetition, and each\n"
        "                       repetition is compared with its own probe (median reported)");
}

Options parse(int argc, char** argv) {
    Options o;
    cli::Args args(argc, argv);
    while (!args.done()) {
        const std::string flag(args.next());
        if (flag == "-m") {
            for (auto& m : string_list(args.value(flag))) o.models.push_back(m);
        } else if (flag == "--synthetic") {
            for (auto& s : string_list(args.value(flag))) o.synthetic.push_back(s);
        } else if (flag == "--synthetic-dir") {
            o.synthetic_dir = args.value(flag);
        } else if (flag == "-p") {
            o.prompts = int_list(flag, args.value(flag));
        } else if (flag == "-n") {
            o.gens = int_list(flag, args.value(flag));
        } else if (flag == "-t") {
            o.threads = int_list(flag, args.value(flag));
        } else if (flag == "-b") {
            o.batch = args.int_value(flag);
        } else if (flag == "-r") {
            o.repeats = args.int_value(flag);
        } else if (flag == "-o") {
            o.output = args.value(flag);
        } else if (flag == "--probe-mib") {
            o.probe_mib = static_cast<size_t>(args.long_value(flag));
        } else if (flag == "-h" || flag == "--help") {
            usage();
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown flag " + flag + " (see --help)");
        }
    }
    if (o.models.empty() && o.synthetic.empty()) throw std::invalid_argument("give a model with -m or --synthetic");
    if (o.output != "md" && o.output != "json") throw std::invalid_argument("-o: md or json");
    if (o.repeats < 1 || o.batch < 1) throw std::invalid_argument("-r and -b must be at least 1");
    for (int t : o.threads) {
        if (t < 1) throw std::invalid_argument("-t: at least 1 thread");
    }
    o.probe = o.probe_mib > 0;
    return o;
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

double run_once(Session& session, const std::vector<Token>& prompt, int n_gen, std::mt19937& rng) {
    session.reset();
    const uint32_t vocab = session.model().info().n_vocab;
    const auto start = std::chrono::steady_clock::now();
    if (!prompt.empty()) session.eval(prompt);
    for (int i = 0; i < n_gen; ++i) {
        const Token next = random_tokens(1, vocab, rng)[0];
        session.eval(std::span(&next, 1));
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

Record measure(const Options& o, const Model& model, const ModelFacts& facts, int threads, int n_prompt, int n_gen) {
    Record rec{&facts, threads, n_prompt, n_gen, o.batch, {}, {}};
    SessionOptions so;
    so.threads = so.batch_threads = threads;
    so.context_length = static_cast<uint32_t>(std::max(n_prompt + n_gen, 16));
    so.batch_size = n_prompt > 0 ? static_cast<uint32_t>(std::min(o.batch, n_prompt)) : 1;
    std::mt19937 rng(1234);
    bool peak_known = bench::reset_peak_rss();
    {
        Session session(model, so);
        const auto prompt = random_tokens(static_cast<size_t>(n_prompt), model.info().n_vocab, rng);
        run_once(session, std::vector<Token>(prompt.begin(), prompt.begin() + std::min<ptrdiff_t>(n_prompt, 8)),
                 n_gen > 0 ? 1 : 0, rng);  // warm-up: weights paged in, threads started
        for (int r = 0; r < o.repeats; ++r) {
            if (o.probe && n_gen > 0) {
                rec.probe_samples_bps.push_back(bench::probe_read_bandwidth(o.probe_mib << 20, threads, 3));
                // The probe's buffer is gone again; the peak from here on is the test's.
                peak_known = bench::reset_peak_rss() && peak_known;
            }
            rec.samples_ns.push_back(run_once(session, prompt, n_gen, rng));
            if (peak_known) rec.peak_rss = std::max(rec.peak_rss, static_cast<double>(bench::peak_rss_bytes()));
        }
        const ModelInfo& info = model.info();
        rec.kv_bytes = 2.0 * info.n_layer * so.context_length * (info.n_embd / info.n_head * info.n_head_kv) * sizeof(float);
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

void print_json(const std::vector<Record>& records) {
    std::printf("[\n");
    for (size_t i = 0; i < records.size(); ++i) {
        const Record& r = records[i];
        const auto [avg, sd] = r.stats();
        const auto [avg_ns, sd_ns] = mean_and_stddev(r.samples_ns);
        const std::vector<double> ts = r.samples_ts();
        std::printf(
            "  {\n    \"build_commit\": \"%s\",\n    \"cpu_info\": \"%s\",\n    \"backends\": \"CPU\",\n    \"isa\": \"%s\",\n"
            "    \"model_filename\": \"%s\",\n    \"model_type\": \"%s\",\n    \"model_size\": %llu,\n    \"model_n_params\": %llu,\n"
            "    \"weight_type\": \"%s\",\n    \"n_batch\": %d,\n    \"n_ubatch\": %d,\n    \"n_threads\": %d,\n"
            "    \"n_prompt\": %d,\n    \"n_gen\": %d,\n    \"test_time\": \"%s\",\n    \"avg_ns\": %.0f,\n    \"stddev_ns\": %.0f,\n"
            "    \"avg_ts\": %.6f,\n    \"stddev_ts\": %.6f,\n    \"samples_ns\": [%s],\n    \"samples_ts\": [%s],\n"
            "    \"bytes_per_token\": %llu,\n    \"bandwidth_gbs\": %.3f,\n    \"probe_gbs\": %.3f,\n    \"probe_samples_gbs\": [%s],\n"
            "    \"bandwidth_fraction\": %.4f,\n"
            "    \"peak_rss_bytes\": %.0f,\n    \"kv_cache_bytes\": %.0f,\n    \"peak_rss_over_file_and_kv\": %.4f\n  }%s\n",
            version(), bench::cpu_name().c_str(), kernels::active_kernels().isa, r.model->path.c_str(), r.model->label.c_str(),
            static_cast<unsigned long long>(r.model->size), static_cast<unsigned long long>(r.model->params), r.model->type.c_str(),
            r.batch, r.batch, r.threads, r.n_prompt, r.n_gen, iso_time().c_str(), avg_ns, sd_ns, avg, sd,
            fmt::format("{:.0f}", fmt::join(r.samples_ns, ", ")).c_str(), fmt::format("{:.4f}", fmt::join(ts, ", ")).c_str(),
            static_cast<unsigned long long>(r.model->bytes_per_token), r.bandwidth() / 1e9, r.probe_bps() / 1e9,
            fmt::format("{:.3f}", fmt::join(probe_gbs(r), ", ")).c_str(), r.bandwidth_fraction(), r.peak_rss, r.kv_bytes,
            r.peak_rss > 0 ? r.peak_rss / (static_cast<double>(r.model->size) + r.kv_bytes) - 1.0 : 0.0,
            i + 1 < records.size() ? "," : "");
    }
    std::printf("]\n");
}

void print_md_header() {
    std::printf("| model | size | params | backend | threads | test | t/s | GB/s | probe GB/s | of probe | peak RSS over file+KV |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
}

void print_md_row(const Record& r) {
    const auto [avg, sd] = r.stats();
    const std::string test = r.n_gen == 0 ? fmt::format("pp{}", r.n_prompt)
                             : r.n_prompt == 0 ? fmt::format("tg{}", r.n_gen)
                                               : fmt::format("pp{}+tg{}", r.n_prompt, r.n_gen);
    const bool tg = r.n_prompt == 0;
    std::printf("| %s | %.2f MiB | %.2f B | CPU (%s) | %d | %s | %.2f ± %.2f | %s | %s | %s | %s |\n", r.model->label.c_str(),
                static_cast<double>(r.model->size) / (1 << 20), static_cast<double>(r.model->params) / 1e9,
                kernels::active_kernels().isa, r.threads, test.c_str(), avg, sd,
                tg ? fmt::format("{:.2f}", r.bandwidth() / 1e9).c_str() : "",
                tg && r.probe_bps() > 0 ? fmt::format("{:.2f}", r.probe_bps() / 1e9).c_str() : "",
                tg && r.probe_bps() > 0 ? fmt::format("{:.1f} %", 100 * r.bandwidth_fraction()).c_str() : "",
                r.peak_rss > 0 ? fmt::format("{:+.1f} %", 100 * (r.peak_rss / (static_cast<double>(r.model->size) + r.kv_bytes) - 1)).c_str() : "");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Options o = parse(argc, argv);
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
                for (int n : o.gens) {
                    if (n == 0) continue;
                    records.push_back(measure(o, model, f, threads, 0, n));
                    if (o.output == "md") print_md_row(records.back());
                }
                for (int p : o.prompts) {
                    if (p == 0) continue;
                    records.push_back(measure(o, model, f, threads, p, 0));
                    if (o.output == "md") print_md_row(records.back());
                }
            }
        }
        for (const auto& t : temporary) std::filesystem::remove(t);
        if (o.output == "json") print_json(records);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nibble-bench: %s\n", e.what());
        return 1;
    }
}
