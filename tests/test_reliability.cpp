// Issue 13: nothing a file, a flag or a caller does crashes nibble. Each case below
// was a reproduced crash, hang, silent misbehaviour or memory blow-up; each is now an
// Error that names the problem.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <atomic>
#include <chrono>
#include <thread>

#include "formats/gguf.hpp"
#include "formats/open.hpp"
#include "nibble/nibble.hpp"
#include "src/model_impl.hpp"
#include "src/transformer.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::formats;
using namespace nibble::test;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& f, ErrorCode* code = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (code) *code = e.code();
        return e.what();
    }
    return "";
}

// The shipped model with `edit` applied to its metadata, written to bytes.
std::vector<std::byte> edited_model(const std::function<void(Metadata&)>& edit) {
    const auto source = read_gguf(MappedFile::open(default_model_path()));
    Metadata metadata = source->metadata;
    edit(metadata);
    GgufWriter w;
    for (const auto& [k, v] : metadata.entries()) w.metadata().set(k, v);
    for (const auto& t : source->tensors()) w.add_tensor(t.name, t.type_id, std::span(t.ne.data(), t.n_dims), t.data);
    return w.bytes();
}

std::string load_error(const std::function<void(Metadata&)>& edit) {
    const auto bytes = edited_model(edit);
    return error_of([&] { Model::load_from_memory(bytes, "edited.gguf"); });
}

std::vector<Token> greedy(const Model& model, int n) {
    Session session(model, {.context_length = 64, .threads = 1});
    const Token prompt[] = {1};
    return session.generate(std::span<const Token>(prompt), {.max_tokens = n, .sampling = {.temperature = 0}, .stop_at_eos = false})
        .generated;
}

void write_bytes(const fs::path& path, std::span<const std::byte> bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

// ---- outputs: never the input, always whole ----

TEST_CASE("quantize and convert refuse an output that is the input, by inode not name", "[reliability]") {
    TempDir tmp;
    const fs::path in = tmp.path / "model.gguf";
    fs::copy_file(default_model_path(), in);
    const auto original = read_file(in.string());
    fs::create_hard_link(in, tmp.path / "hardlink.gguf");
    fs::create_symlink(in, tmp.path / "symlink.gguf");
    for (const fs::path& out : {in, tmp.path / "hardlink.gguf", tmp.path / "symlink.gguf", tmp.path / "." / "model.gguf"}) {
        ErrorCode code{};
        const auto message = error_of([&] { quantize(in.string(), out.string(), {.type = TensorType::q8_0}); }, &code);
        CHECK(code == ErrorCode::invalid_argument);
        CHECK_THAT(message, Catch::Contains("is the input file"));
        const auto message2 = error_of([&] {
            GgufWriter writer;
            writer.add_all(*read_model_file(MappedFile::open(in.string())));
            writer.write(out.string());
        });
        CHECK_THAT(message2, Catch::Contains("is the input file"));
    }
    CHECK(read_file(in.string()) == original);
    // Nothing was left behind: the model, its two links.
    CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}) == 3);
}

TEST_CASE("outputs are written to a temporary file and renamed", "[reliability]") {
    TempDir tmp;
    const fs::path out = tmp.path / "out.gguf";
    const std::byte old_bytes[8] = {std::byte{'o'}, std::byte{'l'}, std::byte{'d'}};
    write_bytes(out, old_bytes);
    // A reader of the old output keeps the old bytes: the file was replaced, not truncated.
    const auto reader = MappedFile::open(out.string());
    quantize(default_model_path(), out.string(), {.type = TensorType::q8_0});
    CHECK(reader->bytes()[0] == std::byte{'o'});
    CHECK_FALSE(reader->shrank());
    CHECK(probe(out.string()).container == "GGUF");
    CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}) == 1);
    // A failed write leaves neither a partial output nor a temporary file.
    const fs::path missing = tmp.path / "no-such-folder" / "x.gguf";
    CHECK_THAT(error_of([&] { quantize(default_model_path(), missing.string(), {}); }), Catch::Contains("no-such-folder"));
    CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}) == 1);
}

