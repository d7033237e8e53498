// The command line of every nibble program, over CLI11 (Debian's libcli11-dev): one
// definition of each flag, llama.cpp's names and meanings where llama.cpp has the flag,
// the same defaults and bounds in every program, and the same exit codes:
//   0  success, -h/--help, --version (both print to stdout)
//   1  the work failed (nibble::Error or any other exception: one line on stderr)
//   2  bad usage: an unknown flag, a missing or malformed value, a value out of range
//      (one line on stderr naming the flag)
//   130 nibble-generate interrupted by Ctrl-C (after printing its timings), or a load
//      cancelled by it
//
// Bounds (checked before any work, so that nothing huge is ever allocated from a flag):
//   -c/--ctx-size    0..1048576 (0 = the model's training context, at most 4096)
//   -b/--batch-size  1..65536   (default 512)
//   -t, -tb          1..1024    (default: the physical cores this process may use)
//   -n/--n-predict   -1..1048576 (-1 = until end-of-sequence or the context is full)
//   --temp           finite, >= 0 (0 = greedy);  --top-p, --min-p finite, 0..1
//   --repeat-penalty finite, > 0;  --top-k >= 0;  -s/--seed -1 (random) or 0..2^63-1
//   -f/--file        a regular file of at most 64 MiB (opened non-blocking: a FIFO or a
//                    device is refused, never waited on)
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nibble/nibble.hpp>

#include "nibble_build_info.hpp"

namespace nibble::cli {

inline constexpr uint32_t max_context = 1u << 20;
inline constexpr uint32_t max_batch = 1u << 16;
inline constexpr int max_threads = 1024;
inline constexpr size_t max_text_bytes = size_t{64} << 20;

/// "nibble-generate 0.1.0 (commit abc1234)".
inline std::string version_line(const std::string& program) {
    return program + " " + NIBBLE_VERSION + " (commit " + NIBBLE_BUILD_COMMIT + ")";
}

/// A CLI11 app with nibble's --version and a usage footer.
inline void setup(CLI::App& app, const std::string& program) {
    app.name(program);
    app.set_version_flag("--version", version_line(program), "print the version and the git commit, then exit");
    app.option_defaults()->always_capture_default();
    app.get_formatter()->column_width(30);
}

/// llama.cpp's two-letter short flags, which CLI11 cannot name: rewritten to their
/// long forms before parsing.
inline std::vector<std::string> rewrite_aliases(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i) {  // CLI11 wants them reversed
        std::string a = argv[i];
        if (a == "-tb") a = "--threads-batch";
        if (a == "-np") a = "--parallel";
        if (a == "-ctk") a = "--cache-type-k";
        if (a == "-ctv") a = "--cache-type-v";
        args.push_back(std::move(a));
    }
    return args;
}

/// Parses; returns an exit code when the program should stop here (help, version: 0;
/// bad usage: 2, with one line on stderr), nothing when it should run.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
    try {
        auto args = rewrite_aliases(argc, argv);
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << "\n";
        return 0;
    } catch (const CLI::ParseError& e) {
        // CLI11 checks required arguments before unknown ones: name the unknown flag first.
        const auto extra = app.remaining();
        if (!extra.empty() && !extra.front().empty() && extra.front()[0] == '-') {
            std::cerr << app.get_name() << ": unknown option " << extra.front() << " (see --help)\n";
        } else {
            std::cerr << app.get_name() << ": " << e.what() << " (see --help)\n";
        }
        return 2;
    }
    return std::nullopt;
}

/// Usage errors found after parsing (two flags that conflict, ...): exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Runs `body`, turning every exception into one line on stderr: UsageError -> 2,
/// anything else (nibble::Error, std::bad_alloc, ...) -> 1.
inline int run(const std::string& program, const std::function<int()>& body) {
    try {
        return body();
    } catch (const UsageError& e) {
        std::cerr << program << ": " << e.what() << " (see --help)\n";
        return 2;
    } catch (const Error& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return e.code() == ErrorCode::cancelled ? 130 : 1;  // cancelled: by Ctrl-C
    } catch (const std::bad_alloc&) {
        std::cerr << program << ": out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    } catch (...) {
        std::cerr << program << ": unknown error\n";
        return 1;
    }
}

