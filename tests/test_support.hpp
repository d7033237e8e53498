// Helpers shared by the tests: fixture paths, reading reference files, tolerances.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "nibble/nibble.hpp"

namespace nibble::test {

/// The fixtures folder (../shared/fixtures unless configured otherwise).
std::filesystem::path fixtures_dir();
/// Path of a file under the fixtures folder.
std::string fixture(const std::string& relative);
/// Path of a file under tests/data in the source tree.
std::string test_data(const std::string& relative);
/// The shipped default model (models/stories260K.gguf).
std::string default_model_path();
/// That model, loaded once for the whole test binary.
const nibble::Model& shipped_model();

std::vector<std::byte> read_file(const std::string& path);
std::string read_text(const std::string& path);
std::vector<float> read_f32(const std::string& path);
/// Whitespace-separated integers; lines starting with '#' are skipped.
std::vector<int32_t> read_ids(const std::string& path);

/// The tolerance classes of the fixtures README.
enum class Tolerance { exact, approximate_nonlinear, quantized, kquant };

struct Comparison {
    double max_abs = 0, mean_abs = 0, scale = 1;
    bool ok = false;
    std::string describe() const;
};
/// Compares logits to a reference within a tolerance class.
Comparison compare_logits(const std::vector<float>& ours, const std::vector<float>& ref, Tolerance tolerance);

/// Minimal extraction of a JSON array of strings ("key": ["..", ".."]).
std::vector<std::string> json_string_array(const std::string& json, const std::string& key);
std::vector<std::byte> from_hex(const std::string& hex);

/// What a function did in a child process (fork), and the memory it took there: the
/// growth of the child's peak resident set (VmHWM after /proc/self/clear_refs) while
/// it ran.
struct ChildRun {
    enum class Outcome { returned, error, other_exception, crashed } outcome = Outcome::crashed;
    std::string message;       ///< the Error's (or other exception's) message
    uint64_t peak_growth = 0;  ///< bytes
    int signal = 0;            ///< the signal that ended a crashed child
};
ChildRun run_in_child(const std::function<void()>& f);

/// True in builds with AddressSanitizer or ThreadSanitizer, whose shadow memory and
/// quarantine make resident-set figures meaningless.
bool sanitized_build();

/// A temporary directory removed at scope exit.
struct TempDir {
    TempDir();
    ~TempDir();
    std::filesystem::path path;
};

}  // namespace nibble::test