// ---- hyperparameters ----

TEST_CASE("non-finite or non-positive rope base and norm epsilon are refused, naming the key", "[reliability]") {
    const float bad[] = {std::nanf(""), 0.0f, -1.0f, std::numeric_limits<float>::infinity()};
    for (float v : bad) {
        CAPTURE(v);
        CHECK_THAT(load_error([&](Metadata& m) { m.set("llama.rope.freq_base", MetaValue::make_f32(v)); }),
                   Catch::Contains("llama.rope.freq_base"));
        CHECK_THAT(load_error([&](Metadata& m) { m.set("llama.attention.layer_norm_rms_epsilon", MetaValue::make_f32(v)); }),
                   Catch::Contains("llama.attention.layer_norm_rms_epsilon"));
    }
    CHECK(load_error([](Metadata& m) { m.set("llama.rope.freq_base", MetaValue::make_f32(500000.0f)); }).empty());
}

TEST_CASE("head counts that do not divide and out-of-range token ids are refused, naming them", "[reliability]") {
    CHECK_THAT(load_error([](Metadata& m) { m.set("llama.attention.head_count", MetaValue::make_u32(3)); }),
               Catch::Contains("head count 3"));
    CHECK_THAT(load_error([](Metadata& m) { m.set("llama.attention.head_count_kv", MetaValue::make_u32(3)); }),
               Catch::Contains("KV head count 3"));
    CHECK_THAT(load_error([](Metadata& m) { m.set("llama.attention.head_count_kv", MetaValue::make_u32(0)); }),
               Catch::Contains("KV head count 0"));
    CHECK_THAT(load_error([](Metadata& m) { m.set("llama.context_length", MetaValue::make_u32(0)); }),
               Catch::Contains("llama.context_length"));
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"}) {
        CHECK_THAT(load_error([&](Metadata& m) { m.set(key, MetaValue::make_u32(512)); }), Catch::Contains(key));
        CHECK_THAT(load_error([&](Metadata& m) { m.set(key, MetaValue::make_u32(4000000000u)); }), Catch::Contains(key));
    }
}

// ---- sessions ----

TEST_CASE("session sizes are bounded, negative counts refused", "[reliability]") {
    const Model model = Model::load(default_model_path());
    auto session_error = [&](SessionOptions o) {
        ErrorCode code{};
        const auto message = error_of([&] { Session s(model, o); }, &code);
        CHECK(code == ErrorCode::invalid_argument);
        return message;
    };
    CHECK_THAT(session_error({.context_length = max_context_length + 1}), Catch::Contains("context_length"));
    CHECK_THAT(session_error({.context_length = UINT32_MAX}), Catch::Contains("context_length"));
    CHECK_THAT(session_error({.context_length = 16, .batch_size = UINT32_MAX}), Catch::Contains("batch_size"));
    CHECK_THAT(session_error({.context_length = 16, .threads = -1}), Catch::Contains("threads"));
    CHECK_THAT(session_error({.context_length = 16, .threads = INT_MAX}), Catch::Contains("threads"));
    CHECK_THAT(session_error({.context_length = 16, .batch_threads = -1}), Catch::Contains("batch_threads"));
    // A batch larger than the context is clamped, not allocated.
    Session small(model, {.context_length = 16, .threads = 1, .batch_size = max_batch_size});
    CHECK(small.context_length() == 16);
}