// ---- validators ----

/// A finite number in [lo, hi] (CLI11's Range lets NaN through).
inline CLI::Validator finite_in(double lo, double hi, bool open_lo = false) {
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            double v = 0;
            const char* end = text.data() + text.size();
            const auto [ptr, ec] = std::from_chars(text.data(), end, v);
            if (ec != std::errc() || ptr != end) return "'" + text + "' is not a number";
            if (!std::isfinite(v)) return "'" + text + "' is not a finite number";
            if (v < lo || v > hi || (open_lo && v == lo)) {
                return "'" + text + "' is out of range " + (open_lo ? "(" : "[") + CLI::detail::to_string(lo) + ", " +
                       CLI::detail::to_string(hi) + "]";
            }
            return {};
        },
        open_lo ? "FLOAT > " + CLI::detail::to_string(lo) : "FLOAT in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]");
}

/// A non-empty path naming an existing regular file. stat() only: a FIFO is refused
/// without opening it (an open would block).
inline CLI::Validator regular_file() {
    return CLI::Validator(
        [](std::string& path) -> std::string {
            if (path.empty()) return "the path is empty";
            struct stat st {};
            if (::stat(path.c_str(), &st) != 0) return path + ": " + std::strerror(errno);
            if (S_ISDIR(st.st_mode)) return path + " is a directory";
            if (!S_ISREG(st.st_mode)) return path + " is not a regular file";
            return {};
        },
        "FILE");
}

/// Reads a text input: a regular file of at most 64 MiB, opened with O_NONBLOCK (a FIFO
/// or device gives an error, never a hang). Throws UsageError naming `flag`.
inline std::string read_text_file(const std::string& path, const std::string& flag) {
    auto fail = [&](const std::string& why) { return UsageError(flag + ": " + path + ": " + why); };
    if (path.empty()) throw fail("the path is empty");
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw fail(std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw fail(std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw fail("is a directory");
    if (!S_ISREG(st.st_mode)) throw fail("is not a regular file");
    if (static_cast<uint64_t>(st.st_size) > max_text_bytes) {
        throw fail("is larger than " + std::to_string(max_text_bytes >> 20) + " MiB");
    }
    std::string text(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw fail(std::strerror(errno));
        if (n == 0) break;  // the file shrank
        done += static_cast<size_t>(n);
    }
    text.resize(done);
    return text;
}

/// llama.cpp's -e: \n \r \t \\ \' \" \a \b \f \v \0 and \xHH.
inline std::string process_escapes(std::string_view in) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '\\' || i + 1 == in.size()) {
            out += in[i];
            continue;
        }
        const char c = in[++i];
        switch (c) {
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'v': out += '\v'; break;
            case '0': out += '\0'; break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'x': {
                unsigned v = 0;
                const char* begin = in.data() + i + 1;
                const char* end = in.data() + std::min(in.size(), i + 3);
                const auto [ptr, ec] = std::from_chars(begin, end, v, 16);
                if (ec == std::errc() && ptr == end) {
                    out += static_cast<char>(v);
                    i += 2;
                } else {
                    out += "\\x";
                }
                break;
            }
            default: out += '\\'; out += c;
        }
    }
    return out;
}

// ---- the shared flags ----

/// -m/--model (a regular file; `required` or optional with the built-in model).
inline CLI::Option* add_model(CLI::App& app, std::string& path, bool required, const std::string& what = "model file") {
    auto* o = app.add_option("-m,--model", path, what)->check(regular_file());
    if (required) o->required();
    return o;
}

/// A text input given as -p/--prompt TEXT or -f/--file FILE, with -e/--escape.
struct TextInput {
    std::string text;
    std::string file;
    bool escape = false;
    /// -p or -f was on the command line (an empty -p "" counts).
    bool given() const {
        return (prompt_option != nullptr && prompt_option->count() > 0) || (file_option != nullptr && file_option->count() > 0);
    }
    CLI::Option* prompt_option = nullptr;
    CLI::Option* file_option = nullptr;
    /// The text: the file's content or the prompt, escapes processed with -e.
    std::string resolve() const {
        std::string t = file.empty() ? text : read_text_file(file, "--file");
        return escape ? process_escapes(t) : t;
    }
};

