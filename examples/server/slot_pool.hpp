// The server's slots: N Sessions over one shared Model, handed out to requests one at a
// time, with a bounded first-come-first-served queue in front and a watchdog that
// cancels a request past its time limit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include <nibble/nibble.hpp>

namespace nibble::server {

struct PoolOptions {
    size_t slots = 1;
    size_t max_waiting = 4;                    ///< requests that may wait; one more is refused
    std::chrono::milliseconds wait_limit{30000};     ///< longest wait for a slot
    std::chrono::milliseconds request_limit{300000};  ///< longest use of a slot
};

struct PoolStatus {
    size_t idle = 0;
    size_t processing = 0;
    size_t waiting = 0;
};

class SlotPool {
    struct Slot {
        std::unique_ptr<Session> session;
        bool busy = false;
        bool timed_out = false;  ///< the watchdog cancelled it
        std::chrono::steady_clock::time_point deadline;
    };

public:
    /// A slot held by one request; given back when destroyed.
    class Lease {
    public:
        Lease(SlotPool& pool, size_t index) : pool_(&pool), index_(index) {}
        Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), index_(other.index_) {}
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (pool_ != nullptr) pool_->release(index_);
        }
        Session& session() const { return *pool_->slots_[index_].session; }
        size_t index() const { return index_; }
        /// The request ran past its time limit (its generation was cancelled for it).
        bool timed_out() const;

    private:
        SlotPool* pool_;
        size_t index_;
    };

    SlotPool(const Model& model, const SessionOptions& session_options, const PoolOptions& options);
    ~SlotPool();
    SlotPool(const SlotPool&) = delete;
    SlotPool& operator=(const SlotPool&) = delete;

    /// Waits for an idle slot, in arrival order, and takes the one whose tokens share the
    /// longest prefix with `prompt` (its cache is reused). Throws ApiError 503 when the
    /// queue is full, the wait exceeds wait_limit, or the pool is shutting down.
    Lease acquire(std::span<const Token> prompt);

    PoolStatus status() const;
    uint32_t context_length() const { return context_length_; }
    /// Refuses new requests, cancels the running ones and wakes the waiting ones.
    void shutdown();

private:
    void release(size_t index);
    void watch();

    PoolOptions options_;
    uint32_t context_length_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Slot> slots_;
    std::deque<uint64_t> waiting_;  ///< tickets, oldest first
    uint64_t next_ticket_ = 0;
    bool stopping_ = false;
    std::thread watchdog_;
};

}  // namespace nibble::server
