#include "src/regex_split.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

#include "nibble/error.hpp"

namespace nibble::detail {

struct RegexSplitter::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::vector<std::string>& patterns) {
    for (const auto& pattern : patterns) {
        int error = 0;
        PCRE2_SIZE offset = 0;
        auto compiled = std::make_unique<Compiled>();
        compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
        if (compiled->code == nullptr) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(error, message, sizeof message);
            throw Error(ErrorCode::unsupported, fmt::format("pre-tokenizer pattern '{}' does not compile at {}: {}", pattern,
                                                            offset, reinterpret_cast<const char*>(message)));
        }
        pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter remains
        patterns_.push_back(std::move(compiled));
    }
}

RegexSplitter::~RegexSplitter() = default;

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
    std::vector<std::string_view> pieces{text};
    if (text.empty()) return {};
    for (const auto& pattern : patterns_) {
        std::vector<std::string_view> next;
        pcre2_match_data* match = pcre2_match_data_create_from_pattern(pattern->code, nullptr);
        for (std::string_view piece : pieces) {
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
            size_t start = 0, unmatched = 0;
            while (start < piece.size()) {
                const int rc = pcre2_match(pattern->code, subject, piece.size(), start, 0, match, nullptr);
                if (rc < 0) break;
                const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
                const size_t begin = ovector[0], end = ovector[1];
                if (end == begin) {  // empty match: step over one UTF-8 character
                    start = begin + 1;
                    while (start < piece.size() && (static_cast<unsigned char>(piece[start]) & 0xc0) == 0x80) ++start;
                    continue;
                }
                if (begin > unmatched) next.push_back(piece.substr(unmatched, begin - unmatched));
                next.push_back(piece.substr(begin, end - begin));
                unmatched = start = end;
            }
            if (unmatched < piece.size()) next.push_back(piece.substr(unmatched));
        }
        pcre2_match_data_free(match);
        pieces = std::move(next);
    }
    return pieces;
}

namespace {
bool is_llama3_pre(std::string_view name) {
    return name == "llama-bpe" || name == "llama3" || name == "llama-v3" || name == "falcon3" || name == "pixtral";
}
}  // namespace

bool pre_tokenizer_ignores_merges(std::string_view name) { return is_llama3_pre(name); }

std::vector<std::string> pre_tokenizer_patterns(std::string_view name) {
    // The GPT-2 word pattern; the trailing-whitespace rule keeps a space with the next word.
    const std::string gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
    if (name == "gpt-2" || name == "gpt2" || name == "mpt" || name == "olmo" || name == "jais") return {gpt2};
    if (name == "falcon") return {R"([\p{P}\$\+<=>\^~\|`]+)", gpt2, "[0-9][0-9][0-9]"};
    if (name == "starcoder" || name == "refact" || name == "command-r" || name == "smollm") return {R"(\p{N})", gpt2};
    // Llama 3: case-insensitive contractions, letters with one leading non-letter, digits
    // in groups of up to three, punctuation runs with their line breaks; Qwen2 the same
    // with one digit per piece.
    const std::string llama3 =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    if (is_llama3_pre(name)) return {llama3};
    if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "megrez") {
        return {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
    }
    if (name == "default" || name.empty()) return {R"([\p{P}\$\+<=>\^~\|]+)", gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    throw Error(ErrorCode::unsupported, fmt::format("pre-tokenizer '{}' is not supported", name));
}

}  // namespace nibble::detail
