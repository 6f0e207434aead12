// Webhooks, part 4: the webhook thread. Shards emit() events into a bounded inbox (a mutex held
// for a push, and an eventfd write when the inbox was empty); the thread moves them into the
// outbox (outbox.h), and sends due batches to their targets, each over its own keep-alive
// client (client.h) on the thread's own io_uring. Nothing here runs on a shard: a slow, hanging
// or failing target costs WebSocket traffic nothing but the inbox push.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/core/metrics.h"
#include "ringcast/net/tls_client.h"
#include "ringcast/webhook/client.h"
#include "ringcast/webhook/event.h"
#include "ringcast/webhook/outbox.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ringcast::webhook {

// What the webhook thread has done, for the metrics scrape (copied from the outbox's counters
// once per loop, so at most a second old).
struct metrics {
    core::counter batches_sent;    // answered 2xx
    core::counter attempts_failed; // an error, a timeout or a status other than 2xx
    core::counter retries;         // failed batches scheduled again
    core::counter batches_dropped; // out of retry time
    core::counter events_sent;
    core::counter events_dropped;  // in dropped batches
    core::counter events_overflow; // refused because the app's queue was full
};

class dispatcher final : public sink {
public:
    // Throws std::runtime_error when the TLS context cannot be made (the CA file).
    explicit dispatcher(const config::server& initial);
    ~dispatcher() override;
    dispatcher(const dispatcher&) = delete;
    dispatcher& operator=(const dispatcher&) = delete;

    void start();
    // From any shard: never blocks on I/O; drops (and counts) beyond the inbox bound.
    void emit(event ev) override;
    // A new configuration generation (SIGHUP); it outlives the dispatcher.
    void reload(const config::server* next) { next_config_.store(next, std::memory_order_release); }
    // Gives pending webhooks shutdown_grace_ms to go out, then stops the thread.
    void stop();
    // Any thread.
    const metrics& stats() const noexcept { return stats_; }

private:
    void run();
    void loop(net::ring& r);
    void take_inbox(std::uint64_t now_ms);
    void send_ready(net::ring& r, std::uint64_t now_ms);
    void on_answer(target_queue& q, int status, const std::string& error);
    void handle(std::uint64_t user_data, int res, net::ring& r);
    void post_wake_read(net::ring& r);
    std::uint64_t next_wake(std::uint64_t now_ms) const;
    [[nodiscard]] bool any_busy() const;
    void report_overflow(std::uint64_t now_ms);
    void publish_stats();
    void drain(net::ring& r);
    static std::string request_for(const target_queue& q);

    config::webhook_settings settings_;
    std::unique_ptr<net::tls_context> tls_;
    std::atomic<const config::server*> next_config_;
    const config::server* config_ = nullptr;
    outbox outbox_;
    std::unordered_map<target_queue*, std::unique_ptr<client>> clients_;
    std::uint64_t now_ms_ = 0;

    std::mutex inbox_mutex_;
    std::vector<event> inbox_;
    std::atomic<std::uint64_t> inbox_overflow_{0};
    // Under inbox_mutex_: false while the thread sleeps no longer than a batch window, so emit()
    // need not wake it for every event (see loop()).
    bool wake_on_emit_ = true;
    int wake_fd_ = -1;
    std::uint64_t wake_buf_ = 0;

    std::atomic<bool> stopping_{false};
    std::uint64_t grace_end_ms_ = 0;
    std::uint64_t next_report_ms_ = 0;
    std::uint64_t overflow_reported_ = 0;
    std::uint64_t attempts_failed_ = 0;
    metrics stats_;
    std::thread thread_;
};

} // namespace ringcast::webhook