TEST_CASE("a session's memory is computed before allocating, and refused with how much it needs", "[reliability]") {
    const Model model = Model::load(default_model_path());
    const auto impl = detail::ModelImpl::create(read_model_file(MappedFile::open(default_model_path())), kernels::active_kernels());
    // 5 layers x 2 (k, v) x 32 values per position: 4 bytes each in f32, 2 in f16, 34 per 32 in q8_0.
    for (const auto& [type, per_position] : {std::pair{KvType::f32, uint64_t{5 * 2 * 32 * 4}},
                                             std::pair{KvType::f16, uint64_t{5 * 2 * 32 * 2}},
                                             std::pair{KvType::q8_0, uint64_t{5 * 2 * 34}}}) {
        INFO(kv_type_name(type));
        const uint64_t at_1k = detail::ForwardState::bytes_needed(*impl, 1024, 64, 1, type, type);
        const uint64_t at_2k = detail::ForwardState::bytes_needed(*impl, 2048, 64, 1, type, type);
        CHECK(at_2k - at_1k >= 1024 * per_position);
        CHECK(kv_cache_bytes(model, 1024, type, type) == 1024 * per_position);
    }
    CHECK(kv_cache_bytes(model, 1024, KvType::f32, KvType::q8_0) == 1024 * 5 * (32 * 4 + 34));
    if (sanitized_build()) return;  // an address-space limit and ASan's shadow memory do not mix
    // Under a 1 GiB address-space limit the largest context (~1.3 GiB of f32 cache) must be
    // refused with the size it needs, never std::bad_alloc.
    // qemu-user does not pass an address-space limit on to its guest: where 1.5 GiB can
    // still be mapped under the limit, there is nothing to test.
    const auto enforced = run_in_child([&] {
        struct rlimit limit {uint64_t{1} << 30, uint64_t{1} << 30};
        ::setrlimit(RLIMIT_AS, &limit);
        void* p = ::mmap(nullptr, size_t{3} << 29, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) throw Error(ErrorCode::unsupported, "address-space limit not enforced here");
    });
    if (enforced.outcome == ChildRun::Outcome::error) {
        WARN("skipped: " << enforced.message);
        return;
    }
    const auto run = run_in_child([&] {
        struct rlimit limit {uint64_t{1} << 30, uint64_t{1} << 30};
        ::setrlimit(RLIMIT_AS, &limit);
        Session s(model, {.context_length = max_context_length, .threads = 1, .kv_type_k = KvType::f32, .kv_type_v = KvType::f32});
    });
    CHECK(run.outcome == ChildRun::Outcome::error);
    CHECK_THAT(run.message, Catch::Contains("GiB"));
}

// ---- sampling ----

TEST_CASE("NaN or negative sampling options are refused", "[reliability]") {
    const float nan = std::nanf("");
    for (const SamplingOptions& o : std::initializer_list<SamplingOptions>{
             {.top_p = nan}, {.min_p = nan}, {.repeat_penalty = nan}, {.temperature = nan}, {.temperature = -1.0f},
             {.top_p = -0.5f}, {.min_p = -0.1f}, {.repeat_penalty = -1.0f},
             {.temperature = std::numeric_limits<float>::infinity()}, {.repeat_penalty = std::numeric_limits<float>::infinity()}}) {
        ErrorCode code{};
        CHECK_FALSE(error_of([&] { Sampler s(o); }, &code).empty());
        CHECK(code == ErrorCode::invalid_argument);
    }
    CHECK(error_of([] { Sampler s({.temperature = 0.0f}); }).empty());
}

TEST_CASE("all-NaN logits are an Error; a NaN logit is never chosen", "[reliability]") {
    const float nan = std::nanf("");
    for (float temperature : {0.0f, 0.8f}) {
        Sampler sampler({.temperature = temperature, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f});
        const std::vector<float> all_nan(16, nan);
        CHECK_THAT(error_of([&] { sampler.sample(all_nan); }), Catch::Contains("NaN"));
        std::vector<float> some(16, nan);
        some[5] = 1.0f;
        some[9] = 0.5f;
        for (int i = 0; i < 20; ++i) {
            const Token t = sampler.sample(some);
            CHECK((t == 5 || t == 9));
        }
    }
}

// ---- files that are not model files ----