inline void add_text_input(CLI::App& app, TextInput& in, const std::string& prompt_help, bool with_escape = true) {
    in.prompt_option = app.add_option("-p,--prompt", in.text, prompt_help);
    in.file_option = app.add_option("-f,--file", in.file, "read the text from FILE (a regular file, at most 64 MiB)")
                         ->check(regular_file());
    in.prompt_option->excludes(in.file_option);
    if (with_escape) app.add_flag("-e,--escape", in.escape, "process escapes (\\n, \\t, \\\", \\xHH, ...) in the text");
}

/// Threads for generation (-t) and for prompts (-tb, default: -t).
struct Threads {
    int threads = physical_core_count();
    int batch = 0;  ///< 0: the same as threads
};

inline void add_threads(CLI::App& app, Threads& t) {
    app.add_option("-t,--threads", t.threads, "threads for generation (default: physical cores)")
        ->check(CLI::Range(1, max_threads));
    app.add_option("--threads-batch", t.batch, "threads for prompt processing, also -tb (default: same as --threads)")
        ->check(CLI::Range(1, max_threads))
        ->default_str("same as --threads");
}

/// -ctk/--cache-type-k, -ctv/--cache-type-v: the KV cache's element types, as llama.cpp names them.
struct CacheTypes {
    std::string k{kv_type_name(SessionOptions{}.kv_type_k)};
    std::string v{kv_type_name(SessionOptions{}.kv_type_v)};
    void apply(SessionOptions& o) const {
        o.kv_type_k = *parse_kv_type(k);  // the flags accept only the names parse_kv_type knows
        o.kv_type_v = *parse_kv_type(v);
    }
};

inline void add_cache_types(CLI::App& app, CacheTypes& c) {
    const auto names = CLI::IsMember({"f32", "f16", "q8_0"});
    app.add_option("--cache-type-k", c.k, "KV cache type of the keys, also -ctk: f32, f16, q8_0 (q8_0 needs a key width "
                                          "that is a multiple of 32)")
        ->check(names);
    app.add_option("--cache-type-v", c.v, "KV cache type of the values, also -ctv: f32, f16, q8_0")->check(names);
}

/// -c, -b, -t, -tb, -ctk, -ctv, --no-mmap, --mlock.
struct SessionFlags {
    uint32_t context = 0;
    uint32_t batch = 512;
    Threads threads;
    CacheTypes cache;
    bool no_mmap = false;
    bool mlock = false;
    SessionOptions session() const {
        SessionOptions o;
        o.context_length = context;
        o.batch_size = batch;
        o.threads = threads.threads;
        o.batch_threads = threads.batch > 0 ? threads.batch : threads.threads;
        cache.apply(o);
        return o;
    }
};

inline void add_context(CLI::App& app, uint32_t& context, const std::string& help) {
    app.add_option("-c,--ctx-size", context, help)->check(CLI::Range(0u, max_context));
}

inline void add_batch(CLI::App& app, uint32_t& batch) {
    app.add_option("-b,--batch-size", batch, "tokens evaluated together while processing a prompt")
        ->check(CLI::Range(1u, max_batch));
}

inline void add_load_flags(CLI::App& app, bool& no_mmap, bool& mlock) {
    app.add_flag("--no-mmap", no_mmap, "read the model into memory instead of mapping it (a file changed or "
                                        "truncated while loaded then cannot crash the program)");
    app.add_flag("--mlock", mlock, "keep the model in RAM (mlock of its weights); a warning if not permitted");
}

inline void add_session_flags(CLI::App& app, SessionFlags& s) {
    add_context(app, s.context, "context size in tokens (0 = the model's training context, at most 4096)");
    add_batch(app, s.batch);
    add_threads(app, s.threads);
    add_cache_types(app, s.cache);
    add_load_flags(app, s.no_mmap, s.mlock);
}

/// --temp/--temperature, -s/--seed, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n.
struct SamplingFlags {
    SamplingOptions options;
    int64_t seed = -1;
    int repeat_last_n = 64;
};

