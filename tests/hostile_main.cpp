// Runs the hostile corpus (tests/hostile/make_corpus.py) through the loader: every
// file must make Model::load throw a nibble::Error whose message contains the text
// the manifest expects, probe() must end in an Error or a result, nothing may crash
// (each case runs in a child process), and in builds without sanitizers the peak
// memory of each must stay within the bound of docs/reliability.md.
//   nibble-hostile CORPUS_DIR
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nibble/nibble.hpp"
#include "test_support.hpp"

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool contains_any(const std::string& message, const std::string& alternatives) {
    std::stringstream in(alternatives);
    std::string one;
    while (std::getline(in, one, '|')) {
        if (lower(message).find(lower(one)) != std::string::npos) return true;
    }
    return false;
}

// docs/reliability.md: loading a file of S bytes grows the resident set by at most
// 3 S + 256 MiB (the mapping, the repacked weights, converted legacy blocks, bounded
// metadata and tokenizer).
uint64_t load_bound(uint64_t size) { return 3 * size + (uint64_t{256} << 20); }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nibble-hostile CORPUS_DIR\n");
        return 2;
    }
    namespace fs = std::filesystem;
    using nibble::test::ChildRun;
    const fs::path dir = argv[1];
    std::ifstream manifest(dir / "manifest.tsv");
    if (!manifest) {
        std::fprintf(stderr, "nibble-hostile: no %s\n", (dir / "manifest.tsv").c_str());
        return 1;
    }
    const bool measure = !nibble::test::sanitized_build();
    size_t total = 0, failed = 0;
    double worst_ratio = 0;  // among files of 1 MiB or more
    uint64_t largest = 0;
    std::string worst;
    std::string line;
    while (std::getline(manifest, line)) {
        std::stringstream fields(line);
        std::string file, expected, tokenizer, what;
        std::getline(fields, file, '\t');
        std::getline(fields, expected, '\t');
        std::getline(fields, tokenizer, '\t');
        std::getline(fields, what, '\t');
        const std::string path = file.starts_with("@") ? file.substr(1) : (dir / file).string();
        nibble::LoadOptions options;
        if (tokenizer != "-") options.tokenizer_path = (dir / tokenizer).string();
        const uint64_t size = fs::file_size(path) + (tokenizer != "-" ? fs::file_size(options.tokenizer_path) : 0);
        ++total;
        // One child per file: probe (an Error or a result are both fine), then load.
        const ChildRun loaded = nibble::test::run_in_child([&] {
            try {
                (void)nibble::probe(path);
            } catch (const nibble::Error&) {
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string("probe: ") + e.what());
            }
            (void)nibble::Model::load(path, options);
        });
        std::string problem;
        if (loaded.outcome == ChildRun::Outcome::crashed) problem = "probe or load crashed (signal " + std::to_string(loaded.signal) + ")";
        else if (loaded.outcome == ChildRun::Outcome::other_exception) problem = "load threw a non-nibble exception: " + loaded.message;
        else if (loaded.outcome == ChildRun::Outcome::returned) problem = "loaded without an error";
        else if (!contains_any(loaded.message, expected)) problem = "the error does not name the problem (expected '" + expected + "')";
        const uint64_t peak = loaded.peak_growth;
        if (problem.empty() && measure && peak > load_bound(size)) {
            problem = "peak memory " + std::to_string(peak) + " bytes exceeds the bound " + std::to_string(load_bound(size));
        }
        const double ratio = static_cast<double>(peak) / static_cast<double>(std::max<uint64_t>(size, 1));
        largest = std::max(largest, peak);
        if (size >= (uint64_t{1} << 20) && ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = file;
        }
        if (!problem.empty()) {
            ++failed;
            std::printf("FAIL %s (%s): %s\n     load: %s\n", file.c_str(), what.c_str(), problem.c_str(), loaded.message.c_str());
        }
    }
    std::printf("nibble-hostile: %zu files, %zu failed%s", total, failed, measure ? "" : " (memory not measured: sanitizer build)");
    if (measure) {
        std::printf("; largest peak growth %.1f MiB; largest for a file of 1 MiB or more %.2fx its size (%s)",
                    static_cast<double>(largest) / (1 << 20), worst_ratio, worst.c_str());
    }
    std::printf("\n");
    return failed == 0 && total >= 200 ? 0 : 1;
}