TEST_CASE("a FIFO, a directory or an empty path is refused without blocking", "[reliability]") {
    TempDir tmp;
    const fs::path fifo = tmp.path / "model.fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THAT(error_of([&] { Model::load(fifo.string()); }), Catch::Contains("not a regular file"));
    CHECK_THAT(error_of([&] { probe(fifo.string()); }), Catch::Contains("not a regular file"));
    CHECK_THAT(error_of([&] { Tokenizer::load(fifo.string()); }), Catch::Contains("not a regular file"));
    CHECK_THAT(error_of([&] { Model::load(tmp.path.string()); }), Catch::Contains("is a directory"));
    CHECK_THAT(error_of([&] { Model::load(""); }), Catch::Contains("empty path"));
    CHECK_THAT(error_of([&] { Model::load("/dev/null"); }), Catch::Contains("not a regular file"));
}

TEST_CASE("a default-constructed Tokenizer gives Errors, not a segfault", "[reliability]") {
    const Tokenizer empty;
    CHECK(empty.vocab_size() == 0);
    CHECK_FALSE(error_of([&] { empty.encode("hello"); }).empty());
    const Token one[] = {1};
    CHECK_FALSE(error_of([&] { empty.decode(one); }).empty());
    CHECK_FALSE(error_of([&] { empty.piece(1); }).empty());
    CHECK_FALSE(error_of([&] { empty.token_text(1); }).empty());
}

TEST_CASE("an empty Model and a moved-from Session give empty values and Errors, not a segfault", "[reliability]") {
    const Model empty;
    CHECK(empty.info().n_vocab == 0);
    CHECK(empty.tokenizer().vocab_size() == 0);
    CHECK_FALSE(error_of([&] { empty.tokenizer().encode("x"); }).empty());
    CHECK_THAT(error_of([&] { Session s(empty); }), Catch::Contains("empty"));
    Session session(Model::load(default_model_path()), {.context_length = 16, .threads = 1});
    Session moved = std::move(session);
    const Token one[] = {1};
    CHECK(session.position() == 0);  // NOLINT(bugprone-use-after-move): the point of the test
    CHECK(session.context_length() == 0);
    session.reset();
    CHECK(session.model().info().n_vocab == 0);
    CHECK_THAT(error_of([&] { session.eval(one); }), Catch::Contains("moved from"));
    CHECK_THAT(error_of([&] { session.generate(std::span<const Token>(one), {}); }), Catch::Contains("moved from"));
    CHECK_THAT(error_of([&] { session.generate("Once", {}); }), Catch::Contains("moved from"));
    CHECK(moved.eval(one).size() == 512);
}

// ---- mapped files that shrink ----

TEST_CASE("a mapping of a file that shrinks reads zeros and reports it, instead of SIGBUS", "[reliability]") {
    TempDir tmp;
    const fs::path path = tmp.path / "shrinks.bin";
    const long page = ::sysconf(_SC_PAGESIZE);
    std::vector<std::byte> bytes(static_cast<size_t>(page) * 4, std::byte{0x5a});
    write_bytes(path, bytes);
    const auto file = MappedFile::open(path.string());
    CHECK(file->bytes()[static_cast<size_t>(page) * 3] == std::byte{0x5a});
    fs::resize_file(path, static_cast<uintmax_t>(page));
    CHECK(file->bytes()[0] == std::byte{0x5a});
    CHECK_FALSE(file->shrank());
    // Page 3 was read before (it stays), page 2 never was: it is gone from the file.
    volatile const std::byte* p = file->bytes().data();
    CHECK(p[static_cast<size_t>(page) * 2 + 7] == std::byte{0});
    CHECK(file->shrank());
    CHECK_THAT(error_of([&] { file->check_intact(); }), Catch::Contains("shrank"));
}

TEST_CASE("a mapped model whose file is truncated gives an Error on eval, not SIGBUS", "[reliability]") {
    TempDir tmp;
    const fs::path path = tmp.path / "model.gguf";
    fs::copy_file(default_model_path(), path);
    const Model model = Model::load(path.string());
    Session session(model, {.context_length = 32, .threads = 1});
    fs::resize_file(path, 4096);
    // Every token's embedding row is read from the mapping: row 500 lies past 4096 bytes.
    const Token ids[] = {500, 501, 502};
    const auto run = run_in_child([&] { (void)session.eval(ids); });
    CHECK(run.outcome == ChildRun::Outcome::error);
    CHECK_THAT(run.message, Catch::Contains("shrank"));
}

