// Tokenizers: SentencePiece-style BPE over scored pieces with byte fallback.
#include <fmt/format.h>

#include <algorithm>
#include <queue>

#include "formats/metadata.hpp"
#include "src/model_impl.hpp"
#include "src/tokenizer_impl.hpp"

namespace nibble::detail {
namespace {

const std::string space_marker = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space


int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (s.substr(i, from.size()) == from) {
            out += to;
            i += from.size();
        } else {
            out += s[i++];
        }
    }
    return out;
}

}  // namespace

void TokenizerImpl::check_id(Token id) const {
    if (id < 0 || static_cast<size_t>(id) >= texts.size()) {
        throw Error(ErrorCode::invalid_argument, fmt::format("token id {} is outside the vocabulary of {}", id, texts.size()));
    }
}

// Bigram merging as SentencePiece's BPE mode does it: start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring
// vocabulary entry (leftmost on ties), then fall back to byte tokens for leftovers.
std::vector<Token> TokenizerImpl::encode_spm(std::string_view raw) const {
    std::vector<Token> out;
    if (raw.empty()) return out;
    std::string prefixed;
    prefixed.reserve(raw.size() + 1);
    if (add_space_prefix) prefixed.push_back(' ');
    prefixed.append(raw);
    const std::string text = replace_all(prefixed, " ", space_marker);

    struct Symbol {
        int prev, next;
        size_t start, length;
    };
    std::vector<Symbol> symbols;
    for (size_t i = 0; i < text.size();) {
        const size_t len = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
        symbols.push_back({static_cast<int>(symbols.size()) - 1, static_cast<int>(symbols.size()) + 1, i, len});
        i += len;
    }
    symbols.back().next = -1;

    struct Bigram {
        float score;
        int left, right;
        size_t length;
        bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
    };
    std::priority_queue<Bigram> queue;
    auto try_add = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const size_t start = symbols[static_cast<size_t>(left)].start;
        const size_t length = symbols[static_cast<size_t>(left)].length + symbols[static_cast<size_t>(right)].length;
        auto it = ids.find(text.substr(start, length));
        if (it == ids.end()) return;
        queue.push({scores[static_cast<size_t>(it->second)], left, right, length});
    };
    for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& left = symbols[static_cast<size_t>(b.left)];
        Symbol& right = symbols[static_cast<size_t>(b.right)];
        if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;  // stale
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = b.left;
        try_add(left.prev, b.left);
        try_add(b.left, left.next);
    }

    for (int i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
        const Symbol& s = symbols[static_cast<size_t>(i)];
        auto it = ids.find(text.substr(s.start, s.length));
        if (it != ids.end()) {
            out.push_back(it->second);
            continue;
        }
        for (size_t j = 0; j < s.length; ++j) {
            const Token t = byte_token[static_cast<unsigned char>(text[s.start + j])];
            if (t >= 0) {
                out.push_back(t);
            } else if (unk >= 0) {
                out.push_back(unk);
            }
        }
    }
    return out;
}

void index_user_defined(TokenizerImpl& t) {
    for (size_t i = 0; i < t.types.size(); ++i) {
        if (t.texts[i].empty()) continue;
        const TokenType type = t.types[i];
        if (type == TokenType::user_defined) t.user_defined.push_back(static_cast<Token>(i));
        if (type == TokenType::user_defined || type == TokenType::control || type == TokenType::unknown) {
            t.special.push_back(static_cast<Token>(i));
        }
    }
    auto longest_first = [&](Token a, Token b) { return t.texts[size_t(a)].size() > t.texts[size_t(b)].size(); };
    std::stable_sort(t.user_defined.begin(), t.user_defined.end(), longest_first);
    std::stable_sort(t.special.begin(), t.special.end(), longest_first);
}