inline void add_sampling_flags(CLI::App& app, SamplingFlags& s) {
    app.add_option("--temp,--temperature", s.options.temperature, "temperature (0 = greedy)")->check(finite_in(0, 1e6));
    app.add_option("-s,--seed", s.seed, "random seed (-1 = a random seed)")
        ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()));
    app.add_option("--top-k", s.options.top_k, "keep the K most likely tokens (0 = off)")
        ->check(CLI::Range(0, std::numeric_limits<int>::max()));
    app.add_option("--top-p", s.options.top_p, "nucleus sampling (1 = off)")->check(finite_in(0, 1));
    app.add_option("--min-p", s.options.min_p, "drop tokens below P x the most likely's probability (0 = off)")
        ->check(finite_in(0, 1));
    app.add_option("--repeat-penalty", s.options.repeat_penalty, "penalize repeated tokens (1 = off)")
        ->check(finite_in(0, 1e6, true));
    app.add_option("--repeat-last-n", s.repeat_last_n, "tokens the penalty looks back on (0 = off, -1 = the context)")
        ->check(CLI::Range(-1, static_cast<int>(max_context)));
}

// ---- progress on stderr ----

/// A progress bar when stderr is a terminal, else a plain line per 10 %.
class ProgressDisplay {
public:
    explicit ProgressDisplay(std::string label) : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {}
    ~ProgressDisplay() { finish(); }
    void update(double fraction) {
        if (finished_) return;
        fraction = std::clamp(fraction, 0.0, 1.0);
        const int percent = static_cast<int>(fraction * 100.0);
        if (tty_) {
            if (percent == last_) return;
            constexpr int width = 40;
            const int filled = static_cast<int>(fraction * width);
            std::fprintf(stderr, "\r%s [%s%s] %3d %%", label_.c_str(), std::string(static_cast<size_t>(filled), '#').c_str(),
                         std::string(static_cast<size_t>(width - filled), ' ').c_str(), percent);
            std::fflush(stderr);
            last_ = percent;
        } else {
            const int tenth = percent / 10;
            if (tenth <= last_) return;
            if (tenth == 0) {  // no "0 %" line: a load that fails at once prints only its error
                last_ = 0;
                return;
            }
            std::fprintf(stderr, "%s: %d %%\n", label_.c_str(), tenth * 10);
            last_ = tenth;
        }
    }
    void finish() {
        if (finished_) return;
        finished_ = true;
        if (tty_ && last_ >= 0) std::fprintf(stderr, "\n");
    }

private:
    std::string label_;
    bool tty_;
    int last_ = -1;
    bool finished_ = false;
};

/// Ctrl-C for the programs that generate: the handler sets `interrupted` and cancels the
/// Session registered in `interrupted_session` (both atomic stores: safe in a handler).
inline std::atomic<bool> interrupted{false};
inline std::atomic<Session*> interrupted_session{nullptr};

extern "C" inline void on_interrupt(int) {
    interrupted.store(true);
    if (Session* s = interrupted_session.load()) s->cancel();
}

/// Installs on_interrupt for SIGINT. With `second_kills`, a second Ctrl-C takes the
/// default action (terminate); without, every one is caught and a blocking read is
/// interrupted (no SA_RESTART).
inline void install_interrupt_handler(bool second_kills) {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = second_kills ? SA_RESETHAND : 0;
    sigaction(SIGINT, &sa, nullptr);
}

/// Loads a model with --no-mmap and a progress display; with --mlock, locks it in RAM.
/// `cancel`, when given and set (by a signal handler), cancels the load (Error cancelled).
inline Model load_model(const std::string& path, bool no_mmap, bool mlock, const std::string& tokenizer_path = {},
                        const std::atomic<bool>* cancel = nullptr) {
    ProgressDisplay bar("loading " + path);
    LoadOptions options;
    options.use_mmap = !no_mmap;
    options.tokenizer_path = tokenizer_path;
    options.use_mlock = mlock;
    options.progress = [&bar, cancel](float f) {
        bar.update(f);
        return cancel == nullptr || !cancel->load();
    };
    Model model = Model::load(path, options);
    bar.finish();
    if (mlock && !model.info().locked) std::fprintf(stderr, "warning: --mlock: %s\n", model.info().lock_error.c_str());
    return model;
}

}  // namespace nibble::cli