TEST_CASE("a model read without mmap survives truncation of its file", "[reliability]") {
    TempDir tmp;
    const fs::path path = tmp.path / "model.gguf";
    fs::copy_file(default_model_path(), path);
    const auto expected = greedy(Model::load(default_model_path()), 16);
    const Model model = Model::load(path.string(), {.use_mmap = false});
    fs::resize_file(path, 0);
    CHECK(greedy(model, 16) == expected);
}

TEST_CASE("probe, convert and quantize of a file truncated under them give Errors", "[reliability]") {
    // The race cannot be timed from a test; its two halves can: a mapping that lost its
    // pages is detected (above), and every reading tool checks it before trusting what
    // it read. Here the source directory's file shrinks between reading and writing.
    TempDir tmp;
    const fs::path path = tmp.path / "model.gguf";
    fs::copy_file(default_model_path(), path);
    const auto file = MappedFile::open(path.string());
    const auto dir = read_model_file(file);
    fs::resize_file(path, 4096);
    GgufWriter writer;
    writer.add_all(*dir);
    const auto run = run_in_child([&] { writer.write((tmp.path / "out.gguf").string()); });
    CHECK(run.outcome == ChildRun::Outcome::error);
    CHECK_THAT(run.message, Catch::Contains("shrank"));
    CHECK_FALSE(fs::exists(tmp.path / "out.gguf"));
}

TEST_CASE("reading tools survive a file that shrinks and grows under them", "[reliability]") {
    // A writer thread truncates the model to random lengths and writes it back, while
    // probe, the GGUF writer (nibble-convert) and quantize (nibble-quantize) read it.
    // Each must return or throw an Error; a SIGBUS would end the child process.
    TempDir tmp;
    const fs::path path = tmp.path / "model.gguf";
    fs::copy_file(default_model_path(), path);
    const auto original = read_file(path.string());
    const auto run = run_in_child([&] {
        std::atomic<bool> stop{false};
        std::thread writer([&] {
            uint64_t state = 12345;
            while (!stop.load()) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                fs::resize_file(path, (state >> 33) % original.size());
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                write_bytes(path, original);
            }
        });
        size_t done = 0, errors = 0;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
        while (std::chrono::steady_clock::now() < until) {
            for (int step = 0; step < 3; ++step) {
                try {
                    if (step == 0) (void)probe(path.string());
                    if (step == 1) {
                        GgufWriter writer;
                        writer.add_all(*read_model_file(MappedFile::open(path.string())));
                        writer.write((tmp.path / "converted.gguf").string());
                    }
                    if (step == 2) quantize(path.string(), (tmp.path / "q8.gguf").string(), {.type = TensorType::q8_0});
                    ++done;
                } catch (const Error&) {
                    ++errors;
                }
            }
        }
        stop = true;
        writer.join();
        if (done + errors == 0) throw std::runtime_error("nothing ran");
    });
    CHECK(run.outcome == ChildRun::Outcome::returned);
    INFO(run.message);
}

// ---- memory bounded by the file ----

