#include "slot_pool.hpp"

#include <algorithm>

#include "api_error.hpp"

namespace nibble::server {

SlotPool::SlotPool(const Model& model, const SessionOptions& session_options, const PoolOptions& options)
    : options_(options), slots_(std::max<size_t>(options.slots, 1)) {
    for (Slot& slot : slots_) slot.session = std::make_unique<Session>(model, session_options);
    context_length_ = slots_.front().session->context_length();
    watchdog_ = std::thread([this] { watch(); });
}

SlotPool::~SlotPool() {
    shutdown();
    watchdog_.join();
}

bool SlotPool::Lease::timed_out() const {
    std::lock_guard lock(pool_->mutex_);
    return pool_->slots_[index_].timed_out;
}

SlotPool::Lease SlotPool::acquire(std::span<const Token> prompt) {
    std::unique_lock lock(mutex_);
    if (stopping_) throw unavailable("the server is shutting down");
    const auto idle = [&] { return static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.busy; })); };
    // Idle slots already promised to waiters that have not woken yet do not count as queue.
    const size_t idle_count = idle();
    if (idle_count <= waiting_.size() && waiting_.size() - idle_count >= options_.max_waiting) {
        throw unavailable("all " + std::to_string(slots_.size()) + " slots are busy and " + std::to_string(waiting_.size()) +
                              " requests are waiting: try again later",
                          "queue_full");
    }
    const uint64_t ticket = next_ticket_++;
    waiting_.push_back(ticket);
    const bool ready = changed_.wait_for(lock, options_.wait_limit, [&] { return stopping_ || (waiting_.front() == ticket && idle() > 0); });
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
    changed_.notify_all();  // the next in line may now be first
    if (stopping_) throw unavailable("the server is shutting down");
    if (!ready) {
        throw unavailable("no slot became free within " + std::to_string(options_.wait_limit.count() / 1000) + " s: try again later",
                          "queue_timeout");
    }
    size_t best = slots_.size();
    size_t best_shared = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].busy) continue;
        const auto held = slots_[i].session->tokens();
        const size_t shared = static_cast<size_t>(std::mismatch(held.begin(), held.end(), prompt.begin(), prompt.end()).first - held.begin());
        // Ties go to the slot holding least, whose cache is worth least.
        if (best == slots_.size() || shared > best_shared ||
            (shared == best_shared && held.size() < slots_[best].session->tokens().size())) {
            best = i;
            best_shared = shared;
        }
    }
    Slot& slot = slots_[best];
    slot.busy = true;
    slot.timed_out = false;
    slot.deadline = std::chrono::steady_clock::now() + options_.request_limit;
    return Lease(*this, best);
}

void SlotPool::release(size_t index) {
    std::lock_guard lock(mutex_);
    Slot& slot = slots_[index];
    slot.session->clear_cancel();  // a time limit that fired as the request ended
    slot.busy = false;
    changed_.notify_all();
}

PoolStatus SlotPool::status() const {
    std::lock_guard lock(mutex_);
    PoolStatus s;
    for (const Slot& slot : slots_) (slot.busy ? s.processing : s.idle) += 1;
    s.waiting = waiting_.size();
    return s;
}

void SlotPool::shutdown() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Slot& slot : slots_) {
        if (slot.busy) slot.session->cancel();
    }
    changed_.notify_all();
}

void SlotPool::watch() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        changed_.wait_for(lock, std::chrono::milliseconds(50));
        const auto now = std::chrono::steady_clock::now();
        for (Slot& slot : slots_) {
            if (slot.busy && !slot.timed_out && now >= slot.deadline) {
                slot.timed_out = true;
                slot.session->cancel();
            }
        }
    }
}

}  // namespace nibble::server
