// Saved session states: a versioned header that names the model and the cache type,
// then the tokens, the cache rows in use, the last logits and the sampler, and a
// checksum over all of it.
#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "formats/atomic_file.hpp"
#include "formats/mapped_file.hpp"
#include "src/byte_stream.hpp"
#include "src/session_impl.hpp"

namespace nibble {
namespace {

constexpr char state_magic[8] = {'N', 'I', 'B', 'B', 'L', 'E', 'S', 'T'};
constexpr uint32_t state_version = 1;

// The cache types are KvType's numbers (0 f32, 1 f16, 2 q8_0). The value type sits in
// what was a reserved zero before there were types other than f32, so states saved then
// read as f32 keys and values.
struct StateHeader {
    uint64_t model_identity;
    uint32_t cache_type_k, n_layer, kv_dim, n_vocab;
    uint32_t n_evaluated, has_pending;
    int32_t pending;
    uint32_t logits_valid, sampler_bytes;
    uint32_t cache_type_v;  ///< also makes the size a multiple of 8 so no byte is padding
};
static_assert(sizeof(StateHeader) == 48);

// Cache rows [0, n) of every layer in their own type, keys then values.
template <class Visit>
void for_each_cache_rows(detail::SessionImpl& s, uint32_t n, Visit&& visit) {
    for (uint32_t l = 0; l < s.m.config.n_layer; ++l) {
        visit(s.state.k_cache.layer_rows(l, n));
        visit(s.state.v_cache.layer_rows(l, n));
    }
}

std::string cache_type_name(uint32_t type) {
    return type <= static_cast<uint32_t>(KvType::q8_0) ? std::string(kv_type_name(static_cast<KvType>(type)))
                                                        : fmt::format("unknown ({})", type);
}

}  // namespace

std::vector<std::byte> Session::save_state() const {
    if (!impl_) throw Error(ErrorCode::invalid_argument, "save_state: this Session was moved from");
    detail::SessionImpl& s = *impl_;
    const std::vector<std::byte> sampler = s.sampler ? s.sampler->save() : std::vector<std::byte>{};
    StateHeader h{};
    h.model_identity = s.m.identity;
    h.cache_type_k = static_cast<uint32_t>(s.state.k_cache.type);
    h.cache_type_v = static_cast<uint32_t>(s.state.v_cache.type);
    h.n_layer = s.m.config.n_layer;
    h.kv_dim = s.m.config.kv_dim();
    h.n_vocab = s.m.config.n_vocab;
    h.n_evaluated = s.evaluated();
    h.has_pending = s.pending ? 1 : 0;
    h.pending = s.pending.value_or(0);
    h.logits_valid = s.logits_valid && s.evaluated() > 0 ? 1 : 0;
    h.sampler_bytes = static_cast<uint32_t>(sampler.size());
    return detail::translate_allocation_failure("save_state", [&] {
        detail::ByteWriter w;
        w.put_bytes(state_magic, sizeof state_magic);
        w.put(state_version);
        w.put(h);
        w.put_array(std::span<const Token>(s.tokens));
        for_each_cache_rows(s, h.n_evaluated, [&](std::span<std::byte> rows) { w.put_bytes(rows.data(), rows.size()); });
        if (h.logits_valid) w.put_array(s.last_logits());
        w.put_array(std::span<const std::byte>(sampler));
        w.put(detail::fnv1a(w.bytes.data(), w.bytes.size()));
        return std::move(w.bytes);
    });
}

void Session::load_state(std::span<const std::byte> bytes) {
    if (!impl_) throw Error(ErrorCode::invalid_argument, "load_state: this Session was moved from");
    detail::SessionImpl& s = *impl_;
    const std::string what = "session state";
    if (bytes.size() < sizeof state_magic || std::memcmp(bytes.data(), state_magic, sizeof state_magic) != 0) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: not a nibble session state (no NIBBLEST magic)", what));
    }
    if (bytes.size() < sizeof state_magic + 4 + sizeof(uint64_t)) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: {} bytes is too short", what, bytes.size()));
    }
    const auto body = bytes.first(bytes.size() - sizeof(uint64_t));
    uint64_t checksum = 0;
    std::memcpy(&checksum, bytes.data() + body.size(), sizeof checksum);
    detail::ByteReader r(body, what);
    r.take(sizeof state_magic);
    if (const auto version = r.get<uint32_t>(); version != state_version) {
        throw Error(ErrorCode::unsupported,
                    fmt::format("{}: version {} (this nibble reads version {})", what, version, state_version));
    }
    if (checksum != detail::fnv1a(body.data(), body.size())) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: the checksum does not match: the bytes are damaged", what));
    }
    const auto h = r.get<StateHeader>();
    const detail::ModelConfig& c = s.m.config;
    if (h.model_identity != s.m.identity || h.n_layer != c.n_layer || h.kv_dim != c.kv_dim() || h.n_vocab != c.n_vocab) {
        throw Error(ErrorCode::bad_model,
                    fmt::format("{}: saved from another model (identity {:016x}, {} layers, kv width {}, vocabulary {}); "
                                "this one is {:016x}, {} layers, kv width {}, vocabulary {}",
                                what, h.model_identity, h.n_layer, h.kv_dim, h.n_vocab, s.m.identity, c.n_layer, c.kv_dim(),
                                c.n_vocab));
    }
    const auto own_k = static_cast<uint32_t>(s.state.k_cache.type), own_v = static_cast<uint32_t>(s.state.v_cache.type);
    if (h.cache_type_k != own_k || h.cache_type_v != own_v) {
        throw Error(ErrorCode::bad_model,
                    fmt::format("{}: cache types {} keys, {} values (this session's are {} and {})", what,
                                cache_type_name(h.cache_type_k), cache_type_name(h.cache_type_v), cache_type_name(own_k),
                                cache_type_name(own_v)));
    }
    if (uint64_t{h.n_evaluated} + h.has_pending > s.state.n_ctx || h.has_pending > 1 || h.logits_valid > 1) {
        throw Error(ErrorCode::out_of_range, fmt::format("{}: {} tokens do not fit this session's context of {}", what,
                                                         uint64_t{h.n_evaluated} + h.has_pending, s.state.n_ctx));
    }
    const uint64_t expected = uint64_t{h.n_evaluated} * sizeof(Token) +
                              uint64_t{c.n_layer} * h.n_evaluated * (s.state.k_cache.row_bytes + s.state.v_cache.row_bytes) +
                              (h.logits_valid ? uint64_t{c.n_vocab} * sizeof(float) : 0) + h.sampler_bytes;
    if (r.left() != expected) {
        throw Error(ErrorCode::bad_format,
                    fmt::format("{}: {} bytes follow the header, the header says {}", what, r.left(), expected));
    }
    std::vector<Token> tokens(h.n_evaluated);
    r.get_array(std::span<Token>(tokens));
    for (Token t : tokens) {
        if (t < 0 || static_cast<uint32_t>(t) >= c.n_vocab) {
            throw Error(ErrorCode::bad_format, fmt::format("{}: token id {} is outside the vocabulary", what, t));
        }
    }
    if (h.has_pending && (h.pending < 0 || static_cast<uint32_t>(h.pending) >= c.n_vocab)) {
        throw Error(ErrorCode::bad_format, fmt::format("{}: the pending token id {} is outside the vocabulary", what, h.pending));
    }
    std::optional<Sampler> sampler;
    const auto cache_at = r.offset();
    r.take(expected - tokens.size() * sizeof(Token) - h.sampler_bytes);
    if (h.sampler_bytes > 0) sampler.emplace().restore(r.take(h.sampler_bytes));
    // Everything checked: now overwrite the session.
    detail::ByteReader cache(body.subspan(cache_at), what);
    for_each_cache_rows(s, h.n_evaluated, [&](std::span<std::byte> rows) { cache.get_array(rows); });
    if (h.logits_valid) {
        s.logits.resize(c.n_vocab);
        cache.get_array(std::span<float>(s.logits));
    }
    s.tokens = std::move(tokens);
    s.pending.reset();
    if (h.has_pending) s.pending = h.pending;
    s.logits_valid = h.logits_valid == 1;
    s.sampler = std::move(sampler);
    s.sync_conversation();
}

void Session::save_state(const std::string& path) const {
    const auto bytes = save_state();
    formats::AtomicFile out(path);
    out.write(bytes.data(), bytes.size());
    out.commit();
}

void Session::load_state(const std::string& path) {
    const auto file = formats::MappedFile::open(path, false);
    try {
        load_state(file->bytes());
    } catch (const Error& e) {
        throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
    }
}

}  // namespace nibble