namespace {

// Bound on the growth of the resident set while a file of `size` bytes is parsed
// (docs/reliability.md): twice the file plus 256 MiB.
uint64_t parse_bound(uint64_t size) { return 2 * size + (uint64_t{256} << 20); }

void put_u32(std::vector<std::byte>& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_u64(std::vector<std::byte>& b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_str(std::vector<std::byte>& b, std::string_view s) {
    put_u64(b, s.size());
    for (char c : s) b.push_back(static_cast<std::byte>(c));
}

// A sparse file: `head`, then zeros (a hole) up to `size` bytes.
void write_sparse(const fs::path& path, const std::vector<std::byte>& head, uint64_t size) {
    write_bytes(path, head);
    fs::resize_file(path, size);
}

// A GGUF v3 file with one array of `count` elements of `element` type, all zero.
std::vector<std::byte> gguf_array_head(uint32_t element, uint64_t count) {
    std::vector<std::byte> b;
    for (char c : std::string_view("GGUF")) b.push_back(static_cast<std::byte>(c));
    put_u32(b, 3);
    put_u64(b, 0);  // tensors
    put_u64(b, 1);  // metadata
    put_str(b, "tokenizer.ggml.tokens");
    put_u32(b, 9);  // array
    put_u32(b, element);
    put_u64(b, count);
    return b;
}

void check_bounded(const fs::path& path, bool must_fail, const char* expected) {
    const uint64_t size = fs::file_size(path);
    const auto run = run_in_child([&] { probe(path.string()); });
    INFO(path.filename().string() << ": " << run.message << ", peak growth " << run.peak_growth << " bytes for a file of "
                                  << size);
    CHECK(run.outcome != ChildRun::Outcome::crashed);
    CHECK(run.outcome != ChildRun::Outcome::other_exception);
    if (must_fail) {
        CHECK(run.outcome == ChildRun::Outcome::error);
        CHECK_THAT(run.message, Catch::Contains(expected));
    }
    if (!sanitized_build()) CHECK(run.peak_growth <= parse_bound(size));
}

}  // namespace

TEST_CASE("a sparse GGUF declaring a 256 MiB string array is refused within the memory bound", "[reliability][memory]") {
    TempDir tmp;
    const uint64_t count = (uint64_t{256} << 20) / 8;  // 32 Mi empty strings (8-byte lengths)
    const auto head = gguf_array_head(8, count);
    write_sparse(tmp.path / "strings.gguf", head, head.size() + count * 8);
    check_bounded(tmp.path / "strings.gguf", true, "more than");
    // 256 MiB of u8 elements would widen to 2 GiB.
    const uint64_t bytes = uint64_t{256} << 20;
    const auto head8 = gguf_array_head(0, bytes);
    write_sparse(tmp.path / "u8.gguf", head8, head8.size() + bytes);
    check_bounded(tmp.path / "u8.gguf", true, "more than");
}

TEST_CASE("an array within the bound is read, within the bound", "[reliability][memory]") {
    TempDir tmp;
    const uint64_t count = uint64_t{4} << 20;  // 4 MiB of u8: 32 MiB once widened
    const auto head = gguf_array_head(0, count);
    write_sparse(tmp.path / "u8.gguf", head, head.size() + count);
    check_bounded(tmp.path / "u8.gguf", false, "");
}

TEST_CASE("a sparse 64 MiB legacy GPT-J vocabulary is refused within the memory bound", "[reliability][memory]") {
    TempDir tmp;
    const uint64_t size = uint64_t{64} << 20;
    std::vector<std::byte> b;
    put_u32(b, 0x67676d6c);  // ggml
    const uint32_t n_vocab = static_cast<uint32_t>(size / 4 - 16);
    for (uint32_t v : {n_vocab, 2048u, 64u, 4u, 2u, 16u}) put_u32(b, v);  // n_vocab n_ctx n_embd n_head n_layer n_rot
    put_u32(b, 0);        // ftype
    put_u32(b, n_vocab);  // n_vocab again
    write_sparse(tmp.path / "gptj.bin", b, size);
    check_bounded(tmp.path / "gptj.bin", true, "vocabulary");
    // Within the vocabulary limit the reader still keeps it bounded by the file.
    std::vector<std::byte> c;
    put_u32(c, 0x67676d6c);
    const uint32_t n_small = 1u << 20;
    for (uint32_t v : {n_small, 2048u, 64u, 4u, 2u, 16u}) put_u32(c, v);
    put_u32(c, 0);
    put_u32(c, n_small);
    write_sparse(tmp.path / "gptj-1m.bin", c, c.size() + uint64_t{n_small} * 4);
    check_bounded(tmp.path / "gptj-1m.bin", false, "");
}
