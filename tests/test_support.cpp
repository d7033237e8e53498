#include "test_support.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "nibble/error.hpp"

namespace nibble::test {

std::filesystem::path fixtures_dir() { return NIBBLE_FIXTURES_DIR; }
std::string fixture(const std::string& relative) { return (fixtures_dir() / relative).string(); }
std::string test_data(const std::string& relative) {
    return (std::filesystem::path(NIBBLE_SOURCE_DIR) / "tests" / "data" / relative).string();
}
std::string default_model_path() { return (std::filesystem::path(NIBBLE_SOURCE_DIR) / "models" / "stories260K.gguf").string(); }

const nibble::Model& shipped_model() {
    static const nibble::Model model = nibble::Model::load(default_model_path());
    return model;
}

std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<float> read_f32(const std::string& path) {
    const auto bytes = read_file(path);
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

std::vector<int32_t> read_ids(const std::string& path) {
    std::istringstream in(read_text(path));
    std::vector<int32_t> ids;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        long long v;
        while (words >> v) ids.push_back(static_cast<int32_t>(v));
    }
    return ids;
}

std::string Comparison::describe() const {
    return fmt::format("max |d| {:.3g}, mean |d| {:.3g}, scale {:.3g}", max_abs, mean_abs, scale);
}

Comparison compare_logits(const std::vector<float>& ours, const std::vector<float>& ref, Tolerance tolerance) {
    Comparison c;
    if (ours.size() != ref.size() || ref.empty()) return c;
    double max_ref = 0, sum = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[i])));
        const double d = std::fabs(static_cast<double>(ours[i]) - ref[i]);
        if (std::isnan(d)) return c;
        c.max_abs = std::max(c.max_abs, d);
        sum += d;
    }
    c.mean_abs = sum / static_cast<double>(ref.size());
    c.scale = std::max(1.0, max_ref);
    switch (tolerance) {
        case Tolerance::exact: c.ok = c.max_abs <= 1e-4 * c.scale; break;
        case Tolerance::approximate_nonlinear: c.ok = c.max_abs <= 1e-3 * c.scale && c.mean_abs <= 2e-4 * c.scale; break;
        case Tolerance::quantized: c.ok = c.max_abs <= 3e-2 * c.scale && c.mean_abs <= 5e-3 * c.scale; break;
        case Tolerance::kquant: c.ok = c.max_abs <= 5e-2 * c.scale && c.mean_abs <= 8e-3 * c.scale; break;
    }
    return c;
}

std::vector<std::string> json_string_array(const std::string& json, const std::string& key) {
    const auto at = json.find("\"" + key + "\"");
    if (at == std::string::npos) throw std::runtime_error("json: no key " + key);
    const auto open = json.find('[', at);
    const auto close = json.find(']', open);
    std::vector<std::string> out;
    for (size_t i = json.find('"', open); i < close; i = json.find('"', i)) {
        const auto end = json.find('"', i + 1);
        out.push_back(json.substr(i + 1, end - i - 1));
        i = end + 1;
    }
    return out;
}

std::vector<std::byte> from_hex(const std::string& hex) {
    std::vector<std::byte> out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return out;
}

TempDir::TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / fmt::format("nibble-test-{:x}", (uint64_t{rd()} << 32) | rd());
    std::filesystem::create_directories(path);
}
TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
}

}  // namespace nibble::test

namespace nibble::test {
namespace {

uint64_t status_kib(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    const std::string prefix = std::string(field) + ":";
    while (std::getline(status, line)) {
        if (line.starts_with(prefix)) return std::stoull(line.substr(prefix.size()));
    }
    return 0;
}

}  // namespace

ChildRun run_in_child(const std::function<void()>& f) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::close(fds[0]);
        { std::ofstream("/proc/self/clear_refs") << "5"; }  // VmHWM := VmRSS
        const uint64_t before = status_kib("VmRSS");
        char outcome = 'r';
        std::string message;
        try {
            f();
        } catch (const nibble::Error& e) {
            outcome = 'e';
            message = e.what();
        } catch (const std::exception& e) {
            outcome = 'x';
            message = e.what();
        }
        const uint64_t peak = status_kib("VmHWM");
        const uint64_t growth = peak > before ? (peak - before) * 1024 : 0;
        const std::string report = fmt::format("{} {} {}", outcome, growth, message);
        [[maybe_unused]] const auto written = ::write(fds[1], report.data(), report.size());
        ::close(fds[1]);
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string report;
    char buffer[4096];
    for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        report.append(buffer, static_cast<size_t>(got));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ChildRun run;
    if (WIFSIGNALED(status) || report.empty()) {
        run.outcome = ChildRun::Outcome::crashed;
        run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        return run;
    }
    std::istringstream in(report);
    char outcome = 0;
    in >> outcome >> run.peak_growth;
    std::getline(in, run.message);
    if (!run.message.empty() && run.message.front() == ' ') run.message.erase(0, 1);
    run.outcome = outcome == 'r' ? ChildRun::Outcome::returned
                  : outcome == 'e' ? ChildRun::Outcome::error
                                   : ChildRun::Outcome::other_exception;
    return run;
}

bool sanitized_build() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

}  // namespace nibble::test