// User-defined tokens (e.g. runs of spaces in GPT-NeoX vocabularies) are matched in
// the raw text before anything else, longest first, as the reference tokenizer does;
// with parse_special the control and unknown tokens too. Each stretch of text between
// them is encoded on its own, so a SentencePiece vocabulary puts its leading space in
// front of every stretch, after a special token as at the start (llama.cpp does the
// same since 2024; HF's "legacy" Llama tokenizers agree).
std::vector<Token> TokenizerImpl::encode(std::string_view text, bool parse_special) const {
    struct Fragment {
        std::string_view text;
        Token token;  // -1: raw text still to tokenize
    };
    std::vector<Fragment> fragments{{text, -1}};
    for (Token special_token : parse_special ? special : user_defined) {
        const std::string& needle = texts[static_cast<size_t>(special_token)];
        std::vector<Fragment> next;
        for (const Fragment& f : fragments) {
            if (f.token >= 0) {
                next.push_back(f);
                continue;
            }
            size_t from = 0;
            for (size_t at = f.text.find(needle); at != std::string_view::npos; at = f.text.find(needle, from)) {
                if (at > from) next.push_back({f.text.substr(from, at - from), -1});
                next.push_back({f.text.substr(at, needle.size()), special_token});
                from = at + needle.size();
            }
            if (from < f.text.size()) next.push_back({f.text.substr(from), -1});
        }
        fragments = std::move(next);
    }
    std::vector<Token> out;
    for (const Fragment& f : fragments) {
        if (f.token >= 0) {
            out.push_back(f.token);
            continue;
        }
        const auto ids_of = kind == "gpt2" ? encode_bpe(f.text) : encode_spm(f.text);
        out.insert(out.end(), ids_of.begin(), ids_of.end());
    }
    return out;
}

std::shared_ptr<TokenizerImpl> make_spm_tokenizer(std::vector<std::string> texts, std::vector<float> scores,
                                                        std::vector<TokenType> types, Token bos, Token eos, Token unk,
                                                        bool add_space_prefix) {
    auto t = std::make_shared<TokenizerImpl>();
    t->kind = "llama";
    const size_t n = texts.size();
    scores.resize(n, 0.0f);
    types.resize(n, TokenType::normal);
    t->byte_token.fill(-1);
    t->pieces.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const std::string& s = texts[i];
        const auto id = static_cast<Token>(i);
        t->ids[s] = id;
        switch (types[i]) {
            case TokenType::byte:
                if (s.size() == 6 && s.starts_with("<0x") && s.back() == '>' && hex_digit(s[3]) >= 0 && hex_digit(s[4]) >= 0) {
                    const int byte = hex_digit(s[3]) * 16 + hex_digit(s[4]);
                    t->byte_token[static_cast<size_t>(byte)] = id;
                    t->pieces[i] = std::string(1, static_cast<char>(byte));
                }
                break;
            case TokenType::control:
            case TokenType::unused:
                break;
            case TokenType::unknown:
                t->pieces[i] = "\xE2\x96\x85";  // U+2585, as the reference prints an unknown token
                break;
            default:
                t->pieces[i] = replace_all(s, space_marker, " ");
        }
    }
    auto valid = [&](Token id) { return id >= 0 && static_cast<size_t>(id) < n ? id : Token{-1}; };
    t->bos = valid(bos);
    t->eos = valid(eos);
    t->unk = valid(unk);
    t->add_space_prefix = add_space_prefix;
    t->texts = std::move(texts);
    t->scores = std::move(scores);
    t->types = std::move(types);
    index_user_defined(*t);
    return t;
}

