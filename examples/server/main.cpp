// nibble-server: an OpenAI-compatible HTTP server over one model (docs/server.md).
//
// The socket is bound first and announced on stderr ("nibble-server: listening on
// http://HOST:PORT"), then the model loads while /health answers 503 "loading". SIGINT
// and SIGTERM are taken by one thread (sigwait): it cancels the running generations,
// stops the listener, and the program exits 0 (within about a second: connections idle
// in keep-alive are not waited for).
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include <httplib.h>

#include "../cli.hpp"
#include "api.hpp"

namespace {

using namespace nibble;

struct Flags {
    std::string model;
    std::string host = "127.0.0.1";
    int port = 8080;
    size_t parallel = 1;
    uint32_t context = 0;
    int threads = 0;  ///< 0: the physical cores divided among the slots
    std::string chat_template;
    std::string api_key;
    std::string alias;
    size_t queue = 0;  ///< 0: 4 x parallel
    int queue_timeout = 30;
    int timeout = 300;
    int max_tokens = 4096;
    size_t max_body = 1 << 20;
    size_t http_threads = 0;  ///< 0: parallel + queue + 8
    cli::CacheTypes cache;
    bool no_mmap = false;
    bool mlock = false;
};

void add_flags(CLI::App& app, Flags& f) {
    cli::add_model(app, f.model, true, "GGUF, 2023 .bin or llama2.c file");
    app.add_option("--host", f.host, "address to listen on (loopback unless told otherwise)");
    app.add_option("--port", f.port, "TCP port (0 = any free port)")->check(CLI::Range(0, 65535));
    app.add_option("--parallel", f.parallel, "slots: requests generated at once (also -np)")->check(CLI::Range(1, 256));
    cli::add_context(app, f.context, "context size of each slot (0 = the model's training context, at most 4096)");
    app.add_option("-t,--threads", f.threads, "threads of each slot (default: the physical cores divided among the slots)")
        ->check(CLI::Range(1, cli::max_threads))
        ->default_str("cores / parallel");
    app.add_option("--chat-template", f.chat_template, "chat template name (default: the model's, else chatml)")
        ->check(CLI::IsMember(ChatTemplate::known_names()));
    app.add_option("--api-key", f.api_key, "require Authorization: Bearer KEY on /v1 requests");
    app.add_option("--alias", f.alias, "model id in /v1/models and responses (default: the file name)");
    app.add_option("--queue", f.queue, "requests that may wait for a slot (default: 4 x --parallel)")
        ->check(CLI::Range(size_t{0}, size_t{1} << 16))
        ->default_str("4 x parallel");
    app.add_option("--queue-timeout", f.queue_timeout, "seconds a request may wait for a slot (then 503)")->check(CLI::Range(1, 86400));
    app.add_option("--timeout", f.timeout, "seconds a request may generate (then it ends, finish_reason length)")
        ->check(CLI::Range(1, 86400));
    app.add_option("--max-tokens", f.max_tokens, "largest max_tokens a request may ask (and the default)")
        ->check(CLI::Range(1, 1 << 20));
    app.add_option("--max-body", f.max_body, "largest request body in bytes (then 413)")->check(CLI::Range(size_t{1024}, size_t{1} << 30));
    app.add_option("--http-threads", f.http_threads, "connections served at once (default: parallel + queue + 8)")
        ->check(CLI::Range(size_t{1}, size_t{4096}))
        ->default_str("parallel + queue + 8");
    cli::add_cache_types(app, f.cache);
    cli::add_load_flags(app, f.no_mmap, f.mlock);
}

ChatTemplate choose_template(const Model& model, const std::string& name) {
    if (!name.empty()) return ChatTemplate::named(name);
    try {
        return ChatTemplate::for_model(model);
    } catch (const Error& e) {
        std::fprintf(stderr, "nibble-server: %s; chat requests use chatml\n", e.what());
        return ChatTemplate::named("chatml");
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string program = "nibble-server";
    CLI::App app("Serves a model over an OpenAI-compatible HTTP API (docs/server.md).");
    cli::setup(app, program);
    Flags f;
    add_flags(app, f);
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    return cli::run(program, [&]() -> int {
        const size_t queue = f.queue > 0 ? f.queue : 4 * f.parallel;
        const int threads = f.threads > 0 ? f.threads : std::max(1, physical_core_count() / static_cast<int>(f.parallel));

        // Signals go to the one thread that waits for them; a client gone mid-write is an
        // error of that write, not SIGPIPE.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
        signal(SIGPIPE, SIG_IGN);

        server::ApiConfig config;
        config.model_id = f.alias.empty() ? std::filesystem::path(f.model).filename().string() : f.alias;
        config.api_key = f.api_key;
        config.limits.max_tokens = f.max_tokens;
        config.max_body = f.max_body;
        server::Api api(config);

        httplib::Server http;
        const size_t http_threads = f.http_threads > 0 ? f.http_threads : f.parallel + queue + 8;
        http.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
        http.set_payload_max_length(f.max_body);
        http.set_read_timeout(std::chrono::seconds(30));
        http.set_write_timeout(std::chrono::seconds(30));
        http.set_keep_alive_timeout(5);
        http.set_keep_alive_max_count(1000);  // httplib's 5 makes a busy client reconnect all the time
        // SO_REUSEADDR only: httplib's SO_REUSEPORT would let a second server share the port
        // silently instead of failing to bind. The listening socket is kept to widen its backlog.
        int listening_socket = -1;
        http.set_socket_options([&listening_socket](int fd) {
            int yes = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
            if (listening_socket < 0) listening_socket = fd;
        });
        http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
            std::fprintf(stderr, "nibble-server: %s %s %s:%d -> %d\n", req.method.c_str(), req.path.c_str(), req.remote_addr.c_str(),
                         req.remote_port, res.status);
        });
        api.install(http);

        int port = f.port;
        if (port == 0) {
            port = http.bind_to_any_port(f.host);
        } else if (!http.bind_to_port(f.host, port)) {
            port = -1;
        }
        if (port < 0) throw Error(ErrorCode::io, "cannot listen on " + f.host + ":" + std::to_string(f.port) + ": " + std::strerror(errno));
        // httplib listens with a backlog of 5: a burst of clients would see dropped SYNs
        // (and a one-second retry). Calling listen() again only changes the backlog.
        if (listening_socket >= 0) ::listen(listening_socket, SOMAXCONN);
        std::fprintf(stderr, "nibble-server: listening on http://%s:%d\n", f.host.c_str(), port);
        std::promise<void> listener_done;
        std::future<void> listener_finished = listener_done.get_future();
        std::thread listener([&http, &listener_done] {
            http.listen_after_bind();
            listener_done.set_value();
        });

        std::atomic<bool> stop_requested{false};
        std::thread signal_waiter([&] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            stop_requested.store(true);
            std::fprintf(stderr, "nibble-server: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
            api.shutdown();
            http.stop();
        });
        signal_waiter.detach();  // ends the process's life waiting for a signal that may never come

        try {
            Model model = cli::load_model(f.model, f.no_mmap, f.mlock, {}, &stop_requested);
            ChatTemplate chat_template = choose_template(model, f.chat_template);
            SessionOptions session;
            session.context_length = f.context;
            session.threads = threads;
            session.batch_threads = threads;
            session.batch_size = 512;
            f.cache.apply(session);
            server::PoolOptions pool;
            pool.slots = f.parallel;
            pool.max_waiting = queue;
            pool.wait_limit = std::chrono::seconds(f.queue_timeout);
            pool.request_limit = std::chrono::seconds(f.timeout);
            auto slots = std::make_unique<server::SlotPool>(model, session, pool);
            std::fprintf(stderr, "nibble-server: %s ready: %zu slots of %u tokens, %d threads each, queue %zu, chat template %s\n",
                         config.model_id.c_str(), f.parallel, slots->context_length(), threads, queue, chat_template.name().c_str());
            api.attach(std::move(model), std::move(slots), std::move(chat_template));
        } catch (...) {
            api.shutdown();
            http.stop();
            listener.join();
            if (stop_requested.load()) return 0;
            throw;
        }
        // After a stop signal, httplib joins its connection threads, and one waiting on an
        // idle keep-alive connection takes up to the keep-alive timeout. Nothing is left to
        // do by then (the slots are cancelled): past a grace second, exit without waiting.
        while (listener_finished.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
            if (stop_requested.load()) {
                if (listener_finished.wait_for(std::chrono::seconds(1)) == std::future_status::ready) break;
                std::fflush(nullptr);
                std::_Exit(0);
            }
        }
        listener.join();
        return 0;
    });
}
