// Chooses the kernel table once, from what the CPU reports (CPUID on x86-64, HWCAP on
// aarch64). NIBBLE_ISA forces one; asking for one the CPU lacks is an error, never a
// crash on an illegal instruction. It also sets how far ahead the panel kernels prefetch
// (prefetch.hpp).
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "kernels/kernels.hpp"
#include "kernels/prefetch.hpp"
#include "nibble/error.hpp"

namespace nibble::kernels {
namespace {

struct Candidate {
    std::string_view name;  ///< what NIBBLE_ISA calls it
    const KernelTable* table;
};

#if defined(__x86_64__)
bool cpu_is_intel() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return false;
    return ebx == 0x756e6547 && edx == 0x49656e69 && ecx == 0x6c65746e;  // "Genu" "ineI" "ntel"
}

// CPUID.1:ECX bit 29. Clang (14) does not know "f16c" in __builtin_cpu_supports.
bool cpu_has_f16c() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
#endif

// Best first.
std::vector<Candidate> supported() {
    std::vector<Candidate> out;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx512 && __builtin_cpu_supports("avx512vnni")) out.push_back({"avx512", &avx512_vnni_kernels()});
    if (avx512) out.push_back({"avx512", &avx512_kernels()});
    if (avx2) out.push_back({"avx2", &avx2_kernels()});
#endif
#if defined(__aarch64__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) out.push_back({"neon", &neon_dotprod_kernels()});
    out.push_back({"neon", &neon_kernels()});
#endif
    out.push_back({"scalar", &reference_kernels()});
    return out;
}

constexpr size_t max_prefetch_bytes = size_t{1} << 20;

// NIBBLE_PREFETCH's text, or nullptr when unset or empty.
const char* prefetch_text() {
    const char* text = std::getenv("NIBBLE_PREFETCH");
    return text != nullptr && *text != '\0' ? text : nullptr;
}

// "L1" or "L1,L2", byte counts up to 1 MiB each; nullopt for anything else.
std::optional<PrefetchDistances> parse_prefetch(std::string_view text) {
    auto bytes = [](std::string_view part) -> std::optional<size_t> {
        size_t n = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
        if (part.empty() || ec != std::errc() || end != part.data() + part.size() || n > max_prefetch_bytes) return std::nullopt;
        return n;
    };
    const size_t comma = text.find(',');
    const auto l1 = bytes(text.substr(0, comma));
    const auto l2 = comma == std::string_view::npos ? std::optional<size_t>(0) : bytes(text.substr(comma + 1));
    if (!l1 || !l2) return std::nullopt;
    return PrefetchDistances{*l1, *l2};
}

// Measured per CPU family (prefetch.hpp): on Intel cores 2 KiB ahead into every level and
// 6 KiB ahead into L2, elsewhere none.
PrefetchDistances default_prefetch() {
#if defined(__x86_64__)
    if (cpu_is_intel()) return {2048, 6144};
#endif
    return {};
}

// NIBBLE_STREAMS's value, 0 when unset or empty, nullopt when it is not 1, 2 or 4.
std::optional<size_t> streams_setting() {
    const char* text = std::getenv("NIBBLE_STREAMS");
    if (text == nullptr || *text == '\0') return 0;
    const std::string_view value(text);
    if (value == "1" || value == "2" || value == "4") return static_cast<size_t>(value[0] - '0');
    return std::nullopt;
}

// Intel: four streams (prefetch.hpp). Elsewhere one until measured: on Zen 3 the hardware
// prefetcher already kept a single stream near the probe.
size_t default_streams() {
#if defined(__x86_64__)
    if (cpu_is_intel()) return 4;
#endif
    return 1;
}

const KernelTable& choose_kernels() {
    check_read_settings();
    const char* forced = std::getenv("NIBBLE_ISA");
    if (forced == nullptr || *forced == '\0') return *supported().front().table;
    return find_kernels(forced, "NIBBLE_ISA=");
}

}  // namespace

PrefetchDistances prefetch_distances() noexcept {
    static const PrefetchDistances distances = [] {
        const char* text = prefetch_text();
        // A malformed value never gets here: check_read_settings refused it at load.
        return text != nullptr ? parse_prefetch(text).value_or(default_prefetch()) : default_prefetch();
    }();
    return distances;
}

size_t generation_streams() noexcept {
    static const size_t streams = [] {
        const size_t chosen = streams_setting().value_or(0);  // a bad value was refused at load
        return chosen != 0 ? chosen : default_streams();
    }();
    return streams;
}

void check_read_settings() {
    if (!streams_setting()) {
        throw Error(ErrorCode::invalid_argument,
                    std::string("NIBBLE_STREAMS=") + std::getenv("NIBBLE_STREAMS") + ": expected 1, 2 or 4 read streams");
    }
    const char* text = prefetch_text();
    if (text != nullptr && !parse_prefetch(text)) {
        throw Error(ErrorCode::invalid_argument, std::string("NIBBLE_PREFETCH=") + text +
                                                     ": expected a byte count from 0 (no software prefetch) to " +
                                                     std::to_string(max_prefetch_bytes) +
                                                     ", optionally a comma and a second one for L2-only prefetches");
    }
}

const KernelTable& find_kernels(std::string_view wanted, std::string_view what) {
    check_read_settings();
    const auto candidates = supported();
    // A table's own name first (avx512 = AVX-512 without VNNI), then the family name.
    for (const auto& c : candidates) {
        if (std::string_view(c.table->isa) == wanted) return *c.table;
    }
    std::vector<std::string_view> known;
    for (const auto& c : candidates) {
        if (c.name == wanted) return *c.table;
        for (std::string_view n : {c.name, std::string_view(c.table->isa)}) {
            if (std::find(known.begin(), known.end(), n) == known.end()) known.push_back(n);
        }
    }
    std::string names;
    for (std::string_view n : known) names += (names.empty() ? "" : ", ") + std::string(n);
    throw Error(ErrorCode::unsupported, std::string(what) + std::string(wanted) +
                                            ": this CPU or build cannot run it (available: " + names + ")");
}

const KernelTable& active_kernels() {
    static const KernelTable& chosen = choose_kernels();
    return chosen;
}

std::vector<const KernelTable*> available_kernels() {
    std::vector<const KernelTable*> out{&reference_kernels()};
    for (const auto& c : supported()) {
        if (c.table != &reference_kernels()) out.push_back(c.table);
    }
    return out;
}

}  // namespace nibble::kernels