Tokenizer ModelImpl::make_tokenizer(const formats::Metadata& m, const std::string& file) {
    Tokenizer tokenizer;
    const auto model = m.get_string("tokenizer.ggml.model");
    if (!model) {
        tokenizer.impl_ = std::make_shared<TokenizerImpl>();
        return tokenizer;
    }
    const auto* texts = m.get_strings("tokenizer.ggml.tokens");
    if (texts == nullptr || texts->empty()) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: tokenizer.ggml.tokens is missing or empty", file));
    }
    std::vector<float> scores = m.get_floats("tokenizer.ggml.scores").value_or(std::vector<float>{});
    std::vector<TokenType> types;
    if (auto raw = m.get_ints("tokenizer.ggml.token_type")) {
        for (int64_t v : *raw) types.push_back(v >= 0 && v <= 6 ? static_cast<TokenType>(v) : TokenType::normal);
    }
    if ((!scores.empty() && scores.size() != texts->size()) || (!types.empty() && types.size() != texts->size())) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: tokenizer has {} tokens but {} scores and {} types", file,
                                                      texts->size(), scores.size(), types.size()));
    }
    if (texts->size() > formats::max_vocabulary) {
        throw Error(ErrorCode::bad_model, fmt::format("{}: tokenizer.ggml.tokens has {} entries, more than nibble accepts ({})",
                                                      file, texts->size(), formats::max_vocabulary));
    }
    // An id the file states must name a token; a missing one takes the family's
    // default when the vocabulary has it (else none).
    auto id = [&](const char* key, int64_t fallback) {
        const auto v = m.get_uint(key);
        if (v && *v >= texts->size()) {
            throw Error(ErrorCode::bad_model, fmt::format("{}: {} = {} is outside the vocabulary of {} tokens", file, key, *v,
                                                          texts->size()));
        }
        if (v) return static_cast<Token>(*v);
        return static_cast<Token>(fallback >= 0 && static_cast<uint64_t>(fallback) < texts->size() ? fallback : -1);
    };
    if (*model == "gpt2") {
        const auto* merges = m.get_strings("tokenizer.ggml.merges");
        if (merges == nullptr) throw Error(ErrorCode::bad_model, fmt::format("{}: a gpt2 tokenizer needs tokenizer.ggml.merges", file));
        // BPE vocabularies without explicit ids use 11 for both, as the reference does.
        auto impl = make_bpe_tokenizer(*texts, std::move(types), *merges, m.get_string("tokenizer.ggml.pre").value_or("default"),
                                       id("tokenizer.ggml.bos_token_id", 11), id("tokenizer.ggml.eos_token_id", 11),
                                       id("tokenizer.ggml.unknown_token_id", -1));
        impl->eot = id("tokenizer.ggml.eot_token_id", -1);
        // As llama.cpp: byte-level BPE starts without BOS unless its pre-tokenizer is
        // Llama 3's or the file says otherwise.
        impl->add_bos = m.get_bool("tokenizer.ggml.add_bos_token").value_or(impl->ignore_merges);
        tokenizer.impl_ = std::move(impl);
        return tokenizer;
    }
    if (*model != "llama") {
        throw Error(ErrorCode::unsupported, fmt::format("{}: tokenizer model '{}' is not supported", file, *model));
    }
    const bool prefix = m.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    auto impl = make_spm_tokenizer(*texts, std::move(scores), std::move(types), id("tokenizer.ggml.bos_token_id", 1),
                                   id("tokenizer.ggml.eos_token_id", 2), id("tokenizer.ggml.unknown_token_id", 0), prefix);
    impl->eot = id("tokenizer.ggml.eot_token_id", -1);
    impl->add_bos = m.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
    tokenizer.impl_ = std::move(impl);
    return tokenizer;
}

// ---- public Tokenizer ----

}  // namespace nibble::detail

namespace nibble {

using detail::translate_allocation_failure;

namespace {
const detail::TokenizerImpl& checked(const std::shared_ptr<const detail::TokenizerImpl>& impl) {
    if (!impl) throw Error(ErrorCode::invalid_argument, "Tokenizer: empty (default-constructed); use Tokenizer::load or a Model's");
    return *impl;
}
}  // namespace

std::vector<Token> Tokenizer::encode(std::string_view text, EncodeOptions options) const {
    checked(impl_);
    if (impl_->kind == "none") throw Error(ErrorCode::unsupported, "this model has no tokenizer");
    return translate_allocation_failure("Tokenizer::encode", [&] {
        std::vector<Token> out;
        if (options.add_bos && impl_->add_bos && impl_->bos >= 0) out.push_back(impl_->bos);
        auto body = impl_->encode(text, options.parse_special);
        out.insert(out.end(), body.begin(), body.end());
        if (options.add_eos && impl_->eos >= 0) out.push_back(impl_->eos);
        return out;
    });
}

std::string Tokenizer::decode(std::span<const Token> tokens) const {
    checked(impl_);
    return translate_allocation_failure("Tokenizer::decode", [&] {
        std::string out;
        for (Token t : tokens) {
            impl_->check_id(t);
            out += impl_->pieces[static_cast<size_t>(t)];
        }
        if (impl_->add_space_prefix && !out.empty() && out.front() == ' ') out.erase(0, 1);
        return out;
    });
}

std::string Tokenizer::piece(Token id) const {
    checked(impl_).check_id(id);
    return impl_->pieces[static_cast<size_t>(id)];
}

std::string_view Tokenizer::token_text(Token id) const {
    checked(impl_).check_id(id);
    return impl_->texts[static_cast<size_t>(id)];
}

size_t Tokenizer::vocab_size() const noexcept { return impl_ ? impl_->texts.size() : 0; }
Token Tokenizer::bos() const noexcept { return impl_ ? impl_->bos : -1; }
Token Tokenizer::eos() const noexcept { return impl_ ? impl_->eos : -1; }
Token Tokenizer::eot() const noexcept { return impl_ ? impl_->eot : -1; }
std::string_view Tokenizer::kind() const noexcept { return impl_ ? std::string_view(impl_->kind) : "none"; }

}  // namespace nibble
