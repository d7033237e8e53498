// Byte-level BPE (GPT-2, GPT-J, Falcon, MPT vocabularies): split into words with the
// vocabulary's pre-tokenizer, map each byte to its printable stand-in character, then
// merge adjacent symbols in merge-rank order.
#include <fmt/format.h>

#include <queue>

#include "src/tokenizer_impl.hpp"

namespace nibble::detail {
namespace {

std::string utf8_of(uint32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return out;
}

// GPT-2's reversible byte -> character map: printable Latin-1 bytes stand for
// themselves, the others take the code points from 256 upwards in byte order.
struct ByteAlphabet {
    std::array<std::string, 256> encoded;
    std::unordered_map<std::string, unsigned char> decoded;

    ByteAlphabet() {
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            encoded[b] = utf8_of(printable ? b : next++);
            decoded[encoded[b]] = static_cast<unsigned char>(b);
        }
    }
};

const ByteAlphabet& byte_alphabet() {
    static const ByteAlphabet alphabet;
    return alphabet;
}


// Bytes a vocabulary entry stands for; entries outside the alphabet keep their text.
std::string decode_token_text(const std::string& text) {
    const auto& alphabet = byte_alphabet();
    std::string out;
    for (size_t i = 0; i < text.size();) {
        const size_t len = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
        auto it = alphabet.decoded.find(text.substr(i, len));
        if (it == alphabet.decoded.end()) return text;
        out += static_cast<char>(it->second);
        i += len;
    }
    return out;
}

}  // namespace

std::vector<Token> TokenizerImpl::encode_bpe(std::string_view text) const {
    std::vector<Token> out;
    const auto& alphabet = byte_alphabet();
    struct Symbol {
        int prev, next;
        size_t start, length;
    };
    struct Bigram {
        int rank, left, right;
        size_t length;
        bool operator<(const Bigram& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }
    };
    for (std::string_view raw_word : splitter->split(text)) {
        std::string word;
        for (char c : raw_word) word += alphabet.encoded[static_cast<unsigned char>(c)];
        if (ignore_merges) {
            if (auto whole = ids.find(word); whole != ids.end()) {
                out.push_back(whole->second);
                continue;
            }
        }
        if (merge_ranks.empty()) {  // a vocabulary without merges (2023 files): greedy longest match
            encode_greedy(word, out);
            continue;
        }
        std::vector<Symbol> symbols;
        for (size_t i = 0; i < word.size();) {
            const size_t len = std::min(utf8_length(static_cast<unsigned char>(word[i])), word.size() - i);
            symbols.push_back({static_cast<int>(symbols.size()) - 1, static_cast<int>(symbols.size()) + 1, i, len});
            i += len;
        }
        symbols.back().next = -1;
        std::priority_queue<Bigram> queue;
        auto try_add = [&](int left, int right) {
            if (left < 0 || right < 0) return;
            const Symbol& l = symbols[static_cast<size_t>(left)];
            const Symbol& r = symbols[static_cast<size_t>(right)];
            std::string key = word.substr(l.start, l.length);
            key += ' ';
            key.append(word, r.start, r.length);
            auto it = merge_ranks.find(key);
            if (it != merge_ranks.end()) queue.push({it->second, left, right, l.length + r.length});
        };
        for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));
        while (!queue.empty()) {
            const Bigram b = queue.top();
            queue.pop();
            Symbol& left = symbols[static_cast<size_t>(b.left)];
            Symbol& right = symbols[static_cast<size_t>(b.right)];
            if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;
            left.length += right.length;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = b.left;
            try_add(left.prev, b.left);
            try_add(b.left, left.next);
        }
        for (int i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
            const Symbol& s = symbols[static_cast<size_t>(i)];
            auto it = ids.find(word.substr(s.start, s.length));
            if (it != ids.end()) {
                out.push_back(it->second);
                continue;
            }
            // A merged symbol without an entry: spell it out character by character.
            for (size_t j = s.start; j < s.start + s.length;) {
                const size_t len = utf8_length(static_cast<unsigned char>(word[j]));
                auto single = ids.find(word.substr(j, len));
                if (single != ids.end()) out.push_back(single->second);
                else if (unk >= 0) out.push_back(unk);
                j += len;
            }
        }
    }
    return out;
}

void TokenizerImpl::encode_greedy(const std::string& word, std::vector<Token>& out) const {
    for (size_t i = 0; i < word.size();) {
        size_t best = 0;
        Token best_id = -1;
        for (size_t len = std::min(word.size() - i, max_token_bytes); len > 0; --len) {
            auto it = ids.find(word.substr(i, len));
            if (it != ids.end()) {
                best = len;
                best_id = it->second;
                break;
            }
        }
        if (best_id < 0) {  // no entry starts here: skip one character
            best = std::min(utf8_length(static_cast<unsigned char>(word[i])), word.size() - i);
            if (unk >= 0) out.push_back(unk);
        } else {
            out.push_back(best_id);
        }
        i += best;
    }
}

std::shared_ptr<TokenizerImpl> make_bpe_tokenizer(std::vector<std::string> texts, std::vector<TokenType> types,
                                                        const std::vector<std::string>& merges, const std::string& pre,
                                                        Token bos, Token eos, Token unk) {
    auto t = std::make_shared<TokenizerImpl>();
    t->kind = "gpt2";
    t->pre = pre;
    t->add_space_prefix = false;
    const size_t n = texts.size();
    types.resize(n, TokenType::normal);
    t->byte_token.fill(-1);
    t->pieces.resize(n);
    for (size_t i = 0; i < n; ++i) {
        t->max_token_bytes = std::max(t->max_token_bytes, texts[i].size());
        if (!t->ids.emplace(texts[i], static_cast<Token>(i)).second) {
            throw Error(ErrorCode::bad_model, fmt::format("tokenizer: token {} ('{}') appears twice", i, texts[i]));
        }
        switch (types[i]) {
            case TokenType::control:
            case TokenType::unused: break;
            case TokenType::user_defined: t->pieces[i] = texts[i]; break;
            default: t->pieces[i] = decode_token_text(texts[i]);
        }
    }
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string& m = merges[rank];
        const size_t space = m.find(' ', 1);
        if (space == std::string::npos) {
            throw Error(ErrorCode::bad_model, fmt::format("tokenizer: merge {} ('{}') is not 'left right'", rank, m));
        }
        t->merge_ranks.emplace(m, static_cast<int>(rank));
    }
    t->splitter = std::make_shared<RegexSplitter>(pre_tokenizer_patterns(pre));
    t->ignore_merges = pre_tokenizer_ignores_merges(pre);
    auto valid = [&](Token id) { return id >= 0 && static_cast<size_t>(id) < n ? id : Token{-1}; };
    t->bos = valid(bos);
    t->eos = valid(eos);
    t->unk = valid(unk);
    t->scores.assign(n, 0.0f);
    t->texts = std::move(texts);
    t->types = std::move(types);
    index_user_defined(*t);
    return t;
}

}  // namespace nibble::detail
