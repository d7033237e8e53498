#include "test_support.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace nibble::test {

std::filesystem::path fixtures_dir() { return NIBBLE_FIXTURES_DIR; }
std::string fixture(const std::string& relative) { return (fixtures_dir() / relative).string(); }
std::string test_data(const std::string& relative) {
    return (std::filesystem::path(NIBBLE_SOURCE_DIR) / "tests" / "data" / relative).string();
}
std::string default_model_path() { return (std::filesystem::path(NIBBLE_SOURCE_DIR) / "models" / "stories260K.gguf").string(); }

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
